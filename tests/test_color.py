"""rtstyle.color: luminance-only transfer keeps the content's colours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtstyle import color


def _ycc(img):
    return cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb).astype(int)


@pytest.fixture
def pair(rng):
    """A 'stylised' frame and an 'original' with moderate colours (no gamut clipping)."""
    stylized = rng.integers(70, 186, (24, 32, 3), dtype=np.uint8)
    ycc = np.empty((24, 32, 3), np.uint8)
    ycc[..., 0] = rng.integers(60, 196, (24, 32))
    ycc[..., 1:] = rng.integers(112, 145, (24, 32, 2))  # Cr, Cb within +-16 of neutral
    original = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)
    return stylized, original


def test_keep_chroma_keeps_stylized_luminance_and_original_chroma(pair):
    stylized, original = pair
    out = color.keep_chroma(stylized, original)
    assert out.shape == stylized.shape and out.dtype == np.uint8
    y_out, y_sty, y_orig = _ycc(out)[..., 0], _ycc(stylized)[..., 0], _ycc(original)[..., 0]
    assert np.abs(y_out - y_sty).max() <= 1
    assert np.abs(y_out - y_orig).max() > 20  # really changed: it is not the original's luminance
    assert np.abs(_ycc(out)[..., 1:] - _ycc(original)[..., 1:]).max() <= 2


def test_keep_chroma_of_a_grey_original_is_grey(pair):
    stylized, _ = pair
    grey = np.full_like(stylized, 128)
    out = color.keep_chroma(stylized, grey)
    assert np.abs(out.astype(int) - out[..., :1]).max() <= 1  # all three channels (almost) equal


def test_keep_chroma_real_images(content_path, style_path):
    from rtstyle import images

    content = images.read_image(content_path, max_side=48)
    style = images.resize_to(images.read_image(style_path, max_side=48), content.shape[:2])
    out = color.keep_chroma(style, content)
    diff = np.abs(color.luminance(out).astype(int) - color.luminance(style).astype(int))
    assert np.mean(diff <= 1) > 0.98  # only out-of-gamut pixels may clip


def test_keep_chroma_needs_same_shape():
    with pytest.raises(ValueError, match="shape"):
        color.keep_chroma(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))


def test_matched_luminance_has_content_statistics_and_is_grey(rng):
    style = rng.integers(0, 90, (40, 40, 3), dtype=np.uint8)  # a dark, low-contrast painting
    content = np.clip(rng.normal(140, 30, (32, 48, 3)), 0, 255).astype(np.uint8)
    out = color.matched_luminance(style, content)
    assert out.shape == style.shape and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    yc = color.luminance(content).astype(float)
    y = out[..., 0].astype(float)
    assert abs(y.mean() - yc.mean()) < 1.0
    assert abs(y.std() - yc.std()) < 1.0
    # the style's structure survives: it is an affine map of the style's luminance
    ys = color.luminance(style).astype(float)
    assert np.corrcoef(ys.ravel(), y.ravel())[0, 1] > 0.99


def test_matched_luminance_of_flat_style_does_not_divide_by_zero():
    style = np.full((8, 8, 3), 50, np.uint8)
    content = np.full((8, 8, 3), 200, np.uint8)
    out = color.matched_luminance(style, content)
    assert np.all(out == color.luminance(content)[0, 0])


def test_luminance_and_grey_bgr():
    img = np.zeros((2, 2, 3), np.uint8)
    img[0, 0] = (255, 255, 255)
    y = color.luminance(img)
    assert y.shape == (2, 2) and y[0, 0] == 255 and y[1, 1] == 0
    g = color.grey_bgr(y)
    assert g.shape == (2, 2, 3) and g[0, 0].tolist() == [255, 255, 255]
