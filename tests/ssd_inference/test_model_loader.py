"""How many threads the inference runtime gets."""

import os

from ssd_inference.model_loader import inference_threads


def test_a_configured_thread_count_is_kept():
    assert inference_threads(3, cores=2) == 3
    assert inference_threads(1, cores=16) == 1


def test_zero_means_the_cores_but_one_and_never_none():
    assert inference_threads(0, cores=1) == 1
    assert inference_threads(0, cores=2) == 1
    assert inference_threads(0, cores=3) == 2
    assert inference_threads(0, cores=8) == 7


def test_zero_counts_the_cores_this_process_may_use():
    assert inference_threads(0) == max(1, len(os.sched_getaffinity(0)) - 1)


def test_with_streams_the_default_shares_the_cores_minus_one_among_them_at_least_one_each():
    assert inference_threads(0, cores=2, streams=2) == 1
    assert inference_threads(0, cores=9, streams=2) == 4
    assert inference_threads(0, cores=8, streams=3) == 2
    assert inference_threads(0, cores=4, streams=8) == 1
    assert inference_threads(2, cores=8, streams=3) == 2  # a configured count is each stream's
