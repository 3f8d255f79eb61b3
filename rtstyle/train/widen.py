"""Grow a trained transformer net into a wider and deeper one that computes the same image.

Net2Net (Chen, Goodfellow and Shlens 2016, "Accelerating learning via knowledge transfer"):
every new channel copies an existing one (its incoming weights, bias and instance-norm
affine), and the layer after divides the copied channel's outgoing weights by its number of
copies, so the sum it computes is unchanged. Instance normalisation treats copies alike, so
the whole net is function-preserving. Extra residual blocks start as the identity (their last
instance norm's scale and shift are zero, as in Goyal et al.'s zero-initialised residuals).

Why: on this project's CPU a full net trained from random weights was still at half the lite
net's quality after 5,000 steps; started from the trained lite net it begins where the lite
net ended and spends its steps on what the extra width can add.

Copies get the same gradient forever (and Adam ignores any constant scaling of it), so a
little noise on the copies' incoming weights breaks the symmetry; ``noise=0`` gives an exact
copy of the small net's function.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .transformer_net import (ConvNormReLU, NetConfig, ResidualBlock, TransformerNet,
                              UpsampleConv, build)


def can_widen(small: NetConfig, big: NetConfig) -> bool:
    """Whether ``small`` grows into ``big``: same kernels and resampling, nothing narrower."""
    return (small != big and small.outer_kernel == big.outer_kernel
            and small.antialias == big.antialias and small.blocks <= big.blocks
            and all(s <= b for s, b in zip(small.widths, big.widths)))


@torch.no_grad()
def widen(small: TransformerNet, config: NetConfig, *, noise: float = 0.01,
          seed: int = 0) -> TransformerNet:
    """A ``config`` net computing what ``small`` computes (up to ``noise``, see the module).

    ``noise`` is the standard deviation of the symmetry-breaking noise on copied channels'
    incoming weights, relative to the standard deviation of that layer's weights.
    """
    if not can_widen(small.config, config):
        raise ConfigError(f"cannot grow a net of widths {small.config.widths}, "
                          f"{small.config.blocks} blocks, kernel {small.config.outer_kernel} into "
                          f"widths {config.widths}, {config.blocks} blocks, kernel "
                          f"{config.outer_kernel} (same kernel and resampling, none narrower)")
    big = build(config)
    gen = torch.Generator().manual_seed(seed)
    c1, c2, c3 = small.config.widths
    b1, b2, b3 = config.widths
    g1, g2, g3 = (_mapping(s, b, gen) for s, b in ((c1, b1), (c2, b2), (c3, b3)))
    d2, d1 = _mapping(c2, b2, gen), _mapping(c1, b1, gen)
    copy = _Copier(gen, noise)

    enc_s, enc_b = _cnrs(small.encoder), _cnrs(big.encoder)
    for (src, dst), (i, o) in zip(zip(enc_s, enc_b), ((None, g1), (g1, g2), (g2, g3))):
        copy.conv_norm(src, dst, i, o)
    for src, dst in zip(small.residuals, big.residuals):
        inner = _mapping(c3, b3, gen)
        copy.conv_norm(src.body[0], dst.body[0], g3, inner)
        copy.conv(src.body[1][1], dst.body[1][1], inner, g3)
        copy.norm(src.body[2], dst.body[2], g3)
    for dst in list(big.residuals)[len(small.residuals):]:
        _identity(dst)
    (up2_s, up1_s), (up2_b, up1_b) = _ups(small.decoder), _ups(big.decoder)
    copy.conv_norm(up2_s, up2_b, g3, d2)
    copy.conv_norm(up1_s, up1_b, d2, d1)
    copy.conv(small.decoder[-1][1], big.decoder[-1][1], d1, None)
    return big


def _mapping(n_small: int, n_big: int, gen: torch.Generator) -> torch.Tensor:
    """Which small channel each big channel copies: itself first, then random ones."""
    extra = torch.randint(0, n_small, (n_big - n_small,), generator=gen)
    return torch.cat([torch.arange(n_small), extra])


def _cnrs(seq: nn.Sequential) -> list[ConvNormReLU]:
    return [m for m in seq if isinstance(m, ConvNormReLU)]


def _ups(decoder: nn.Sequential) -> list[ConvNormReLU]:
    return [m[-1] for m in decoder if isinstance(m, UpsampleConv)]


def _identity(block: ResidualBlock) -> None:
    """The block adds nothing until training moves its last norm's scale off zero."""
    nn.init.zeros_(block.body[2].weight)
    nn.init.zeros_(block.body[2].bias)


class _Copier:
    def __init__(self, gen: torch.Generator, noise: float):
        self.gen, self.noise = gen, noise

    def conv_norm(self, src: ConvNormReLU, dst: ConvNormReLU, in_map, out_map) -> None:
        self.conv(src[0][1], dst[0][1], in_map, out_map)
        self.norm(src[1], dst[1], out_map)

    def conv(self, src: nn.Conv2d, dst: nn.Conv2d, in_map, out_map) -> None:
        """``dst`` reads copied inputs (each divided by its number of copies) and writes copied
        outputs; ``None`` maps are the RGB ends, which are not widened."""
        w, b = src.weight, src.bias
        if in_map is not None:
            counts = torch.bincount(in_map, minlength=w.shape[1]).to(w.dtype)
            w = w[:, in_map] / counts[in_map].view(1, -1, 1, 1)
        if out_map is not None:
            w, b = w[out_map].clone(), b[out_map]
            copies = torch.arange(len(out_map)) >= src.weight.shape[0]
            if self.noise and copies.any():
                scale = self.noise * float(src.weight.std())
                w[copies] += scale * torch.randn(w[copies].shape, generator=self.gen)
        dst.weight.copy_(w)
        dst.bias.copy_(b)

    @staticmethod
    def norm(src: nn.InstanceNorm2d, dst: nn.InstanceNorm2d, out_map) -> None:
        dst.weight.copy_(src.weight[out_map])
        dst.bias.copy_(src.bias[out_map])
