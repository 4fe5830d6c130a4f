"""Code shared by every smartcam component: message contracts, topics, configuration, IPC, logging.

Shipped once per device by the smartcam.Runtime component and put on the runtime venv's path,
so no component carries a copy of it.
"""

__version__ = "1.0.0"
