"""Training a Johnson et al. (2016) transformer net for one style.

A run lives in one folder::

    runs/NAME/
      config.json        the full recipe (also inside every checkpoint)
      losses.csv         one row per step: content, style, tv, total, images/s, seconds
      losses.png         the loss curves (linear and log), refreshed at every checkpoint
      previews/          step_000500.jpg ...: fixed validation images stylised by the current net
      checkpoint.pt      the latest checkpoint (atomic; also written on Ctrl-C / SIGTERM)
      model/             the trained model folder (model.safetensors, model.json, style.jpg)

``train()`` continues from ``checkpoint.pt`` when given its state, and then reproduces the
losses an uninterrupted run would have had: data order and crops depend only on (seed, step)
(see :mod:`.data`), and model, optimizer, scaler and RNG states are restored.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import math
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import assets, atomic, config, frames, grid, images, report
from ..errors import ConfigError, InputError, RtstyleError
from ..interrupts import StopRequest
from . import checkpoint, distributed, model_folder, photo_cache, precision, temporal
from .data import BatchLoader, find_images
from .device import describe as describe_device
from .device import resolve_device
from .loss_networks import load_loss_network
from .losses import LossConfig, PerceptualLoss
from .temporal import Jitter
from .transformer_net import NETS, TransformerNet, build, describe, net_config

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("step", "content", "style", "tv", "total", "images_per_s", "seconds")
#: The same with the temporal term (runs with ``temporal_weight`` > 0).
TEMPORAL_COLUMNS = ("step", "content", "style", "tv", "temporal", "total", "images_per_s",
                    "seconds")


@dataclass(frozen=True)
class RunSettings:
    """What every rtstyle training run has (Johnson nets here, WCT decoders in :mod:`.wct_trainer`)."""

    #: Side of the square random crops the net is trained on.
    image_size: int = 256
    #: Images per step per process (with torchrun, the global batch is this x processes).
    batch_size: int = 4
    #: Optimiser steps; ignored when ``epochs`` > 0.
    steps: int = 40000
    #: Passes over the data folder (> 0 overrides ``steps``).
    epochs: float = 0.0
    #: Adam learning rate (Johnson et al.: 1e-3).
    lr: float = 1e-3
    seed: int = 0
    #: Mixed precision: 'auto' (bf16 where the CPU or GPU computes it natively, see
    #: :mod:`.precision`), 'off', 'bf16' or 'fp16' (CUDA, with loss scaling). Losses stay float32.
    amp: str = "auto"
    #: Channels-last memory format; None = on whenever mixed precision is.
    channels_last: bool | None = None
    #: Data loading worker processes (unused with ``cache_photos``: crops come from memory).
    workers: int = 2
    #: Decode and scale the training photos once into a cache (:mod:`.photo_cache`).
    cache_photos: bool = True
    #: 'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'.
    device: str = "auto"
    #: Save a checkpoint (and refresh the loss plot) every K steps; 0 = only at the end and on stop.
    checkpoint_every: int = 500
    #: Stylise the validation images every K steps; 0 = only at the end.
    preview_every: int = 500
    loss_net_weights: str | None = None
    allow_download: bool = False

    def __post_init__(self):
        if self.image_size < 32:
            raise ConfigError(f"image-size must be at least 32 pixels, got {self.image_size}")
        if self.batch_size < 1:
            raise ConfigError(f"batch-size must be at least 1, got {self.batch_size}")
        if self.steps < 1:
            raise ConfigError(f"steps must be at least 1, got {self.steps}")
        if not 0 <= self.epochs < float("inf"):
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}")
        if not 0 < self.lr < float("inf"):
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.amp not in precision.MODES:
            raise ConfigError(f"amp must be one of {', '.join(precision.MODES)}, "
                              f"got '{self.amp}'")
        for name in ("workers", "checkpoint_every", "preview_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', '-')} must be >= 0")

    def total_steps(self, n_images: int, world_size: int = 1) -> int:
        if self.epochs > 0:
            return max(1, math.ceil(self.epochs * n_images / (self.batch_size * world_size)))
        return self.steps


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
             "preview_every", "amp", "channels_last", "lr", "loss_net_weights", "allow_download")


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


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    total_steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    interrupted: bool = False
    model_dir: Path | None = None
    skipped_images: int = 0
    images_per_step: int = 0

    @property
    def images_per_s(self) -> float:
        """Mean training throughput, leaving out the first step (warm-up)."""
        h = self.history
        if len(h) < 2:
            return h[-1]["images_per_s"] if h else 0.0
        secs = h[-1]["seconds"] - h[0]["seconds"]
        return (len(h) - 1) * self.images_per_step / secs if secs > 0 else 0.0


class NonFiniteLoss(RtstyleError):
    """The loss became NaN or infinite; training stopped without saving that state."""


# --------------------------------------------------------------------------- run folders

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


def stylise(net: TransformerNet, imgs: Sequence[np.ndarray], device: torch.device) -> list[np.ndarray]:
    """Run the net on BGR uint8 frames (any sizes) in eval mode; restores the previous mode."""
    was_training = net.training
    net.eval()
    out = []
    with torch.no_grad():
        for img in imgs:
            x = torch.from_numpy(frames.to_model_input(img)).to(device)
            out.append(frames.from_model_output(net(x).float().cpu().numpy()))
    net.train(was_training)
    return out


def check_device(cfg: RunSettings, world: distributed.World | None = None) -> torch.device:
    """The device this process trains on, and whether ``cfg.amp`` works there."""
    world = world or distributed.from_env()
    device = distributed.device_for(world, resolve_device(cfg.device))
    precision.resolve(cfg.amp, cfg.channels_last, device)  # raises for fp16 off CUDA
    return device


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
    if have != cfg.net:
        raise ConfigError(f"--init {cfg.init} is a '{have}' net, but this run trains a "
                          f"'{cfg.net}' net; pass --net {have} or another model")
    return net


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
    run = RunFolder(run_dir)
    world = distributed.from_env()
    device = check(cfg, world, resuming=state is not None)
    files = find_images(data)
    style = images.fit_within(style, cfg.style_size or cfg.image_size)
    distributed.init(world, device)
    try:
        return StyleTrainer(cfg, run, str(data), files, preset_name, world, device,
                            stop if stop is not None else StopRequest(), style,
                            style_info).run(state, preview, on_step)
    finally:
        distributed.shutdown(world)


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


def optimise(opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, total: torch.Tensor):
    """Backward and one optimiser step (the scaler is a no-op unless fp16).

    The parameters, their gradients and Adam's moments stay float32 under autocast: only the
    activations are bf16/fp16.
    """
    opt.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    scaler.step(opt)
    scaler.update()


AMP_DTYPES = precision.DTYPES


class RunLoop:
    """The training loop every rtstyle run shares: deterministic batches, AMP, DDP, a CSV row
    per step, checkpoints (periodic, on stop, at the end), previews, exact resume, and a model
    folder at the end. Subclasses say what is trained and how it is scored (the hooks below)."""

    #: CSV columns: step, the loss terms (the last one is minimised), images/s, seconds.
    COLUMNS: tuple[str, ...] = HISTORY_COLUMNS

    def __init__(self, cfg: RunSettings, run: RunFolder, data: str, files: Sequence[Path],
                 preset_name: str, world: distributed.World, device: torch.device,
                 stop: StopRequest):
        self.cfg, self.run_dir, self.data, self.files = cfg, run, data, files
        self.preset_name, self.world, self.device, self.stop = preset_name, world, device, stop
        self.total = cfg.total_steps(len(files), world.size)
        self.history: list[list[float]] = []
        self.step = 0
        self.seconds = 0.0
        self.last_checkpoint: int | None = None

    # -- hooks
    @property
    def terms(self) -> tuple[str, ...]:
        return self.COLUMNS[1:-2]

    def _make_net(self) -> torch.nn.Module:
        raise NotImplementedError

    def _make_loss(self) -> None:
        """Build whatever scores a batch (after the net exists; runs on every process)."""

    def _forward(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        """The loss terms of one batch, in :attr:`terms` order (the last one is minimised)."""
        raise NotImplementedError

    def _outputs(self, imgs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """What the current net makes of the preview images (BGR uint8)."""
        return stylise(self.net, imgs, self.device)

    def _preview_titles(self, outs: Sequence[np.ndarray], imgs: Sequence[np.ndarray]) -> list[str]:
        return [f"step {self.step}"] * len(outs)

    def _extra_state(self) -> dict[str, Any]:
        """What else a checkpoint holds (plain tensors, numbers, strings)."""
        return {}

    def _title(self) -> str:
        return type(self.net).__name__

    def _save_model(self, sheet: np.ndarray | None) -> Path | None:
        raise NotImplementedError

    # -- setup
    def _build(self, state):
        cfg, device = self.cfg, self.device
        torch.manual_seed(cfg.seed)
        self.resuming = state is not None
        self.precision = precision.resolve(cfg.amp, cfg.channels_last, device)
        self.net = self._make_net().to(device)
        if self.precision.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam([p for p in self.net.parameters() if p.requires_grad],
                                    lr=cfg.lr)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision.amp == "fp16")
        cache = photo_cache.build(self.files, cfg.image_size) if cfg.cache_photos else None
        self.loader = BatchLoader(self.files, cfg.image_size, cfg.batch_size, cfg.seed,
                                  cfg.workers, self.world.rank, self.world.size,
                                  pin_memory=device.type == "cuda", cache=cache)
        if state is not None:
            self._restore(state)
        self.model = self.net
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            self.model = DistributedDataParallel(self.net, device_ids=ids)
        self._make_loss()
        self.amp_dtype = self.precision.dtype

    def _restore(self, state):
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        for group in self.opt.param_groups:
            group["lr"] = self.cfg.lr
        if state.get("scaler") and self.precision.amp == "fp16":
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.last_checkpoint = self.step
        self.seconds = float(state["seconds"])
        hist = state["history"]
        self.history = hist.tolist() if hist.numel() else []
        self.loader.skipped.update(state.get("skipped", []))
        checkpoint.set_rng_state(state["rng"], self.device)
        if int(state.get("world_size", 1)) != self.world.size:
            log.warning("resuming with %d processes instead of %d: the data order changes",
                        self.world.size, state.get("world_size", 1))

    # -- outputs (main process only)
    def _rows(self) -> list[dict[str, float]]:
        return [dict(zip(self.COLUMNS, r)) for r in self.history]

    def _start_outputs(self):
        run = self.run_dir
        report.write_json(run.config, {"preset": self.preset_name,
                                       "config": config.to_dict(self.cfg),
                                       **self._config_extra(), "data": self.data})
        # Rewrite the CSV to match the checkpoint (a killed run may have logged later steps),
        # then append one row per step.
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.COLUMNS)
        writer.writerows(_csv_row(r) for r in self.history)
        atomic.write_text(run.csv, buf.getvalue())
        self.csv_file = open(run.csv, "a", newline="")
        self.csv = csv.writer(self.csv_file, lineterminator="\n")

    def _config_extra(self) -> dict[str, Any]:
        return {}

    def _log_row(self, row: list[float]):
        self.csv.writerow(_csv_row(row))
        self.csv_file.flush()

    def _preview(self, preview, step: int):
        if not preview:
            return
        names, imgs = zip(*preview)
        self.run_dir.previews.mkdir(exist_ok=True)
        outs = self._outputs(imgs)
        sheet = grid.image_grid([list(imgs), outs], cell=192,
                                titles=[list(names), self._preview_titles(outs, imgs)])
        images.write_image(self.run_dir.previews / f"step_{step:06d}.jpg", sheet)
        return sheet

    def _save_checkpoint(self):
        state = {
            "step": self.step, "config": config.to_dict(self.cfg), "preset": self.preset_name,
            "data": self.data, "model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "rng": checkpoint.rng_state(self.device),
            "history": torch.tensor(self.history, dtype=torch.float64).reshape(-1, len(self.COLUMNS)),
            "skipped": sorted(self.loader.skipped), "seconds": self.seconds,
            "world_size": self.world.size, "torch_version": str(torch.__version__),
            **self._extra_state(),
        }
        try:
            checkpoint.save(self.run_dir.checkpoint, state)
        except checkpoint.CheckpointError as e:
            kept = (f"the previous checkpoint (step {self.last_checkpoint}) is intact"
                    if self.last_checkpoint else "no earlier checkpoint exists")
            raise checkpoint.CheckpointError(f"{e} at step {self.step}; {kept}") from e
        self.last_checkpoint = self.step
        if self.history:
            report.plot_losses(self.run_dir.plot, self._rows(), x="step", keys=self.terms,
                               title=self._title())

    def _training_meta(self) -> dict[str, Any]:
        """The ``training`` section of the model's metadata."""
        return {
            "steps": self.step, "images_seen": self.step * self.cfg.batch_size * self.world.size,
            "epochs": round(self.loader.schedule.epoch_of(self.step), 3),
            "seconds": round(self.seconds, 1), "device": _device_name(self.device),
            "processes": self.world.size, "precision": self.precision.describe(),
            "final_losses": _final_losses(self._rows(), self.terms),
            "skipped_images": len(self.loader.skipped), "data_images": len(self.files),
            "torch": str(torch.__version__), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }

    # -- the loop
    def run(self, state, preview, on_step) -> TrainResult:
        main = self.world.is_main
        self._build(state)
        if main:
            self._start_outputs()
        try:
            return self._loop(preview if main else None, on_step if main else None)
        finally:
            if main:
                self.csv_file.close()

    def _loop(self, preview, on_step) -> TrainResult:
        cfg, main = self.cfg, self.world.is_main
        self.net.train()
        interrupted = False
        last = time.perf_counter()
        rate = 0.0
        if self.step < self.total:
            for step, batch in self.loader(self.step):
                x = batch.to(self.device, non_blocking=True)
                if self.precision.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                terms = list(self._forward(x))
                n = len(terms)
                flag = 1.0 if self.stop.requested else 0.0
                vals = torch.stack([t.float() for t in terms]).detach()
                vals = distributed.mean(self.world, torch.cat(
                    [vals.float(), vals.new_tensor([flag], dtype=torch.float32)]))
                values = vals.tolist()
                if not all(math.isfinite(v) for v in values[:n]):
                    bad = next(v for v in values[:n] if not math.isfinite(v))
                    where = (f"the last good checkpoint (step {self.last_checkpoint}) is kept in "
                             f"{self.run_dir.checkpoint}" if self.last_checkpoint
                             else "no checkpoint was written")
                    raise NonFiniteLoss(f"the loss became {bad} at step {step + 1}; training "
                                        f"stopped and {where}. Try a lower --lr (allowed with "
                                        "--resume) or lower loss weights")
                optimise(self.opt, self.scaler, terms[-1])

                self.step = step + 1
                now = time.perf_counter()
                dt, last = now - last, now
                self.seconds += dt
                ips = cfg.batch_size * self.world.size / dt if dt > 0 else 0.0
                rate = ips if rate == 0 else 0.9 * rate + 0.1 * ips
                row = [self.step, *values[:n], ips, self.seconds]
                self.history.append(row)
                stop = values[n] > 0
                if main:
                    self._log_row(row)
                    if on_step:
                        on_step(self.step, self.total, {**dict(zip(self.COLUMNS, row)),
                                                        "images_per_s": rate})
                    if cfg.preview_every and self.step % cfg.preview_every == 0 \
                            and self.step < self.total:
                        self._preview(preview, self.step)
                done = self.step >= self.total
                if stop or done or (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0):
                    if main:
                        self._save_checkpoint()
                    distributed.barrier(self.world)
                if stop:
                    interrupted = True
                    break
                if done:
                    break
                last = time.perf_counter()  # do not count checkpoints and previews as training
        model_dir = None
        if not interrupted and main:
            if self.last_checkpoint != self.step:
                self._save_checkpoint()
            sheet = self._preview(preview, self.step)
            model_dir = self._save_model(sheet)
        distributed.barrier(self.world)
        return TrainResult(self.run_dir.path, self.step, self.total, self._rows(), self.seconds,
                           _device_name(self.device), interrupted, model_dir,
                           len(self.loader.skipped), cfg.batch_size * self.world.size)


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


def _csv_row(row: Sequence[float]) -> list:
    return [int(row[0])] + [repr(float(v)) for v in row[1:]]


def _final_losses(rows: Sequence[Mapping[str, float]], keys: Sequence[str] = HISTORY_COLUMNS[1:-2],
                  window: int = 50) -> dict[str, float]:
    """Mean of the last ``window`` steps (single-batch losses are noisy)."""
    tail = rows[-window:]
    if not tail:
        return {}
    return {k: float(np.mean([r[k] for r in tail])) for k in keys}


def _device_name(device: torch.device) -> str:
    return describe_device(device)
