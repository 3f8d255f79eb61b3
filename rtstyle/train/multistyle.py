"""Training one conditional-instance-norm net (:mod:`.multistyle_net`) for several paintings.

Each step draws one painting for the whole batch and scores the output under that painting's
own loss (its style weight; every other setting is the run's). The order is a fresh seeded
permutation of the paintings every round of S steps, so each painting gets the same number of
steps and a resumed run draws the same ones.

``add_style``: the run starts from a trained model (``cfg.init``: a multi-style model, or a
one-style net taken as a one-style multi-style net) with one more row of γ, β, trains that row
alone (every convolution and every other row frozen) on the new painting, and saves a model with
one style more.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import config, frames, images, metadata
from ..errors import ConfigError
from ..interrupts import StopRequest
from . import distributed, model_folder
from .loss_networks import load_loss_network
from .losses import PerceptualLoss
from .multistyle_net import CondInstanceNorm, MultiStyleNet, from_single, one_hot, \
    with_one_more_style
from .run_loop import RunLoop, TrainResult, launch
from .trainer import StyleInfo, TrainConfig, check
from .transformer_net import describe, net_config

KIND = "multi-style"
#: Where a multi-style model folder keeps its paintings (as trained), one file per style.
STYLES_DIR = "styles"


@dataclass(frozen=True)
class Painting:
    """One style of a multi-style run: who made it, the image (BGR, at its training size) and
    its style weight."""

    info: StyleInfo
    image: np.ndarray
    style_weight: float

    def describe(self, file: str) -> dict[str, Any]:
        return {**vars(self.info), "source": Path(self.info.source).name, "file": file,
                "size": list(self.image.shape[:2]), "style_weight": self.style_weight}


def style_order(step: int, n_styles: int, seed: int) -> int:
    """The painting of ``step``: round ``step // n_styles`` is a seeded permutation."""
    rnd, k = divmod(step, n_styles)
    g = torch.Generator().manual_seed(seed * 1_000_003 + rnd)
    return int(torch.randperm(n_styles, generator=g)[k])


def load(path: str | os.PathLike, device: torch.device | str = "cpu"
         ) -> tuple[MultiStyleNet, dict[str, Any]]:
    """A multi-style model folder -> (net in eval mode, metadata)."""
    meta = metadata.read_kind(path, KIND, "a multi-style net")
    net = MultiStyleNet(net_config(meta["net"]["name"]), len(meta["styles"]))
    return model_folder.load_weights(path, net, meta).to(device).eval(), meta


def style_images(path: str | os.PathLike) -> list[np.ndarray]:
    """The paintings a multi-style model was trained on, in style order (BGR uint8)."""
    folder = metadata.model_dir(path)
    meta = metadata.read(folder)
    return [images.read_image(folder / s["file"]) for s in meta["styles"]]


def start_net(cfg: TrainConfig, n_styles: int, add_style: bool) -> MultiStyleNet:
    """The net a new run starts from: random, or ``cfg.init`` (one style per row) plus a new
    row when ``add_style``."""
    if not cfg.init:
        if add_style:
            raise ConfigError("--add-style needs --init MODEL: the model to add the style to")
        return MultiStyleNet(net_config(cfg.net), n_styles)
    kind = metadata.read(cfg.init)["kind"]
    if kind == KIND:
        net, meta = load(cfg.init)
    else:  # every style starts as the one-style net (the warm start of a zoo run)
        single, meta = model_folder.load(cfg.init)
        net = from_single(single, 1 if add_style else n_styles)
    if meta["net"]["name"] != cfg.net:
        raise ConfigError(f"--init {cfg.init} is a '{meta['net']['name']}' net, but this run "
                          f"trains a '{cfg.net}' net; pass --net {meta['net']['name']}")
    if add_style:
        net = with_one_more_style(net)
    if net.n_styles != n_styles:
        raise ConfigError(f"--init {cfg.init} has {net.n_styles} styles, but this run trains "
                          f"{n_styles}")
    return net.train()


def init_paintings(init: str) -> list[Painting]:
    """The paintings of the model a style is added to (its style images and metadata)."""
    meta = metadata.read(init)
    folder = metadata.model_dir(init)
    if meta["kind"] == KIND:
        return [Painting(StyleInfo(**{k: s.get(k, "") for k in ("name", "credit", "license",
                                                                 "source")}),
                         img, float(s["style_weight"]))
                for s, img in zip(meta["styles"], style_images(folder))]
    loss = meta["recipe"]["config"]["loss"]
    st = meta["style"]
    return [Painting(StyleInfo(st.get("name", meta["name"]), st.get("credit", ""),
                               st.get("license", ""), st.get("source", "")),
                     images.read_image(folder / metadata.STYLE_FILE),
                     float(loss["style_weight"]))]


class MultiStyleTrainer(RunLoop):
    """One net, several paintings, one painting per step (see the module docstring)."""

    def __init__(self, cfg, run, data, files, preset_name, world, device, stop,
                 paintings: Sequence[Painting], add_style: bool):
        super().__init__(cfg, run, data, files, preset_name, world, device, stop)
        self.paintings, self.add_style = list(paintings), add_style

    def _make_net(self):
        n = len(self.paintings)
        net = MultiStyleNet(net_config(self.cfg.net), n) if self.resuming else \
            start_net(self.cfg, n, self.add_style)
        if self.add_style:  # only the γ, β tables learn; one-hot weights reach the last row only
            for name, p in net.named_parameters():
                p.requires_grad = isinstance(_owner(net, name), CondInstanceNorm)
        return net

    def _make_loss(self):
        cfg = self.cfg
        lnet = load_loss_network(cfg.loss.loss_net, self.device, cfg.loss.pooling,
                                 cfg.loss_net_weights, cfg.allow_download)
        self.losses = []
        for p in self.paintings:
            loss = PerceptualLoss(replace(cfg.loss, style_weight=p.style_weight), lnet)
            target = torch.from_numpy(frames.to_model_input(p.image)).to(self.device)
            self.losses.append(loss.set_styles([target]))

    def style_of_step(self, step: int) -> int:
        if self.add_style:
            return len(self.paintings) - 1
        return style_order(step, len(self.paintings), self.cfg.seed)

    def _forward(self, x):
        i = self.style_of_step(self.step)
        w = one_hot(i, len(self.paintings)).to(x.device)
        loss = self.losses[i]
        dtype = self.amp_dtype if self.precision.net_amp else None
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
            y = self.model(x, w)
        with torch.autocast(x.device.type, dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None):
            t = loss(y, loss.content_features(x))
        return [t.content, t.style, t.tv, t.total]

    def _outputs(self, imgs):
        """Preview image k in style k (mod S): every painting shows up in a preview grid."""
        n = len(self.paintings)
        return self._stylize_each(imgs, lambda k, x: self.net(x, one_hot(
            n - 1 if self.add_style else k % n, n).to(self.device)))

    def _preview_titles(self, outs, imgs):
        n = len(self.paintings)
        return [f"step {self.step}: "
                f"{self.paintings[n - 1 if self.add_style else k % n].info.name}"
                for k in range(len(outs))]

    def _config_extra(self):
        return {"styles": [vars(p.info) for p in self.paintings], "add_style": self.add_style}

    def _extra_state(self):
        return {"paintings": [{**vars(p.info), "style_weight": p.style_weight}
                              for p in self.paintings],
                "painting_images": [torch.from_numpy(p.image.copy()) for p in self.paintings],
                "add_style": self.add_style}

    def _title(self):
        return f"{len(self.paintings)} styles: {self.cfg.net} net"

    def _save_model(self, sheet):
        cfg = self.cfg
        files = [f"{STYLES_DIR}/{i:02d}_{_safe(p.info.name)}.jpg"
                 for i, p in enumerate(self.paintings)]
        meta = {"name": "+".join(p.info.name for p in self.paintings),
                "net": {"name": cfg.net, **describe(net_config(cfg.net)),
                        "styles": len(self.paintings)},
                "styles": [p.describe(f) for p, f in zip(self.paintings, files)],
                "recipe": {"preset": self.preset_name, "config": config.to_dict(cfg),
                           "add_style": self.add_style},
                "training": self._training_meta()}
        extra = {f: p.image for f, p in zip(files, self.paintings)}
        folder = model_folder.save(self.run_dir.model, self.net, meta, kind=KIND,
                                   extra_images=extra)
        if sheet is not None:
            images.write_image(folder / "preview.jpg", sheet)
        return folder


def _owner(net: torch.nn.Module, param_name: str) -> torch.nn.Module:
    return net.get_submodule(param_name.rsplit(".", 1)[0])


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "style"


def paintings_from_state(state: Mapping[str, Any]) -> list[Painting]:
    return [Painting(StyleInfo(**{k: d[k] for k in ("name", "credit", "license", "source")}),
                     img.numpy(), float(d["style_weight"]))
            for d, img in zip(state["paintings"], state["painting_images"])]


def train(cfg: TrainConfig, run_dir: str | os.PathLike, paintings: Sequence[Painting],
          data: str | os.PathLike, *, add_style: bool = False, preset_name: str = "default",
          state: Mapping[str, Any] | None = None,
          preview: Sequence[tuple[str, np.ndarray]] | None = None,
          on_step: Callable[[int, int, dict[str, float]], None] | None = None,
          stop: StopRequest | None = None) -> TrainResult:
    """Train (or continue from ``state``) a multi-style net; like :func:`.trainer.train`.
    ``paintings`` are already at their training sizes."""
    if not paintings:
        raise ConfigError("a multi-style run needs at least one painting")
    world = distributed.from_env()
    device = check(replace(cfg, init=None), world, resuming=state is not None)
    if cfg.init and state is None:
        start_net(cfg, len(paintings), add_style)  # fail before the run folder fills
    return launch(MultiStyleTrainer, cfg, run_dir, data, preset_name, world, device,
                  (paintings, add_style), state=state, preview=preview, on_step=on_step,
                  stop=stop)
