"""Which model files each benchmarked net uses.

Speed does not depend on the weights, so a randomly initialised net exported to ONNX is as good
as a trained one; but a shipped model is preferred when one exists (``models/starry_night_lite``
is a lite net, ``models/wct/level3`` holds the WCT real-time graph). Exporting a random net, and
every fp16 export, needs torch: without it only shipped ONNX files are used and the rest is
skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import RtstyleError

log = logging.getLogger(__name__)

#: The WCT level of the real-time path that is benchmarked.
WCT_LEVEL = 3
NEEDS_TORCH = "needs torch to export a randomly initialised net (pip install 'rtstyle[train]')"


class Unavailable(Exception):
    """A case cannot run here; the message is the reason recorded with it."""


def has_torch() -> bool:
    """Whether torch can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class NetFiles:
    """A net's files: the fp32 ONNX file, the model folder (torch backends, fp16 export), or
    for ``wct`` the WCT folder with ``realtime.onnx`` and ``encoder.onnx``."""

    net: str
    onnx: Path
    folder: Path | None
    source: str
    wct: bool = False
    #: The WCT level of a wct net's graphs.
    level: int = WCT_LEVEL


def shipped_transformer(net: str) -> Path | None:
    """An installed model folder of the ``net`` size (first on the style search path)."""
    from .. import styles

    for style in styles.installed():
        if style.onnx and not style.members and (style.meta.get("net") or {}).get("name") == net:
            return style.folder
    return None


class NetStore:
    """Finds or makes each net's files once; random nets and fp16 files go to ``workdir``.

    ``models`` overrides a net with a given model folder or .onnx file (a WCT folder for wct).
    """

    def __init__(self, workdir: str | os.PathLike, models: dict[str, str | os.PathLike] | None = None,
                 allow_export: bool = True):
        self.workdir = Path(workdir)
        self.models = {k: Path(v) for k, v in (models or {}).items()}
        self.allow_export = allow_export
        self._files: dict[str, NetFiles | Unavailable] = {}
        self._fp16: dict[str, Path | Unavailable] = {}

    def get(self, net: str) -> NetFiles:
        if net not in self._files:
            try:
                self._files[net] = self._find(net)
            except Unavailable as e:
                self._files[net] = e
        found = self._files[net]
        if isinstance(found, Unavailable):
            raise found
        return found

    def _find(self, net: str) -> NetFiles:
        from .. import onnx_model, wct_realtime

        if net == "wct":
            folder = self.models.get("wct")
            try:
                # a given folder may hold another level's graphs (its metadata says which)
                level = onnx_model.read_contract(folder / wct_realtime.CONTENT_FILE).wct.get(
                    "level", WCT_LEVEL) if folder else WCT_LEVEL
                root = wct_realtime.find(level, folder)
            except RtstyleError as e:
                raise Unavailable(str(e)) from None
            return NetFiles(net, root / wct_realtime.CONTENT_FILE, root,
                            f"WCT relu{level}_1 real-time graph ({root})", wct=True, level=level)
        if net in self.models:
            path = self.models[net]
            try:
                onnx = onnx_model.resolve(path)
            except RtstyleError as e:
                raise Unavailable(str(e)) from None
            folder = path if path.is_dir() else path.parent
            return NetFiles(net, onnx, folder, f"given ({path})")
        folder = shipped_transformer(net)
        if folder is not None:
            return NetFiles(net, folder / onnx_model.FP32_FILE, folder, f"shipped ({folder.name})")
        if not (self.allow_export and has_torch()):
            raise Unavailable(f"no shipped {net} model; {NEEDS_TORCH}")
        folder = export_random(net, self.workdir / f"random-{net}")
        return NetFiles(net, folder / onnx_model.FP32_FILE, folder,
                        "randomly initialised (speed does not depend on the weights)")

    def fp16(self, net: str) -> Path:
        """The fp16 ONNX file of a transformer net (exported into ``workdir``; needs torch)."""
        files = self.get(net)
        if files.wct:
            raise Unavailable("the WCT real-time graph is exported in fp32 only")
        if net not in self._fp16:
            self._fp16[net] = self._export_fp16(files)
        found = self._fp16[net]
        if isinstance(found, Unavailable):
            raise found
        return found

    def _export_fp16(self, files: NetFiles) -> Path | Unavailable:
        from .. import onnx_model

        if files.folder and (files.folder / onnx_model.FP16_FILE).is_file():
            return files.folder / onnx_model.FP16_FILE
        if not has_torch():
            return Unavailable("the fp16 export needs torch (pip install 'rtstyle[train]')")
        if files.folder is None or not (files.folder / "model.json").is_file():
            return Unavailable(f"no model folder for {files.onnx} to export fp16 from")
        from ..train import export

        out = self.workdir / f"{files.net}.fp16.onnx"
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            return export.export(files.folder, out, fp16=True).path
        except RtstyleError as e:
            return Unavailable(f"fp16 export failed: {e}")

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def export_random(net: str, folder: Path) -> Path:
    """A model folder with a randomly initialised ``net`` (seed 0) and its fp32 ONNX export."""
    import numpy as np
    import torch

    from ..train import export, model_folder
    from ..train.transformer_net import NETS, TransformerNet, describe

    log.info("exporting a randomly initialised %s net", net)
    torch.manual_seed(0)
    model = TransformerNet(NETS[net]).eval()
    meta = {"name": f"random-{net}", "net": {"name": net, **describe(NETS[net])},
            "style": {"name": "random"}, "recipe": {}, "training": {}}
    folder.parent.mkdir(parents=True, exist_ok=True)
    model_dir = model_folder.save(folder, model, meta, np.zeros((8, 8, 3), np.uint8))
    export.export(model_dir)
    return Path(model_dir)
