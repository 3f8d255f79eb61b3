"""The warping error (rtstyle.flicker) on tiny synthetic clips: the metric on static, noisy,
translated and occluding clips, the report, the picture and the frame reader."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from rtstyle import flicker
from rtstyle.errors import InputError
from rtstyle.flicker import FlickerError
from rtstyle.video import VideoError
from tests.helpers import make_audio_only, make_clip, texture


H, W, T = 48, 64, 6
BIG = texture(H + 60, W + 60, seed=0)


def crop(dx: int = 0, dy: int = 0) -> np.ndarray:
    return np.ascontiguousarray(BIG[20 + dy:20 + dy + H, 20 + dx:20 + dx + W])


def static_clip() -> list[np.ndarray]:
    return [crop()] * T


def shifted_clip(dx: int = 2, dy: int = 1) -> list[np.ndarray]:
    """The whole scene moves by a constant (dx, dy) pixels per frame (a camera pan)."""
    return [crop(k * dx, k * dy) for k in range(T)]


def add_noise(sigma: float, seed: int = 1):
    """A 'style' that adds fresh Gaussian noise to each frame: pure flicker."""
    rng = np.random.default_rng(seed)
    return lambda f: np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8)


# --- warp ------------------------------------------------------------------------------------

def test_warping_error_known_values():
    frames = [np.full((8, 8, 3), v, np.uint8) for v in (10, 20, 50)]
    zero = [np.zeros((8, 8, 2), np.float32)] * 2
    full = [np.ones((8, 8), bool)] * 2
    assert flicker.warping_error(frames, zero, full) == [10.0, 30.0]
    # only the masked pixels count: a change outside the mask is not flicker
    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[:, 4:] = (30, 60, 90)  # mean over channels 60
    left = np.zeros((8, 8), bool)
    left[:, :4] = True
    assert flicker.warping_error([a, b], zero[:1], [left]) == [0.0]
    assert flicker.warping_error([a, b], zero[:1], [~left]) == [60.0]
    assert math.isnan(flicker.warping_error([a, b], zero[:1], [np.zeros((8, 8), bool)])[0])


def test_warping_error_follows_the_flow():
    a = crop()
    b = np.ascontiguousarray(np.roll(a, -3, axis=1))  # content moves 3 px left
    back = np.zeros((H, W, 2), np.float32)
    back[..., 0] = 3  # b(x) = a(x + 3)
    mask = np.ones((H, W), bool)
    mask[:, -3:] = False  # rolled-in columns
    assert flicker.warping_error([a, b], [back], [mask]) == [0.0]
    assert flicker.warping_error([a, b], [np.zeros_like(back)], [mask])[0] > 10


def test_warping_error_checks_its_input():
    z = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(FlickerError, match="3 frames need 2 flows and masks, got 1 and 2"):
        flicker.warping_error([z, z, z], [np.zeros((8, 8, 2), np.float32)],
                              [np.ones((8, 8), bool)] * 2)


# --- measure ---------------------------------------------------------------------------------

def test_static_video_has_zero_error():
    report = flicker.measure(static_clip())
    assert report.pairs == [0.0] * (T - 1) and report.original_pairs == [0.0] * (T - 1)
    assert report.mean == 0.0 and report.original_mean == 0.0
    assert report.non_occluded == 1.0
    assert report.frames == T and report.size == (W, H)
    styled = flicker.measure(static_clip(), lambda f: 255 - f)  # a deterministic 'style'
    assert styled.mean == 0.0


def test_error_grows_with_per_frame_noise():
    means = [flicker.measure(static_clip(), add_noise(s)).mean for s in (0, 2, 5, 10, 20)]
    assert means[0] == 0.0
    assert all(a < b for a, b in zip(means, means[1:])), means
    # two independent N(0, s^2) noises differ by N(0, 2 s^2): E|.| = 2 s / sqrt(pi)
    assert means[3] == pytest.approx(2 * 10 / math.sqrt(math.pi), rel=0.1)


def test_global_translation_costs_almost_nothing():
    moving = flicker.measure(shifted_clip(2, 1))
    noisy = flicker.measure(static_clip(), add_noise(5))
    assert moving.mean == moving.original_mean  # no stylise: the original's number
    assert moving.mean < 0.5, moving.pairs
    assert moving.mean < noisy.mean / 10
    assert 0.85 < moving.non_occluded < 1.0  # the strips entering the frame are masked
    farneback = flicker.measure(shifted_clip(2, 1), method="farneback")
    assert farneback.mean < 0.5 and farneback.method == "farneback"
    # noise on a moving clip: the style's flicker shows above the original's floor
    both = flicker.measure(shifted_clip(2, 1), add_noise(5))
    assert both.original_mean == pytest.approx(moving.original_mean)
    assert both.mean > 10 * both.original_mean


def test_flow_comes_from_the_original_frames():
    """A 'style' that paints the same picture on every frame does not follow the scene: measured
    along the scene's motion it flickers, though its own frames never change."""
    painted = texture(H, W, seed=9)
    report = flicker.measure(shifted_clip(3, 0), lambda f: painted)
    assert report.mean > 5 and report.original_mean < 0.5


def test_measure_batches_through_many_and_calls_the_style_loss_hook():
    calls = []

    class FakeStylizer:  # has .many like rtstyle.stylizer.Stylizer
        def many(self, frames):
            calls.append(len(frames))
            return [255 - f for f in frames]

    seen = []
    report = flicker.measure(static_clip(), FakeStylizer(), batch=4,
                             style_loss=lambda frames: seen.append(len(frames)) or 1.5)
    assert calls == [4, 2] and seen == [T] and report.style_loss == 1.5


def test_measure_refuses_bad_input():
    with pytest.raises(FlickerError, match="at least 2 frames, got 1"):
        flicker.measure([crop()])
    with pytest.raises(FlickerError, match="frame 1 is 64x47, frame 0 is 64x48"):
        flicker.measure([crop(), crop()[:-1]])
    with pytest.raises(FlickerError, match=r"frame 0: expected an \(H, W, 3\) uint8"):
        flicker.measure([crop().astype(np.float32), crop()])
    with pytest.raises(FlickerError, match="the stylised frame 0"):
        flicker.measure(static_clip(), lambda f: f[:-2])
    with pytest.raises(InputError, match="unknown flow method"):
        flicker.measure(static_clip(), method="raft")


def test_report_as_dict_and_summary():
    report = flicker.measure(shifted_clip(2, 1), add_noise(5), samples=2)
    d = report.as_dict()
    json.dumps(d, allow_nan=False)  # plain JSON: NaN becomes null
    assert d["pairs"] == T - 1 and d["frames"] == T and (d["width"], d["height"]) == (W, H)
    assert d["warping_error"] == pytest.approx(report.mean, abs=1e-4)
    assert d["added_by_style"] == pytest.approx(report.mean - report.original_mean, abs=1e-3)
    assert d["style_loss"] is None and d["flow"] == "dis"
    assert "0.01 (|b_t(x)|^2 + |f_t(x + b_t(x))|^2) + 0.5" in d["formula"]
    assert "DIS, preset medium" in d["formula"] and "{method}" not in d["formula"]
    assert len(d["per_pair"]) == T - 1
    line = report.summary()
    assert line.startswith(f"warping error {report.mean:.2f} (original "
                           f"{report.original_mean:.2f}) over {T - 1} frame pairs, ")
    assert line.endswith("% pixels non-occluded")
    empty = flicker.FlickerReport([math.nan], [math.nan], [0.0], frames=2, size=(4, 4))
    assert empty.as_dict()["warping_error"] is None and math.isnan(empty.mean)


def test_docstring_states_the_formula():
    """The README quotes the module docstring: its formula must be the one the report states."""
    doc = flicker.__doc__
    mask = "|b_t(x) + f_t(x + b_t(x))|^2 <= 0.01 (|b_t(x)|^2 + |f_t(x + b_t(x))|^2) + 0.5"
    assert mask in doc and mask in flicker.FORMULA
    assert "b_t        = flow(I_{t+1} -> I_t)" in doc
    assert "E_t        = sum_x M_t(x) sum_c |S_{t+1}(x, c) - W_t(x, c)|  /  (3 sum_x M_t(x))" \
        in doc


def test_sample_pairs_spread_evenly():
    assert flicker.sample_pairs(59, 4) == [0, 19, 39, 58]
    assert flicker.sample_pairs(3, 4) == [0, 1, 2]
    assert flicker.sample_pairs(10, 1) == [0]
    assert flicker.sample_pairs(0, 4) == [] and flicker.sample_pairs(5, 0) == []


def test_heatmaps_picture():
    report = flicker.measure(shifted_clip(2, 1), add_noise(10), samples=3)
    assert [s.pair for s in report.samples] == [0, 2, 4]
    grid = flicker.heatmap_grid(report, cell=64)
    assert grid.dtype == np.uint8 and grid.ndim == 3
    assert grid.shape[0] >= 3 * 64 and grid.shape[1] >= 4 * 64
    mask = np.ones((4, 4), bool)
    mask[0, 0] = False
    hm = flicker.heatmap(np.full((4, 4), 64.0), mask)
    assert tuple(hm[0, 0]) == flicker.OCCLUDED_BGR
    assert tuple(hm[1, 1]) == tuple(cv2.applyColorMap(np.uint8([[255]]),
                                                      cv2.COLORMAP_INFERNO)[0, 0])
    with pytest.raises(FlickerError, match="no frame pairs"):
        flicker.heatmap_grid(flicker.measure(static_clip(), samples=0))


# --- reading a clip --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("flicker") / "clip.mp4", frames=10, audio=False,
                     size=(64, 48))


def test_read_frames(clip):
    frames = flicker.read_frames(clip, 4)
    assert len(frames) == 4 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert len(flicker.read_frames(clip, 100)) == 10
    small = flicker.read_frames(clip, 2, max_side=32)
    assert small[0].shape == (24, 32, 3)
    later = flicker.read_frames(clip, 100, start=0.2)  # 25 fps: from frame 5
    assert len(later) == 5
    every = flicker.read_frames(clip, 100)
    np.testing.assert_array_equal(later[0], every[5])


def test_read_frames_errors(tmp_path):
    with pytest.raises(VideoError, match="video not found"):
        flicker.read_frames(tmp_path / "nope.mp4", 5)
    (tmp_path / "notes.mp4").write_text("not a video\n")
    with pytest.raises(VideoError, match="not a video file"):
        flicker.read_frames(tmp_path / "notes.mp4", 5)
    with pytest.raises(VideoError, match="has no video stream"):
        flicker.read_frames(make_audio_only(tmp_path / "a.mp4"), 5)
    with pytest.raises(FlickerError, match="at least 1"):
        flicker.read_frames(tmp_path / "nope.mp4", 0)
