"""Multi-style nets at run time (torch-free): one ONNX session for every style of the net, each
style or blend chosen by the weights vector fed beside the frame.

``--style starry_night:0.7,great_wave:0.3`` names a blend of styles of one installed multi-style
model (weights are normalised to sum to one); a plain name of one of its styles is that style
alone. :class:`StyleMix` looks like an inference backend to :class:`~rtstyle.stylizer.Stylizer`;
mixes of one model share its session, so switching or morphing between them creates nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ConfigError
from .onnx_model import STYLE_WEIGHTS_NAME
from .styles import Mix, mix_of, parse  # noqa: F401  (the names blends are made of)


class StyleMix:
    """One style or blend of a multi-style net, run through a (shared) ONNX Runtime backend."""

    def __init__(self, backend, mix: Mix):
        self.backend, self.info = backend, backend.info
        self.name = mix.label
        self.set_weights(mix.weights)
        #: The mix's own weights (``weights`` differ from them while a morph passes through).
        self.home = self.weights.copy()

    def set_weights(self, weights) -> None:
        """Another blend of the same styles (e.g. a morph between two): nothing is rebuilt."""
        w = np.asarray(weights, np.float32).reshape(1, -1)
        if w.shape[1] != len(self.info.styles):
            raise ConfigError(f"{len(self.info.styles)} style weights needed, got {w.shape[1]}")
        self.weights = w

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.backend.feeds = {STYLE_WEIGHTS_NAME: self.weights}
        return self.backend.run(batch)

    def warm_up(self, shape: tuple[int, int]) -> None:
        self.backend.feeds = {STYLE_WEIGHTS_NAME: self.weights}
        self.backend.warm_up(shape)

    def describe(self) -> str:
        return self.backend.describe()


class Morph:
    """A smooth change of style within one multi-style net: over ``frames`` frames the target's
    weights go from where the previous style was to the target's own, one step per frame (the
    same session throughout: no reload, no dropped frame)."""

    def __init__(self, target: StyleMix, start: np.ndarray, frames: int = 12):
        self.target, self.start, self.frames, self.done = target, np.asarray(start), frames, 0
        target.set_weights(self.start)

    def step(self) -> bool:
        """Advance one frame; True once the target has its own weights again."""
        self.done += 1
        t = min(1.0, self.done / self.frames)
        self.target.set_weights((1 - t) * self.start + t * self.target.home)
        return t >= 1.0

    def stop(self) -> None:
        self.target.set_weights(self.target.home)


def morph_between(old, new, frames: int = 12) -> Morph | None:
    """A :class:`Morph` from style ``old`` to ``new`` when both are mixes of one net, else None
    (a switch between separate nets is instant)."""
    if isinstance(old, StyleMix) and isinstance(new, StyleMix) and old.backend is new.backend \
            and frames > 1:
        return Morph(new, old.weights.copy(), frames)
    return None


def load(mixes: dict[str, Mix], backend: str = "auto", threads: int = 0,
         shape: tuple[int, int] | None = None) -> dict[str, StyleMix]:
    """{name: StyleMix}, one ONNX Runtime session per model folder."""
    from .backends import OrtBackend
    from .onnx_model import resolve

    sessions: dict[Path, OrtBackend] = {}
    out = {}
    for name, mix in mixes.items():
        if mix.folder not in sessions:
            sessions[mix.folder] = OrtBackend(resolve(mix.folder), backend, threads, shape)
        out[name] = StyleMix(sessions[mix.folder], mix)
    return out
