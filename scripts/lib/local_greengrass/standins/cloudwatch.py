"""The stand-in for AWS's ``aws.greengrass.Cloudwatch`` component: metrics into a file instead of CloudWatch.

When a deployment includes ``aws.greengrass.Cloudwatch``, the runtime subscribes to its ``InputTopic``
(default ``cloudwatch/metric/put``) on local pub/sub. Each message is checked against
:class:`smartcam.contracts.MetricPut` (the component's documented input, with CloudWatch's limits):

- accepted: appended as one JSON line, the message as it came in AWS's format, to
  ``<root>/metrics/metrics.jsonl`` (:attr:`RuntimePaths.metrics_file`; 0640 in a 0750 folder), where
  the demo and the tools read it; past ``max_bytes`` the file moves to ``metrics.jsonl.1`` (one kept);
- refused: answered on ``OutputTopic`` (default ``cloudwatch/metric/put/status``) as the component
  answers a metric CloudWatch refuses: ``{"response": {"namespace", "error": "InvalidInputException",
  "error_message", "status": "fail"}}``.

The real component batches and sends to CloudWatch, and answers ``success`` per batch sent; this one
sends nothing anywhere, so it answers failures only. Pub/sub delivers on the IPC event loop: the reply
is published there, the file is written on a thread of its own.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any

from local_greengrass.ipc.pubsub import LocalPubSub
from smartcam.contracts import ContractError, MetricPut, MetricPutStatus, parse

log = logging.getLogger(__name__)

COMPONENT = "aws.greengrass.Cloudwatch"
DEFAULT_INPUT_TOPIC = "cloudwatch/metric/put"
DEFAULT_OUTPUT_TOPIC = "cloudwatch/metric/put/status"
MAX_FILE_BYTES = 16 * 1024 * 1024


def _namespace_of(payload: Any) -> str:
    """The namespace a refused message names, if it names one (the reply carries it)."""
    request = payload.get("request") if isinstance(payload, dict) else None
    namespace = request.get("namespace") if isinstance(request, dict) else None
    return namespace[:255] if isinstance(namespace, str) else ""


class CloudwatchStandIn:
    def __init__(self, pubsub: LocalPubSub, metrics_file: Path, configuration: dict[str, Any] | None = None,
                 max_bytes: int = MAX_FILE_BYTES) -> None:
        self.configuration = configuration
        configuration = configuration or {}
        self.input_topic = str(configuration.get("InputTopic") or DEFAULT_INPUT_TOPIC)
        self.output_topic = str(configuration.get("OutputTopic") or DEFAULT_OUTPUT_TOPIC)
        self.file = metrics_file
        self.accepted = 0
        self.refused = 0
        self._pubsub = pubsub
        self._max_bytes = max_bytes
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="cloudwatch-standin", daemon=True)
        self._unsubscribe = None

    def start(self) -> None:
        self.file.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        self._writer.start()
        self._unsubscribe = self._pubsub.subscribe(self.input_topic, COMPONENT, self.on_message)
        log.info("aws.greengrass.Cloudwatch stand-in: metrics on %s go to %s", self.input_topic, self.file)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._writer.is_alive():
            self._lines.put(None)
            self._writer.join(10)

    def on_message(self, topic: str, message: dict[str, Any]) -> None:
        """A delivery from local pub/sub (on the IPC event loop): check, queue for the file or refuse."""
        kind, body = next(iter(message.items()))
        payload = body.get("message") if kind == "jsonMessage" else self._binary(body.get("message"))
        try:
            metric = parse(MetricPut, payload)
        except ContractError as exc:
            self.refused += 1
            self._refuse(_namespace_of(payload), str(exc))
            return
        self.accepted += 1
        self._lines.put(metric.to_bytes() + b"\n")

    def _binary(self, encoded: Any) -> Any:
        try:
            return base64.b64decode(encoded or "", validate=True)
        except ValueError:
            return encoded

    def _refuse(self, namespace: str, reason: str) -> None:
        status = MetricPutStatus.model_validate({"response": {
            "namespace": namespace, "error": "InvalidInputException", "error_message": reason[:1024],
            "status": "fail"}})
        log.warning("metric refused: %s", reason)
        self._pubsub.publish(self.output_topic, COMPONENT, {"jsonMessage": {"message": status.to_message()}})

    def _write(self) -> None:
        while (line := self._lines.get()) is not None:
            try:
                if self.file.exists() and self.file.stat().st_size + len(line) > self._max_bytes:
                    self.file.replace(self.file.with_name(self.file.name + ".1"))
                descriptor = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                with os.fdopen(descriptor, "ab") as out:
                    out.write(line)
            except OSError:
                log.exception("writing a metric to %s failed", self.file)


def read_metrics(metrics_file: Path) -> list[MetricPut]:
    """Every metric the stand-in accepted, oldest first (the rotated file's, then the current one's)."""
    found = []
    for path in (metrics_file.with_name(metrics_file.name + ".1"), metrics_file):
        if path.exists():
            found += [parse(MetricPut, line) for line in path.read_bytes().splitlines() if line.strip()]
    return found

