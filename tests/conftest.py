"""Settings for the whole test run."""

from __future__ import annotations

import os

from local_greengrass.standins.dynamodb_local import JAVA_OPTIONS_ENV

# DynamoDB Local starts more than a dozen times in a run (the writer tests, every local runtime,
# nucleus lite's device), each time on the critical path. With the client compiler only and the
# serial collector the JVM answers in about half the time on a busy 2-core machine; what the tests
# ask of it is correctness, not throughput (the benchmarks run it with the JVM's defaults). The local
# runtime's daemon inherits it through the environment.
os.environ.setdefault(JAVA_OPTIONS_ENV, "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
