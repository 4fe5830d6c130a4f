"""Shared code of the fleet scripts (publish, deploy, rollback, MQTT test client).

Each module has one job: ``checker`` validates requests against botocore's service models,
``aws`` builds checked clients, ``components`` reads the repo's GDK projects, ``publishing`` does what
``gdk component publish`` does (idempotently), ``documents`` loads and validates deployment documents,
``deployments`` creates/waits/rolls back fleet deployments, ``mqtt`` is the MQTT 5 test client;
``targets`` (cloud or local runtimes), ``canary_watch``, ``canary_policy`` and ``canary`` roll a new model
out to a canary group first.
"""
