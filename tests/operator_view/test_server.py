"""The page's server over real sockets: what it serves, what it refuses (read-only, no query strings,
ids only, loopback Host without a token, the token when one is set), and the headers it always sends."""

from __future__ import annotations

import json

import pytest

from operator_view.server import SECURITY_HEADERS, TOKEN_COOKIE, host_is_loopback
from smartcam import topics
from tests.operator_view.helpers import detections, event, health, request, shade_of, write_frame, write_snapshot

TOKEN = "a-token-of-32-url-safe-characters_"


def test_the_page_its_script_and_style_are_served_from_the_component(serve):
    port = serve().port
    page = request(port, "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b'<script src="/app.js"' in page.body and b"http" not in page.body.replace(b"http://www.w3.org", b"")
    script = request(port, "/app.js")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")
    assert b"/api/live" in script.body
    assert request(port, "/app.css").headers["content-type"].startswith("text/css")


def test_live_offers_each_camera_s_frame_with_its_boxes_and_the_frame_is_served(serve, state, ring):
    frame = write_frame(ring)
    state.on_detections(topics.DETECTIONS, detections(frame, boxes=2).to_message())
    port = serve().port
    live = json.loads(request(port, "/api/live").body)
    assert live["maxFps"] == 2.0
    [camera] = live["cameras"]
    assert (camera["id"], camera["frame"], camera["width"], camera["height"]) == ("cam0", frame.frame_id, 64, 48)
    assert camera["boxes"] == [["person", 0.9, 0.1, 0.2, 0.3, 0.6]] * 2
    picture = request(port, f"/api/cameras/cam0/frames/{frame.frame_id}.jpg")
    assert picture.status == 200 and picture.headers["content-type"] == "image/jpeg"
    assert shade_of(picture.body) == 128 and "immutable" in picture.headers["cache-control"]


def test_a_frame_not_offered_now_or_of_an_unknown_camera_is_not_found(serve, state, ring, clock):
    first = write_frame(ring)
    state.on_detections(topics.DETECTIONS, detections(first).to_message())
    port = serve().port
    assert request(port, "/api/cameras/cam0/frames/cam0-other-7.jpg").status == 404
    assert request(port, f"/api/cameras/cam9/frames/{first.frame_id}.jpg").status == 404
    second = write_frame(ring, at=first.captured_at + 1)
    state.on_detections(topics.DETECTIONS, detections(second).to_message())
    clock.now += 1
    request(port, "/api/live")  # offers the second frame
    assert request(port, f"/api/cameras/cam0/frames/{first.frame_id}.jpg").status == 404
    assert request(port, f"/api/cameras/cam0/frames/{second.frame_id}.jpg").status == 200


def test_a_frame_the_ring_recycled_is_not_found(serve, state, ring):
    frame = write_frame(ring)
    state.on_detections(topics.DETECTIONS, detections(frame).to_message())
    for shade in range(ring.slots):
        write_frame(ring, shade=shade)  # every slot written again: the offered frame is gone
    assert request(serve().port, f"/api/cameras/cam0/frames/{frame.frame_id}.jpg").status == 404


def test_state_has_recent_events_health_metrics_and_refused_messages(serve, state):
    state.on_event(topics.EVENTS, event().to_message())
    state.on_health(topics.health("smartcam.CameraIngest"), health().to_message())
    state.on_health(topics.health("x"), {"schema": "nonsense"})
    series = [{"name": "FramesIn", "dimensions": "camera=cam0", "unit": "Count", "points": [[1.0, 2.0]]}]
    body = json.loads(request(serve(metrics=series).port, "/api/state").body)
    assert [(e["id"], e["kind"], e["snapshotFrame"]) for e in body["events"]] == [("cam0.1.1", "start", None)]
    assert [(h["component"], h["state"], h["counters"]) for h in body["health"]] == [
        ("smartcam.CameraIngest", "ok", {"framesIn": 3})]
    assert body["metrics"] == series and body["refused"] == {"health": 1}


def test_an_event_s_snapshot_crop_and_full_frame_are_served(serve, state, snapshot_root):
    snapshot = write_snapshot(snapshot_root, "cam0.1.1")
    state.on_event(topics.EVENTS, event(snapshot=snapshot.ref).to_message())
    port = serve().port
    base = f"/api/events/cam0.1.1/snapshots/{snapshot.ref.frame_id}"
    assert request(port, f"{base}/crop.jpg").body == snapshot.crop
    assert request(port, f"{base}/full.jpg").body == snapshot.full
    assert request(port, f"{base}/other.jpg").status == 404
    assert request(port, "/api/events/cam0.1.1/snapshots/cam0-old-1/crop.jpg").status == 404  # replaced since
    assert request(port, f"/api/events/cam0.9.9/snapshots/{snapshot.ref.frame_id}/crop.jpg").status == 404


@pytest.mark.parametrize("path", ["/api/cameras/../frames/x.jpg", "/api/cameras/cam0/frames/..%2F..%2Fetc.jpg",
                                  "/api/events/%2Fetc%2Fpasswd/snapshots/x/crop.jpg", "/etc/passwd", "/web/app.js",
                                  "/api/cameras/-cam/frames/x.jpg", "/" + "a" * 5000])
def test_paths_that_are_not_ids_find_nothing(serve, path):
    assert request(serve().port, path).status in (404, 414)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"])
@pytest.mark.parametrize("path", ["/", "/api/state", "/api/live", "/nothing"])
def test_it_is_read_only_every_method_but_get_and_head_is_refused(serve, method, path):
    reply = request(serve(token=TOKEN).port, path, method, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 405 and reply.headers["allow"] == "GET,HEAD"


def test_head_is_answered_without_a_body(serve):
    reply = request(serve().port, "/api/state", "HEAD")
    assert reply.status == 200 and reply.body == b""


def test_query_parameters_are_refused(serve):
    port = serve().port
    assert request(port, "/api/state?debug=1").status == 400
    assert request(port, "/?").status in (200, 400)  # an empty query string is no parameter


def test_without_a_token_only_a_loopback_host_header_is_answered(serve):
    port = serve().port
    assert request(port, "/api/state", headers={"Host": "localhost:8420"}).status == 200
    assert request(port, "/api/state", headers={"Host": "[::1]:8420"}).status == 200
    assert request(port, "/api/state", headers={"Host": "evil.example:8420"}).status == 421
    assert request(port, "/api/state", headers={"Host": "127.0.0.1.evil.example"}).status == 421


def test_with_a_token_the_page_is_the_login_page_and_the_api_refuses_until_it_is_given(serve, state):
    state.on_health(topics.health("smartcam.CameraIngest"), health().to_message())
    port = serve(token=TOKEN).port
    login = request(port, "/")
    assert login.status == 200 and b'src="/login.js"' in login.body and b"smartcam.CameraIngest" not in login.body
    for path in ("/api/state", "/api/live", "/app.js", "/api/cameras/cam0/frames/x.jpg"):
        assert request(port, path).status == 401
    assert request(port, "/api/state", headers={"Authorization": "Bearer " + "x" * len(TOKEN)}).status == 401
    assert request(port, "/api/state", headers={"Cookie": f"{TOKEN_COOKIE}={TOKEN[:-1]}"}).status == 401
    assert request(port, "/api/state", headers={"Authorization": f"Bearer {TOKEN}"}).status == 200
    assert request(port, "/api/state", headers={"Cookie": f"{TOKEN_COOKIE}={TOKEN}"}).status == 200
    page = request(port, "/", headers={"Cookie": f"{TOKEN_COOKIE}={TOKEN}"})
    assert b'src="/app.js"' in page.body
    for path in ("/login.js", "/app.css", "/favicon.svg"):  # what the login page needs: no device data
        assert request(port, path).status == 200


def test_with_a_token_any_host_header_is_answered(serve):
    port = serve(token=TOKEN).port
    assert request(port, "/api/state", headers={"Host": "camera.example", "Authorization": f"Bearer {TOKEN}"}
                   ).status == 200


@pytest.mark.parametrize("path", ["/", "/api/state", "/nothing", "/api/cameras/cam0/frames/x.jpg"])
def test_every_response_carries_the_security_headers(serve, path):
    reply = request(serve().port, path)
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name.lower()] == value
    if path != "/api/cameras/cam0/frames/x.jpg" or reply.status != 200:
        assert reply.headers["cache-control"] in ("no-store", "private, max-age=300, immutable")


@pytest.mark.parametrize("header, loopback", [("localhost", True), ("LOCALHOST:80", True), ("127.0.0.1:1", True),
                                              ("[::1]", True), ("[::1]:8420", True), ("", False), (None, False),
                                              ("localhost.evil", False), ("127.0.0.2:8420", True), ("::1", False),
                                              ("10.0.0.1", False), ("[::ffff:10.0.0.1]", False), ("[bogus]", False)])
def test_host_is_loopback(header, loopback):
    assert host_is_loopback(header) is loopback
