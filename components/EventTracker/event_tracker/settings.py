"""Settings of the tracker (camelCase keys in a recipe, like every component's configuration)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from smartcam.config import ComponentConfig

Fraction = Annotated[float, Field(gt=0, le=1)]


class TrackingSettings(ComponentConfig):
    """How detections become tracks (ByteTrack's two-stage association, per camera)."""

    high_score: Fraction = Field(
        0.5, description="Detections at or above this score are matched first, to every live track (tentative "
        "ones included)."
    )
    low_score: Fraction = Field(
        0.1, description="Detections from this score up to highScore only continue confirmed or lost tracks "
        "(ByteTrack's second association): a half-hidden person's weak detection keeps its identity; one that "
        "matches no track is dropped."
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
        5.0, description="A track not detected for this many seconds ends (and so does its event); until then "
        "it is lost and a matching detection takes it up again with the same identity."
    )
    class_aware: bool = Field(
        True, description="A detection matches only tracks of its label; false matches across labels (for a "
        "model whose label flickers between similar classes), a track's label being the one of highest summed score."
    )
    path_points: Annotated[int, Field(ge=2, le=1000)] = Field(
        32, description="Most boxes kept of a track's path; when full, every second one is dropped, so the path "
        "spans the whole track ever more sparsely."
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
