"""AWS IoT Greengrass nucleus lite for tests: build it, run it in a private systemd, deploy to it.

Modules, one job each: ``sources`` (where the vendored sources are, their cache key), ``build``
(cmake + ninja into a cache outside the repository), ``namespace`` (a private systemd in its own
PID/mount/cgroup namespace), ``certs`` (a per-run CA and certificates), ``cloud`` (IoT Core,
credentials provider and data plane stand-ins on loopback), ``device`` (configuration, start,
``ggl-cli deploy``, component states).
"""
