"""The cost of a camera-day from a measured phase, worked out by hand for round numbers."""

import pytest

from benchmarks.cost import Prices, camera_day
from benchmarks.results import PhaseResult


def phase(**measured) -> PhaseResult:
    base = {"video_s": 86.4, "frames_taken": 864, "frames_passed": 864, "frames_gated": 0, "gated_share": 0.0,
            "model_invocations": 864, "events_started": 0, "cpu_s": {}, "cpu_s_per_video_min": {},
            "cpu_s_per_video_min_total": 0.0, "dynamodb_items": 0, "dynamodb_bytes": 0, "dynamodb_items_per_min": 0.0,
            "dynamodb_bytes_per_min": 0.0, "dynamodb_writes": 0, "dynamodb_writes_per_min": 0.0, "s3_objects": 0,
            "s3_bytes": 0, "s3_objects_per_min": 0.0, "s3_bytes_per_min": 0.0}
    return PhaseResult.model_validate(base | measured)


PRICES = Prices(dynamodb_per_million_write_units=1.0, dynamodb_per_gb_month=1.0, s3_per_thousand_puts=1.0,
                s3_per_gb_month=1.0)


def test_writes_cost_a_unit_per_started_kilobyte_and_again_for_the_index():
    # 86.4 s of video is 1/1000 of a day: 10 writes of 1,500-byte items -> 10,000 writes a day of 2 units, x2
    day = camera_day(phase(dynamodb_items=10, dynamodb_bytes=15_000, dynamodb_writes=10), prices=PRICES)
    assert day.dynamodb_writes == pytest.approx(10_000)
    assert day.dynamodb_write_units == pytest.approx(40_000)
    assert day.dynamodb_writes_usd == pytest.approx(0.04)


def test_storage_is_a_day_of_items_kept_for_the_retention_with_overhead_in_table_and_index():
    day = camera_day(phase(dynamodb_items=10, dynamodb_bytes=9_000, dynamodb_writes=10), retention_days=30,
                     prices=PRICES)
    # 10,000 items a day of 900 + 100 bytes, twice, for 30 days: 0.6 GB, at 1 USD per GB-month
    assert day.dynamodb_stored_gb == pytest.approx(0.6)
    assert day.dynamodb_storage_usd == pytest.approx(0.6 / (365 / 12))


def test_pictures_cost_a_put_each_and_their_storage():
    day = camera_day(phase(s3_objects=2, s3_bytes=100_000), retention_days=90, prices=PRICES)
    assert day.s3_puts == pytest.approx(2000) and day.s3_puts_usd == pytest.approx(2.0)
    assert day.s3_stored_gb == pytest.approx(9.0)  # 100 MB a day for 90 days
    assert day.total_usd == pytest.approx(2.0 + 9.0 / (365 / 12))


def test_a_phase_of_no_length_is_refused():
    with pytest.raises(ValueError, match="no length"):
        camera_day(phase(video_s=0.0))
