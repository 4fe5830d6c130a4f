"""Recipe variables, including the nucleus's rule that cross-component ones need a DIRECT dependency."""

import pytest

from local_greengrass.lifecycle.interpolation import ComponentView, InterpolationError, Interpolator, resolve_pointer

VIEWS = {
    "smartcam.Runtime": ComponentView("smartcam.Runtime", "/gg/a/runtime", "/gg/u/runtime",
                                      "/gg/work/smartcam.Runtime", {"python": "3.11"}),
    "smartcam.CameraIngest": ComponentView(
        "smartcam.CameraIngest", "/gg/a/ingest", "/gg/u/ingest", "/gg/work/smartcam.CameraIngest",
        {"frameRate": 5, "enabled": True, "source": {"kind": "folder", "path": "/x"}, "a/b": "slash", "list": [1, 2]}),
}
INTERPOLATOR = Interpolator(kernel_root="/gg", thing_name="cam-1", components=VIEWS)


def ingest(text: str, deps: tuple[str, ...] = ("smartcam.Runtime",)) -> str:
    return INTERPOLATOR.text(text, "smartcam.CameraIngest", deps)


def test_own_namespaces() -> None:
    assert ingest("{artifacts:path}|{artifacts:decompressedPath}|{work:path}") == \
        "/gg/a/ingest|/gg/u/ingest|/gg/work/smartcam.CameraIngest"
    assert ingest("{kernel:rootPath} {iot:thingName}") == "/gg cam-1"


def test_configuration_values_are_rendered_like_the_nucleus() -> None:
    assert ingest("--fps {configuration:/frameRate}") == "--fps 5"
    assert ingest("{configuration:/enabled}") == "true"
    assert ingest("{configuration:/source/kind}") == "folder"
    assert ingest("{configuration:/source}") == '{"kind":"folder","path":"/x"}'
    assert ingest("{configuration:/a~1b}") == "slash"
    assert ingest("{configuration:/list/1}") == "2"


def test_unknown_placeholders_are_left_as_written() -> None:
    text = 'echo ${HOME} {COMPONENT_NAME} {"a": 1} {configuration:/missing} {artifacts:nope}'
    assert ingest(text) == text


def test_cross_component_for_a_direct_dependency() -> None:
    assert ingest("{smartcam.Runtime:work:path}/venv/bin/python") == "/gg/work/smartcam.Runtime/venv/bin/python"
    assert ingest("{smartcam.Runtime:artifacts:decompressedPath}") == "/gg/u/runtime"
    assert ingest("{smartcam.Runtime:configuration:/python}") == "3.11"


def test_cross_component_without_a_direct_dependency_is_a_clear_error() -> None:
    with pytest.raises(InterpolationError, match=r"smartcam\.CameraIngest: \{smartcam\.Runtime:work:path\} refers to "
                                                 r"smartcam\.Runtime, which is not a direct dependency"):
        ingest("{smartcam.Runtime:work:path}/venv/bin/python", deps=())


def test_configuration_trees_are_interpolated_recursively() -> None:
    value = {"topic": "smartcam/{iot:thingName}/capture", "n": 3, "list": ["{work:path}", True]}
    assert INTERPOLATOR.value(value, "smartcam.CameraIngest", ()) == {
        "topic": "smartcam/cam-1/capture", "n": 3, "list": ["/gg/work/smartcam.CameraIngest", True]}


def test_json_pointer() -> None:
    assert resolve_pointer({"a": {"b": [0, {"c": 1}]}}, "/a/b/1/c") == 1
    assert resolve_pointer({"x": 1}, "") == {"x": 1}
    with pytest.raises(KeyError):
        resolve_pointer({"a": 1}, "/b")
