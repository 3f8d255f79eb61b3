"""Image quality figures: PSNR and the artifact measures of the zoo's evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtstyle import assets, images, quality


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return images.read_image(assets.path(assets.DEMO_CONTENT), max_side=256)


def test_psnr_of_identical_and_of_known_noise():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert quality.psnr(a, a) == math.inf
    b = a.copy()
    b[0, 0, 0] += 16  # mse = 256 / 192
    assert quality.psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / (256 / 192)))
    with pytest.raises(ValueError, match="different shapes"):
        quality.psnr(a, a[:4])


def test_checkerboard_is_zero_for_flat_and_smooth_images_and_exact_for_the_pattern():
    assert quality.checkerboard(np.full((6, 7, 3), 77, np.uint8)) == 0
    ramp = np.add.outer(np.arange(16.0), np.arange(16.0))[..., None].repeat(3, axis=-1)
    assert quality.checkerboard(ramp) == pytest.approx(0)
    yy, xx = np.mgrid[0:16, 0:16]
    pattern = np.where((yy + xx) % 2 == 0, 10.0, -10.0)[..., None].repeat(3, axis=-1)
    assert quality.checkerboard(pattern + 128) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="too small"):
        quality.checkerboard(np.zeros((1, 5, 3)))


def test_a_transposed_convolution_pattern_on_a_photo_is_seen(photo):
    yy, xx = np.mgrid[0:photo.shape[0], 0:photo.shape[1]]
    pattern = np.where((yy + xx) % 2 == 0, 6.0, -6.0)[..., None]
    noisy = np.clip(photo + pattern, 0, 255).astype(np.uint8)
    assert quality.checkerboard(noisy) > quality.checkerboard(photo) + 4


def test_edge_shift_sees_dead_and_tinted_borders_but_not_a_photo(photo):
    clean = quality.edge_shift(photo)
    assert clean < 12
    dead = photo.copy()
    dead[:3] = 0  # a black strip along the top
    assert quality.edge_shift(dead) > clean + 40
    tinted = photo.astype(np.int16)
    tinted[:, -4:, 2] += 60  # a red cast at the right edge
    assert quality.edge_shift(np.clip(tinted, 0, 255).astype(np.uint8)) > clean + 35
    assert quality.edge_shift(np.full((20, 20), 9.0)) == 0  # one channel
    with pytest.raises(ValueError, match="too small"):
        quality.edge_shift(photo[:10], band=4)
