"""How good is a fast net? Its loss against the Gatys optimisation of the very same loss.

For each image, the net's output is scored under the loss the net was trained with (from its
model folder); Gatys L-BFGS then optimises that same loss on the same image, and the net's loss
is placed on the Gatys curve: "equivalent iterations" (Johnson et al. 2016 report that their
nets match about 50-100 iterations).
"""

from __future__ import annotations

import io
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import atomic, config, frames, grid, images, metadata, quality
from ..errors import ConfigError, DependencyError
from . import gatys, model_folder
from .device import resolve_device
from .loss_networks import load_loss_network
from .losses import LossConfig, PerceptualLoss
from .trainer import TrainConfig

log = logging.getLogger(__name__)

DEFAULT_ITERATIONS = (50, 100, 200, 300)
GATYS_INITS = ("noise", "content")


@dataclass
class ImageEvaluation:
    image: str
    content: np.ndarray
    net_image: np.ndarray
    net_losses: dict[str, float]
    net_seconds: float
    curve: list[float]
    gatys_images: dict[int, np.ndarray]
    gatys_seconds: float
    iterations: Sequence[int]

    @property
    def equivalent_iterations(self) -> float:
        return gatys.equivalent_iterations(self.net_losses["total"], self.curve)

    def as_dict(self) -> dict[str, Any]:
        eq = self.equivalent_iterations
        best = np.minimum.accumulate(np.asarray(self.curve))
        return {
            "image": self.image, "height": int(self.content.shape[0]),
            "width": int(self.content.shape[1]),
            "net": {**{k: float(v) for k, v in self.net_losses.items()},
                    "seconds": round(self.net_seconds, 4)},
            "gatys": {str(i): float(best[i - 1]) for i in self.iterations},
            # the whole curve (best so far, one value per iteration), so that another net under
            # the same loss and image can be placed on it later without running Gatys again
            "gatys_curve": [float(f"{v:.7g}") for v in best],
            "gatys_seconds": round(self.gatys_seconds, 2),
            # null when the net's loss is lower than Gatys reached in the iterations run
            "equivalent_iterations": None if math.isinf(eq) else round(eq, 1),
            "net_below_gatys_curve": math.isinf(eq),
            "artifacts": artifacts(self.net_image, self.content),
        }


@dataclass
class Evaluation:
    model: str
    style: str
    size: int
    device: str
    loss: LossConfig
    iterations: Sequence[int]
    init: str
    results: list[ImageEvaluation] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        eqs = [r.equivalent_iterations for r in self.results]
        finite = [e for e in eqs if not math.isinf(e)]
        return {
            "model": self.model, "style": self.style, "size": self.size, "device": self.device,
            "loss": config.to_dict(self.loss),
            "gatys": {"optimizer": "lbfgs", "init": self.init, "iterations": list(self.iterations)},
            "images": [r.as_dict() for r in self.results],
            "summary": {
                "images": len(self.results),
                "equivalent_iterations_median": float(np.median(eqs)) if eqs and
                not math.isinf(float(np.median(eqs))) else None,
                "equivalent_iterations_mean": float(np.mean(finite)) if finite else None,
                "images_below_gatys_curve": len(eqs) - len(finite),
                "net_seconds_mean": float(np.mean([r.net_seconds for r in self.results]))
                if self.results else None,
                "gatys_seconds_mean": float(np.mean([r.gatys_seconds for r in self.results]))
                if self.results else None,
            },
        }

    def grid(self, cell: int = 256) -> np.ndarray:
        """content | net | Gatys at the snapshot iterations, one row per image."""
        shown = grid_iterations(self.iterations)
        rows, titles = [], []
        for r in self.results:
            rows.append([r.content, r.net_image, *(r.gatys_images[i] for i in shown)])
            eq = r.equivalent_iterations
            eq_text = f"> {self.iterations[-1]}" if math.isinf(eq) else f"{eq:.0f}"
            titles.append([Path(r.image).name, f"net (= Gatys {eq_text} it)",
                           *(f"Gatys {i} it" for i in shown)])
        return grid.image_grid(rows, cell=cell, titles=titles)


def artifacts(output: np.ndarray, photo: np.ndarray) -> dict[str, float]:
    """Artifact figures of a net's output next to the same figures of its input photo
    (:func:`rtstyle.quality.checkerboard`, :func:`rtstyle.quality.edge_shift`; 0..255 units)."""
    band = max(1, min(4, min(photo.shape[:2]) // 4))  # small test images get thinner bands

    def figure(measure, img, **kw):
        try:
            return round(measure(img, **kw), 3)
        except ValueError:  # too small to say
            return None

    return {"checkerboard": figure(quality.checkerboard, output),
            "checkerboard_photo": figure(quality.checkerboard, photo),
            "edge_shift": figure(quality.edge_shift, output, band=band),
            "edge_shift_photo": figure(quality.edge_shift, photo, band=band)}


def grid_iterations(iterations: Sequence[int]) -> tuple[int, ...]:
    """The Gatys iterations shown in the grid: 100 and the last (or what exists of them)."""
    last = max(iterations)
    return tuple(dict.fromkeys(i for i in (min(100, last), last)))


def check_iterations(iterations: Sequence[int]) -> tuple[int, ...]:
    its = tuple(sorted(set(int(i) for i in iterations)))
    if not its or its[0] < 1:
        raise ConfigError("Gatys iterations must be positive whole numbers, e.g. 50,100,200,300")
    return its


def score_image(output: np.ndarray, content: np.ndarray, style: np.ndarray, loss_cfg: LossConfig,
                device: str | torch.device = "cpu",
                loss_net_weights: str | None = None) -> dict[str, float]:
    """The loss terms of any stylised image (a net's, Gatys', another tool's) under
    ``loss_cfg``: content against ``content`` (resized to the output's size), style against
    ``style``. BGR uint8 in; the same numbers the training and :func:`evaluate` report."""
    dev = torch.device(device) if isinstance(device, str) else device
    lnet = load_loss_network(loss_cfg.loss_net, dev, loss_cfg.pooling, loss_net_weights)
    loss = PerceptualLoss(loss_cfg, lnet)
    loss.set_styles([torch.from_numpy(frames.to_model_input(style)).to(dev)])
    if content.shape[:2] != output.shape[:2]:
        content = images.resize_to(content, output.shape[:2])
    x = torch.from_numpy(frames.to_model_input(content)).to(dev)
    y = torch.from_numpy(frames.to_model_input(output)).to(dev)
    with torch.no_grad():
        return loss(y, loss.content_features(x)).as_floats()


def net_loss(net, content: np.ndarray, style: np.ndarray, loss_cfg: LossConfig,
             device: torch.device, loss_net_weights: str | None = None
             ) -> tuple[np.ndarray, dict[str, float], float]:
    """Stylise ``content`` with ``net`` and score the output; returns (image, losses, seconds)."""
    lnet = load_loss_network(loss_cfg.loss_net, device, loss_cfg.pooling, loss_net_weights)
    loss = PerceptualLoss(loss_cfg, lnet)
    loss.set_styles([torch.from_numpy(frames.to_model_input(style)).to(device)])
    x = torch.from_numpy(frames.to_model_input(content)).to(device)
    with torch.no_grad():
        net(x[..., :16, :16])  # warm-up: first calls allocate and pick kernels
        start = time.perf_counter()
        y = net(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        terms = loss(y, loss.content_features(x))
    return frames.from_model_output(y.cpu().numpy()), terms.as_floats(), seconds


def style_loss_of_frames(model: str | os.PathLike, stylized: Sequence[np.ndarray],
                         device: str = "auto", loss_net_weights: str | None = None) -> float:
    """The mean style loss of stylised frames (BGR uint8) under the loss ``model`` (a model
    folder) was trained with: its loss network, style layers, style weight and style image.
    The same number as the ``style`` column of training, for whole frames."""
    if not stylized:
        raise ConfigError("no frames to score")
    dev = resolve_device(device)
    meta = metadata.read(model)
    loss_cfg = config.from_dict(TrainConfig, meta["recipe"]["config"]).loss
    loss_cfg = config.replace(loss_cfg, {"content_weight": 0.0, "tv_weight": 0.0})
    lnet = load_loss_network(loss_cfg.loss_net, dev, loss_cfg.pooling, loss_net_weights)
    loss = PerceptualLoss(loss_cfg, lnet)
    style = model_folder.style_image(model)
    loss.set_styles([torch.from_numpy(frames.to_model_input(style)).to(dev)])
    values = []
    with torch.no_grad():
        for img in stylized:
            y = torch.from_numpy(frames.to_model_input(img)).to(dev)
            values.append(float(loss(y, {}).style))
    return float(np.mean(values))


def evaluate(model: str | os.PathLike, image_paths: Sequence[str | os.PathLike], size: int = 512,
             iterations: Sequence[int] = DEFAULT_ITERATIONS, init: str = "noise",
             device: str = "auto", seed: int = 0, loss_net_weights: str | None = None,
             on_image: Callable[[int, str], None] | None = None,
             on_iteration: Callable[[int, dict[str, float]], None] | None = None) -> Evaluation:
    """Evaluate a model folder on images (see the module docstring)."""
    if init not in GATYS_INITS:
        raise ConfigError(f"Gatys init must be one of {', '.join(GATYS_INITS)}, got '{init}'")
    if size < 16:
        raise ConfigError(f"size must be at least 16 pixels, got {size}")
    if not image_paths:
        raise ConfigError("no images to evaluate")
    its = check_iterations(iterations)
    dev = resolve_device(device)
    net, meta = model_folder.load(model, dev)
    train_cfg = config.from_dict(TrainConfig, meta["recipe"]["config"])
    loss_cfg = train_cfg.loss
    style = model_folder.style_image(model)
    result = Evaluation(str(model), meta.get("name", ""), size, str(dev), loss_cfg, its, init)
    for k, path in enumerate(image_paths):
        if on_image:
            on_image(k, str(path))
        content = images.read_image(path, max_side=size)
        out, losses, secs = net_loss(net, content, style, loss_cfg, dev, loss_net_weights)
        start = time.perf_counter()
        curve, snaps = gatys.loss_curve(content, style, loss_cfg, iterations=its[-1], size=size,
                                        init=init, device=str(dev), seed=seed,
                                        on_iteration=on_iteration,
                                        style_size=max(style.shape[:2]),
                                        snapshots=grid_iterations(its),
                                        loss_net_weights=loss_net_weights)
        result.results.append(ImageEvaluation(str(path), content, out, losses, secs, curve, snaps,
                                              time.perf_counter() - start, its))
    return result


def plot(path: str | os.PathLike, ev: Evaluation) -> Path:
    """Gatys loss / net loss against iterations, one line per image: the crossing of 1 is the
    equivalent number of iterations."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise DependencyError("plots need matplotlib: pip install 'rtstyle[train]'") from e
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r in ev.results:
        best = np.minimum.accumulate(np.asarray(r.curve, dtype=np.float64))
        ax.plot(np.arange(1, len(best) + 1), best / r.net_losses["total"], lw=1,
                label=Path(r.image).name)
    ax.axhline(1.0, color="k", lw=1.5, ls="--", label="net")
    ax.set_yscale("log")
    ax.set_xlabel("Gatys L-BFGS iterations")
    ax.set_ylabel("Gatys loss / net loss")
    ax.set_title(f"{ev.style}: net vs Gatys at {ev.size} px")
    ax.grid(True, alpha=0.3)
    if len(ev.results) <= 10:
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return atomic.write_bytes(path, buf.getvalue())
