"""The modules under mutation testing and the tests that guard each one.

Each module's mutants run only its own tests: the ones that exercise it directly, fast and in process.
A mutant those tests miss is a survivor even when a slower test elsewhere (e2e) would catch it: the
module's promise should be pinned where it is made.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNTIME = "components/Runtime/smartcam"
WRITER = "components/DynamoWriter/dynamo_writer"
INFERENCE = "components/SsdInference/ssd_inference"
TRACKER = "components/EventTracker/event_tracker"


@dataclass(frozen=True)
class Target:
    name: str  # the README's and the report's key
    paths: tuple[str, ...]  # files (or a package folder) to mutate, from the repo root
    tests: tuple[str, ...]  # pytest arguments, from the repo root
    why: str  # what a surviving mistake there would cost
    standins: tuple[str, ...] = ()  # started once for the session, not per mutant (shared_standins.py)


TARGETS: tuple[Target, ...] = (
    Target("smartcam.contracts", (f"{RUNTIME}/contracts",),
           ("tests/smartcam/test_contracts.py", "tests/smartcam/test_event_contracts.py", "tests/contracts"),
           "every cross-process payload: a loose contract lets a malformed message through"),
    Target("smartcam.frames", (f"{RUNTIME}/frames.py",),
           ("tests/smartcam/test_frames_ring.py", "tests/smartcam/test_frame_root.py", "tests/smartcam/test_frames.py",
            "tests/ssd_inference/test_frame_path.py"),
           "the frame ring: a wrong bound or slot serves the wrong frame or reads outside the ring"),
    Target("dynamo_writer.spool", (f"{WRITER}/spool.py",),
           ("tests/dynamo_writer/test_spool.py", "tests/dynamo_writer/test_spool_unavailable.py"),
           "the detections spool: a lost or duplicated row"),
    Target("dynamo_writer.sender", (f"{WRITER}/sender.py",),
           ("tests/dynamo_writer/test_sender.py", "tests/dynamo_writer/test_sender_live_config.py"),
           "the detections sender: a row acknowledged before it is stored", standins=("dynamodb", "s3")),
    Target("dynamo_writer.event_spool", (f"{WRITER}/event_spool.py", f"{WRITER}/spool_table.py"),
           ("tests/dynamo_writer/test_event_spool.py",),
           "the events spool: a lost or reordered event update"),
    Target("dynamo_writer.event_sender", (f"{WRITER}/event_sender.py", f"{WRITER}/cloud_sender.py"),
           ("tests/dynamo_writer/test_event_sender.py",),
           "the events sender: an event written twice or not at all", standins=("dynamodb", "s3")),
    Target("dynamo_writer.captures",
           (f"{WRITER}/capture_spool.py", f"{WRITER}/capture_receiver.py", f"{WRITER}/capture_sender.py",
            f"{WRITER}/ground_truth.py"),
           ("tests/dynamo_writer/test_captures.py", "tests/dynamo_writer/test_capture_bounds.py",
            "tests/dynamo_writer/test_ground_truth.py"),
           "data captures for labeling: a frame uploaded twice or not at all, a manifest line naming a missing "
           "image, a box in the wrong pixels", standins=("dynamodb", "s3")),
    Target("event_tracker.data_capture",
           (f"{TRACKER}/capture_policy.py", f"{TRACKER}/data_capture.py", f"{TRACKER}/capture_store.py"),
           ("tests/event_tracker/test_capture_policy.py", "tests/event_tracker/test_data_capture.py"),
           "which frames are captured for labeling: beyond the budget, or the wrong ones"),
    Target("ssd_inference.decoders.selection", (f"{INFERENCE}/decoders/base.py", f"{INFERENCE}/decoders/nms.py"),
           ("tests/ssd_inference/test_decoders.py", "tests/ssd_inference/test_selection_bounds.py"),
           "which detections are kept: thresholds, allow-list, clipping, NMS, top-k"),
    Target("config.validation",
           (f"{RUNTIME}/config.py", "components/CameraIngest/camera_ingest/settings.py",
            f"{INFERENCE}/settings.py", f"{WRITER}/settings.py", f"{TRACKER}/settings.py"),
           ("tests/smartcam/test_config_validation.py", "tests/smartcam/test_settings_refuse_hostile_values.py",
            "tests/camera_ingest/test_settings.py", "tests/dynamo_writer/test_settings.py",
            "tests/ssd_inference/test_settings.py", "tests/ssd_inference/test_recipe.py",
            "tests/event_tracker/test_settings.py", "tests/event_tracker/test_recipe.py"),
           "a hostile or mistyped configuration accepted"),
    Target("event_tracker.tracker", (f"{TRACKER}/tracker.py",), ("tests/event_tracker/test_tracker.py",),
           "tracks and events: an object split, merged or never ended"),
    Target("event_tracker.zones", (f"{TRACKER}/zones.py",), ("tests/event_tracker/test_zones.py",),
           "zone entry and exit: an event in the wrong zone"),
    Target("event_tracker.assignment", (f"{TRACKER}/assignment.py",), ("tests/event_tracker/test_assignment.py",),
           "which track takes which detection"),
)


def by_name(names: list[str]) -> list[Target]:
    known = {target.name: target for target in TARGETS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]
