"""What travels with a trained model: its IO contract, its style, its recipe (torch-free).

A model folder holds ``model.json`` (this metadata), the weights (``model.safetensors``), the
style image as trained (``style.jpg``) and, once exported, ``model.onnx`` whose metadata carries
the same contract. Readers refuse a contract they do not know instead of guessing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import InputError

FORMAT = "rtstyle-model"
VERSION = 1
METADATA_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
STYLE_FILE = "style.jpg"

#: The only IO contract rtstyle nets have: RGB 0..255 float32 NCHW in and out.
IO_CONTRACT: dict[str, Any] = {"layout": "NCHW", "channels": "RGB", "dtype": "float32",
                               "range": [0, 255], "size_multiple": 4}

#: "transformer": a Johnson net for one style; "wct-decoder": a WCT decoder from relu{L}_1
#: features to the image (its ``io`` describes the image it makes); "multi-style": one net for
#: several styles (conditional instance norm), with a style-weights input.
KINDS = ("transformer", "wct-decoder", "multi-style", "arbitrary")
#: What each kind's metadata must hold besides the contract.
_REQUIRED = {"transformer": ("net", "style", "recipe"), "wct-decoder": ("net", "recipe"),
             "multi-style": ("net", "recipe"), "arbitrary": ("net", "recipe")}


class ModelError(InputError):
    """A model folder or file is missing, incomplete, or of a kind rtstyle does not know."""


def check_io(io: Any, where: str) -> dict[str, Any]:
    """Return ``io`` if rtstyle knows how to feed that contract, else raise ModelError."""
    if not isinstance(io, dict):
        raise ModelError(f"{where}: the model's IO contract is missing")
    for key in ("layout", "channels", "dtype", "range"):
        if io.get(key) != IO_CONTRACT[key]:
            raise ModelError(f"{where}: unsupported model IO {key} {io.get(key)!r} "
                             f"(rtstyle models take {IO_CONTRACT[key]!r})")
    multiple = io.get("size_multiple")
    if isinstance(multiple, bool) or not isinstance(multiple, int) or not 1 <= multiple <= 64:
        raise ModelError(f"{where}: invalid size_multiple {multiple!r}")
    return io


def model_dir(path: str | os.PathLike) -> Path:
    """The model folder for ``path`` (the folder itself, or the folder of its model.json)."""
    path = Path(path)
    if path.is_file() and path.name == METADATA_FILE:
        path = path.parent
    if not path.exists():
        raise ModelError(f"model not found: {path}")
    if not path.is_dir():
        raise ModelError(f"expected a model folder (with {METADATA_FILE}), got a file: {path}")
    if not (path / METADATA_FILE).is_file():
        hint = " (a training run keeps its model in the 'model' sub-folder)" \
            if (path / "model" / METADATA_FILE).is_file() else ""
        raise ModelError(f"{path} is not a model folder: it has no {METADATA_FILE}{hint}")
    return path


def read(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a model folder's metadata."""
    folder = model_dir(path)
    file = folder / METADATA_FILE
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read {file}: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{file} is not rtstyle model metadata")
    if meta.get("version") != VERSION:
        raise ModelError(f"{file} has metadata version {meta.get('version')}; this rtstyle reads "
                         f"version {VERSION}")
    if meta.get("kind") not in KINDS:
        raise ModelError(f"{file}: unknown model kind {meta.get('kind')!r}")
    check_io(meta.get("io"), str(file))
    for key in _REQUIRED[meta["kind"]]:
        if not isinstance(meta.get(key), dict):
            raise ModelError(f"{file}: '{key}' is missing")
    return meta


def read_kind(path: str | os.PathLike, kind: str, what: str) -> dict[str, Any]:
    """:func:`read`, refusing a folder of another kind: ``what`` names the kind wanted (e.g.
    'a WCT decoder') in the error."""
    meta = read(path)
    if meta["kind"] != kind:
        raise ModelError(f"{model_dir(path)} is a {meta['kind']} model, not {what}")
    return meta
