"""The one place that converts between frames and model tensors.

Frames are what OpenCV, PyAV and our image reader produce: ``(H, W, 3)`` or ``(N, H, W, 3)``
uint8 arrays in BGR order. Models take and return ``(N, 3, H, W)`` float32 arrays in RGB order
with values in 0..255 (the IO contract that travels with every model). Every colour-order and
dtype conversion in rtstyle goes through the functions below, numpy only, so the runtime never
needs torch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import InputError


def _check_frames(frames: np.ndarray) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        raise InputError(f"expected a numpy array of frames, got {type(frames).__name__}")
    if frames.ndim not in (3, 4) or frames.shape[-1] != 3:
        raise InputError(f"expected frames of shape (H, W, 3) or (N, H, W, 3), got {frames.shape}")
    return frames


def bgr_to_rgb(frames: np.ndarray) -> np.ndarray:
    """Swap the channel order of ``(*, H, W, 3)`` frames (BGR -> RGB); returns a contiguous copy."""
    return np.ascontiguousarray(_check_frames(frames)[..., ::-1])


rgb_to_bgr = bgr_to_rgb  # the swap is its own inverse; two names keep call sites readable


def to_model_input(frames_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 ``(H, W, 3)``/``(N, H, W, 3)`` -> RGB float32 ``(N, 3, H, W)`` in 0..255."""
    frames = _check_frames(frames_bgr)
    if frames.dtype != np.uint8:
        raise InputError(f"expected uint8 frames, got {frames.dtype}")
    if frames.ndim == 3:
        frames = frames[None]
    # BGR->RGB and NHWC->NCHW in one transpose, then a single contiguous float copy.
    return np.ascontiguousarray(frames[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)


def from_model_output(batch_rgb: np.ndarray, squeeze: bool = True) -> np.ndarray:
    """RGB float ``(N, 3, H, W)`` in 0..255 -> BGR uint8 ``(N, H, W, 3)`` (``(H, W, 3)`` if N=1)."""
    if not isinstance(batch_rgb, np.ndarray) or batch_rgb.ndim != 4 or batch_rgb.shape[1] != 3:
        raise InputError(f"expected model output of shape (N, 3, H, W), got {getattr(batch_rgb, 'shape', type(batch_rgb).__name__)}")
    out = np.clip(batch_rgb, 0.0, 255.0)
    out = np.ascontiguousarray(np.rint(out).astype(np.uint8)[:, ::-1].transpose(0, 2, 3, 1))
    return out[0] if squeeze and out.shape[0] == 1 else out


class Crop(NamedTuple):
    """Where the frames lie in a batch padded by :func:`pad_to_multiple` (for :func:`crop_to`)."""

    height: int
    width: int
    margin: int = 0


def pad_to_multiple(batch: np.ndarray, multiple: int, margin: int = 0
                    ) -> tuple[np.ndarray, Crop]:
    """Reflect-pad an ``(N, C, H, W)`` batch by ``margin`` on every side, then on the
    bottom/right so H and W divide by ``multiple``.

    Returns the padded batch and the frames' place in it, for :func:`crop_to`.
    """
    h, w = batch.shape[-2:]
    m = margin
    ph, pw = (-(h + 2 * m)) % multiple, (-(w + 2 * m)) % multiple
    if ph == 0 and pw == 0 and m == 0:
        return batch, Crop(h, w)
    # reflect needs every pad smaller than the side; replicate the edge otherwise
    mode = "reflect" if m + ph < h and m + pw < w else "edge"
    padded = np.pad(batch, ((0, 0), (0, 0), (m, m + ph), (m, m + pw)), mode=mode)
    return padded, Crop(h, w, m)


def crop_to(batch: np.ndarray, where: Crop) -> np.ndarray:
    """Undo :func:`pad_to_multiple`."""
    h, w, m = where
    return batch[..., m:m + h, m:m + w]
