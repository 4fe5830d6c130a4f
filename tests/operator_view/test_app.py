"""OperatorView on the fake nucleus: it subscribes to what the page shows and to nothing else, publishes
its own metrics and nothing else, serves what arrives, and moves its server when host, port or token
change (keeping the last good configuration when a change is refused)."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from operator_view.app import OperatorViewApp
from operator_view.settings import OperatorViewConfig
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import MetricPut
from tests.operator_view.helpers import detections, event, health, polled, request, write_frame
from tests.operator_view.test_metric_series import put
from tests.support.config_fuzz import recipe_defaults
from tests.support.fake_nucleus import FakeNucleus

TOKEN = "z" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


THING = "view-thing-1"


@pytest.fixture
def nucleus(monkeypatch) -> FakeNucleus:
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    return FakeNucleus({**copy.deepcopy(recipe_defaults("OperatorView")), "port": free_port()},
                       component="smartcam.OperatorView")


@pytest.fixture
def app(nucleus: FakeNucleus, ring, snapshot_root: Path) -> Iterator[OperatorViewApp]:
    config = LiveConfig(nucleus.ipc, OperatorViewConfig)
    started = OperatorViewApp(nucleus.ipc, config, frame_root=ring.root, snapshot_root=snapshot_root)
    started.start()
    yield started
    started.stop()


def port_of(app: OperatorViewApp) -> int:
    assert app.address is not None
    return int(app.address.rstrip("/").rsplit(":", 1)[1])


def test_it_subscribes_to_what_the_page_shows_only_and_publishes_nothing_before_its_metrics(app, nucleus):
    assert sorted(nucleus.topic_handlers) == sorted([topics.DETECTIONS, topics.EVENTS, "smartcam/health/+",
                                                     topics.CLOUDWATCH_METRIC_PUT])
    assert not nucleus.client.publish_to_topic.called and not nucleus.client.publish_to_iot_core.called


def own_metrics(nucleus: FakeNucleus) -> dict[str, list[MetricPut]]:
    found: dict[str, list[MetricPut]] = {}
    for message in nucleus.parsed(MetricPut, topics.CLOUDWATCH_METRIC_PUT):
        found.setdefault(message.request.metric_data.metric_name, []).append(message)
    return found


def test_its_own_metrics_count_the_page_s_requests_frames_pages_open_and_errors(app, nucleus, ring):
    frame = write_frame(ring)
    nucleus.send(topics.DETECTIONS, detections(frame))
    nucleus.send(topics.EVENTS, {"schema": "not an event"})
    nucleus.send(topics.CLOUDWATCH_METRIC_PUT, {"request": "not a metric"})
    port = port_of(app)
    page_a, page_b = "a" * 32, "b" * 32
    polled(port, page_a, "/api/live", "/api/state")
    polled(port, page_b, "/api/state")
    assert request(port, f"/api/cameras/cam0/frames/{frame.frame_id}.jpg").status == 200
    assert request(port, f"/api/cameras/cam0/frames/{frame.frame_id}.jpg").status == 200  # kept: made once
    app.own_metrics.publish()
    assert not nucleus.client.publish_to_iot_core.called
    assert {c.kwargs["topic"] for c in nucleus.client.publish_to_topic.call_args_list} == {
        topics.CLOUDWATCH_METRIC_PUT}
    metrics = own_metrics(nucleus)
    value = {name: puts[0].request.metric_data.value for name, puts in metrics.items()}
    assert value["PageRequests"] == 5 and value["FramesServed"] == 1 and value["PagesOpen"] == 2
    assert value["Errors"] == 2  # the two messages that were not their contracts
    encode = {d.value for d in metrics["LatencyP95"][0].request.metric_data.dimensions}
    assert "frameEncode" in encode and metrics["LatencyP95"][0].request.metric_data.unit == "Milliseconds"
    for puts in metrics.values():
        dimensions = {d.name: d.value for d in puts[0].request.metric_data.dimensions}
        assert dimensions["Component"] == "smartcam.OperatorView" and dimensions["Thing"] == THING
        assert puts[0].request.namespace == "SmartCam"


def test_what_arrives_on_local_pub_sub_is_on_the_page(app, nucleus, ring):
    frame = write_frame(ring)
    nucleus.send(topics.DETECTIONS, detections(frame))
    nucleus.send(topics.EVENTS, event())
    nucleus.send(topics.health("smartcam.EventTracker"), health("smartcam.EventTracker"),
                 subscribed="smartcam/health/+")
    nucleus.send(topics.CLOUDWATCH_METRIC_PUT, put("FramesIn", 4))
    port = port_of(app)
    assert app.address == f"http://127.0.0.1:{port}/"
    live = json.loads(request(port, "/api/live").body)
    assert [c["frame"] for c in live["cameras"]] == [frame.frame_id]
    state = json.loads(request(port, "/api/state").body)
    assert [e["id"] for e in state["events"]] == ["cam0.1.1"]
    assert [h["component"] for h in state["health"]] == ["smartcam.EventTracker"]
    assert [(m["name"], m["points"][-1][1]) for m in state["metrics"]] == [("FramesIn", 4)]


def test_a_new_port_or_token_moves_the_server(app, nucleus):
    old = port_of(app)
    new = free_port()
    nucleus.update(port=new)
    assert port_of(app) == new and request(new, "/api/state").status == 200
    with pytest.raises(ConnectionRefusedError):
        request(old, "/api/state")
    nucleus.update(token=TOKEN)
    assert request(new, "/api/state").status == 401
    assert request(new, "/api/state", headers={"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_a_bind_beyond_loopback_without_a_token_is_refused_and_the_server_stays(app, nucleus):
    port = port_of(app)
    nucleus.update(host="0.0.0.0")  # nosec B104
    assert app.address == f"http://127.0.0.1:{port}/" and request(port, "/api/state").status == 200
    assert "a token is required" in (app._config.refused or "")


def test_a_port_taken_keeps_the_server_where_it_was(app, nucleus):
    port = port_of(app)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        nucleus.update(port=taken.getsockname()[1])
        assert port_of(app) == port and request(port, "/api/state").status == 200
