"""Real-time arbitrary style (WCT, Li et al. 2017): any painting, no training per style.

A style's statistics, the mean and the colouring matrix ``cov^1/2`` of its relu{L}_1 features,
are computed once, exactly (float64 eigendecomposition with an eigenvalue floor). Per frame only
the content side runs, as one ONNX graph: encoder -> whitening by Newton-Schulz iterations
(matrix products only) -> colouring with the style's statistics -> decoder. Both graphs live in
a WCT model folder (``models/wct/level{L}/``) and are written by ``rtstyle export --model``; on
the CPU a level's int8 content path (``realtime.int8.onnx``, ``--int8`` at export), when there
is one, runs instead: its convolutions take about half the time.

:class:`WCTStyle` looks like an inference backend to :class:`~rtstyle.stylizer.Stylizer`, so
``rtstyle webcam --style-image painting.jpg`` and ``rtstyle video ... --style-image`` use it like
any trained style. Torch-free.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import frames, images
from .errors import ConfigError, InputError
from .metadata import ModelError
from .styles import unique_name

ENCODER_FILE = "encoder.onnx"
CONTENT_FILE = "realtime.onnx"
INT8_FILE = "realtime.int8.onnx"
#: Which content path runs: auto = int8 when the level has one and the frames run on the CPU.
PRECISIONS = ("auto", "fp32", "int8")
#: The real-time level used when none is asked for: relu3_1 is fast and keeps the content's
#: structure; relu4_1 transfers larger patterns at ~2x the cost.
DEFAULT_LEVEL = 3
#: Eigenvalues below this fraction of the largest are floored (singular covariances of flat
#: images, or of fewer feature pixels than channels, stay invertible).
EIG_FLOOR = 1e-5
#: Added to the covariance diagonal before any square root (absolute, in feature units).
EPS = 1e-5
#: Longer side a style image is scaled to before its statistics are computed.
STYLE_SIZE = 512


def covariance(feat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(C, 1)`` and covariance ``(C, C)`` (float64) of ``(1, C, H, W)`` or ``(C, N)``."""
    f = np.asarray(feat, dtype=np.float64)
    f = f.reshape(f.shape[-3] if f.ndim >= 3 else f.shape[0], -1)
    mean = f.mean(axis=1, keepdims=True)
    centred = f - mean
    cov = centred @ centred.T / max(1, f.shape[1] - 1)
    return mean, cov + EPS * np.eye(f.shape[0])


def matrix_power(cov: np.ndarray, power: float) -> np.ndarray:
    """``cov ** power`` for a symmetric ``cov`` through its floored eigendecomposition."""
    evals, evecs = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    evals = np.maximum(evals, max(float(evals.max()) * EIG_FLOOR, EPS))
    return (evecs * evals ** power) @ evecs.T


def style_statistics(feat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A style's ``(mean (C, 1), cov^1/2 (C, C))`` as float32, ready to feed the content path."""
    if not np.isfinite(feat).all():
        raise InputError("the style image's features are not finite")
    mean, cov = covariance(feat)
    return mean.astype(np.float32), matrix_power(cov, 0.5).astype(np.float32)


def search_folders(level: int) -> list[Path]:
    from .styles import search_path

    return [root / "wct" / f"level{level}" for root in search_path()]


def find(level: int = DEFAULT_LEVEL, folder: str | os.PathLike | None = None) -> Path:
    """The WCT model folder with the real-time graphs for ``level`` (or check ``folder``)."""
    if level not in (1, 2, 3, 4, 5):
        raise ConfigError(f"WCT level must be one of 1..5 (relu1_1 .. relu5_1), got {level}")
    candidates = [Path(folder)] if folder else search_folders(level)
    for c in candidates:
        if (c / CONTENT_FILE).is_file() and (c / ENCODER_FILE).is_file():
            return c
    where = candidates[0] if folder else " or ".join(str(c) for c in candidates[:2])
    raise ModelError(f"no real-time WCT model for level {level} in {where}: export one with "
                     f"'rtstyle export --model models/wct/level{level}' (needs the train extra)")


class WCTStyle:
    """A painting as a real-time style: the Stylizer runs it like any model backend.

    ``image`` is the painting (BGR uint8). ``alpha`` blends the stylised features with the
    content's (1 = full style). ``precision`` picks the content path (:data:`PRECISIONS`).
    Frames go through the graph one at a time (the whitening is per image).
    """

    def __init__(self, image: np.ndarray, level: int = DEFAULT_LEVEL,
                 folder: str | os.PathLike | None = None, backend: str = "auto",
                 threads: int = 0, shape: tuple[int, int] | None = None, alpha: float = 1.0,
                 style_size: int = STYLE_SIZE, name: str = "painting", precision: str = "auto"):
        from .backends import make_backend

        if (backend or "auto").strip().lower() in ("torch", "torch-compile"):
            raise ConfigError(f"the real-time WCT graphs run on ONNX Runtime; use --backend "
                              f"auto, ort-trt, ort-cuda or ort-cpu (not {backend})")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
        self.name = name
        root = find(level, folder)
        graph = content_file(root, level, backend, precision)
        self.net = make_backend(root / graph, backend, threads, shape, wct=True)
        encoder = make_backend(root / ENCODER_FILE, backend, threads, None, wct=True)
        for part in (self.net, encoder):
            if part.info.wct.get("level") != level:
                raise ModelError(f"{part.info.path} is a level {part.info.wct.get('level')} "
                                 f"WCT graph, expected level {level}")
        if self.net.info.wct.get("role") != "content-path" or encoder.info.wct.get("role") != "encoder":
            raise ModelError(f"{root}: {CONTENT_FILE} and {ENCODER_FILE} have the wrong roles")
        self.info = self.net.info
        self.level = level
        mean, color = style_statistics(self._features(encoder, image, style_size))
        self.net.feeds = {"style_mean": mean, "style_colour": color,
                          "alpha": np.array([alpha], np.float32)}

    def _features(self, encoder, image: np.ndarray, style_size: int) -> np.ndarray:
        img = images.fit_within(image, style_size)
        m = encoder.info.size_multiple
        need = 2 * m
        if min(img.shape[:2]) < need:
            raise InputError(f"the style image '{self.name}' is {img.shape[1]}x{img.shape[0]}: "
                             f"too small for level {self.level} (each side needs at least "
                             f"{need} px); use a larger painting or a lower --wct-level")
        batch, _ = frames.pad_to_multiple(frames.to_model_input(img), m)
        return encoder.run(batch)

    @property
    def alpha(self) -> float:
        return float(self.net.feeds["alpha"][0])

    def set_alpha(self, alpha: float) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
        self.net.feeds["alpha"] = np.array([alpha], np.float32)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return np.concatenate([self.net.run(batch[i:i + 1]) for i in range(len(batch))])

    def warm_up(self, shape: tuple[int, int]) -> None:
        self.net.warm_up(shape)

    def describe(self) -> str:
        return f"WCT relu{self.level}_1, {self.net.describe()}"


class WCTChain:
    """Several real-time levels in a row, coarse to fine, as Li et al. run WCT: each level's
    graph re-encodes the image the level before it decoded. The deep level moves the painting's
    larger patterns and colours, the finer ones its small strokes, at the cost of one more pass
    per level. Looks like a backend to the Stylizer, as :class:`WCTStyle` does.
    """

    def __init__(self, image: np.ndarray, levels, folders=None, backend: str = "auto",
                 threads: int = 0, shape: tuple[int, int] | None = None, alpha: float = 1.0,
                 style_size: int = STYLE_SIZE, name: str = "painting", precision: str = "auto"):
        self.levels = chain_levels(levels)
        folders = folders or {}
        self.parts = [WCTStyle(image, lv, folders.get(lv), backend, threads, shape, alpha,
                               style_size, name, precision) for lv in self.levels]
        self.name = name
        self.info = self.parts[0].info  # the deepest level: the largest size multiple

    @property
    def alpha(self) -> float:
        return self.parts[0].alpha

    def set_alpha(self, alpha: float) -> None:
        for part in self.parts:
            part.set_alpha(alpha)

    def run(self, batch: np.ndarray) -> np.ndarray:
        for part in self.parts:  # no clipping between levels: each decodes what it is given
            batch = part.run(batch)
        return batch

    def warm_up(self, shape: tuple[int, int]) -> None:
        for part in self.parts:
            part.warm_up(shape)

    def describe(self) -> str:
        path = " -> ".join(f"relu{p.level}_1 ({p.info.precision})" for p in self.parts)
        return f"WCT {path}, {self.parts[0].net.provider}"


def content_file(root: Path, level: int, backend: str, precision: str) -> str:
    """The content path's file name in ``root`` for ``precision`` on ``backend``."""
    from .backends import CPU, available_providers, plan

    if precision not in PRECISIONS:
        raise ConfigError(f"WCT precision must be one of {', '.join(PRECISIONS)}, "
                          f"got {precision!r}")
    has_int8 = (root / INT8_FILE).is_file()
    if precision == "int8" and not has_int8:
        raise ModelError(f"no int8 real-time WCT graph for level {level} in {root}: export one "
                         f"with 'rtstyle export --model {root} --int8' (needs the train extra)")
    if precision == "auto":
        on_cpu = plan(backend, available_providers()).providers[:1] == (CPU,)
        precision = "int8" if has_int8 and on_cpu else "fp32"
    return INT8_FILE if precision == "int8" else CONTENT_FILE


def chain_levels(levels) -> tuple[int, ...]:
    """Levels as a chain runs them: deepest first, each once."""
    levels = tuple(sorted({int(lv) for lv in ([levels] if isinstance(levels, int) else levels)},
                          reverse=True))
    if not levels:
        raise ConfigError("at least one WCT level is needed")
    return levels


def load_styles(paths, level=DEFAULT_LEVEL, backend: str = "auto", threads: int = 0,
                shape: tuple[int, int] | None = None, alpha: float = 1.0,
                folder: str | os.PathLike | None = None, precision: str = "auto") -> dict:
    """``--style-image`` paths -> {name: WCTStyle, or WCTChain for several levels} (names from
    the file names). ``folder`` is the level's model folder (one level only)."""
    levels = chain_levels(level)
    if folder and len(levels) > 1:
        raise ConfigError("a model folder holds one WCT level; a chain finds its levels in the "
                          "models folders")
    out: dict = {}
    for p in paths:
        name = unique_name(Path(p).stem or "painting", out)
        img = images.read_image(p)
        out[name] = WCTStyle(img, levels[0], folder, backend, threads, shape, alpha,
                             name=name, precision=precision) if len(levels) == 1 else \
            WCTChain(img, levels, None, backend, threads, shape, alpha, name=name,
                     precision=precision)
    return out
