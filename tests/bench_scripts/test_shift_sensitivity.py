"""bench/shift_sensitivity.py measures what it says on stand-in 'nets' with known behaviour."""

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import shift_sensitivity as ss  # noqa: E402


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (24, 30, 3), np.uint8)
    return cv2.resize(img, (160, 128), interpolation=cv2.INTER_CUBIC)  # smooth-ish texture


def strided(img):
    """A 'net' that only commutes with moves by multiples of 4 px, like a stride-4 encoder."""
    small = img[::4, ::4]
    return np.ascontiguousarray(np.repeat(np.repeat(small, 4, 0), 4, 1)[:img.shape[0],
                                                                          :img.shape[1]])


def test_moved_crops_whole_pixels_exactly_and_resamples_fractions(frame):
    np.testing.assert_array_equal(ss.moved(frame, 3, 100), frame[:, 3:103])
    half = ss.moved(frame.astype(np.float32), 0.5, 100)
    f = frame.astype(np.float32)
    np.testing.assert_allclose(half[:, 1:99], (f[:, 1:99] + f[:, 2:100]) / 2.0,
                               atol=1e-3)


def test_a_shift_equivariant_net_scores_zero_on_shifts(frame):
    scores = ss.sensitivity(lambda x: x.copy(), frame, np.random.default_rng(0))
    for d in ss.SHIFTS:
        assert scores[f"shift {d:g} px"] < 1e-3
    # the identity passes the noise through: mean |N(0, s)| = 0.8 s
    assert scores["noise sigma 2"] == pytest.approx(1.6, rel=0.15)


def test_a_strided_net_moves_with_4px_shifts_only(frame):
    scores = ss.sensitivity(strided, frame, np.random.default_rng(0))
    assert scores["shift 4 px"] < 1e-6
    assert scores["shift 1 px"] > 5 and scores["shift 2 px"] > 5
