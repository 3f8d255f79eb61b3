"""The training loop every rtstyle run shares (style nets here and in :mod:`.trainer`, WCT
decoders in :mod:`.wct.trainer`).

A run continues from ``checkpoint.pt`` when given its state, and then reproduces the losses an
uninterrupted run would have had: data order and crops depend only on (seed, step) (see
:mod:`.data`), and model, optimizer, scaler and RNG states are restored.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import math
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import atomic, config, frames, grid, images, metadata, report
from ..errors import ConfigError, RtstyleError
from ..interrupts import StopRequest
from . import checkpoint, distributed, photo_cache, precision
from .data import BatchLoader, find_images
from .device import describe as describe_device
from .device import resolve_device
from .run_folder import RunFolder
from .transformer_net import TransformerNet

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("step", "content", "style", "tv", "total", "images_per_s", "seconds")


@dataclass(frozen=True)
class RunSettings:
    """What every rtstyle training run has (Johnson nets here, WCT decoders in :mod:`.wct.trainer`)."""

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
    #: Raise the learning rate linearly over the first K steps (0 = none). Adam's first steps
    #: move every weight by about ``lr`` whatever its gradient, which throws a trained net far
    #: off (a fine-tuned net's style loss rose fifty-fold at step 2); a warm-up spares it.
    warmup: int = 0
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
        for name in ("workers", "checkpoint_every", "preview_every", "warmup"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', '-')} must be >= 0")

    def total_steps(self, n_images: int, world_size: int = 1) -> int:
        if self.epochs > 0:
            return max(1, math.ceil(self.epochs * n_images / (self.batch_size * world_size)))
        return self.steps


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


def stylize(net: TransformerNet, imgs: Sequence[np.ndarray], device: torch.device) -> list[np.ndarray]:
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


def optimise(opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, total: torch.Tensor):
    """Backward and one optimiser step (the scaler is a no-op unless fp16).

    The parameters, their gradients and Adam's moments stay float32 under autocast: only the
    activations are bf16/fp16.
    """
    opt.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    scaler.step(opt)
    scaler.update()


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
        return stylize(self.net, imgs, self.device)

    def _stylize_each(self, imgs: Sequence[np.ndarray], run) -> list[np.ndarray]:
        """``run(k, x)`` for each preview image ``k`` (``x``: its RGB batch on the device), in
        eval mode without gradients; BGR uint8 out. For nets that take more than the frame."""
        was = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                return [frames.from_model_output(run(k, torch.from_numpy(
                    frames.to_model_input(img)).to(self.device)).float().cpu().numpy())
                    for k, img in enumerate(imgs)]
        finally:
            self.net.train(was)

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
        } | (lineage(init, {"steps": self.step, "seconds": self.seconds})
             if (init := getattr(self.cfg, "init", None)) else {})

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
                flags = [float(self.stop.requested), float(self.stop.time_up)]
                vals = torch.stack([t.float() for t in terms]).detach()
                vals = distributed.mean(self.world, torch.cat(
                    [vals.float(), vals.new_tensor(flags, dtype=torch.float32)]))
                values = vals.tolist()
                if not all(math.isfinite(v) for v in values[:n]):
                    bad = next(v for v in values[:n] if not math.isfinite(v))
                    where = (f"the last good checkpoint (step {self.last_checkpoint}) is kept in "
                             f"{self.run_dir.checkpoint}" if self.last_checkpoint
                             else "no checkpoint was written")
                    raise NonFiniteLoss(f"the loss became {bad} at step {step + 1}; training "
                                        f"stopped and {where}. Try a lower --lr (allowed with "
                                        "--resume) or lower loss weights")
                if cfg.warmup:
                    for group in self.opt.param_groups:
                        group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
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
                # a time limit ends the run as if done at this step (--resume goes on to total)
                done = self.step >= self.total or values[n + 1] > 0
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


def lineage(init: str, training: Mapping[str, Any]) -> dict[str, Any]:
    """How a fine-tuned net's starting point was made, so that its label can count every step
    and CPU-hour behind it: ``init`` (the starting model's own training section, less its
    losses) and ``total_steps`` / ``total_seconds`` over the whole chain."""
    try:
        meta = metadata.read(init)
    except (RtstyleError, OSError) as e:  # moved since the run began: count this run alone
        log.warning("cannot read --init %s for the model's lineage: %s", init, e)
        return {"init": {"model": str(init)}}
    before = {k: v for k, v in meta.get("training", {}).items() if k != "final_losses"}
    loss = meta.get("recipe", {}).get("config", {}).get("loss", {})
    before["style_weight"] = loss.get("style_weight")
    before["net"] = meta.get("net", {}).get("name")
    return {"init": before,
            "total_steps": int(before.get("total_steps", before.get("steps", 0)))
            + int(training["steps"]),
            "total_seconds": round(float(before.get("total_seconds", before.get("seconds", 0.0)))
                                   + float(training["seconds"]), 1)}


def launch(loop: type[RunLoop], cfg: RunSettings, run_dir, data, preset_name: str,
           world: distributed.World, device: torch.device, extra: Sequence[Any], *,
           state: Mapping[str, Any] | None, preview, on_step,
           stop: StopRequest | None) -> TrainResult:
    """Run a :class:`RunLoop` subclass on this process inside the distributed group (a group of
    one without torchrun): ``loop(cfg, run, data, files, preset_name, world, device, stop,
    *extra)``. What every training entry point shares once its own checks have passed."""
    files = find_images(data)
    distributed.init(world, device)
    try:
        return loop(cfg, RunFolder(run_dir), str(data), files, preset_name, world, device,
                    stop if stop is not None else StopRequest(), *extra).run(state, preview,
                                                                              on_step)
    finally:
        distributed.shutdown(world)


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
