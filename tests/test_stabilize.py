"""Run-time stabilisation (rtstyle.stabilize) on tiny synthetic clips with real OpenCV flow: a
static scene converges, a panning scene flickers less (warping error of rtstyle.flicker), new
content and scene cuts take the current stylised frame, a sub-pixel pan keeps the strokes in
place, the restarts and the checks, and the detail gain."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtstyle import flicker, stabilize
from rtstyle.errors import ConfigError
from rtstyle.stabilize import (DEFAULT_WEIGHT, DETAIL_SIGMAS, K_MAX, Stabilizer, _keep_detail,
                               check_weight, detail_bands)

from tests.helpers import ASSETS, frame_image


def texture(h: int, w: int, seed: int, sigma: float = 2.0) -> np.ndarray:
    """Smooth random BGR texture (blurred noise, contrast restored): something flow can track."""
    noise = np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.float32)
    a = cv2.GaussianBlur(noise, (0, 0), sigma)
    return np.clip((a - a.mean()) / a.std() * 50 + 128, 0, 255).astype(np.uint8)


H, W = 48, 64
SCENE = texture(H + 60, W + 60, seed=0)            # what the camera sees
PAINT = texture(H + 60, W + 60, seed=5, sigma=1.5)  # its "stylised" version, fixed to the scene


def crop(img: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    return np.ascontiguousarray(img[20 + dy:20 + dy + H, 20 + dx:20 + dx + W])


def flickering(seed: int = 1, sigma: float = 8.0):
    """A 'net' whose output moves with the scene but has fresh noise in every frame."""
    rng = np.random.default_rng(seed)
    return lambda img: np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def photo() -> np.ndarray:
    return cv2.resize(cv2.imread(str(ASSETS / "tubingen.jpg")), (W, H), interpolation=cv2.INTER_AREA)


def painting() -> np.ndarray:
    img = cv2.imread(str(ASSETS / "starry_night_van_gogh.jpg"))
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)


# --- a static scene --------------------------------------------------------------------------

def test_a_static_scene_converges():
    noisy = flickering()
    outs = {}
    for weight in (0.0, DEFAULT_WEIGHT):
        st = Stabilizer()
        outs[weight] = [st(crop(SCENE), noisy(crop(PAINT)), weight) for _ in range(12)]
    steps = {w: [mean_abs(o[t + 1], o[t]) for t in range(len(o) - 1)] for w, o in outs.items()}
    plain, steady = steps[0.0], steps[DEFAULT_WEIGHT]
    assert min(plain) > 8  # the flicker the noise makes on its own
    assert steady[-1] < steady[0]  # shrinks ...
    assert np.mean(steady[-4:]) < 0.25 * np.mean(plain[-4:])  # ... to well below
    # and stays the picture: close to the noise-free stylised frame (not closer than about
    # half the noise: the finest band gets the current frame's amount of detail back, and
    # this noise is all fine detail)
    assert mean_abs(outs[DEFAULT_WEIGHT][-1], crop(PAINT)) < 0.6 * mean_abs(outs[0.0][-1],
                                                                            crop(PAINT))


def test_identical_stylized_frames_come_out_unchanged():
    st = Stabilizer()
    for _ in range(5):
        out = st(crop(SCENE), crop(PAINT), DEFAULT_WEIGHT)
        assert out.dtype == np.uint8 and out.shape == (H, W, 3)
        np.testing.assert_array_equal(out, crop(PAINT))
    assert st.kept > 0.9  # the previous frame was used, and it agreed


def test_weight_zero_returns_the_stylized_frame():
    st, noisy = Stabilizer(), flickering()
    for _ in range(4):
        styled = noisy(crop(PAINT))
        assert st(crop(SCENE), styled, 0.0) is styled
        assert st.kept == 0.0


def test_the_first_frame_is_returned_unchanged():
    styled = flickering()(crop(PAINT))
    st = Stabilizer()
    assert st(crop(SCENE), styled, DEFAULT_WEIGHT) is styled
    assert st.kept == 0.0


def test_the_input_frames_are_not_modified():
    st, noisy = Stabilizer(), flickering()
    frame = crop(SCENE)
    for _ in range(3):
        styled = noisy(crop(PAINT))
        before_f, before_s = frame.copy(), styled.copy()
        st(frame, styled, DEFAULT_WEIGHT)
        np.testing.assert_array_equal(frame, before_f)
        np.testing.assert_array_equal(styled, before_s)


def test_reset_forgets_the_previous_frame():
    st, noisy = Stabilizer(), flickering()
    st(crop(SCENE), noisy(crop(PAINT)), DEFAULT_WEIGHT)
    styled = noisy(crop(PAINT))
    assert not np.array_equal(st(crop(SCENE), styled, DEFAULT_WEIGHT), styled)  # blended
    st.reset()
    styled = noisy(crop(PAINT))
    assert st(crop(SCENE), styled, DEFAULT_WEIGHT) is styled


def test_a_change_of_frame_size_restarts():
    st, noisy = Stabilizer(), flickering()
    st(crop(SCENE), noisy(crop(PAINT)), DEFAULT_WEIGHT)
    st(crop(SCENE), noisy(crop(PAINT)), DEFAULT_WEIGHT)
    big_frame = cv2.resize(crop(SCENE), (2 * W, 2 * H))
    big = noisy(cv2.resize(crop(PAINT), (2 * W, 2 * H)))
    assert st(big_frame, big, DEFAULT_WEIGHT) is big
    # and then it carries on at the new size
    again = noisy(cv2.resize(crop(PAINT), (2 * W, 2 * H)))
    out = st(big_frame, again, DEFAULT_WEIGHT)
    assert out.shape == again.shape and not np.array_equal(out, again)


def test_a_stylized_frame_of_another_size_than_before_restarts():
    """Same camera frame, but the stylised output changed size (e.g. another --max-side)."""
    st, noisy = Stabilizer(), flickering()
    st(crop(SCENE), noisy(crop(PAINT)), DEFAULT_WEIGHT)
    bigger = noisy(cv2.resize(crop(PAINT), (2 * W, 2 * H)))
    assert st(crop(SCENE), bigger, DEFAULT_WEIGHT) is bigger


# (id, frame before, frame after): scenes the flow cannot follow
CUTS = {
    "photo-to-painting": (photo, painting),
    "gradient-to-photo": (lambda: frame_image(0, W, H), photo),
    "photo-upside-down": (photo, lambda: np.ascontiguousarray(photo()[::-1, ::-1])),
    "photo-to-negative": (photo, lambda: 255 - photo()),
}


@pytest.mark.parametrize("case", CUTS, ids=list(CUTS))
def test_a_scene_cut_returns_the_current_stylized_frame(case):
    before, after = CUTS[case]
    noisy = flickering()
    st = Stabilizer()
    for _ in range(3):
        st(before(), noisy(crop(PAINT)), DEFAULT_WEIGHT)
    styled = noisy(texture(H, W, seed=9))
    np.testing.assert_array_equal(st(after(), styled, DEFAULT_WEIGHT), styled)
    assert st.kept == 0.0


def test_large_frames_use_a_small_flow_and_keep_their_size():
    """Frames bigger than the flow side: the flow is scaled back up to the frame."""
    st, noisy = Stabilizer(flow_side=32), flickering()
    scene = cv2.resize(crop(SCENE), (2 * W, 2 * H))
    paint = cv2.resize(crop(PAINT), (2 * W, 2 * H))
    outs = [st(scene, noisy(paint), DEFAULT_WEIGHT) for _ in range(6)]
    assert outs[-1].shape == (2 * H, 2 * W, 3)
    assert mean_abs(outs[-1], outs[-2]) < 0.5 * 8


def test_a_flow_side_below_16_is_refused():
    with pytest.raises(ConfigError, match="at least 16"):
        Stabilizer(flow_side=8)


# --- motion ----------------------------------------------------------------------------------

def warping_errors(frames, styled) -> list[float]:
    """E_t of rtstyle.flicker for stylised frames, with the flow of the original ones."""
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    out = []
    for t in range(len(frames) - 1):
        back = flicker.flow(grays[t + 1], grays[t])
        mask = flicker.consistency_mask(back, flicker.flow(grays[t], grays[t + 1]))
        out.append(flicker.pair_error(styled[t], styled[t + 1], back, mask))
    return out


@pytest.mark.parametrize("dx, dy", [(2, 1), (-1, 2)])
def test_a_panning_scene_flickers_less(dx, dy):
    frames = [crop(SCENE, k * dx, k * dy) for k in range(8)]
    errors = {}
    for weight in (0.0, DEFAULT_WEIGHT):
        noisy, st = flickering(), Stabilizer()
        styled = [st(f, noisy(crop(PAINT, k * dx, k * dy)), weight) for k, f in enumerate(frames)]
        errors[weight] = warping_errors(frames, styled)
        if weight:
            assert st.kept > 0.5  # the moved previous frame was used
    plain, steady = np.mean(errors[0.0]), np.mean(errors[DEFAULT_WEIGHT])
    assert plain > 7
    assert steady < 0.4 * plain
    # rtstyle flicker's own measurement agrees
    noisy, st, shown = flickering(), Stabilizer(), iter(range(len(frames)))

    def stylize(frame):
        k = next(shown)
        return st(frame, noisy(crop(PAINT, k * dx, k * dy)), DEFAULT_WEIGHT)

    report = flicker.measure(frames, stylize, batch=1)
    assert report.mean < 0.4 * plain


def test_the_stabilised_output_moves_with_the_scene():
    """No trail: after a pan, the output still lines up with this frame's stylised picture."""
    noisy, st = flickering(sigma=4.0), Stabilizer()
    for k in range(8):
        out = st(crop(SCENE, 2 * k, k), noisy(crop(PAINT, 2 * k, k)), DEFAULT_WEIGHT)
    clean = crop(PAINT, 14, 7)
    inner = (slice(6, -6), slice(6, -6))  # away from the border the pan brings in
    assert mean_abs(out[inner], clean[inner]) < 4
    assert mean_abs(out[inner], crop(PAINT, 12, 6)[inner]) > 10  # not the previous position


def _moved(img: np.ndarray, x: float) -> np.ndarray:
    """The crop of ``img`` at a sub-pixel offset ``x`` (Lanczos, so the truth stays sharp)."""
    m = np.float32([[1, 0, -x], [0, 1, 0]])
    out = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LANCZOS4,
                         borderMode=cv2.BORDER_REFLECT_101)
    return crop(out)


def test_a_sub_pixel_pan_keeps_the_strokes_in_place(monkeypatch):
    """The previous output is moved again on every frame: with bilinear interpolation the blur
    adds up and the detail gain brings back its amount but not its shape. The shipped bicubic
    stays closer to the clean stylised frame."""
    paint = texture(H + 60, W + 60, seed=5, sigma=1.0)
    inner = (slice(6, -6), slice(6, -6))
    errors = {}
    for interp in (cv2.INTER_LINEAR, stabilize.INTERP):
        monkeypatch.setattr(stabilize, "INTERP", interp)
        st = Stabilizer()
        for k in range(16):
            out = st(_moved(SCENE, 0.5 * k), _moved(paint, 0.5 * k), DEFAULT_WEIGHT)
        assert st.kept > 0.8
        errors[interp] = mean_abs(out[inner], _moved(paint, 7.5)[inner])
    assert stabilize.INTERP != cv2.INTER_LINEAR
    assert errors[stabilize.INTERP] < 0.8 * errors[cv2.INTER_LINEAR]
    assert errors[stabilize.INTERP] < 6


# --- new content -----------------------------------------------------------------------------

SQUARE_BGR, SQUARE_STYLED = (20, 220, 250), (200, 40, 90)


def test_an_object_that_appears_is_not_blended_with_what_was_there():
    noisy, st = flickering(sigma=3.0), Stabilizer()
    for _ in range(4):
        st(crop(SCENE), noisy(crop(PAINT)), DEFAULT_WEIGHT)
    frame, styled = crop(SCENE), noisy(crop(PAINT))
    frame[16:32, 24:40] = SQUARE_BGR
    styled[16:32, 24:40] = SQUARE_STYLED
    out = st(frame, styled, DEFAULT_WEIGHT)
    inner = (slice(18, 30), slice(26, 38))
    assert mean_abs(styled[inner], crop(PAINT)[inner]) > 40  # what a blend would drag in
    assert mean_abs(out[inner], styled[inner]) < 3
    # the rest of the frame is still stabilised
    assert st.kept > 0.5


def test_a_moving_object_leaves_no_trail():
    noisy, st = flickering(sigma=3.0), Stabilizer()
    for t in range(8):
        frame, styled = crop(SCENE), noisy(crop(PAINT))
        x0 = 4 + 4 * t
        frame[16:32, x0:x0 + 12] = SQUARE_BGR
        styled[16:32, x0:x0 + 12] = SQUARE_STYLED
        out = st(frame, styled, DEFAULT_WEIGHT)
    behind = (slice(16, 32), slice(x0 - 4, x0))  # where the object was one frame ago
    assert mean_abs(out[behind], styled[behind]) < 3
    assert mean_abs(out[16:32, x0:x0 + 12], styled[16:32, x0:x0 + 12]) < 3


# --- checks and the detail gain ----------------------------------------------------------------

@pytest.mark.parametrize("weight", [1.0, 1.5, -0.1, float("nan"), float("inf")])
def test_check_weight_refuses_values_outside_0_1(weight):
    with pytest.raises(ConfigError, match=r"stabilize must be in \[0, 1\)"):
        check_weight(weight)


@pytest.mark.parametrize("weight", [0, 0.0, 0.5, DEFAULT_WEIGHT, 0.999])
def test_check_weight_accepts_0_to_below_1(weight):
    assert check_weight(weight) == weight and isinstance(check_weight(weight), float)


CURRENT = crop(PAINT).astype(np.float32)


def test_detail_bands_add_up_to_the_image():
    bands, base = detail_bands(CURRENT)
    assert len(bands) == len(DETAIL_SIGMAS) == 2
    np.testing.assert_allclose(sum(bands) + base, CURRENT, atol=1e-3)
    np.testing.assert_allclose(base, cv2.GaussianBlur(CURRENT, (0, 0), DETAIL_SIGMAS[-1]),
                               atol=1e-4)


def test_keep_detail_leaves_a_blend_with_enough_detail_unchanged():
    np.testing.assert_allclose(_keep_detail(CURRENT.copy(), CURRENT), CURRENT, atol=1e-3)
    sharper = np.clip(CURRENT + 2 * (CURRENT - cv2.GaussianBlur(CURRENT, (0, 0), 1.0)), 0, 255)
    np.testing.assert_allclose(_keep_detail(sharper, CURRENT), sharper, atol=1e-3)


def gains(blend: np.ndarray) -> np.ndarray:
    """The gain each band of ``blend`` should get: ``(bands, 3)``."""
    have = np.stack([b.reshape(-1, 3).std(0) for b in detail_bands(blend)[0]])
    want = np.stack([b.reshape(-1, 3).std(0) for b in detail_bands(CURRENT)[0]])
    return np.clip(want / have, 1.0, K_MAX)


def expected(blend: np.ndarray, k: np.ndarray) -> np.ndarray:
    bands, base = detail_bands(blend)
    return base + sum(kb * b for kb, b in zip(k, bands))


@pytest.mark.parametrize("sigma", [0.6, 0.8])
def test_keep_detail_restores_a_slightly_blurred_blend(sigma):
    """A blur takes most from the finest band: each band gets its own gain, up to K_MAX, and
    ends with the current frame's detail where the gain is below K_MAX."""
    blend = cv2.GaussianBlur(CURRENT, (0, 0), sigma)
    k = gains(blend)
    assert (k[0] > k[1]).all() and (k[1] > 1).all()  # the finest band lost the most
    out = _keep_detail(blend, CURRENT)
    np.testing.assert_allclose(out, expected(blend, k), atol=1e-2)  # only the detail changed
    fine = (k < K_MAX)
    assert fine.any()
    out_std = np.stack([(kb * b).reshape(-1, 3).std(0)
                        for kb, b in zip(k, detail_bands(blend)[0])])
    want = np.stack([b.reshape(-1, 3).std(0) for b in detail_bands(CURRENT)[0]])
    np.testing.assert_allclose(out_std[fine], want[fine], rtol=1e-3)  # detail as before


def test_keep_detail_gains_at_most_k_max():
    blend = cv2.GaussianBlur(CURRENT, (0, 0), 2.0)
    have = np.stack([b.reshape(-1, 3).std(0) for b in detail_bands(blend)[0]])
    want = np.stack([b.reshape(-1, 3).std(0) for b in detail_bands(CURRENT)[0]])
    assert (want > K_MAX * have).all()  # every band would need more
    out = _keep_detail(blend, CURRENT)
    np.testing.assert_allclose(out, expected(blend, np.full((2, 3), K_MAX)), atol=1e-2)


def test_keep_detail_works_per_channel():
    blend = CURRENT.copy()
    blend[..., 1] = cv2.GaussianBlur(CURRENT[..., 1], (0, 0), 0.8)  # only green lost detail
    out = _keep_detail(blend, CURRENT)
    np.testing.assert_allclose(out[..., [0, 2]], blend[..., [0, 2]], atol=1e-3)
    k = gains(blend)
    assert (k[:, 1] > 1).all()
    np.testing.assert_allclose(out[..., 1], expected(blend, k)[..., 1], atol=1e-2)
