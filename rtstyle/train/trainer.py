"""Training a Johnson et al. (2016) transformer net for one style.

The run folder is described in :mod:`.run_folder`, the loop (checkpoints, exact resume) in
:mod:`.run_loop`; this module holds the style net's recipe and what it trains and scores.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import assets, config, frames, images
from ..errors import ConfigError, InputError, RtstyleError
from ..interrupts import StopRequest
from . import checkpoint, distributed, model_folder, precision, temporal
from .loss_networks import load_loss_network
from .losses import LossConfig, PerceptualLoss
from .temporal import Jitter
from .transformer_net import NETS, TransformerNet, build, describe, net_config
from .widen import can_widen, widen
from .run_folder import RunFolder, resume_state  # noqa: F401  (the CLI's entry points)
from .run_loop import (HISTORY_COLUMNS, NonFiniteLoss, RunLoop, RunSettings,  # noqa: F401
                       TrainResult, _device_name, check_device, launch, lineage, optimise,
                       stylize)

log = logging.getLogger(__name__)

TEMPORAL_COLUMNS = ("step", "content", "style", "tv", "temporal", "total", "images_per_s",
                    "seconds")


@dataclass(frozen=True)
class TrainConfig(RunSettings):
    """Everything that defines a training run. Defaults are rtstyle's ``default`` preset."""

    loss: LossConfig = LossConfig(
        content_layers=("relu2_2",), style_layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        content_weight=1.0, style_weight=10.0, tv_weight=0.0)
    #: Transformer size: 'full' (Johnson et al.), 'lite' (~1/8 of the FLOPs) or 'tiny' (tests).
    net: str = "full"
    #: Longer side of the style image in pixels; None = ``image_size``. Smaller = larger strokes.
    style_size: int | None = None
    #: Weight of the temporal term (:mod:`.temporal`: the output of a slightly moved, noisier,
    #: brighter input must be the moved output); 0 = off. In 0..255 pixel MSE units.
    temporal_weight: float = 0.0
    #: The largest changes the temporal term draws.
    temporal: Jitter = Jitter()
    #: Start from this model folder's weights (same net size) instead of a random net, e.g. to
    #: fine-tune a shipped style with the temporal term; None = random initialisation.
    init: str | None = None

    def __post_init__(self):
        if self.net not in NETS:
            net_config(self.net)  # raises with a suggestion
        super().__post_init__()
        if self.style_size is not None and self.style_size < 16:
            raise ConfigError(f"style-size must be at least 16 pixels, got {self.style_size}")
        if not 0 <= self.temporal_weight < float("inf"):
            raise ConfigError(f"temporal-weight must be >= 0, got {self.temporal_weight}")


#: Settings that may change when a run is resumed; every other one is part of the recipe.
RESUMABLE = ("steps", "epochs", "workers", "cache_photos", "device", "checkpoint_every",
             "preview_every", "amp", "channels_last", "lr", "warmup", "loss_net_weights",
             "allow_download")


def presets() -> dict[str, dict]:
    import tomllib

    with resources.files("rtstyle.train").joinpath("presets/train.toml").open("rb") as f:
        return tomllib.load(f)


def preset(name: str) -> TrainConfig:
    return config.preset(TrainConfig, presets(), name)


@dataclass(frozen=True)
class StyleInfo:
    """Who made the style image and under what licence; travels into the model's metadata."""

    name: str
    credit: str = ""
    license: str = ""
    source: str = ""


def resumed_config(state: Mapping[str, Any], updates: Mapping[str, Any],
                   cls: type[RunSettings] = TrainConfig) -> RunSettings:
    """The checkpoint's config with ``updates`` applied; recipe changes are refused."""
    old = config.from_dict(cls, state["config"])
    new = config.replace(old, updates)
    diffs = _differences(config.to_dict(old), config.to_dict(new))
    refused = [d for d in diffs if d[0].split(".")[0] not in RESUMABLE]
    if refused:
        said = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, a, b in refused)
        raise ConfigError(f"cannot resume with a different recipe ({said}); drop those options "
                          "to continue the run as it was, or start a new run with another --out")
    for key, a, b in diffs:
        exact = key in ("steps", "epochs", "workers", "cache_photos", "device",
                        "checkpoint_every", "preview_every", "loss_net_weights", "allow_download")
        log.log(logging.INFO if exact else logging.WARNING,
                "resuming with %s changed from %r to %r%s", key, a, b,
                "" if exact else " (later losses will differ from an uninterrupted run)")
    return new


def _differences(a: Mapping, b: Mapping, prefix: str = "") -> list[tuple[str, Any, Any]]:
    out = []
    for k in a:
        if isinstance(a[k], Mapping):
            out += _differences(a[k], b[k], f"{prefix}{k}.")
        elif a[k] != b[k]:
            out.append((prefix + k, a[k], b[k]))
    return out


# --------------------------------------------------------------------------- training

def default_preview_images(files: Sequence[Path], count: int = 3) -> list[tuple[str, np.ndarray]]:
    """The bundled demo photo plus ``count`` evenly spaced data images (fixed for a run)."""
    out = [("tubingen", images.read_image(assets.path(assets.DEMO_CONTENT), max_side=256))]
    picks = sorted({int(i) for i in np.linspace(0, len(files) - 1, count)}) if files else []
    for i in picks:
        try:
            name = files[i].stem if len(files[i].stem) <= 24 else "..." + files[i].stem[-21:]
            out.append((name, images.read_image(files[i], max_side=256)))
        except RtstyleError:
            continue
    return out


def check(cfg: TrainConfig, world: distributed.World | None = None,
          resuming: bool = False) -> torch.device:
    """Everything about ``cfg`` that can fail before training: device, precision, loss layers.

    Returns the device this process trains on. Cheap after the first call (the loss network
    is cached), so the CLI calls it before creating the run folder.
    """
    device = check_device(cfg, world)
    if cfg.init and not resuming:  # a resumed run has its weights in the checkpoint
        init_net(cfg)
    loss_net = load_loss_network(cfg.loss.loss_net, device, cfg.loss.pooling,
                                 cfg.loss_net_weights, cfg.allow_download)
    PerceptualLoss(cfg.loss, loss_net)  # checks the layer names
    return device


def init_net(cfg: TrainConfig) -> TransformerNet:
    """The net ``cfg.init`` names, checked against ``cfg.net`` (ModelError/ConfigError)."""
    net, meta = model_folder.load(cfg.init)
    have = meta.get("net", {}).get("name")
    if have == cfg.net:
        return net
    if can_widen(net.config, net_config(cfg.net)):
        log.info("--init %s: growing its '%s' net into a '%s' net that computes the same image "
                 "(Net2Net)", cfg.init, have, cfg.net)
        return widen(net.float(), net_config(cfg.net), seed=cfg.seed)
    raise ConfigError(f"--init {cfg.init} is a '{have}' net, which cannot grow into this run's "
                      f"'{cfg.net}' net; pass --net {have} or another model")


def train(cfg: TrainConfig, run_dir: str | os.PathLike, style: np.ndarray, style_info: StyleInfo,
          data: str | os.PathLike, *, preset_name: str = "default",
          state: Mapping[str, Any] | None = None,
          preview: Sequence[tuple[str, np.ndarray]] | None = None,
          on_step: Callable[[int, int, dict[str, float]], None] | None = None,
          stop: StopRequest | None = None) -> TrainResult:
    """Train (or continue training from ``state``) and save checkpoints, previews and the model.

    ``style`` is the BGR uint8 style image (scaled to ``cfg.style_size`` here). ``on_step(step,
    total, row)`` is called on the main process after every step; ``stop`` is polled between
    steps: when set, a checkpoint is written and the result says ``interrupted``.
    """
    world = distributed.from_env()
    device = check(cfg, world, resuming=state is not None)
    style = images.fit_within(style, cfg.style_size or cfg.image_size)
    return launch(StyleTrainer, cfg, run_dir, data, preset_name, world, device,
                  (style, style_info), state=state, preview=preview, on_step=on_step, stop=stop)


def forward_losses(model: torch.nn.Module, loss: PerceptualLoss, x: torch.Tensor,
                   amp_dtype: torch.dtype | None = None, net_amp: bool = True):
    """One training forward pass: stylise the batch and score it (autocast when ``amp_dtype``;
    for the net too when ``net_amp``)."""
    y = _run_net(model, x, amp_dtype if net_amp else None)
    with torch.autocast(x.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        return loss(y, loss.content_features(x))


def _run_net(model: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None):
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        return model(x)


AMP_DTYPES = precision.DTYPES


class StyleTrainer(RunLoop):
    """A Johnson et al. transformer net for one style, under the perceptual loss."""

    def __init__(self, cfg, run, data, files, preset_name, world, device, stop, style, style_info):
        super().__init__(cfg, run, data, files, preset_name, world, device, stop)
        self.style, self.style_info = style, style_info
        if cfg.temporal_weight > 0:
            self.COLUMNS = TEMPORAL_COLUMNS

    def _make_net(self):
        if self.cfg.init and not self.resuming:
            return init_net(self.cfg).train()
        return build(net_config(self.cfg.net))

    def _make_loss(self):
        cfg = self.cfg
        loss_net = load_loss_network(cfg.loss.loss_net, self.device, cfg.loss.pooling,
                                     cfg.loss_net_weights, cfg.allow_download)
        self.loss = PerceptualLoss(cfg.loss, loss_net)
        self.loss.set_styles([torch.from_numpy(frames.to_model_input(self.style)).to(self.device)])

    def _forward(self, x):
        cfg = self.cfg
        if cfg.temporal_weight <= 0:
            t = forward_losses(self.model, self.loss, x, self.amp_dtype, self.precision.net_amp)
            return [t.content, t.style, t.tv, t.total]
        # The changes depend only on (seed, step): a resumed run draws the same ones.
        change = temporal.draw(cfg.temporal, tuple(x.shape),
                               temporal.generator_for(cfg.seed, self.step), x.device)
        x2 = temporal.changed_input(x, change)
        n = x.shape[0]
        # one pass for both (instance norm is per image)
        both = _run_net(self.model, torch.cat([x, x2]), self.precision.net_dtype)
        y, y2 = both[:n], both[n:]
        with torch.autocast(x.device.type, dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None):
            t = self.loss(y, self.loss.content_features(x))
        temp = cfg.temporal_weight * temporal.temporal_loss(y, y2, change)
        return [t.content, t.style, t.tv, temp, t.total + temp]

    def _config_extra(self):
        return {"style": vars(self.style_info)}

    def _extra_state(self):
        return {"style_info": vars(self.style_info),
                "style_image": torch.from_numpy(self.style.copy())}

    def _title(self):
        return f"{self.style_info.name}: {self.cfg.net} net"

    def _save_model(self, sheet):
        meta = style_model_meta(self.cfg, self.preset_name, self.style_info, self.style,
                                self._training_meta())
        folder = model_folder.save(self.run_dir.model, self.net, meta, self.style)
        if sheet is not None:
            images.write_image(folder / "preview.jpg", sheet)
        return folder


def style_model_meta(cfg: TrainConfig, preset_name: str, style_info: StyleInfo,
                     style: np.ndarray, training: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a style net's model folder (recipe, style credit, how it was trained)."""
    return {
        "name": style_info.name,
        "net": {"name": cfg.net, **describe(net_config(cfg.net))},
        "style": {**vars(style_info), "source": Path(style_info.source).name,
                  "file": "style.jpg", "size": list(style.shape[:2])},
        "recipe": {"preset": preset_name, "config": config.to_dict(cfg)},
        "training": training,
    }


def model_from_checkpoint(path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """A model folder of the net in a style run's checkpoint: to evaluate a run at any step."""
    state = checkpoint.load(path)
    if "style_info" not in state:
        raise InputError(f"{path} is not a style net's training checkpoint")
    cfg = config.from_dict(TrainConfig, state["config"])
    net = build(net_config(cfg.net))
    net.load_state_dict(state["model"])
    training = {"steps": int(state["step"]), "seconds": round(float(state["seconds"]), 1),
                "images_seen": int(state["step"]) * cfg.batch_size * int(state["world_size"]),
                "from_checkpoint": True, "torch": str(state.get("torch_version", ""))}
    style = state["style_image"].numpy()
    meta = style_model_meta(cfg, state["preset"], StyleInfo(**state["style_info"]), style,
                            training)
    return model_folder.save(folder, net.eval(), meta, style)
