"""Training the WCT decoders (Li et al. 2017): ``rtstyle train-wct --level L``.

The encoder is VGG19 up to relu{L}_1, frozen; the decoder learns to invert it under
``||I_out - I_in||^2 + lambda ||Phi(I_out) - Phi(I_in)||^2`` (:func:`.wct_models.reconstruction_loss`).
The run folder, checkpoints, exact resume, AMP, DDP, CSV and plots are those of every rtstyle
run (:class:`.trainer.RunLoop`); previews show the reconstructions with their PSNR, and the
model's metadata records the PSNR on held-out photos.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ... import config, frames, images, metadata
from ...errors import ConfigError
from ...interrupts import StopRequest
from ...quality import psnr
from .. import distributed, model_folder
from ..loss_networks import load_loss_network
from ..run_loop import RunLoop, RunSettings, TrainResult, check_device, launch
from .levels import FLOOR_DB
from .models import (
    CHANNELS,
    WCTDecoder,
    WCTEncoder,
    check_level,
    reconstruction_loss,
    size_multiple,
)

KIND = "wct-decoder"


@dataclass(frozen=True)
class WCTTrainConfig(RunSettings):
    """A WCT decoder's training run. Defaults follow the common Li et al. recipes."""

    #: Which autoencoder: the decoder of relu{level}_1 (1..5).
    level: int = 4
    #: lambda, the weight of the feature term (Li et al.: 1).
    feature_weight: float = 1.0
    batch_size: int = 8
    steps: int = 20000
    lr: float = 1e-4
    #: a decoder model folder of the same level to start from (None: random initialisation);
    #: the shipped decoders were short runs, and this is how they are trained on.
    init: str | None = None

    def __post_init__(self):
        super().__post_init__()
        check_level(self.level)
        if not 0 <= self.feature_weight < float("inf"):
            raise ConfigError(f"feature-weight must be >= 0, got {self.feature_weight}")
        m = size_multiple(self.level)
        if self.image_size % m:
            raise ConfigError(f"image-size must be a multiple of {m} for level {self.level}, "
                              f"got {self.image_size}")


def check(cfg: WCTTrainConfig, world: distributed.World | None = None,
          resuming: bool = False) -> torch.device:
    """Device, precision, the VGG19 weights and ``--init``: everything that can fail before
    training."""
    device = check_device(cfg, world)
    if cfg.init and not resuming:  # a resumed run has its weights in the checkpoint
        init_decoder(cfg)
    load_loss_network("vgg19", device, "max", cfg.loss_net_weights, cfg.allow_download)
    return device


def init_decoder(cfg: WCTTrainConfig) -> WCTDecoder:
    """The decoder ``cfg.init`` names, checked against ``cfg.level`` (ModelError/ConfigError)."""
    decoder, meta = load_decoder(cfg.init)
    if decoder.level != cfg.level:
        raise ConfigError(f"--init {cfg.init} is the relu{decoder.level}_1 decoder, but this "
                          f"run trains relu{cfg.level}_1; pass --level {decoder.level}")
    return decoder


def encoder_for(level: int, device: torch.device | str = "cpu", weights: str | None = None,
                allow_download: bool = False) -> WCTEncoder:
    vgg = load_loss_network("vgg19", device, "max", weights, allow_download)
    return WCTEncoder(vgg, level).to(device)


@torch.no_grad()
def reconstruct(encoder: WCTEncoder, decoder: WCTDecoder, imgs: Sequence[np.ndarray]
                ) -> list[np.ndarray]:
    """Encode and decode BGR uint8 images of any size (padded to the level's multiple)."""
    from .stylize import pad

    was = decoder.training
    decoder.eval()
    device = next(decoder.parameters()).device
    out = []
    for img in imgs:
        x = torch.from_numpy(frames.to_model_input(img)).to(device)
        x, (h, w) = pad(x, size_multiple(decoder.level))
        y = decoder(encoder(x))[..., :h, :w]
        out.append(frames.from_model_output(y.float().cpu().numpy()))
    decoder.train(was)
    return out


def evaluate(encoder: WCTEncoder, decoder: WCTDecoder, named: Sequence[tuple[str, np.ndarray]]
             ) -> dict[str, Any]:
    """Reconstruction PSNR (dB) per image and their mean."""
    names, imgs = zip(*named)
    outs = reconstruct(encoder, decoder, imgs)
    per = {n: round(psnr(a, b), 2) for n, a, b in zip(names, imgs, outs)}
    return {"psnr_db": round(float(np.mean(list(per.values()))), 2), "per_image": per,
            "images": len(per), "size": [list(i.shape[:2]) for i in imgs][0]}


class DecoderTrainer(RunLoop):
    COLUMNS = ("step", "pixel", "feature", "total", "images_per_s", "seconds")

    def __init__(self, cfg, run, data, files, preset_name, world, device, stop,
                 eval_paths: Sequence[str] = (), eval_size: int = 512):
        super().__init__(cfg, run, data, files, preset_name, world, device, stop)
        self.eval_paths, self.eval_size = [str(p) for p in eval_paths], eval_size

    def _extra_state(self):
        return {"eval_paths": self.eval_paths, "eval_size": self.eval_size}

    def _make_net(self):
        if self.cfg.init and not self.resuming:
            return init_decoder(self.cfg).train()
        return WCTDecoder(self.cfg.level)

    def _make_loss(self):
        cfg = self.cfg
        self.encoder = encoder_for(cfg.level, self.device, cfg.loss_net_weights, cfg.allow_download)
        if self.precision.channels_last:
            self.encoder = self.encoder.to(memory_format=torch.channels_last)

    def _forward(self, x):
        with torch.autocast(x.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            with torch.no_grad():
                target = self.encoder(x)
            with torch.autocast(x.device.type, dtype=self.amp_dtype,
                                enabled=self.amp_dtype is not None and self.precision.net_amp):
                decoded = self.model(target if self.precision.net_amp else target.float())
            total, pixel, feature = reconstruction_loss(decoded.float(), x, self.encoder,
                                                        target.float(), self.cfg.feature_weight)
        return [pixel, feature, total]

    def _outputs(self, imgs):
        return reconstruct(self.encoder, self.net, imgs)

    def _preview_titles(self, outs, imgs):
        return [f"step {self.step}: {psnr(a, b):.1f} dB" for a, b in zip(imgs, outs)]

    def _title(self):
        return f"WCT decoder relu{self.cfg.level}_1"

    def _save_model(self, sheet):
        cfg = self.cfg
        # evaluate the weights as they will be stored (float16), not the float32 training copy
        stored = copy.deepcopy(self.net).half().float()
        evaluation = {}
        if self.eval_paths:
            evaluation = evaluate(self.encoder, stored,
                                  eval_images_from(self.eval_paths, self.eval_size))
            evaluation["floor_db"] = FLOOR_DB[cfg.level]
        meta = {
            "name": f"wct-relu{cfg.level}_1",
            "net": describe(cfg.level),
            "recipe": {"preset": self.preset_name, "config": config.to_dict(cfg)},
            "training": self._training_meta(),
            "evaluation": evaluation,
        }
        io = {**metadata.IO_CONTRACT, "size_multiple": size_multiple(cfg.level)}
        folder = model_folder.save(self.run_dir.model, self.net, meta, kind=KIND,
                                   dtype=torch.float16, io=io)
        if sheet is not None:
            images.write_image(folder / "preview.jpg", sheet)
        return folder


def describe(level: int) -> dict[str, Any]:
    dec = WCTDecoder(level)
    return {"name": KIND, "level": level, "features": f"relu{level}_1",
            "channels": CHANNELS[level], "encoder": "vgg19 (ImageNet, Caffe preprocessing)",
            "params": sum(p.numel() for p in dec.parameters())}


def load_decoder(path: str | os.PathLike, device: torch.device | str = "cpu"
                 ) -> tuple[WCTDecoder, dict[str, Any]]:
    """A decoder model folder -> (decoder in eval mode, metadata)."""
    meta = metadata.read_kind(path, KIND, "a WCT decoder")
    level = meta["net"].get("level")
    if level not in (1, 2, 3, 4, 5):
        raise metadata.ModelError(f"{metadata.model_dir(path)}: invalid WCT level {level!r}")
    dec = model_folder.load_weights(path, WCTDecoder(level), meta)
    return dec.to(device).eval(), meta


def train_wct(cfg: WCTTrainConfig, run_dir: str | os.PathLike, data: str | os.PathLike, *,
              preset_name: str = "li2017", state: Mapping[str, Any] | None = None,
              preview: Sequence[tuple[str, np.ndarray]] | None = None,
              eval_paths: Sequence[str | os.PathLike] = (), eval_size: int = 512,
              on_step: Callable[[int, int, dict[str, float]], None] | None = None,
              stop: StopRequest | None = None) -> TrainResult:
    """Train (or continue from ``state``) a decoder; like :func:`.trainer.train`.

    ``eval_paths`` (image files or folders) are the held-out photos whose reconstruction PSNR,
    at ``eval_size`` px on the longer side, goes into the model's metadata.
    """
    world = distributed.from_env()
    device = check(cfg, world)
    return launch(DecoderTrainer, cfg, run_dir, data, preset_name, world, device,
                  (eval_paths, eval_size), state=state, preview=preview, on_step=on_step,
                  stop=stop)


def eval_images_from(paths: Sequence[str | os.PathLike], max_side: int = 512
                     ) -> list[tuple[str, np.ndarray]]:
    files = images.collect_images(paths)
    return [(Path(f).stem, images.read_image(f, max_side=max_side)) for f in files]


def find_decoder(level: int, root: str | os.PathLike | None = None) -> Path:
    """The decoder model folder for ``level``: ``root/level{L}`` or the search path's
    ``wct/level{L}`` (``$RTSTYLE_MODELS``, the repo's models/, ~/.local/share/rtstyle/models)."""
    from ... import wct_realtime

    check_level(level)
    candidates = [Path(root) / f"level{level}"] if root else wct_realtime.search_folders(level)
    for c in candidates:
        if (c / metadata.METADATA_FILE).is_file():
            return c
    raise metadata.ModelError(
        f"no WCT decoder for level {level} (looked in {', '.join(map(str, candidates[:2]))}); "
        f"train one with 'rtstyle train-wct --level {level} --data PHOTOS --out runs/wct{level}'")
