"""The WCT autoencoders: shapes per level, a frozen encoder, a decoder that learns on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtstyle import assets, frames, images
from rtstyle.errors import ConfigError
from rtstyle.train.loss_networks import load_loss_network
from rtstyle.train.wct.models import (CHANNELS, LEVELS, WCTDecoder, WCTEncoder, check_level,
                                      reconstruction_loss, size_multiple)


@pytest.fixture(scope="module")
def vgg():
    return load_loss_network("vgg19", "cpu")


@pytest.mark.parametrize("level", LEVELS)
def test_encoder_and_decoder_shapes(vgg, level):
    enc, dec = WCTEncoder(vgg, level), WCTDecoder(level)
    x = torch.rand(1, 3, 32, 48) * 255
    f = enc(x)
    m = size_multiple(level)
    assert f.shape == (1, CHANNELS[level], 32 // m, 48 // m)
    torch.testing.assert_close(f, vgg(x, [f"relu{level}_1"])[f"relu{level}_1"])
    dec.eval()
    y = dec(f)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 255
    assert not any(isinstance(mod, torch.nn.ConvTranspose2d) for mod in dec.modules())


def test_the_encoder_stays_frozen(vgg):
    enc = WCTEncoder(vgg, 2)
    enc.train()
    assert not enc.training and not any(p.requires_grad for p in enc.parameters())


def test_levels_are_checked():
    for bad in (0, 6, -1):
        with pytest.raises(ConfigError, match="1..5"):
            check_level(bad)


def test_decoder_training_loss_decreases_on_a_tiny_photo(vgg):
    torch.manual_seed(0)
    enc, dec = WCTEncoder(vgg, 2), WCTDecoder(2)
    photo = images.resize_to(images.read_image(assets.path(assets.DEMO_CONTENT)), (32, 32))
    x = torch.from_numpy(frames.to_model_input(photo))
    target = enc(x).detach()
    opt = torch.optim.Adam(dec.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        total, pixel, feature = reconstruction_loss(dec(target), x, enc, target)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(float(total.detach()))
        assert np.isfinite(losses[-1]) and float(pixel.detach()) >= 0 and float(feature.detach()) >= 0
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
