"""A training run's folder, outside the repository as a rule::

    runs/NAME/
      config.json        the full recipe (also inside every checkpoint)
      losses.csv         one row per step: the loss terms, images/s, seconds
      losses.png         the loss curves (linear and log), refreshed at every checkpoint
      previews/          step_000500.jpg ...: fixed validation images stylised by the current net
      checkpoint.pt      the latest checkpoint (atomic; also written on Ctrl-C / SIGTERM)
      model/             the trained model folder (model.safetensors, model.json, style.jpg)
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any


from ..errors import InputError
from . import checkpoint

log = logging.getLogger(__name__)


class RunFolder:
    """Paths of one training run's folder (see the module docstring)."""

    MARKERS = ("config.json", "checkpoint.pt", "losses.csv")

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config = self.path / "config.json"
        self.csv = self.path / "losses.csv"
        self.plot = self.path / "losses.png"
        self.checkpoint = self.path / "checkpoint.pt"
        self.previews = self.path / "previews"
        self.model = self.path / "model"

    def is_run(self) -> bool:
        return any((self.path / m).exists() for m in self.MARKERS)

    def prepare(self, resume: bool, force: bool) -> None:
        """Check and create the folder: refuse to overwrite a run unless ``force``."""
        p = self.path
        if resume:
            if not self.checkpoint.is_file():
                raise InputError(f"nothing to resume: {self.checkpoint} does not exist")
            return
        if p.exists() and not p.is_dir():
            raise InputError(f"--out must be a folder, got a file: {p}")
        if p.is_dir() and any(p.iterdir()):
            if self.is_run() and not self.checkpoint.exists() and not self.model.exists():
                # A run that failed before its first checkpoint: nothing to resume or lose.
                log.info("replacing %s: its run stopped before the first checkpoint", p)
                force = True
            if not force:
                raise InputError(f"output folder {p} already exists; use --resume to continue "
                                 "its training or --force to start again and replace it")
            if not self.is_run():
                raise InputError(f"refusing to replace {p}: it exists and is not an rtstyle "
                                 "training run; choose another --out")
            shutil.rmtree(p)
        if not p.parent.is_dir():
            raise InputError(f"folder does not exist: {p.parent}")
        p.mkdir(exist_ok=True)


def resume_state(run: RunFolder) -> dict[str, Any]:
    return checkpoint.load(run.checkpoint)
