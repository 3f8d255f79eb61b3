"""rtstyle.frames: the one BGR-uint8 <-> RGB-float conversion, and padding for stride multiples."""

from __future__ import annotations

import numpy as np
import pytest

from rtstyle import frames
from rtstyle.errors import InputError


def test_round_trip_single_frame_is_exact(rng):
    img = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    x = frames.to_model_input(img)
    assert x.shape == (1, 3, 17, 23)
    assert x.dtype == np.float32
    assert x.flags["C_CONTIGUOUS"]
    back = frames.from_model_output(x)
    assert back.shape == img.shape and back.dtype == np.uint8
    np.testing.assert_array_equal(back, img)


def test_round_trip_batch_is_exact(rng):
    batch = rng.integers(0, 256, (3, 8, 5, 3), dtype=np.uint8)
    x = frames.to_model_input(batch)
    assert x.shape == (3, 3, 8, 5)
    np.testing.assert_array_equal(frames.from_model_output(x), batch)


def test_batch_of_one_squeezes_only_when_asked(rng):
    x = frames.to_model_input(rng.integers(0, 256, (1, 4, 4, 3), dtype=np.uint8))
    assert frames.from_model_output(x).shape == (4, 4, 3)
    assert frames.from_model_output(x, squeeze=False).shape == (1, 4, 4, 3)


def test_channel_order_is_swapped():
    blue_bgr = np.zeros((2, 2, 3), np.uint8)
    blue_bgr[..., 0] = 255  # B in BGR
    x = frames.to_model_input(blue_bgr)
    assert np.all(x[0, 0] == 0)  # R
    assert np.all(x[0, 1] == 0)  # G
    assert np.all(x[0, 2] == 255)  # B is the last channel in RGB

    red_rgb = np.zeros((1, 3, 2, 2), np.float32)
    red_rgb[:, 0] = 255
    out = frames.from_model_output(red_rgb)
    assert out[0, 0].tolist() == [0, 0, 255]  # red is last in BGR


def test_output_is_clipped_and_rounded():
    x = np.zeros((1, 3, 1, 6), np.float32)
    x[0, :, 0] = [-50.0, 0.4, 0.6, 127.5, 254.6, 300.0]
    out = frames.from_model_output(x)
    assert out[0, :, 0].tolist() == [0, 0, 1, 128, 255, 255]


def test_bgr_rgb_swap_is_its_own_inverse(rng):
    img = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    rgb = frames.bgr_to_rgb(img)
    np.testing.assert_array_equal(rgb[..., 0], img[..., 2])
    np.testing.assert_array_equal(frames.rgb_to_bgr(rgb), img)


@pytest.mark.parametrize("h, w", [(37, 53), (1, 3), (4, 8)])
def test_pad_and_crop_round_trip(rng, h, w):
    batch = rng.random((2, 3, h, w)).astype(np.float32)
    padded, size = frames.pad_to_multiple(batch, 4)
    assert size == frames.Crop(h, w, 0)
    assert padded.shape[:2] == (2, 3)
    assert padded.shape[2] % 4 == 0 and padded.shape[3] % 4 == 0
    assert padded.shape[2] - h < 4 and padded.shape[3] - w < 4
    np.testing.assert_array_equal(padded[..., :h, :w], batch)
    np.testing.assert_array_equal(frames.crop_to(padded, size), batch)


@pytest.mark.parametrize("h, w", [(37, 53), (3, 2), (16, 16)])
def test_a_margin_pads_every_side_and_crops_back(rng, h, w):
    batch = rng.random((1, 3, h, w)).astype(np.float32)
    padded, where = frames.pad_to_multiple(batch, 4, margin=4)
    assert padded.shape[2] % 4 == 0 and padded.shape[3] % 4 == 0
    assert padded.shape[2] >= h + 8 and padded.shape[3] >= w + 8
    np.testing.assert_array_equal(padded[..., 4:4 + h, 4:4 + w], batch)
    np.testing.assert_array_equal(frames.crop_to(padded, where), batch)


def test_a_margin_is_the_picture_reflected():
    batch = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8).repeat(8, axis=2)
    padded, _ = frames.pad_to_multiple(batch, 4, margin=2)
    assert padded[0, 0, 0].tolist() == [2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 6, 5]


def test_pad_reflects_at_bottom_right():
    batch = np.arange(5, dtype=np.float32).reshape(1, 1, 1, 5).repeat(3, axis=2)  # 3x5
    padded, _ = frames.pad_to_multiple(batch, 4)
    assert padded.shape == (1, 1, 4, 8)
    assert padded[0, 0, 0].tolist() == [0, 1, 2, 3, 4, 3, 2, 1]  # reflect, not zeros


@pytest.mark.parametrize("bad", [
    np.zeros((4, 4), np.uint8),
    np.zeros((4, 4, 4), np.uint8),
    np.zeros((2, 2, 4, 4, 3), np.uint8),
    np.zeros((4, 4, 3), np.float32),
    np.zeros((4, 4, 3), np.uint16),
    [[0, 0, 0]],
])
def test_to_model_input_rejects_bad_frames(bad):
    with pytest.raises(InputError):
        frames.to_model_input(bad)


@pytest.mark.parametrize("bad", [
    np.zeros((3, 4, 4), np.float32),
    np.zeros((1, 4, 4, 3), np.float32),
    np.zeros((1, 1, 4, 4), np.float32),
])
def test_from_model_output_rejects_bad_shapes(bad):
    with pytest.raises(InputError):
        frames.from_model_output(bad)
