"""Gatys et al. (2016) neural style transfer by optimisation: the quality reference.

The output image itself is optimised (L-BFGS or Adam) to match the content image's features and
the style images' Gram matrices under a :class:`~rtstyle.train.losses.LossConfig`.
:func:`loss_curve` is the yardstick the fast nets are measured against: the loss L-BFGS reaches
after each iteration, from which "equivalent iterations" of another output are read off.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import torch

from .. import color, config, frames, images
from ..errors import ConfigError, RtstyleError
from .device import resolve_device
from .loss_networks import load_loss_network
from .losses import LossConfig, PerceptualLoss

log = logging.getLogger(__name__)

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style", "wct")


@dataclass(frozen=True)
class GatysConfig:
    """Settings of one Gatys optimisation. Defaults are rtstyle's ``default`` preset."""

    loss: LossConfig = LossConfig(tv_weight=1e-2)
    #: Longer side of the output in pixels (the content image is scaled down to it, never up).
    size: int = 512
    #: Longer side of the style image(s); None = the same as ``size``.
    style_size: int | None = None
    #: 'lbfgs' (Gatys et al.; no line search, one loss evaluation per iteration) or 'adam'.
    optimizer: str = "lbfgs"
    iterations: int = 300
    #: L-BFGS step size (1 is standard) or Adam learning rate in 0..255 pixel units.
    lr: float = 1.0
    #: Starting image: 'content' (converges fastest), 'noise' (white noise, as in the paper),
    #: 'style', or 'wct': ``rtstyle wct``'s default output, already close to the painting's
    #: statistics, so a few dozen iterations reach what hundreds from the content do not.
    init: str = "content"
    #: Luminance-only transfer (Gatys et al. 2017, "Preserving color"): keep the content's colours.
    preserve_color: bool = False
    seed: int = 0
    #: 'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'.
    device: str = "auto"
    #: Optional weights file for the loss network; allow_download lets torchvision nets download.
    loss_net_weights: str | None = None
    allow_download: bool = False

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'")
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got '{self.init}'")
        if self.size < 16:
            raise ConfigError(f"size must be at least 16 pixels, got {self.size}")
        if self.style_size is not None and self.style_size < 16:
            raise ConfigError(f"style-size must be at least 16 pixels, got {self.style_size}")
        if self.iterations < 1:
            raise ConfigError(f"iterations must be at least 1, got {self.iterations}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


def presets() -> dict[str, dict]:
    with resources.files("rtstyle.train").joinpath("presets/gatys.toml").open("rb") as f:
        import tomllib

        return tomllib.load(f)


def preset(name: str) -> GatysConfig:
    return config.preset(GatysConfig, presets(), name)


@dataclass
class GatysResult:
    image: np.ndarray  # BGR uint8, the content image's size after scaling to ``size``
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    #: Images at the iterations asked for with ``snapshots`` (BGR uint8).
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)


def _tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(frames.to_model_input(img)).to(device)


def _image(x: torch.Tensor) -> np.ndarray:
    return frames.from_model_output(x.detach().float().cpu().numpy())


def _prepare(content: np.ndarray, styles: Sequence[np.ndarray], cfg: GatysConfig):
    content = images.fit_within(content, cfg.size)
    styles = [images.fit_within(s, cfg.style_size or cfg.size) for s in styles]
    if cfg.preserve_color:
        styles = [color.matched_luminance(s, content) for s in styles]
        target = color.grey_bgr(color.luminance(content))
    else:
        target = content
    return content, target, styles


def stylize_gatys(content: np.ndarray, styles: Sequence[np.ndarray],
                  cfg: GatysConfig = GatysConfig(), style_blend: Sequence[float] | None = None,
                  on_iteration: Callable[[int, dict[str, float]], None] | None = None,
                  checkpoint_every: int = 0,
                  on_checkpoint: Callable[[int, np.ndarray], None] | None = None,
                  snapshots: Sequence[int] = ()) -> GatysResult:
    """Stylise a BGR uint8 ``content`` frame with one or more BGR uint8 ``styles``.

    ``style_blend`` weighs several styles (normalised to sum to 1). ``on_iteration(i, losses)``
    is called after each iteration; ``on_checkpoint(i, image)`` every ``checkpoint_every``;
    the images after the iterations in ``snapshots`` are returned in ``result.snapshots``.
    Returns the image and per-iteration losses (content, style, tv, total: weighted terms).
    """
    if not styles and cfg.loss.style_weight > 0:
        raise ConfigError("at least one style image is needed")
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    content, target, styles = _prepare(content, styles, cfg)
    net = load_loss_network(cfg.loss.loss_net, device, cfg.loss.pooling, cfg.loss_net_weights,
                            cfg.allow_download)
    loss_fn = PerceptualLoss(cfg.loss, net)
    if styles:
        loss_fn.set_styles([_tensor(s, device) for s in styles], style_blend)
    c = _tensor(target, device)
    content_feats = loss_fn.content_features(c)
    x = _initial_image(cfg.init, c, styles, device, style_blend).requires_grad_(True)
    if cfg.optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS([x], lr=cfg.lr, max_iter=1, history_size=100,
                                                       tolerance_grad=0.0, tolerance_change=0.0)
    else:
        opt = torch.optim.Adam([x], lr=cfg.lr)

    history: list[dict[str, float]] = []
    taken: dict[int, np.ndarray] = {}
    snapshots = set(snapshots)
    start = time.perf_counter()
    last: dict[str, float] = {}

    def closure():
        opt.zero_grad(set_to_none=True)
        terms = loss_fn(x, content_feats)
        terms.total.backward()
        last.update(terms.as_floats())
        return terms.total

    for i in range(1, cfg.iterations + 1):
        opt.step(closure)
        if cfg.optimizer == "adam":
            with torch.no_grad():
                x.clamp_(0, 255)
        if not math.isfinite(last["total"]):
            raise RtstyleError(f"the loss became {last['total']} at iteration {i}; "
                               "lower --lr or the loss weights")
        row = {"iteration": i, **last, "seconds": time.perf_counter() - start}
        history.append(row)
        if on_iteration:
            on_iteration(i, row)
        if checkpoint_every and on_checkpoint and i % checkpoint_every == 0 and i < cfg.iterations:
            on_checkpoint(i, _finish(x, content, cfg))
        if i in snapshots:
            taken[i] = _finish(x, content, cfg)
    return GatysResult(_finish(x, content, cfg), history, time.perf_counter() - start, str(device),
                       taken)


def _initial_image(init: str, content: torch.Tensor, styles: Sequence[np.ndarray],
                   device: torch.device, style_blend: Sequence[float] | None = None
                   ) -> torch.Tensor:
    if init == "content":
        return content.clone()
    if init == "wct":
        return _tensor(_wct_start(_image(content), styles, style_blend), device)
    if init == "noise":
        return torch.rand(content.shape, device=device) * 255
    if not styles:
        raise ConfigError("init 'style' needs a style image")
    h, w = content.shape[-2:]
    return _tensor(images.resize_to(styles[0], (h, w)), device)


def _wct_start(content: np.ndarray, styles: Sequence[np.ndarray],
               style_blend: Sequence[float] | None) -> np.ndarray:
    """``rtstyle wct``'s default run (the levels whose decoders meet their floors) on the CPU."""
    from .wct.levels import default_levels
    from .wct.stylize import WCTConfig, stylize_wct
    from .wct.trainer import encoder_for, find_decoder, load_decoder

    if not styles:
        raise ConfigError("init 'wct' needs a style image")
    levels, _ = default_levels()
    decoders = {lv: load_decoder(find_decoder(lv))[0] for lv in levels}
    encoders = {lv: encoder_for(lv) for lv in levels}
    out = stylize_wct(content, styles, encoders, decoders,
                      WCTConfig(levels=levels, size=max(content.shape[:2])), style_blend)
    return images.resize_to(out, content.shape[:2])


def _finish(x: torch.Tensor, content: np.ndarray, cfg: GatysConfig) -> np.ndarray:
    out = _image(x)
    return color.keep_chroma(out, content) if cfg.preserve_color else out


def loss_curve(content: np.ndarray, style: np.ndarray, loss: LossConfig, iterations: int = 300,
               size: int = 512, init: str = "noise", device: str = "auto", seed: int = 0,
               on_iteration: Callable[[int, dict[str, float]], None] | None = None,
               style_size: int | None = None, snapshots: Sequence[int] = (),
               loss_net_weights: str | None = None) -> list[float] | tuple[list[float], dict]:
    """The quality yardstick: the total loss Gatys L-BFGS reaches after each of ``iterations``.

    ``curve[i]`` is the loss after ``i + 1`` iterations, under exactly ``loss`` (the definition a
    fast net was trained with), for ``content`` at ``size`` pixels and ``style`` at
    ``style_size`` (default: the same as ``size``). With ``snapshots``, returns
    ``(curve, {iteration: image})``.
    """
    cfg = GatysConfig(loss=loss, size=size, iterations=iterations, init=init, device=device,
                      seed=seed, optimizer="lbfgs", style_size=style_size,
                      loss_net_weights=loss_net_weights)
    result = stylize_gatys(content, [style], cfg, on_iteration=on_iteration, snapshots=snapshots)
    curve = [row["total"] for row in result.history]
    return (curve, result.snapshots) if snapshots else curve


def equivalent_iterations(loss_value: float, curve: Sequence[float]) -> float:
    """How many Gatys iterations it takes to reach ``loss_value``, interpolated between iterations.

    ``curve[i]`` is the loss after ``i + 1`` iterations; the curve is made monotone (best so far)
    first. A loss at or above ``curve[0]`` counts as 1 iteration; ``inf`` means the curve never
    got that low.
    """
    best = list(np.minimum.accumulate(np.asarray(curve, dtype=np.float64)))
    if not best:
        raise ConfigError("empty loss curve")
    if loss_value >= best[0]:
        return 1.0
    if loss_value < best[-1]:
        return math.inf
    # best is non-increasing; find the first index whose value is <= loss_value.
    neg = [-v for v in best]
    k = bisect.bisect_left(neg, -loss_value)
    hi, lo = best[k - 1], best[k]
    frac = 1.0 if hi == lo else (hi - loss_value) / (hi - lo)
    return float(k + frac)  # iteration k is best[k-1]; interpolate towards iteration k+1
