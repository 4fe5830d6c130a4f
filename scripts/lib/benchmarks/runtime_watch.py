"""The local Greengrass runtime as the whole-pipeline benchmarks (benchmarks.events, benchmarks.cameras)
watch it: the operator and the pipeline observer, the writer's reports, the stand-ins' clients, the CPU
of every process sampled over time, and when the pipeline has stored everything of a set of captures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psutil
from botocore.exceptions import ClientError

from benchmarks.event_stats import Sample
from benchmarks.pipeline import cpu_seconds, runtime_processes
from local_device.observe import Operator, PipelineObserver, WriterReportFeed
from local_device.overlay import LOCAL_SNAPSHOT_BUCKET
from local_device.process import LocalRuntime
from local_device.store import EVENTS_TABLE
from local_device.store import TABLE as DETECTIONS_TABLE
from local_greengrass.standins.child import local_client
from smartcam.contracts import TrackEvent, WriterReport, parse

COMPONENTS = ("smartcam.CameraIngest", "smartcam.SsdInference", "smartcam.EventTracker", "smartcam.DynamoWriter")


# what is watched while a run lasts ----------------------------------------------------------------
class WriterReports:
    """The writer's reports on IoT Core (``smartcam/<thing>/writer``), received with the operator's
    identity: its counters (cumulative) and how much its spools still hold, each at the report's time."""

    def __init__(self, runtime: LocalRuntime, thing: str, client_prefix: str = "bench") -> None:
        self._lock = threading.Lock()
        self._reports: list[WriterReport] = []
        self._feed = WriterReportFeed(runtime, thing, self._on_report, client_prefix=client_prefix)

    def _on_report(self, payload: bytes) -> None:
        report = parse(WriterReport, payload)
        with self._lock:
            self._reports.append(report)

    def counters(self, names: Iterable[str]) -> list[Sample]:
        wanted = tuple(names)
        with self._lock:
            return [(r.at, {n: float(r.counters.get(n, 0)) for n in wanted}) for r in self._reports]

    def counter_names(self) -> set[str]:
        """Every counter any report so far carried."""
        with self._lock:
            return {name for r in self._reports for name in r.counters}

    def empty_since(self, after: float) -> float | None:
        """The time of the first report at or after ``after`` whose spools held nothing."""
        with self._lock:
            return next((r.at for r in self._reports
                         if r.at >= after and r.spool.items == 0 and r.events.pending == 0), None)

    def close(self) -> None:
        self._feed.close()


class CpuSampler:
    """CPU seconds (user + system) of each process every ``interval`` s, as a time series."""

    def __init__(self, processes: dict[str, psutil.Process], interval: float = 0.5) -> None:
        self.processes = processes
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()

    def _sample(self) -> None:
        self.samples.append((time.time(), cpu_seconds(self.processes)))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()


@dataclass
class Device:
    """The running runtime and what watches it."""

    runtime: LocalRuntime
    thing: str
    operator: Operator
    observer: PipelineObserver
    reports: WriterReports
    dynamodb: Any  # low-level clients: items come back in the wire format the size rules apply to
    s3: Any

    def close(self) -> None:
        for closable in (self.operator, self.observer, self.reports):
            closable.close()

    def processes(self) -> dict[str, psutil.Process]:
        return runtime_processes(self.runtime, COMPONENTS)

    def events(self, request_ids: Iterable[str]) -> dict[str, list[TrackEvent]]:
        """Every message of the events whose first frame belongs to one of ``request_ids``, by event id."""
        wanted = set(request_ids)
        found: dict[str, list[TrackEvent]] = {}
        for event in self.observer.events():
            if event.request_id in wanted:
                found.setdefault(event.event_id, []).append(event)
        return found

    def wait_settled(self, request_ids: list[str], finals_at: float, timeout: float = 240.0) -> float:
        """When every event of the requests had ended and the writer had stored everything since
        (its spools empty in a report after the last end message and the final statuses)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events(request_ids)
            ends = {m.event_id: m.sent_at for ms in events.values() for m in ms if m.kind == "end"}
            if ends.keys() == events.keys():
                # Half a second on: the writer has received the last end message by the report after it.
                settled = self.reports.empty_since(max([finals_at, *ends.values()]) + 0.5)
                if settled is not None:
                    return settled
            time.sleep(0.5)
        raise TimeoutError(f"the pipeline did not settle within {timeout:g} s after {request_ids}")

    def table_items(self, table: str, request_id: str, since: float) -> list[dict[str, Any]]:
        """Every item of ``request_id`` in ``table`` (events: ``request_id``, detections: ``requestId``),
        in DynamoDB's wire format."""
        if table == DETECTIONS_TABLE:
            query: dict[str, Any] = {
                "TableName": table, "KeyConditionExpression": "device = :d AND sk >= :s",
                "FilterExpression": "requestId = :r", "ConsistentRead": True,
                "ExpressionAttributeValues": {":d": {"S": self.thing}, ":s": {"S": f"{int(since * 1000):013d}"},
                                              ":r": {"S": request_id}}}
            call = self.dynamodb.query
        else:
            query = {"TableName": table, "FilterExpression": "request_id = :r", "ConsistentRead": True,
                     "ExpressionAttributeValues": {":r": {"S": request_id}}}
            call = self.dynamodb.scan
        items: list[dict[str, Any]] = []
        while True:
            try:
                page = call(**query)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                    return []  # a mode that never stored anything in this table
                raise
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def snapshot_objects(self) -> dict[str, int]:
        """Key -> bytes of every object in the snapshot bucket."""
        objects: dict[str, int] = {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=LOCAL_SNAPSHOT_BUCKET):
                objects |= {entry["Key"]: int(entry["Size"]) for entry in page.get("Contents", [])}
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchBucket":
                raise
        return objects


def open_device(runtime: LocalRuntime, client_prefix: str) -> Device:
    """Watchers of the runtime that is up: the operator, the observer, the writer's reports, the stand-ins."""
    thing = runtime.thing_name()
    standins = runtime.status()["standins"]
    return Device(runtime, thing, Operator(runtime), PipelineObserver(runtime),
                  WriterReports(runtime, thing, client_prefix=client_prefix),
                  local_client("dynamodb", standins["dynamodb"]), local_client("s3", standins["s3"]))


def stored_events(device: Device, request_id: str) -> tuple[dict[str, TrackEvent], dict[str, dict[str, Any]], bool]:
    """The events of ``request_id``: the latest message of each as published, each item in the events
    table, and whether every event was stored once, as its latest message, ended."""
    latest = {event_id: max(messages, key=lambda m: m.sequence)
              for event_id, messages in device.events([request_id]).items()}
    stored = {item["event_id"]["S"]: item for item in device.table_items(EVENTS_TABLE, request_id, 0)}
    once_as_ended = stored.keys() == latest.keys() and all(
        int(stored[event_id]["sequence"]["N"]) == event.sequence and stored[event_id]["state"]["S"] == "ended"
        for event_id, event in latest.items())
    return latest, stored, once_as_ended
