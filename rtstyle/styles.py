"""Finding installed styles by name (torch-free).

A style is a model folder (``model.json`` + ``model.onnx``). They are looked up, in order, in
the folders of ``$RTSTYLE_MODELS`` (separated by ``os.pathsep``), the repository's ``models/``
(the shipped styles; ``RTSTYLE_NO_SHIPPED_STYLES=1`` leaves them out), and
``~/.local/share/rtstyle/models`` (or ``$XDG_DATA_HOME``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import metadata, onnx_model
from .errors import ConfigError, unknown
from .metadata import ModelError


@dataclass(frozen=True)
class Style:
    name: str
    folder: Path
    meta: dict[str, Any]

    @property
    def onnx(self) -> Path | None:
        f = self.folder / onnx_model.FP32_FILE
        return f if f.is_file() else None

    @property
    def members(self) -> list[str]:
        """The styles of a multi-style net, in weight order (empty for a one-style net)."""
        return [s["name"] for s in self.meta.get("styles", [])] \
            if self.meta.get("kind") == "multi-style" else []


def search_path() -> list[Path]:
    paths = [Path(p) for p in os.environ.get("RTSTYLE_MODELS", "").split(os.pathsep) if p]
    if os.environ.get("RTSTYLE_NO_SHIPPED_STYLES", "") in ("", "0"):
        paths.append(Path(__file__).resolve().parents[1] / "models")
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    paths.append(Path(data) / "rtstyle" / "models")
    return paths


def installed() -> list[Style]:
    """Every readable model folder on the search path (first one wins for a repeated name)."""
    found: dict[str, Style] = {}
    for root in search_path():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            try:
                meta = metadata.read(folder)
            except ModelError:
                continue
            if meta["kind"] not in ("transformer", "multi-style"):
                continue
            found.setdefault(folder.name, Style(folder.name, folder, meta))
    return list(found.values())


#: The style used when none is named: the zoo's best-trained painting (resolved with ``prefer``).
DEFAULT = "starry_night"
#: Net sizes, in the order a name without a size suffix tries them.
SIZES = {"lite": ("_lite", ""), "full": ("", "_lite")}


def find(name_or_path: str | os.PathLike, prefer: str = "lite") -> Path:
    """A model path for ``--style``: an existing file/folder, or the name of an installed style.

    Names ignore case, and a painting's name without the net size (``starry_night``) picks its
    ``prefer`` net (``starry_night_lite`` for 'lite', ``starry_night`` for 'full') or else the
    other size; a unique prefix (``great_wave``) names the style it starts.
    """
    p = Path(name_or_path)
    if p.exists() or p.suffix == ".onnx" or len(p.parts) > 1:
        return p
    styles = {s.name.lower(): s for s in installed() if not s.members}
    key = str(name_or_path).lower()
    for suffix in SIZES.get(prefer, SIZES["lite"]):
        if key + suffix in styles:
            return styles[key + suffix].folder
    if not styles:
        raise ModelError(f"no style named '{name_or_path}' and no styles are installed; give a "
                         "path to an .onnx file or a model folder (see 'rtstyle styles')")
    families = sorted({n for n in styles if n.startswith(key + "_")
                       and not n[len(key) + 1:].startswith("lite")})
    if len(families) == 1 or (families and all(f.startswith(families[0]) for f in families)):
        return find(families[0], prefer)
    raise unknown("style", str(name_or_path), [s.name for s in styles.values()])


@dataclass(frozen=True)
class Mix:
    """A multi-style model folder and the weight of each of its styles (summing to one)."""

    folder: Path
    weights: tuple[float, ...]
    names: tuple[str, ...]

    @property
    def label(self) -> str:
        used = [(n, w) for n, w in zip(self.names, self.weights) if w > 0]
        if len(used) == 1:
            return used[0][0]
        return "+".join(f"{n}{round(100 * w)}" for n, w in used)


def parse(spec: str) -> list[tuple[str, float]] | None:
    """``'a:0.7,b:0.3'`` -> ``[('a', 0.7), ('b', 0.3)]``; None for a spec without weights."""
    if ":" not in spec or os.sep in spec or Path(spec).exists():
        return None
    out = []
    for part in spec.split(","):
        name, sep, value = part.strip().rpartition(":")
        if not sep or not name:
            raise ConfigError(f"a style blend is NAME:WEIGHT,NAME:WEIGHT..., got '{spec}'")
        try:
            w = float(value)
        except ValueError:
            raise ConfigError(f"the weight of {name} in '{spec}' is not a number: "
                              f"'{value}'") from None
        if not (w >= 0 and math.isfinite(w)):
            raise ConfigError(f"style weights must be >= 0, got {value} for {name}")
        out.append((name.strip(), w))
    if sum(w for _, w in out) <= 0:
        raise ConfigError(f"the style weights in '{spec}' are all 0")
    return out


def mix_of(folder: Path, names: list[str], parts: list[tuple[str, float]]) -> Mix:
    """The :class:`Mix` of ``parts`` (names matched without case) in a model with ``names``."""
    index = {n.lower(): i for i, n in enumerate(names)}
    w = [0.0] * len(names)
    for name, weight in parts:
        w[index[name.lower()]] += weight
    total = sum(w)
    return Mix(folder, tuple(x / total for x in w), tuple(names))


def locate(spec: str | os.PathLike, prefer: str = "lite") -> Path | Mix:
    """What ``--style`` names: a model path (see :func:`find`), or a :class:`Mix` of the styles
    of an installed multi-style net (``a:0.7,b:0.3``, or a plain name that only a multi-style
    net has)."""
    text = str(spec)
    parts = parse(text)
    if parts is None:
        try:
            return find(spec, prefer)
        except ModelError:
            parts = [(text, 1.0)]
            if not _multi_with([text]):
                raise
    wanted = [name for name, _ in parts]
    model = _multi_with(wanted)
    if model is None:
        known = sorted({m for s in installed() for m in s.members})
        raise ModelError(f"no installed multi-style net has the styles {', '.join(wanted)} "
                         f"(multi-style styles: {', '.join(known) or 'none installed'})")
    return mix_of(model.folder, model.members, parts)


def _multi_with(names: list[str]) -> Style | None:
    """The first installed multi-style net that has every one of ``names`` (any case)."""
    want = {n.lower() for n in names}
    for s in installed():
        if s.members and want <= {m.lower() for m in s.members}:
            return s
    return None


def unique_name(base: str, taken: Callable[[str], bool] | Container[str], sep: str = "-") -> str:
    """``base``, or ``base-2``, ``base-3``... the first name ``taken`` does not hold (a set of
    names, or a test such as "a file of that name exists")."""
    is_taken = taken if callable(taken) else taken.__contains__
    name, k = base, 2
    while is_taken(name):
        name, k = f"{base}{sep}{k}", k + 1
    return name


def safe_name(name: object, default: str) -> str:
    """``name`` as one harmless file-name component (names come from model metadata)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name or "")).strip("._")
    return cleaned or default


def prefer_size(backend: str) -> str:
    """The net size a style name without one means: full where a GPU runs it, else lite."""
    if backend in ("ort-cuda", "ort-trt", "torch-compile"):
        return "full"
    if backend == "auto":
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            return "full"
    return "lite"
