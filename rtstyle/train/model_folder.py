"""Saving and loading trained nets as model folders (safetensors + model.json): transformer
nets (one style each) and WCT decoders (``kind`` "wct-decoder", see :mod:`.wct.trainer`)."""

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


#: Largest weights file written (bigger nets are split into shards: repositories and hosts limit
#: file sizes, and git handles many mid-size files better than one large one).
MAX_SHARD_BYTES = 16 * 2 ** 20


def shard_names(count: int) -> list[str]:
    """``model.safetensors``, or ``model-00001-of-0000N.safetensors`` ... for ``count`` > 1."""
    if count == 1:
        return [metadata.WEIGHTS_FILE]
    return [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]


def split_state(state: dict[str, torch.Tensor], max_bytes: int | None = None
                ) -> list[dict[str, torch.Tensor]]:
    """Tensors in order, grouped so each group stays under ``max_bytes`` (default
    :data:`MAX_SHARD_BYTES`; a bigger tensor gets a shard of its own)."""
    max_bytes = MAX_SHARD_BYTES if max_bytes is None else max_bytes
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, t in state.items():
        n = t.numel() * t.element_size()
        if shards[-1] and size + n > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += n
    return shards


def save(folder: str | os.PathLike, net: torch.nn.Module, meta: dict[str, Any],
         style_bgr: np.ndarray | None = None, kind: str = "transformer",
         dtype: torch.dtype = torch.float32, io: dict[str, Any] | None = None,
         extra_images: dict[str, np.ndarray] | None = None) -> Path:
    """Write a complete model folder, atomically: a reader sees the old folder or the new one.

    ``dtype`` is the storage precision of the weights (float16 halves the size of the big WCT
    decoders; they are loaded back as float32). Weights over :data:`MAX_SHARD_BYTES` are split
    into numbered shards, listed in the metadata's ``weights``. ``extra_images`` are more
    images to write, by path inside the folder (a multi-style model's paintings).
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
        shards = split_state(state)
        names = shard_names(len(shards))
        for name, shard in zip(names, shards):
            # via bytes, so the file gets the usual permissions (save_file makes it owner-only)
            atomic.write_bytes(tmp / name, to_safetensors(shard))
        if style_bgr is not None:
            images.write_image(tmp / metadata.STYLE_FILE, style_bgr)
        for name, img in (extra_images or {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            images.write_image(tmp / name, img)
        full = {"format": metadata.FORMAT, "version": metadata.VERSION, "kind": kind,
                "io": dict(io or metadata.IO_CONTRACT), "weights": names[0] if len(names) == 1 else names, **meta}
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

    meta = metadata.read_kind(path, "transformer", "a style net")
    net = build(meta["net"])
    return load_weights(path, net, meta).to(device).eval(), meta


def load_weights(path: str | os.PathLike, net: torch.nn.Module, meta: dict[str, Any]
                 ) -> torch.nn.Module:
    """Fill ``net`` (built from ``meta``) with the folder's safetensors weights, as float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = metadata.model_dir(path)
    state: dict[str, torch.Tensor] = {}
    files = weight_files(folder, meta)
    for weights in files:
        try:
            part = load_file(str(weights))
        except (SafetensorError, OSError) as e:
            raise WeightsError(f"cannot read {weights}: {e}") from e
        repeated = state.keys() & part.keys()
        if repeated:
            raise WeightsError(f"{weights} repeats tensors of another shard: "
                               f"{', '.join(sorted(repeated)[:3])}")
        state.update({k: v.float() for k, v in part.items()})
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        what = str(files[0]) if len(files) == 1 else f"{folder} ({len(files)} weight shards)"
        raise WeightsError(f"{what} does not match the net described in "
                           f"{metadata.METADATA_FILE}: {str(e).splitlines()[0]}") from e
    return net


def weight_files(folder: Path, meta: dict[str, Any]) -> list[Path]:
    """The weights files the metadata names: plain file names inside the folder, all present."""
    names = meta.get("weights", metadata.WEIGHTS_FILE)
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelError(f"{folder}: 'weights' in {metadata.METADATA_FILE} must be a file name "
                         "or a list of them")
    out = []
    for name in names:
        if Path(name).name != name or not name.endswith(".safetensors"):
            raise ModelError(f"{folder}: refusing weights file {name!r} (a .safetensors file "
                             "name inside the model folder is expected)")
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: weights file {name} is missing")
        out.append(folder / name)
    return out


def style_image(path: str | os.PathLike) -> np.ndarray:
    """The style image a model was trained with (BGR uint8, at its training size)."""
    folder = metadata.model_dir(path)
    if not (folder / metadata.STYLE_FILE).is_file():
        raise ModelError(f"{folder}: {metadata.STYLE_FILE} is missing")
    return images.read_image(folder / metadata.STYLE_FILE)
