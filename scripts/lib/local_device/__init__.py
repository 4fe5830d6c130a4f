"""Helpers shared by `make demo`, the end-to-end tests and the benchmarks: camera pictures and clips
(photos with people, vtest.avi, still frames with sensor noise), the overlay deployment document, a
handle on a running local Greengrass runtime, IPC observers, the read-back of DynamoDB and S3, and
the demo's tables and contact sheet."""
