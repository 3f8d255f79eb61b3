"""Optical flow, warping and the consistency mask (rtstyle.flow): warp and mask on known flows,
real DIS/Farneback flow on textured frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtstyle import flicker, flow
from rtstyle.errors import InputError
from rtstyle.flow import FlowError
from tests.helpers import texture

H, W = 48, 64
BIG = texture(H + 60, W + 60, seed=0)


def crop(dx: int = 0, dy: int = 0) -> np.ndarray:
    return np.ascontiguousarray(BIG[20 + dy:20 + dy + H, 20 + dx:20 + dx + W])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_warp_with_zero_flow_is_the_identity(dtype):
    img = crop().astype(dtype)
    out = flow.warp(img, np.zeros((H, W, 2), np.float32))
    assert out.dtype == dtype and out.shape == img.shape
    np.testing.assert_array_equal(out, img)


def test_warp_by_a_whole_pixel_flow_samples_there():
    img = crop()
    f = np.zeros((H, W, 2), np.float32)
    f[..., 0], f[..., 1] = 3, -2  # out(x, y) = img(x + 3, y - 2)
    out = flow.warp(img, f)
    np.testing.assert_array_equal(out[2:, :-3], img[:-2, 3:])


def test_warp_refuses_a_flow_of_another_size():
    with pytest.raises(FlowError, match=r"expected \(48, 64, 2\)"):
        flow.warp(crop(), np.zeros((H, W - 1, 2), np.float32))


# --- flow ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", flow.METHODS)
def test_flow_of_a_translation(method):
    a, b = crop(0, 0), crop(2, 1)  # the content moves 2 px left, 1 px up
    f = flow.flow(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY),
                     method)
    assert f.shape == (H, W, 2) and f.dtype == np.float32
    inner = f[8:-8, 8:-8]
    assert np.median(inner[..., 0]) == pytest.approx(-2, abs=0.1)
    assert np.median(inner[..., 1]) == pytest.approx(-1, abs=0.1)


def test_flow_takes_bgr_frames_and_refuses_bad_input():
    f = flow.flow(crop(), crop())
    assert np.abs(f).max() < 0.05
    with pytest.raises(InputError, match="unknown flow method 'raft'"):
        flow.flow(crop(), crop(), "raft")
    with pytest.raises(FlowError, match="one size"):
        flow.flow(crop(), crop()[:-1])


# --- the forward-backward mask -----------------------------------------------------------------

def square_flows(h=40, w=60, y0=10, x0=15, s=16, d=6):
    """Exact flows of a square moving d px right over a static background: forward (frame t ->
    t+1) and backward (t+1 -> t)."""
    fwd = np.zeros((h, w, 2), np.float32)
    back = np.zeros((h, w, 2), np.float32)
    fwd[y0:y0 + s, x0:x0 + s, 0] = d
    back[y0:y0 + s, x0 + d:x0 + d + s, 0] = -d
    return fwd, back


def test_consistency_mask_on_exact_flows_marks_the_revealed_background():
    y0, x0, s, d = 10, 15, 16, 6
    fwd, back = square_flows(y0=y0, x0=x0, s=s, d=d)
    mask = flow.consistency_mask(back, fwd)  # in frame t+1, where the error is measured
    assert mask.dtype == bool and mask.shape == (40, 60)
    # the strip the square uncovered: static background in t+1, square in t -> inconsistent
    assert not mask[y0:y0 + s, x0:x0 + d].any()
    expected = np.ones_like(mask)
    expected[y0:y0 + s, x0:x0 + d] = False
    np.testing.assert_array_equal(mask, expected)
    # the other way round (frame t's grid) it is the strip the square is about to cover
    other = flow.consistency_mask(fwd, back)
    assert not other[y0:y0 + s, x0 + s:x0 + s + d].any()
    assert other.sum() == mask.sum()


def test_consistency_mask_threshold_is_the_ruder_criterion():
    def flows(a_x, b_x, w=40):
        a = np.zeros((1, w, 2), np.float32)
        b = np.zeros((1, w, 2), np.float32)
        a[..., 0], b[..., 0] = a_x, b_x
        return a, b

    # zero flow one way: a mismatch up to sqrt(0.5 / 1.0049) px passes
    assert flow.consistency_mask(*flows(0.0, 0.7)).all()  # 0.49 <= 0.0049 + 0.5
    assert not flow.consistency_mask(*flows(0.0, 0.72)).any()  # 0.518 > 0.505
    # a large flow is allowed a proportionally larger mismatch
    a, b = flows(10.0, -8.4)  # 1.6^2 = 2.56 <= 0.01 (100 + 70.56) + 0.5 = 2.21? no: refused
    assert not flow.consistency_mask(a, b)[0, :29].any()
    a, b = flows(10.0, -8.7)  # 1.69 <= 0.01 (100 + 75.69) + 0.5 = 2.26: kept
    mask = flow.consistency_mask(a, b)
    assert mask[0, :30].all()  # x + 10 inside the 40 px frame
    assert not mask[0, 30:].any()  # x + 10 falls outside: no source pixel


def test_consistency_mask_with_dis_flags_a_revealed_background():
    """A textured square moving 12 px over a textured background: real DIS flow, real mask."""
    h, w, s, d = 180, 240, 80, 12
    bg, sq = texture(h, w, seed=3, sigma=3), texture(s, s, seed=4, sigma=3)
    y0, x0 = h // 2 - s // 2, w // 4

    def frame(x):
        f = bg.copy()
        f[y0:y0 + s, x:x + s] = sq
        return f

    a, b = frame(x0), frame(x0 + d)
    back, fwd = flow.flow(b, a), flow.flow(a, b)
    mask = flow.consistency_mask(back, fwd)
    revealed = mask[y0 + 2:y0 + s - 2, x0:x0 + d]
    assert revealed.mean() < 0.3, revealed.mean()
    assert mask[y0 + 2:y0 + s - 2, x0 + d + 2:x0 + s].mean() > 0.9  # the square itself
    assert mask[:, x0 + s + d + 6:].mean() > 0.95  # background far from it
    # the error of the (unstylised) clip over kept pixels is small; over all pixels it is not
    report = flicker.measure([a, b])
    everything = flicker.difference_map(a, b, back).mean()
    assert report.mean < 1.5 and everything > 2 * report.mean, (report.mean, everything)
