"""The timing harness: statistics on known samples, the repetition rules under a fake clock,
rotating input buffers, the sync hook, and real (not blank) input frames. No speed is
asserted."""

from __future__ import annotations

import numpy as np
import pytest

from rtstyle.bench import timing
from rtstyle.bench.timing import Timing, measure, percentile
from rtstyle.errors import ConfigError


@pytest.mark.parametrize("q", [0, 10, 25, 50, 75, 90, 99, 100])
@pytest.mark.parametrize("samples", [[5.0], [3.0, 1.0], [4.0, 1.0, 3.0, 2.0, 10.0],
                                     list(np.random.default_rng(0).random(37))])
def test_percentile_matches_numpy_linear_interpolation(samples, q):
    assert percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)))


def test_percentile_known_values():
    s = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert percentile(s, 50) == 5.5
    assert percentile(s, 90) == pytest.approx(9.1)
    assert percentile(s, 99) == pytest.approx(9.91)
    assert percentile(list(reversed(s)), 50) == 5.5  # order does not matter


@pytest.mark.parametrize("bad", [-1, 100.5])
def test_percentile_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        percentile([1.0], bad)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_timing_statistics_on_a_known_list():
    # 0.010 .. 0.100 s, a batch of 4 frames per call
    t = Timing(tuple(k / 100 for k in range(1, 11)), batch=4, warmup=2)
    assert t.median == pytest.approx(0.055)
    assert t.p90 == pytest.approx(0.091)
    assert t.p99 == pytest.approx(0.0991)
    assert t.mean == pytest.approx(0.055)
    assert t.fps == pytest.approx(4 / 0.055)
    d = t.as_dict()
    assert d == {"repeats": 10, "warmup": 2, "ms_median": 55.0, "ms_p90": 91.0, "ms_p99": 99.1,
                 "ms_mean": 55.0, "ms_min": 10.0, "fps": round(4 / 0.055, 2)}


class FakeClock:
    """A clock that only the timed function moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_measure_takes_samples_rotates_buffers_and_syncs_after_every_call():
    clock = FakeClock()
    events = []
    inputs = ["a", "b", "c"]

    def fn(x):
        events.append(("call", x))
        clock.now += 0.25

    def sync():
        events.append(("sync", None))

    t = measure(fn, inputs, sync=sync, warmup=2, min_repeats=4, max_seconds=0.0, clock=clock)
    assert t.samples == (0.25, 0.25, 0.25, 0.25) and t.warmup == 2
    calls = [x for kind, x in events if kind == "call"]
    # the buffers rotate through warm-up and timed calls alike: never the same twice in a row
    assert calls == ["a", "b", "c", "a", "b", "c"]
    # every call is followed by a sync; a timed call is also preceded by one
    for k, (kind, _) in enumerate(events):
        if kind == "call":
            assert events[k + 1][0] == "sync"
    assert len([e for e in events if e[0] == "sync"]) == 2 + 2 * 4


def test_measure_keeps_going_until_the_time_budget_then_stops():
    clock = FakeClock()

    def fn(_):
        clock.now += 0.25

    t = measure(fn, [0], warmup=0, min_repeats=2, max_seconds=2.0, clock=clock)
    assert len(t.samples) == 8  # 8 x 0.25 s reaches the 2 s budget
    t = measure(fn, [0], warmup=0, min_repeats=2, max_seconds=100.0, max_repeats=7, clock=clock)
    assert len(t.samples) == 7
    t = measure(fn, [0], warmup=0, min_repeats=3, max_seconds=0.0, clock=clock)
    assert len(t.samples) == 3


@pytest.mark.parametrize("kwargs", [dict(min_repeats=0), dict(warmup=-1),
                                    dict(min_repeats=5, max_repeats=2), dict(max_seconds=-1)])
def test_measure_rejects_bad_settings(kwargs):
    with pytest.raises(ConfigError):
        measure(lambda x: None, [0], **kwargs)
    with pytest.raises(ConfigError):
        measure(lambda x: None, [])


def test_real_frames_are_real_distinct_and_sized():
    frames = timing.real_frames((96, 54), 6)
    assert len(frames) == 6
    for f in frames:
        assert f.shape == (54, 96, 3) and f.dtype == np.uint8
        assert f.std() > 10  # a picture, not a blank
    for a in range(6):
        for b in range(a + 1, 6):
            assert not np.array_equal(frames[a], frames[b])


def test_input_batches_rotate_different_frames_and_pad():
    frames = timing.real_frames((30, 18), 6)
    batches = timing.input_batches(frames, batch=2, buffers=3, multiple=4)
    assert len(batches) == 3
    for x in batches:
        assert x.shape == (2, 3, 20, 32) and x.dtype == np.float32 and x.flags.c_contiguous
        assert 0 <= x.min() and x.max() <= 255
    assert not np.array_equal(batches[0], batches[1])
    assert not np.array_equal(batches[1], batches[2])


def test_buffer_count_fits_the_memory_budget():
    assert timing.buffer_count(1000) == timing.BUFFERS
    assert timing.buffer_count(200, budget=1000) == 4
    assert timing.buffer_count(400, budget=1000) == 2
    assert timing.buffer_count(10 ** 12) == 2  # always at least two, so inputs rotate
