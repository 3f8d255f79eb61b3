"""Growing a trained net into a wider, deeper one (Net2Net): the same image out, symmetry broken."""

from __future__ import annotations

import pytest
import torch

from rtstyle.errors import ConfigError
from rtstyle.train.transformer_net import NETS, NetConfig, TransformerNet
from rtstyle.train.widen import can_widen, widen

SMALL = NetConfig((4, 6, 8), 1, 3)
BIG = NetConfig((7, 9, 13), 3, 3)


def trained_like(config: NetConfig, seed: int = 0) -> TransformerNet:
    """A net with every weight random, instance-norm affines included (a fresh net has 1 and 0
    there, which would hide a wrongly copied affine)."""
    torch.manual_seed(seed)
    net = TransformerNet(config)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.ndim == 1 and p.shape else 0.0))
    return net.eval()


def photo(seed: int = 1) -> torch.Tensor:
    return torch.rand(2, 3, 20, 28, generator=torch.Generator().manual_seed(seed)) * 255


@pytest.mark.parametrize("antialias", [False, True])
def test_without_noise_the_grown_net_computes_the_same_image(antialias):
    small = trained_like(NetConfig((4, 6, 8), 1, 3, antialias))
    big = widen(small, NetConfig((7, 9, 13), 3, 3, antialias), noise=0.0).eval()
    assert big.config.widths == (7, 9, 13) and len(big.residuals) == 3
    x = photo()
    with torch.no_grad():
        torch.testing.assert_close(big(x), small(x), atol=2e-3, rtol=0)


def test_the_noise_breaks_the_copies_symmetry_and_changes_little():
    small = trained_like(SMALL)
    x = photo()
    noisy = widen(small, BIG, noise=0.01).eval()
    with torch.no_grad():
        change = (noisy(x) - small(x)).abs().mean()
    assert 0 < change < 0.02 * small(x).std()  # a nudge, not a new image
    first = noisy.encoder[0][0][1].weight  # 7 filters: 4 originals, then 3 copies
    originals = first[:4]
    assert all(not torch.equal(first[j], o) for j in range(4, 7) for o in originals)
    assert torch.equal(first[:4], small.encoder[0][0][1].weight)


def test_extra_blocks_start_as_the_identity_and_still_learn():
    big = widen(trained_like(SMALL), BIG, noise=0.0)
    extra = big.residuals[2]
    assert not extra.body[2].weight.any() and not extra.body[2].bias.any()
    big.train()
    big(photo()).mean().backward()
    assert extra.body[2].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("big", [
    NetConfig((3, 6, 8), 1, 3),            # narrower somewhere
    NetConfig((4, 6, 8), 1, 5),            # another outer kernel
    NetConfig((4, 6, 8), 1, 3, True),      # anti-aliased resampling
    NetConfig((4, 6, 8), 0, 3),            # fewer blocks
    SMALL,                                 # nothing to grow
])
def test_what_cannot_grow_is_refused(big):
    assert not can_widen(SMALL, big)
    with pytest.raises(ConfigError, match="cannot grow a net"):
        widen(trained_like(SMALL), big)


def test_the_shipped_sizes_grow_lite_into_full_only():
    assert can_widen(NETS["lite"], NETS["full"])
    assert can_widen(NETS["lite-aa"], NETS["full-aa"])
    assert not can_widen(NETS["full"], NETS["lite"])
    assert not can_widen(NETS["tiny"], NETS["lite"])  # 3x3 outer kernels, not 9x9
