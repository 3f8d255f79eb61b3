"""Training checkpoints: one file, written atomically, loaded without unpickling code.

A checkpoint holds everything a run needs to continue exactly: model, optimizer and grad-scaler
states, the step, RNG states, the loss history, the full config and the style image itself (so
resuming does not need the style file). It is serialised in memory first and then written to a
temporary file that replaces the old checkpoint only once complete, so a full disk or a kill
during the write leaves the previous checkpoint valid. Loading uses ``weights_only=True``.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .. import atomic
from ..errors import InputError, RtstyleError

FORMAT = "rtstyle-train-checkpoint"
VERSION = 1


class CheckpointError(RtstyleError):
    """A checkpoint could not be written or read."""


def save(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically to ``path``.

    The folder must exist: a run folder that disappeared during training is an error, not
    something to recreate in passing."""
    if not Path(path).parent.is_dir():
        raise CheckpointError(f"could not write the checkpoint {path}: its folder is gone")
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buf)
    try:  # never write what load() would refuse (e.g. a numpy scalar in the state)
        torch.load(io.BytesIO(buf.getvalue()), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"bug: the checkpoint state holds objects that cannot be loaded "
                              f"safely: {str(e).splitlines()[-1]}") from e
    try:
        return atomic.write_bytes(path, buf.getbuffer())
    except (OSError, InputError) as e:
        raise CheckpointError(f"could not write the checkpoint {path}: "
                              f"{getattr(e, 'strerror', None) or e}") from e


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save` (tensors mapped to the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"cannot read the checkpoint {path}: not a torch checkpoint "
                              "(corrupt or truncated?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # objects weights_only refuses to rebuild
        raise CheckpointError(f"refusing to load {path}: it holds Python objects beyond tensors "
                              "and plain data, which are unsafe to unpickle") from e
    except Exception as e:  # corrupt or truncated zip, not a torch file at all
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"cannot read the checkpoint {path}: {first}") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rtstyle training checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} is a version {state.get('version')} checkpoint; this "
                              f"rtstyle reads version {VERSION}")
    return state


def rng_state(device: torch.device) -> dict[str, Any]:
    out: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state(device)
    return out


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
