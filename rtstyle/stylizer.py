"""The inference engine: BGR uint8 frames in, stylised BGR uint8 frames of the same size out.

This is where frames meet models (through :mod:`rtstyle.frames`, the one place that converts
colour order and dtype and pads to the model's size multiple). On top of the net it offers the
run-time controls: ``strength`` (0 = the input, 1 = fully stylised), ``preserve_color`` (keep
the input's chroma, take the stylised luminance), a second style blended in with a weight, and
switching between preloaded styles without creating a session. ``scale``/``max_side`` stylise a
smaller copy for speed and resize the result back.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import color, frames, images
from .backends import make_backend
from .stabilize import check_weight
from .errors import ConfigError, InputError, unknown
from .styles import unique_name

log = logging.getLogger(__name__)

#: Frames must be at least this many pixels a side (the nets need a few pixels at 1/4 scale).
MIN_SIDE = 16
#: Reflected pixels added on every side of a frame before a style net runs, cropped off after.
#: Nets trained against VGG's zero-padded convolutions paint a thin line of one colour on the
#: outer pixels, where the loss barely sees them (a yellow rim from the starry night net); a
#: margin moves that line out of the picture. Nets finished on 512 px crops paint it up to
#: ~6 px deep (bench/results/edge_margin_finished_cpu_2026-12-06.md), hence 6: 5.3 % more
#: pixels at 640x360.
EDGE_MARGIN = 6
#: Frames larger than 8K (7680x4320) are refused: pass max_side to stylise a smaller copy.
MAX_PIXELS = 7680 * 4320


class FrameError(InputError):
    """A frame cannot be stylised as it is (size, channels, dtype)."""


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Accept grey ``(H, W)``/``(H, W, 1)`` and BGRA ``(H, W, 4)`` uint8 frames as BGR."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise FrameError(f"frames must be uint8 arrays, got "
                         f"{getattr(frame, 'dtype', type(frame).__name__)}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise FrameError(f"expected an (H, W, 3) BGR frame, got shape {frame.shape}")


def working_size(h: int, w: int, scale: float = 1.0, max_side: int | None = None
                 ) -> tuple[int, int]:
    """The size the net runs at for an ``h x w`` frame (checked against MIN_SIDE / MAX_PIXELS)."""
    s = scale
    if max_side:
        s = min(s, max_side / max(h, w))
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    if min(nh, nw) < MIN_SIDE:
        what = f"{w}x{h}" if (nh, nw) == (h, w) else f"{w}x{h} scaled to {nw}x{nh}"
        raise FrameError(f"frame {what} is too small: the smallest side rtstyle stylises is "
                         f"{MIN_SIDE} px")
    if nh * nw > MAX_PIXELS:
        what = f"{w}x{h}" if (nh, nw) == (h, w) else f"{w}x{h} scaled to {nw}x{nh}"
        raise FrameError(f"frame {what} is larger than 8K (7680x4320); refusing rather than "
                         "tiling: pass --max-side (e.g. 3840) to stylise a downscaled copy")
    return nh, nw


@dataclass(frozen=True)
class Controls:
    """Run-time controls; every field can change between frames at no cost."""

    #: 0 = the input frame unchanged, 1 = fully stylised; in between, a linear blend.
    strength: float = 1.0
    #: Keep the input's colours (chroma), take only the stylised luminance.
    preserve_color: bool = False
    #: Name of a second preloaded style to blend in, and its weight (0..1).
    blend: str | None = None
    blend_weight: float = 0.5
    #: Video: weight of the previous output moved by the optical flow (0 = off; see
    #: :mod:`rtstyle.stabilize`). Frames must then come in display order.
    stabilize: float = 0.0

    def __post_init__(self):
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"strength must be between 0 and 1, got {self.strength}")
        if not 0.0 <= self.blend_weight <= 1.0:
            raise ConfigError(f"blend weight must be between 0 and 1, got {self.blend_weight}")
        check_weight(self.stabilize)


class Stylizer:
    """Preloaded styles (one session each, warmed up) and the controls, applied per frame."""

    def __init__(self, styles: Mapping[str, Any] | Sequence[str | os.PathLike],
                 backend: str = "auto", threads: int = 0, scale: float = 1.0,
                 max_side: int | None = None, controls: Controls = Controls(),
                 warm_up: tuple[int, int] | None = (256, 256), fp16: bool = False):
        if not isinstance(styles, Mapping):
            styles = _name_paths(styles)
        if not styles:
            raise ConfigError("no style given")
        if not 0 < scale <= 4:
            raise ConfigError(f"scale must be in (0, 4], got {scale}")
        if max_side is not None and max_side < MIN_SIDE:
            raise ConfigError(f"max-side must be at least {MIN_SIDE}, got {max_side}")
        self.scale, self.max_side = scale, max_side
        # a style is a model path, or an object that runs like a backend (wct_realtime.WCTStyle)
        self.models = {name: path if hasattr(path, "run") else
                       make_backend(path, backend, threads, warm_up, fp16)
                       for name, path in styles.items()}
        if warm_up:
            for m in self.models.values():
                m.warm_up(warm_up)
        self.style = next(iter(self.models))
        self.controls = controls
        self._check_blend(controls)
        self._stabilizer = None

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def use(self, name: str) -> None:
        """Switch the active style (preloaded: no session is created)."""
        if name not in self.models:
            raise unknown("style", name, self.models)
        if name != self.style:
            self.reset()
        self.style = name

    def reset(self) -> None:
        """Forget the previous frame (``stabilize``): call between unrelated clips."""
        if self._stabilizer is not None:
            self._stabilizer.reset()

    @property
    def stabilizer(self):
        """The :class:`~rtstyle.stabilize.Stabilizer` (created on first use)."""
        if self._stabilizer is None:
            from .stabilize import Stabilizer

            self._stabilizer = Stabilizer()
        return self._stabilizer

    def set_controls(self, controls: Controls) -> None:
        self._check_blend(controls)
        self.controls = controls

    def _check_blend(self, c: Controls) -> None:
        if c.blend is not None and c.blend not in self.models:
            raise unknown("style to blend", c.blend, self.models)

    def describe(self) -> str:
        return self.models[self.style].describe()

    def _net(self, name: str, smalls: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one style on same-sized frames as a single batch."""
        model = self.models[name]
        margin = 0 if getattr(model.info, "wct", None) else EDGE_MARGIN  # no rim from WCT
        batch, size = frames.pad_to_multiple(frames.to_model_input(np.stack(smalls)),
                                             model.info.size_multiple, margin)
        out = frames.from_model_output(frames.crop_to(model.run(batch), size), squeeze=False)
        return list(out)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return self.many([frame])[0]

    def many(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Stylise several frames; frames of the same size go through the net as one batch
        (what a GPU wants for video). Results are identical to one call per frame."""
        c = self.controls
        items = [as_bgr(f) for f in batch]
        if c.strength == 0.0:
            for f in items:
                working_size(*f.shape[:2], self.scale, self.max_side)
            return [f.copy() for f in items]
        out: list[np.ndarray | None] = [None] * len(items)
        groups: dict[tuple[int, int, int, int], list[int]] = {}
        for k, f in enumerate(items):
            h, w = f.shape[:2]
            groups.setdefault((h, w, *working_size(h, w, self.scale, self.max_side)), []).append(k)
        for (h, w, sh, sw), idx in groups.items():
            smalls = [images.resize_to(items[k], (sh, sw)) if (sh, sw) != (h, w) else items[k]
                      for k in idx]
            styled = self._net(self.style, smalls)
            if c.blend is not None and c.blend_weight > 0:
                styled = [_mix(a, b, c.blend_weight)
                          for a, b in zip(styled, self._net(c.blend, smalls))]
            for k, y in zip(idx, styled):
                out[k] = self._finish(items[k], y)
        if c.stabilize > 0:  # in frame order: each output leans on the one before
            out = [self.stabilizer(f, y, c.stabilize) for f, y in zip(items, out)]
        elif self._stabilizer is not None:
            self._stabilizer.reset()
        return out  # type: ignore[return-value]

    def _finish(self, frame: np.ndarray, styled: np.ndarray) -> np.ndarray:
        c = self.controls
        h, w = frame.shape[:2]
        if styled.shape[:2] != (h, w):
            styled = cv2.resize(styled, (w, h), interpolation=cv2.INTER_LINEAR)
        if c.preserve_color:
            styled = color.keep_chroma(styled, frame)
        if c.strength < 1.0:
            styled = _mix(frame, styled, c.strength)
        return styled


def _name_paths(paths: Sequence[str | os.PathLike]) -> dict[str, str | os.PathLike]:
    """Names for a list of model paths: the file or folder name, or its parent's when that is
    the generic 'model' (runs/starry/model -> starry); repeated names get -2, -3, ..."""
    named: dict[str, str | os.PathLike] = {}
    for p in paths:
        path = Path(p)
        name = path.name[:-len(".onnx")] if path.name.endswith(".onnx") else path.name
        if name in ("model", "model.fp16") and path.parent.name:
            folder = path.parent if path.suffix == ".onnx" else path
            name = folder.parent.name if folder.name == "model" else folder.name
        named[unique_name(name, named)] = p
    return named


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """(1 - t) * a + t * b, rounded, for uint8 frames."""
    return cv2.addWeighted(a, 1.0 - t, b, t, 0.0)
