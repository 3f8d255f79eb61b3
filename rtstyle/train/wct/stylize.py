"""Universal style transfer with the WCT autoencoders (Li et al. 2017): any style, no training
per style.

Multi-level stylisation runs the levels coarse to fine (relu5_1 -> relu1_1 by default): at each
level the image is encoded, its features whitened and coloured with the style's statistics
(blended with ``alpha``), and decoded. Also: texture synthesis (start from noise instead of a
content image), a mixture of styles (weighted covariances), and spatial control (style k inside
mask region k).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ... import frames, images
from ...errors import ConfigError, InputError
from . import transform as wct
from .models import LEVELS, WCTDecoder, WCTEncoder, check_level, size_multiple


@dataclass(frozen=True)
class WCTConfig:
    #: Levels to run, in order (coarse to fine is the paper's choice).
    levels: tuple[int, ...] = (5, 4, 3, 2, 1)
    #: Style strength at every level: alpha * WCT + (1 - alpha) * content features.
    alpha: float = 0.6
    #: Longer side of the output (the content is scaled down to it, never up).
    size: int = 512
    #: Longer side of the style images; None = ``size``.
    style_size: int | None = None
    #: Texture synthesis: start from noise of ``size`` x ``size``, ignore the content.
    texture: bool = False
    seed: int = 0

    def __post_init__(self):
        if not self.levels:
            raise ConfigError("at least one WCT level is needed")
        for level in self.levels:
            check_level(level)
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.size < 16:
            raise ConfigError(f"size must be at least 16 pixels, got {self.size}")


def _tensor(img: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(frames.to_model_input(img)).to(device)


def pad(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (bottom, right) to a multiple of ``multiple`` and to at least twice it, so the
    deepest feature map is 2x2 or more (the decoders' reflection padding needs that)."""
    h, w = x.shape[-2:]
    ph = max(-h % multiple, 2 * multiple - h)
    pw = max(-w % multiple, 2 * multiple - w)
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def label_masks(mask: np.ndarray, n_styles: int, size: tuple[int, int]) -> list[np.ndarray]:
    """Split a grey mask image into ``n_styles`` regions by brightness (dark = style 1), resized
    (nearest) to ``size`` = (H, W); every style must get some pixels."""
    if mask.ndim == 3:
        mask = cv2.cvtColor(mask, cv2.COLOR_BGR2GRAY)
    if mask.shape[:2] != size:
        mask = cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    bins = np.minimum((mask.astype(np.int32) * n_styles) // 256, n_styles - 1)
    regions = [bins == k for k in range(n_styles)]
    for k, r in enumerate(regions):
        if not r.any():
            raise InputError(f"the mask has no pixels for style {k + 1} of {n_styles} (styles "
                             "take the mask's brightness bands, darkest first)")
    return regions


@torch.no_grad()
def stylize_wct(content: np.ndarray | None, styles: Sequence[np.ndarray],
                encoders: Mapping[int, WCTEncoder], decoders: Mapping[int, WCTDecoder],
                cfg: WCTConfig = WCTConfig(), style_weights: Sequence[float] | None = None,
                mask: np.ndarray | None = None) -> np.ndarray:
    """Stylise a BGR uint8 ``content`` (or noise with ``cfg.texture``) with BGR ``styles``.

    Several styles are mixed by ``style_weights``, or, with ``mask``, each painted into its own
    region. Returns a BGR uint8 image of the (scaled) content's size.
    """
    if not styles:
        raise ConfigError("at least one style image is needed")
    if mask is not None and style_weights:
        raise ConfigError("use either a mask (one style per region) or style weights (a mixture)")
    missing = [lv for lv in cfg.levels if lv not in encoders or lv not in decoders]
    if missing:
        raise ConfigError(f"no autoencoder for level(s) {', '.join(map(str, missing))}")
    device = next(decoders[cfg.levels[0]].parameters()).device
    deepest = max(cfg.levels)
    need = size_multiple(deepest) * 2
    styles = [images.fit_within(s, cfg.style_size or cfg.size) for s in styles]
    for k, s in enumerate(styles):
        if min(s.shape[:2]) < need:
            raise InputError(f"style image {k + 1} is {s.shape[1]}x{s.shape[0]}: too small for "
                             f"level {deepest} (each side needs at least {need} px); raise "
                             f"--style-size or leave level {deepest} out with --levels")
    if cfg.texture:
        g = torch.Generator().manual_seed(cfg.seed)
        x = (torch.rand(1, 3, cfg.size, cfg.size, generator=g) * 255).to(device)
    else:
        if content is None:
            raise ConfigError("a content image is needed (or texture synthesis)")
        content = images.fit_within(content, cfg.size)
        if min(content.shape[:2]) < 16:
            raise InputError(f"content image is {content.shape[1]}x{content.shape[0]}; it needs "
                             "at least 16 px a side")
        x = _tensor(content, device)
    x, (h, w) = pad(x, size_multiple(deepest))
    style_tensors = [_tensor(s, device) for s in styles]
    for level in cfg.levels:
        enc, dec = encoders[level], decoders[level]
        feats = [enc(pad(s, size_multiple(level))[0]) for s in style_tensors]
        f = enc(x)
        if mask is not None:
            regions = label_masks(mask, len(styles), (h, w))
            fh, fw = f.shape[-2:]
            masks = [torch.from_numpy(cv2.resize(r.astype(np.uint8), (fw, fh),
                                                 interpolation=cv2.INTER_NEAREST).astype(bool))
                     for r in regions]
            stats = [wct.StyleStats.of(sf) for sf in feats]
            usable = [(st, m) for st, m in zip(stats, masks) if m.any()]
            f = wct.transform_regions(f, [u[0] for u in usable], [u[1] for u in usable],
                                      cfg.alpha)
        else:
            stats = wct.StyleStats.mixture(feats, style_weights)
            f = wct.transform(f, stats, cfg.alpha)
        x = dec(f)
    return frames.from_model_output(x[..., :h, :w].float().cpu().numpy())


def levels_from_text(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"levels must be numbers 1..5 separated by commas, got '{text}'") from None
    for level in levels:
        check_level(level)
    return levels


__all__ = ["WCTConfig", "stylize_wct", "label_masks", "levels_from_text", "pad", "LEVELS"]
