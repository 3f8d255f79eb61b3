"""Dense optical flow between frames, warping by a flow, and where a flow can be trusted.

Shared by the flicker metric (:mod:`rtstyle.flicker`) and the run-time stabiliser
(:mod:`rtstyle.stabilize`). Flows are ``(H, W, 2)`` float32 ``(dx, dy)`` fields such that
``prev(x) ~ next(x + flow(x))``.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .errors import InputError, unknown

METHODS = ("dis", "farneback")


class FlowError(InputError):
    """Frames, flows or masks that do not fit together (sizes, types)."""


def _gray(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return img
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def flow(prev_gray: np.ndarray, next_gray: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense optical flow from ``prev_gray`` to ``next_gray`` (uint8 ``(H, W)``, or BGR frames).

    Returns ``(H, W, 2)`` float32 ``(dx, dy)`` such that ``prev(x) ~ next(x + flow(x))``.
    ``method`` is ``"dis"`` (DIS, preset medium) or ``"farneback"``.
    """
    if method not in METHODS:
        raise unknown("flow method", method, METHODS)
    a, b = _gray(prev_gray), _gray(next_gray)
    if a.shape != b.shape or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise FlowError(f"flow needs two uint8 images of one size, got {a.shape} {a.dtype} "
                           f"and {b.shape} {b.dtype}")
    if method == "dis":  # a fresh object per call (cheap): no state shared between threads
        out = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)
    else:
        out = cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=4, winsize=15,
                                           iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
    return np.ascontiguousarray(out, dtype=np.float32)


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs.flags.writeable = ys.flags.writeable = False  # shared between calls
    return xs, ys


def _sample_map(flow_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = _grid(*flow_.shape[:2])
    return xs + flow_[..., 0], ys + flow_[..., 1]


def warp(img: np.ndarray, flow_: np.ndarray) -> np.ndarray:
    """``out(x) = img(x + flow(x))``, bilinear (cv2.remap), borders replicated.

    With the backward flow ``b_t`` (frame t+1 -> t) this brings frame t onto frame t+1.
    Keeps ``img``'s dtype; a zero flow returns ``img`` unchanged.
    """
    if flow_.ndim != 3 or flow_.shape[2] != 2 or flow_.shape[:2] != img.shape[:2]:
        raise FlowError(f"flow of shape {flow_.shape} does not fit an image of shape "
                           f"{img.shape}: expected {img.shape[:2] + (2,)}")
    mx, my = _sample_map(flow_)
    return cv2.remap(img, mx, my, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Forward-backward consistency: True where ``flow_ab`` can be trusted, ``(H, W)`` bool.

    ``flow_ab`` maps frame A onto B and ``flow_ba`` B onto A, both ``(H, W, 2)``. With
    ``w = flow_ab(x)`` and ``v = flow_ba(x + w)`` (bilinear), a pixel is kept where
    ``|w + v|^2 <= 0.01 (|w|^2 + |v|^2) + 0.5`` (Sundaram et al. 2010, Ruder et al. 2016) and
    ``x + w`` lies inside the frame; elsewhere it is occluded, disoccluded or mismatched.
    For the warping error, A is frame t+1 and B frame t: ``consistency_mask(b_t, f_t)``.
    """
    if flow_ab.shape != flow_ba.shape or flow_ab.ndim != 3 or flow_ab.shape[2] != 2:
        raise FlowError(f"flows must both be (H, W, 2), got {flow_ab.shape} and "
                           f"{flow_ba.shape}")
    h, w = flow_ab.shape[:2]
    mx, my = _sample_map(flow_ab)
    back = cv2.remap(flow_ba, mx, my, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    total = flow_ab + back
    lhs = _norm2(total)
    rhs = 0.01 * (_norm2(flow_ab) + _norm2(back)) + 0.5
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return (lhs <= rhs) & inside


def _norm2(v: np.ndarray) -> np.ndarray:
    """``|v|^2`` of an ``(H, W, 2)`` field (the same float32 sums as ``np.sum(v * v, -1)``,
    without numpy's slow strided reduction)."""
    x, y = v[..., 0], v[..., 1]
    return x * x + y * y
