"""A local Greengrass V2 runtime: the IPC server, IoT Core stand-in and launcher used by tests and the demo."""
