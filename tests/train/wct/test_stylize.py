"""Multi-level WCT stylisation mechanics (untrained decoders: shapes, modes, regions, errors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtstyle import assets, images
from rtstyle.errors import ConfigError, InputError
from rtstyle.train.loss_networks import load_loss_network
from rtstyle.train.wct.models import WCTDecoder, WCTEncoder
from rtstyle.train.wct.stylize import WCTConfig, label_masks, levels_from_text, stylize_wct


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    vgg = load_loss_network("vgg19", "cpu")
    enc = {lv: WCTEncoder(vgg, lv) for lv in (1, 2, 3)}
    dec = {lv: WCTDecoder(lv).eval() for lv in (1, 2, 3)}
    return enc, dec


@pytest.fixture(scope="module")
def pics():
    photo = images.read_image(assets.path(assets.DEMO_CONTENT), max_side=64)
    style = images.read_image(assets.path(assets.DEMO_STYLE), max_side=64)
    return photo, style, np.ascontiguousarray(style[:, ::-1])


CFG = WCTConfig(levels=(3, 2, 1), alpha=0.8, size=64)


def test_multi_level_output_has_the_content_size(nets, pics):
    photo, style, _ = pics
    out = stylize_wct(photo, [style], *nets, CFG)
    assert out.shape == photo.shape and out.dtype == np.uint8


def test_odd_sizes_are_padded_and_cropped(nets, pics):
    photo, style, _ = pics
    odd = photo[:37, :51]
    assert stylize_wct(odd, [style], *nets, CFG).shape == odd.shape


def test_texture_synthesis_ignores_the_content(nets, pics):
    photo, style, _ = pics
    cfg = WCTConfig(levels=(3, 2, 1), size=48, texture=True, seed=3)
    a = stylize_wct(photo, [style], *nets, cfg)
    b = stylize_wct(None, [style], *nets, cfg)
    assert a.shape == (48, 48, 3) and np.array_equal(a, b)


def test_alpha_zero_reconstructs_through_the_autoencoders_only(nets, pics):
    photo, style, other = pics
    cfg = WCTConfig(levels=(2,), alpha=0.0, size=64)
    assert np.array_equal(stylize_wct(photo, [style], *nets, cfg),
                          stylize_wct(photo, [other], *nets, cfg))


def test_a_mixture_differs_from_each_style(nets, pics):
    photo, s1, s2 = pics
    s2 = 255 - s2  # a clearly different style
    one = stylize_wct(photo, [s1], *nets, CFG)
    two = stylize_wct(photo, [s2], *nets, CFG)
    mix = stylize_wct(photo, [s1, s2], *nets, CFG, style_weights=[0.5, 0.5])
    assert np.abs(mix.astype(int) - one).mean() > 1 and np.abs(mix.astype(int) - two).mean() > 1


def test_a_mask_paints_each_style_in_its_region(nets, pics):
    photo, s1, s2 = pics
    s2 = 255 - s2
    h, w = photo.shape[:2]
    mask = np.zeros((h * 2, w * 2), np.uint8)  # another size: resized
    mask[:, w:] = 255
    cfg = WCTConfig(levels=(1,), alpha=1.0, size=64)
    both = stylize_wct(photo, [s1, s2], *nets, cfg, mask=mask)
    only1 = stylize_wct(photo, [s1], *nets, cfg)
    only2 = stylize_wct(photo, [s2], *nets, cfg)
    left, right = slice(0, w // 2 - 4), slice(w // 2 + 4, w)
    assert np.abs(both[:, left].astype(int) - only1[:, left]).mean() < \
        np.abs(both[:, left].astype(int) - only2[:, left]).mean()
    assert np.abs(both[:, right].astype(int) - only2[:, right]).mean() < \
        np.abs(both[:, right].astype(int) - only1[:, right]).mean()


def test_bad_inputs(nets, pics):
    photo, style, _ = pics
    with pytest.raises(ConfigError):
        WCTConfig(alpha=1.5)
    with pytest.raises(ConfigError, match="1..5"):
        WCTConfig(levels=(6,))
    with pytest.raises(ConfigError, match="level"):
        stylize_wct(photo, [style], *nets, WCTConfig(levels=(4,), size=64))
    with pytest.raises(InputError, match="too small"):
        stylize_wct(photo, [style[:6, :6]], *nets, CFG)
    with pytest.raises(InputError, match="no pixels for style 2"):
        label_masks(np.zeros((10, 10), np.uint8), 2, (10, 10))
    with pytest.raises(ConfigError):
        stylize_wct(photo, [style, style], *nets, CFG, style_weights=[1, 1],
                    mask=np.zeros((4, 4), np.uint8))
    assert levels_from_text("5,4,3") == (5, 4, 3)
    with pytest.raises(ConfigError):
        levels_from_text("5,x")
