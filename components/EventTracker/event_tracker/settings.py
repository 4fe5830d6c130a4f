"""Configuration of smartcam.EventTracker (recipe DefaultConfiguration, camelCase keys).

Everything applies live: tracking settings and a camera's zones and lines from its next frame on
(what tracks did in zones and lines that did not change is kept), the rest at once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from event_tracker.zones import MAX_LINES, MAX_ZONES, CameraZones
from smartcam.config import ComponentConfig
from smartcam.contracts import MAX_PATH_POINTS, Identifier
from smartcam.cpu_affinity import ProcessConfig
from smartcam.geometry import MAX_POLYGON_POINTS
from smartcam.metrics import MetricsSettings

Fraction = Annotated[float, Field(gt=0, le=1)]
MAX_CAMERAS = 64


class TrackingSettings(ComponentConfig):
    """How detections become tracks (ByteTrack's two-stage association, per camera)."""

    high_score: Fraction = Field(
        0.5, description="Detections at or above this score are matched first, to every live track (tentative "
        "ones included)."
    )
    low_score: Fraction = Field(
        0.1, description="Detections from this score up to highScore only continue confirmed or lost tracks "
        "(ByteTrack's second association): a half-hidden person's weak detection keeps its identity; one that "
        "matches no track is dropped. SsdInference's candidates (its detections from trackingScoreThreshold up "
        "to scoreThreshold) from this score on only continue tracks too, whatever their score."
    )
    new_track_score: Fraction = Field(
        0.6, description="A detection left unmatched starts a new track only at or above this score."
    )
    match_iou: Fraction = Field(
        0.2, description="Smallest IoU between a track's predicted box and a high-score detection to match them."
    )
    low_match_iou: Fraction = Field(
        0.5, description="Smallest IoU to match a low-score detection (second association): stricter, these "
        "are often partial or false."
    )
    confirm_hits: Annotated[int, Field(ge=1, le=100)] = Field(
        3, description="Detections in consecutive frames that confirm a new track (and start its event); a "
        "track missed before that is dropped as noise."
    )
    end_after_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        10.0, description="A track not detected for this many seconds ends (and so does its event); until then "
        "it is lost and a matching detection takes it up again with the same identity. Keep it well above "
        "CameraIngest's motion gate keep-alive interval, or a person standing still becomes an event per "
        "keep-alive frame."
    )
    lost_coast_s: Annotated[float, Field(ge=0, le=60)] = Field(
        1.0, description="A lost track's predicted box moves on at its last velocity for this many seconds, then "
        "stays put; a detection overlapping the box where it was last seen also takes it up again."
    )
    class_aware: bool = Field(
        True, description="A detection matches only tracks of its label; false matches across labels (for a "
        "model whose label flickers between similar classes), a track's label being the one of highest summed score."
    )
    path_points: Annotated[int, Field(ge=2, le=MAX_PATH_POINTS)] = Field(
        32, description=f"Most boxes kept of a track's path (at most {MAX_PATH_POINTS}, what an event carries); "
        "when full, every second one is dropped, so the path spans the whole track ever more sparsely."
    )
    path_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        1.0, description="A box is added to the path at most this often, unless the track moved more than "
        "pathStep since the last one."
    )
    path_step: Fraction = Field(
        0.05, description="Movement of the box's center (fraction of the frame) that adds a box to the path "
        "sooner than pathIntervalS."
    )
    snapshot_gain: Annotated[float, Field(ge=1, le=10)] = Field(
        1.2, description="A better snapshot replaces the track's best one only when it is this many times "
        "better, so a frame is not copied out of the ring for every small gain."
    )

    @model_validator(mode="after")
    def _ordered_scores(self) -> TrackingSettings:
        if not self.low_score < self.high_score <= self.new_track_score:
            raise ValueError("scores must be ordered lowScore < highScore <= newTrackScore")
        return self


class SnapshotSettings(ComponentConfig):
    """The best picture of each event, copied out of the frame ring into the work folder."""

    enabled: bool = Field(
        True, description="Copy each event's best frame (the whole JPEG and a crop around the object) to "
        "`<work folder>/snapshots/<event id>/`; events carry a reference to it."
    )
    max_count: Annotated[int, Field(ge=1, le=100_000)] = Field(
        500, description="Most events with a snapshot kept; beyond, the oldest are deleted, those the writer "
        "has already receipted first."
    )
    max_mb: Annotated[float, Field(gt=0, le=100_000)] = Field(
        200.0, description="Most megabytes of snapshots kept; beyond, the oldest are deleted as for maxCount."
    )
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = Field(
        90, description="JPEG quality of the crop (the whole frame is encoded at the camera's jpegQuality)."
    )
    crop_margin: Annotated[float, Field(ge=0, le=2)] = Field(
        0.2, description="Margin around the object's box in the crop, as a fraction of the box's width and "
        "height on each side."
    )


class DataCaptureSettings(ComponentConfig):
    """Frames picked for labeling: copied out of the ring with the model's predictions, to S3 through
    DynamoWriter (a SageMaker Ground Truth manifest line and pre-annotations with each)."""

    enabled: bool = Field(
        False, description="Pick frames for labeling by the policy below and send each, with the model's "
        "predictions, to DynamoWriter, which puts it in S3 under `captures/<thing>/<camera>/<date>/`."
    )
    uncertain_min: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="A frame whose best score (of SsdInference's results and weak candidates) is at least "
        "this and below uncertainMax is captured: the model is unsure there."
    )
    uncertain_max: Annotated[float, Field(ge=0, le=1)] = Field(
        0.6, description="Upper end of the uncertainty band (excluded); equal to uncertainMin: no band."
    )
    new_tracks: bool = Field(
        True, description="Capture the frame on which a new track is confirmed (its event starts): the first "
        "sighting of each object that is not a one-frame false positive."
    )
    sample_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="Probability that any other frame is captured (a random sample of what the camera sees, "
        "empty frames included); 0: none."
    )
    max_per_hour: Annotated[int, Field(ge=0, le=100_000)] = Field(
        30, description="Most frames captured per camera in one clock hour (UTC, by capture time); beyond, frames "
        "are not captured (counted capturesOverBudget)."
    )
    max_per_day: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        200, description="Most frames captured per camera in one UTC day (by capture time). Both bounds hold "
        "across restarts (the counts are in the captures store)."
    )
    cameras: Annotated[list[Identifier], Field(max_length=MAX_CAMERAS)] = Field(
        default_factory=list, description="Camera ids to capture from; empty: every camera."
    )
    max_pending_mb: Annotated[float, Field(gt=0, le=100_000)] = Field(
        100.0, description="Most megabytes of captured frames kept in the work folder until DynamoWriter has them; "
        "beyond, frames are not captured (counted capturesSkippedFull)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> DataCaptureSettings:
        if self.uncertain_min > self.uncertain_max:
            raise ValueError("uncertainMin must not exceed uncertainMax")
        if self.max_per_hour > self.max_per_day:
            raise ValueError("maxPerHour must not exceed maxPerDay")
        return self

    @property
    def max_pending_bytes(self) -> int:
        return int(self.max_pending_mb * 1024 * 1024)


class EventTrackerConfig(ProcessConfig):
    tracking: TrackingSettings = Field(
        default_factory=TrackingSettings, description="How detections become tracks (the same for every camera)."
    )
    cameras: Annotated[dict[Identifier, CameraZones], Field(max_length=MAX_CAMERAS)] = Field(
        default_factory=dict, description=f"Zones and lines of up to {MAX_CAMERAS} cameras, by camera id: "
        f"`zones` (up to {MAX_ZONES}: `name`, `polygon` of 3..{MAX_POLYGON_POINTS} [x, y] points normalized 0..1 "
        f"from the top left that must not cross itself, `labels` watched, empty for all), `lines` (up to {MAX_LINES}: "
        "`name`, two `points`; crossing "
        "\"in\" is from the left to the right of the line's direction), `inertia` (detections in a row that enter "
        "or leave a zone, default 2). A camera not named has none and is tracked all the same."
    )
    update_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        5.0, description="Least seconds (of capture time) between two `update` messages of an event; entering "
        "or leaving a zone and crossing a line send one at once."
    )
    iot_events: bool = Field(
        True, description="Send each event's `start` and `end` to IoT Core on `smartcam/<thing>/events` (updates "
        "stay on the device)."
    )
    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings, description=SnapshotSettings.__doc__)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description=MetricsSettings.__doc__)
    data_capture: DataCaptureSettings = Field(
        default_factory=DataCaptureSettings, description="Frames picked for labeling (README, \"Data capture for "
        "labeling\"): copied out of the ring with the model's predictions, to S3 through DynamoWriter, with a "
        "SageMaker Ground Truth manifest line each."
    )
    health_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="Seconds between health messages on `smartcam/health/smartcam.EventTracker`."
    )
    status_min_interval_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        5.0, description="Least s between two IoT Core status messages of the same problem; repeats in between "
        "are counted and sent with the next."
    )
