"""The pieces of the nucleus lite rig that need no nucleus: the core bus codec, lite's JSON limit,
the configuration, the source cache key, and the loopback cloud side (mutual TLS)."""

from __future__ import annotations

import json
import ssl
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from nucleus_lite import config, corebus, limits
from nucleus_lite.cloud import MutualTlsService, credentials_route, data_plane_route
from nucleus_lite.reuse import Mosquitto
from nucleus_lite.sources import find_sources
from smartcam.contracts import Box, Detection, Detections, FrameRef, ModelInfo, StageLatency
from smartcam.ipc import local_message, published_body

FRAME = FrameRef(frame_id="cam0-1-0", camera_id="cam0", slot=0, sequence=0, captured_at=1.5,
                 captured_monotonic_ns=1, width=640, height=480, format="bgr8", request_id="r-1")


def detections(count: int) -> Detections:
    person = Detection(label="person", class_id=0, score=0.9, box=Box(x1=0, y1=0, x2=1, y2=1))
    latency = StageLatency(queue_ms=1, read_ms=1, preprocess_ms=1, infer_ms=1, postprocess_ms=1)
    return Detections(frame=FRAME, model=ModelInfo(name="m", version="1", backend="dlr"), inferred_at=2.0,
                      detections=[person] * count, latency=latency)


def test_core_bus_codec_round_trips() -> None:
    value = {"a": [1, -2, 3.5, True, None, "ü", {"b": []}], "c": {}, "d": "x" * 300}
    assert corebus.decode(corebus.encode(value)) == value
    # The layout lite's object_serde.c reads: type byte, u32 length, bare map keys.
    assert corebus.encode({"k": "v"}) == b"\x06\x01\x00\x00\x00\x01\x00\x00\x00k\x04\x01\x00\x00\x00v"


def test_lite_json_limit_and_why_contracts_travel_as_binary() -> None:
    assert limits.fits_as_json(FRAME.to_message())  # 294 of 550 bytes: frame references passed as JSON
    assert limits.ENVELOPE_BYTES + limits.decode_bytes(detections(0).to_message()) == 588
    assert limits.decode_bytes(detections(1).to_message()) - limits.decode_bytes(detections(0).to_message()) == 179
    assert not limits.fits_as_json(detections(0).to_message())  # what lite dropped
    message = local_message(detections(3))
    assert message.json_message is None and message.binary_message is not None
    assert published_body(message) == detections(3).to_message()
    with pytest.raises(TypeError):  # only contracts cross a process boundary
        local_message({"plain": 1})  # type: ignore[arg-type]


def test_configuration_points_lite_at_the_loopback_cloud() -> None:
    rendered = yaml.safe_load(config.render(config.DeviceSettings("thing-1", "us-east-1", "localhost:4443", 4444,
                                                                  "Alias")))
    nucleus = rendered["services"]["aws.greengrass.NucleusLite"]["configuration"]
    assert nucleus["iotCredEndpoint"] == "localhost:4443" and nucleus["iotDataEndpoint"] == "localhost"
    assert nucleus["greengrassDataPlanePort"] == "4444" and nucleus["iotRoleAlias"] == "Alias"
    assert rendered["system"]["thingName"] == "thing-1"
    assert rendered["system"]["privateKeyPath"].startswith("/tmp/ggl/")  # the run folder, inside only


def test_source_cache_key_follows_the_bytes(tmp_path: Path) -> None:
    for name in ("aws-greengrass-lite-1", "core_mqtt-1", "aws_sigv4-1", "gg_sdk-1", "unity-1"):
        top = tmp_path / "src" / name.split("-1")[0]
        top.mkdir(parents=True)
        (top / "f").write_text(name)
        with tarfile.open(tmp_path / f"{name}.tar.gz", "w:gz") as archive:
            archive.add(top, arcname=top.name)
    found = find_sources(tmp_path)
    assert found is not None and set(found.tarballs) == {"", "CORE_MQTT", "AWS_SIGV4", "GG_SDK", "UNITY"}
    key = found.cache_key()
    assert find_sources(tmp_path).cache_key() == key  # type: ignore[union-attr]
    (tmp_path / "unity-1.tar.gz").write_bytes(b"changed")
    assert find_sources(tmp_path).cache_key() != key  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    broker = Mosquitto(tmp_path_factory.mktemp("iot-core"))
    device_cert, device_key = broker.issue_client_cert("thing-1")
    broker._ensure_ca()
    broker._issue("localhost", broker.workdir / "server.pem", broker.workdir / "server.key", server=True)
    return {"ca": broker.ca_path, "server_cert": broker.workdir / "server.pem",
            "server_key": broker.workdir / "server.key", "cert": device_cert, "key": device_key}


def get(url: str, tls: dict[str, Path], client_cert: bool = True) -> tuple[int, dict]:
    context = ssl.create_default_context(cafile=str(tls["ca"]))
    if client_cert:
        context.load_cert_chain(str(tls["cert"]), str(tls["key"]))
    request = urllib.request.Request(url, headers={"x-amzn-iot-thingname": "thing-1"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_credentials_provider_and_data_plane_speak_mutual_tls_on_loopback(tls: dict[str, Path]) -> None:
    credentials = MutualTlsService("creds", tls["ca"], tls["server_cert"], tls["server_key"], credentials_route("A"))
    plane = MutualTlsService("plane", tls["ca"], tls["server_cert"], tls["server_key"], data_plane_route("thing-1"))
    for service in (credentials, plane):
        service.start()
    try:
        assert credentials._server.server_address[0] == "127.0.0.1"
        status, body = get(f"https://localhost:{credentials.port}/role-aliases/A/credentials", tls)
        assert status == 200 and set(body["credentials"]) == {"accessKeyId", "secretAccessKey", "sessionToken",
                                                               "expiration"}
        assert get(f"https://localhost:{credentials.port}/role-aliases/B/credentials", tls)[0] == 404
        assert credentials.requests[0] == ("/role-aliases/A/credentials", "thing-1")
        url = f"https://localhost:{plane.port}/greengrass/v2/coreDevices/thing-1/thingGroups"
        assert get(url, tls) == (200, {"thingGroups": []})
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            get(f"https://127.0.0.1:{credentials.port}/role-aliases/A/credentials", tls, client_cert=False)
    finally:
        for service in (credentials, plane):
            service.stop()


def test_measurement_samples_cpu_and_memory_of_a_process_set() -> None:
    import psutil

    from nucleus_lite.measure import sample

    result = sample(lambda: [psutil.Process()], 1.0)
    assert result["processes"] == 1
    assert 0 < result["pss_mb"] <= result["rss_mb"] <= result["rss_peak_mb"]
    assert result["cpu_cores"] >= 0


def test_build_reuses_a_complete_install_and_unpacks_one_top_folder(tmp_path: Path) -> None:
    from nucleus_lite.build import REQUIRED, BuildError, _unpack, is_built

    prefix = tmp_path / "prefix"
    assert not is_built(prefix)
    for name in REQUIRED:
        (prefix / name).parent.mkdir(parents=True, exist_ok=True)
        (prefix / name).write_text("")
    assert is_built(prefix)
    (tmp_path / "src" / "top").mkdir(parents=True)
    (tmp_path / "src" / "other").mkdir()
    with tarfile.open(tmp_path / "one.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "src" / "top", arcname="top")
    assert _unpack(tmp_path / "one.tar.gz", tmp_path / "out") == tmp_path / "out" / "top"
    with tarfile.open(tmp_path / "two.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "src" / "top", arcname="top")
        archive.add(tmp_path / "src" / "other", arcname="other")
    with pytest.raises(BuildError):
        _unpack(tmp_path / "two.tar.gz", tmp_path / "out2")
