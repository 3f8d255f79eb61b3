"""Saving and loading trained nets as model folders (safetensors + model.json): transformer
nets (one style each) and WCT decoders (``kind`` "wct-decoder", see :mod:`.wct_trainer`)."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import atomic, images, metadata, report
from ..errors import WeightsError
from ..metadata import ModelError
from .transformer_net import TransformerNet, build


def save(folder: str | os.PathLike, net: torch.nn.Module, meta: dict[str, Any],
         style_bgr: np.ndarray | None = None, kind: str = "transformer",
         dtype: torch.dtype = torch.float32, io: dict[str, Any] | None = None) -> Path:
    """Write a complete model folder, atomically: a reader sees the old folder or the new one.

    ``dtype`` is the storage precision of the weights (float16 halves the size of the big WCT
    decoders; they are loaded back as float32).
    """
    from safetensors.torch import save as to_safetensors

    folder = Path(folder)
    if not folder.parent.is_dir():
        raise ModelError(f"folder does not exist: {folder.parent}")
    tmp = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.part")
    tmp.mkdir()
    old = None
    try:
        state = {k: v.detach().to(dtype).cpu().contiguous() for k, v in net.state_dict().items()}
        # via bytes, so the file gets the usual permissions (save_file makes it owner-only)
        atomic.write_bytes(tmp / metadata.WEIGHTS_FILE, to_safetensors(state))
        if style_bgr is not None:
            images.write_image(tmp / metadata.STYLE_FILE, style_bgr)
        full = {"format": metadata.FORMAT, "version": metadata.VERSION, "kind": kind,
                "io": dict(io or metadata.IO_CONTRACT), "weights": metadata.WEIGHTS_FILE, **meta}
        report.write_json(tmp / metadata.METADATA_FILE, full)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old")
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if old is not None and not folder.exists():
            os.replace(old, folder)  # put the previous model back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load(path: str | os.PathLike, device: torch.device | str = "cpu"
         ) -> tuple[TransformerNet, dict[str, Any]]:
    """Rebuild the net of a model folder from its metadata alone; returns (net in eval, metadata)."""

    meta = metadata.read(path)
    if meta["kind"] != "transformer":
        raise ModelError(f"{metadata.model_dir(path)} is a {meta['kind']}, not a style net")
    net = build(meta["net"])
    return load_weights(path, net, meta).to(device).eval(), meta


def load_weights(path: str | os.PathLike, net: torch.nn.Module, meta: dict[str, Any]
                 ) -> torch.nn.Module:
    """Fill ``net`` (built from ``meta``) with the folder's safetensors weights, as float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = metadata.model_dir(path)
    weights = folder / meta.get("weights", metadata.WEIGHTS_FILE)
    if not weights.is_file():
        raise ModelError(f"{folder}: weights file {weights.name} is missing")
    try:
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
    except (SafetensorError, OSError) as e:
        raise WeightsError(f"cannot read {weights}: {e}") from e
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"{weights} does not match the net described in "
                           f"{metadata.METADATA_FILE}: {str(e).splitlines()[0]}") from e
    return net


def style_image(path: str | os.PathLike) -> np.ndarray:
    """The style image a model was trained with (BGR uint8, at its training size)."""
    folder = metadata.model_dir(path)
    if not (folder / metadata.STYLE_FILE).is_file():
        raise ModelError(f"{folder}: {metadata.STYLE_FILE} is missing")
    return images.read_image(folder / metadata.STYLE_FILE)
