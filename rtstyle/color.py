"""Colour helpers on BGR uint8 frames: luminance-only transfer ("preserve colour").

Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer": stylise luminance only
and keep the content's chroma. YCrCb (BT.601) is the colour space, as in OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np


def luminance(img: np.ndarray) -> np.ndarray:
    """The Y channel (uint8, ``(H, W)``) of a BGR frame."""
    return cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb)[..., 0]


def grey_bgr(y: np.ndarray) -> np.ndarray:
    """A 3-channel BGR frame whose every channel is the luminance ``y``."""
    return np.repeat(y[..., None], 3, axis=2)


def keep_chroma(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Luminance of ``stylized`` with the chroma of ``original`` (same size, BGR uint8)."""
    if stylized.shape != original.shape:
        raise ValueError(f"shape mismatch: {stylized.shape} vs {original.shape}")
    ycc = cv2.cvtColor(original, cv2.COLOR_BGR2YCrCb)
    ycc[..., 0] = luminance(stylized)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)


def matched_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style's luminance as a grey BGR frame, its mean and std matched to the content's.

    This is the style target for luminance-only transfer: without the match, a dark painting
    would darken a bright photo.
    """
    ys = luminance(style).astype(np.float64)
    yc = luminance(content).astype(np.float64)
    matched = (ys - ys.mean()) * (yc.std() / max(ys.std(), 1e-6)) + yc.mean()
    return grey_bgr(np.clip(np.rint(matched), 0, 255).astype(np.uint8))
