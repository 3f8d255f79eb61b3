"""Image quality figures shared by export checks, WCT decoders and benchmarks (torch-free)."""

from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of two same-shaped images (inf when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"PSNR of different shapes {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak ** 2 / mse)


def checkerboard(img: np.ndarray) -> float:
    """Mean amplitude (0-255 units) of the highest 2-D frequency, the pattern that
    stride-2 transposed convolutions leave: for each 2x2 block, |a - b - c + d| / 4, averaged
    over blocks and channels. Natural photos score low; compare with the input photo's."""
    x = np.asarray(img, np.float64)
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    if h == 0 or w == 0:
        raise ValueError(f"image too small for a checkerboard measure: {x.shape}")
    x = x[:h, :w]
    return float(np.mean(np.abs(x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2])) / 4)


def edge_shift(img: np.ndarray, band: int = 4) -> float:
    """How far the colour of the image's outer ``band`` pixels strays from the band just inside
    (0-255 units): the largest, over the four sides and the channels, difference of mean colour.
    Dead borders (black, grey or tinted frames, colour casts at the edges) score high."""
    x = np.asarray(img, np.float64)
    if x.ndim == 2:
        x = x[..., None]
    h, w = x.shape[:2]
    if min(h, w) < 4 * band:
        raise ValueError(f"image too small for a {band} px edge band: {x.shape}")
    inner = slice(band, 3 * band)
    sides = [(x[:band], x[inner]), (x[h - band:], x[h - 3 * band:h - band]),
             (x[:, :band], x[:, inner]), (x[:, w - band:], x[:, w - 3 * band:w - band])]
    return float(max(np.abs(o.mean(axis=(0, 1)) - i.mean(axis=(0, 1))).max() for o, i in sides))
