"""Training a style-prediction net (:mod:`.arbitrary_net`) for paintings it has never seen.

Each step draws one style image, runs the loss network on it once (its channel statistics feed
the predictor, its Gram matrices are the step's style targets), stylises the batch with the
predicted code and scores it against that style. The style images are random crops of the
training paintings, scaled, flipped and sometimes hue-rotated, and, for a share
``photo_styles`` of the steps, crops of the training photos: a dozen paintings alone would
teach a mapping for a dozen points, so the photos, like the textures Ghiasi et al. added to
their 80,000 paintings, spread the statistics the predictor sees. Paintings held out of
training are shown in the previews, to watch how the net does on what it has never seen.

Which style a step draws depends only on (seed, step): ``--resume`` continues exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import cv2
import numpy as np
import torch

from .. import config, frames, images, metadata
from ..errors import ConfigError, ImageError
from ..interrupts import StopRequest
from . import distributed, model_folder, multistyle, photo_cache
from .arbitrary_net import STATS_LAYERS, ArbitraryStyleNet, statistics_of
from .loss_networks import load_loss_network
from .losses import PerceptualLoss
from .multistyle import Painting
from .multistyle_net import CondInstanceNorm, from_single
from .run_loop import RunLoop, TrainResult, launch
from .trainer import TrainConfig, check
from .transformer_net import describe, net_config

KIND = "arbitrary"
#: Style images drawn to standardise the predictor's input before training starts.
CALIBRATION_SAMPLES = 64


@dataclass(frozen=True)
class ArbitrarySettings:
    """What a style-prediction run adds to a style net's recipe."""

    #: Rows of γ, β the predicted code weighs (Ghiasi et al. used a 100-d code).
    n_basis: int = 32
    #: Width of the predictor's hidden layer.
    hidden: int = 256
    #: Share of the steps whose style is a crop of a training photo instead of a painting.
    photo_styles: float = 0.5
    #: Smallest crop side, as a share of the image's shorter side (1 = the whole image).
    min_crop: float = 0.35
    #: Share of the style images whose hue is turned by a random angle.
    hue_shift: float = 0.3

    def __post_init__(self):
        if self.n_basis < 1 or self.hidden < 1:
            raise ConfigError("n_basis and hidden must be at least 1")
        for name in ("photo_styles", "hue_shift"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in 0..1, got {getattr(self, name)}")
        if not 0 < self.min_crop <= 1:
            raise ConfigError(f"min_crop must be in (0, 1], got {self.min_crop}")


def augment(img: np.ndarray, size: int, settings: ArbitrarySettings,
            rng: np.random.Generator) -> np.ndarray:
    """A random square crop of ``img`` (BGR uint8) scaled to ``size``, maybe flipped, maybe
    with its hue turned."""
    h, w = img.shape[:2]
    side = max(1, int(round(min(h, w) * rng.uniform(settings.min_crop, 1.0))))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = img[y:y + side, x:x + side]
    crop = cv2.resize(crop, (size, size),
                      interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < settings.hue_shift:
        hsv = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(rng.integers(1, 180))) % 180
        crop = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    return np.ascontiguousarray(crop)


def style_sample(step: int, seed: int, paintings: Sequence[np.ndarray],
                 photo: Callable[[int], np.ndarray] | None, n_photos: int,
                 settings: ArbitrarySettings, size: int, stream: int = 0
                 ) -> tuple[np.ndarray, str]:
    """The style image of ``step`` (BGR uint8 ``size`` square) and where it came from
    (``painting k`` or ``photo i``); a function of (seed, step, stream) alone (stream 1: the
    calibration samples, apart from the training steps')."""
    rng = np.random.default_rng([seed, step, stream, 0x57])
    if photo is not None and n_photos and rng.random() < settings.photo_styles:
        i = int(rng.integers(n_photos))
        try:
            return augment(photo(i), size, settings, rng), f"photo {i}"
        except ImageError:
            pass  # an unreadable photo: a painting instead (the draw stays deterministic)
    k = int(rng.integers(len(paintings)))
    return augment(paintings[k], size, settings, rng), f"painting {k}"


def start_net(cfg: TrainConfig, settings: ArbitrarySettings) -> ArbitraryStyleNet:
    """A new net: random, or the convolutions of ``cfg.init`` (a multi-style or one-style
    model) with its γ, β rows as the first basis rows and random blends of them as the rest;
    the predictor starts at the mean of the trained rows."""
    net = ArbitraryStyleNet(net_config(cfg.net), settings.n_basis, settings.hidden)
    if not cfg.init:
        return net.train()
    if metadata.read(cfg.init)["kind"] == multistyle.KIND:
        trained, meta = multistyle.load(cfg.init)
    else:
        single, meta = model_folder.load(cfg.init)
        trained = from_single(single, 1)
    if meta["net"]["name"] != cfg.net:
        raise ConfigError(f"--init {cfg.init} is a '{meta['net']['name']}' net, but this run "
                          f"trains a '{cfg.net}' net; pass --net {meta['net']['name']}")
    s, k = trained.n_styles, settings.n_basis
    if s > k:
        raise ConfigError(f"--init {cfg.init} has {s} styles, more than the {k} basis rows")
    # (k, s): the trained rows, then random blends of them (drawn from the global generator,
    # which the run loop seeds)
    blends = torch.distributions.Dirichlet(torch.ones(s)).sample((k - s,)) if s > 1 \
        else torch.ones(k - s, 1)
    mix = torch.cat([torch.eye(s), blends])
    state = {}
    owners = dict(trained.net.named_modules())
    for key, value in trained.net.state_dict().items():
        owner = owners.get(key.rsplit(".", 1)[0])
        state[key] = mix @ value if isinstance(owner, CondInstanceNorm) else value
    net.transformer.net.load_state_dict(state)
    code = torch.zeros(k)
    code[:s] = 1.0 / s
    net.predictor.start_at(code)
    return net.train()


class ArbitraryTrainer(RunLoop):
    """A style-prediction net over a set of paintings and photos (see the module docstring)."""

    def __init__(self, cfg, run, data, files, preset_name, world, device, stop,
                 paintings: Sequence[Painting], held_out: Sequence[Painting],
                 settings: ArbitrarySettings):
        super().__init__(cfg, run, data, files, preset_name, world, device, stop)
        self.paintings, self.held_out, self.settings = list(paintings), list(held_out), settings

    def _make_net(self):
        if self.resuming:
            s = self.settings
            return ArbitraryStyleNet(net_config(self.cfg.net), s.n_basis, s.hidden)
        return start_net(self.cfg, self.settings)

    def _make_loss(self):
        cfg = self.cfg
        self.lnet = load_loss_network(cfg.loss.loss_net, self.device, cfg.loss.pooling,
                                      cfg.loss_net_weights, cfg.allow_download)
        self.loss = PerceptualLoss(cfg.loss, self.lnet)
        self.style_layers = list(dict.fromkeys([*self.loss.style_weights, *STATS_LAYERS]))
        cache = photo_cache.open_cache(self.files, cfg.image_size) if cfg.cache_photos else None
        self.photo = cache.image if cache is not None else \
            (lambda i: images.read_image(self.files[i], max_side=2 * cfg.image_size))
        self.style_size = cfg.style_size or cfg.image_size
        if not self.resuming:
            samples = [self._style(i, stream=1)[0] for i in range(CALIBRATION_SAMPLES)]
            self.net.predictor.calibrate(torch.cat([self._stats(s)[0] for s in samples]))
        self.preview_stats = [self._stats(p.image)[0] for p in [*self.held_out, *self.paintings]]

    def _style(self, step: int, stream: int = 0) -> tuple[np.ndarray, str]:
        return style_sample(step, self.cfg.seed, [p.image for p in self.paintings], self.photo,
                            len(self.files), self.settings, self.style_size, stream)

    @torch.no_grad()
    def _stats(self, bgr: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(statistics, loss-network features) of a style image, in float32."""
        s = torch.from_numpy(frames.to_model_input(bgr)).to(self.device)
        feats = {k: v.float() for k, v in self.lnet(s, self.style_layers).items()}
        return statistics_of(feats), feats

    def _forward(self, x):
        stats, feats = self._stats(self._style(self.step)[0])
        self.loss.set_style_features({k: feats[k] for k in self.loss.style_weights})
        dtype = self.amp_dtype if self.precision.net_amp else None
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
            y = self.model(x, stats)
        with torch.autocast(x.device.type, dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None):
            t = self.loss(y, self.loss.content_features(x))
        return [t.content, t.style, t.tv, t.total]

    def _pool(self) -> list[tuple[Painting, bool]]:
        return [(p, True) for p in self.held_out] + [(p, False) for p in self.paintings]

    def _outputs(self, imgs):
        """Preview image k in painting k of the held-out ones, then the training ones."""
        stats = self.preview_stats
        return self._stylize_each(imgs, lambda k, x: self.net(x, stats[k % len(stats)]))

    def _preview_titles(self, outs, imgs):
        pool = self._pool()
        titles = []
        for k in range(len(outs)):
            painting, held = pool[k % len(pool)]
            titles.append(f"step {self.step}: {painting.info.name}" +
                          (" (held out)" if held else ""))
        return titles

    def _config_extra(self):
        return {"arbitrary": asdict(self.settings),
                "paintings": [vars(p.info) for p in self.paintings],
                "held_out": [vars(p.info) for p in self.held_out]}

    def _extra_state(self):
        return {"arbitrary": asdict(self.settings),
                **_paintings_state("paintings", self.paintings),
                **_paintings_state("held_out", self.held_out)}

    def _title(self):
        return f"any painting: {self.cfg.net} net, {self.settings.n_basis} basis rows"

    def _save_model(self, sheet):
        cfg, s = self.cfg, self.settings
        meta = {"name": "any-painting",
                "net": {"name": cfg.net, **describe(net_config(cfg.net)), "basis": s.n_basis,
                        "hidden": s.hidden, "stats_layers": list(STATS_LAYERS),
                        "style_size": self.style_size},
                "paintings": [_described(p) for p in self.paintings],
                "held_out": [_described(p) for p in self.held_out],
                "recipe": {"preset": self.preset_name, "config": config.to_dict(cfg),
                           "arbitrary": asdict(s)},
                "training": self._training_meta()}
        folder = model_folder.save(self.run_dir.model, self.net, meta, kind=KIND)
        if sheet is not None:
            images.write_image(folder / "preview.jpg", sheet)
        return folder


def _described(p: Painting) -> dict[str, Any]:
    return {k: v for k, v in p.describe("").items() if k != "file"}


def _paintings_state(key: str, paintings: Sequence[Painting]) -> dict[str, Any]:
    return {key: [{**vars(p.info), "style_weight": p.style_weight} for p in paintings],
            f"{key}_images": [torch.from_numpy(p.image.copy()) for p in paintings]}


def paintings_from_state(state: Mapping[str, Any], key: str) -> list[Painting]:
    return multistyle.paintings_from_state({"paintings": state[key],
                                            "painting_images": state[f"{key}_images"]})


def load(path: str | os.PathLike, device: torch.device | str = "cpu"
         ) -> tuple[ArbitraryStyleNet, dict[str, Any]]:
    """An any-painting model folder -> (net in eval mode, metadata)."""
    meta = metadata.read_kind(path, KIND, "an any-painting net")
    net = ArbitraryStyleNet(net_config(meta["net"]["name"]), int(meta["net"]["basis"]),
                            int(meta["net"]["hidden"]))
    return model_folder.load_weights(path, net, meta).to(device).eval(), meta


def train(cfg: TrainConfig, run_dir: str | os.PathLike, paintings: Sequence[Painting],
          held_out: Sequence[Painting], data: str | os.PathLike,
          settings: ArbitrarySettings = ArbitrarySettings(), *, preset_name: str = "default",
          state: Mapping[str, Any] | None = None,
          preview: Sequence[tuple[str, np.ndarray]] | None = None,
          on_step: Callable[[int, int, dict[str, float]], None] | None = None,
          stop: StopRequest | None = None) -> TrainResult:
    """Train (or continue from ``state``) a style-prediction net; like :func:`.trainer.train`.
    ``paintings`` are at their training sizes; ``held_out`` ones only show in previews."""
    if not paintings:
        raise ConfigError("an any-painting run needs at least one training painting")
    world = distributed.from_env()
    device = check(replace(cfg, init=None), world, resuming=state is not None)
    if cfg.init and state is None:
        start_net(cfg, settings)  # fail before the run folder fills
    return launch(ArbitraryTrainer, cfg, run_dir, data, preset_name, world, device,
                  (paintings, held_out, settings), state=state, preview=preview,
                  on_step=on_step, stop=stop)
