"""Perceptual losses (Gatys et al. 2016; Johnson et al. 2016) as functions plus thin modules.

Shapes: features ``(N, C, H, W)``; Gram matrices ``(N, C, C)``; images ``(N, 3, H, W)`` RGB 0..255.
Scale: features are whatever the loss network gives for 0..255 input (Caffe VGG19: no rescaling),
Grams are normalised by ``C * H * W``, and every term is a mean, so weights do not depend on the
image size. Each module holds its targets and calls the function of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError


def _check_features(feat: torch.Tensor, what: str = "features") -> None:
    if feat.ndim != 4:
        raise ValueError(f"{what} must be (N, C, H, W), got shape {tuple(feat.shape)}")


def gram_matrix(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised Gram matrix ``F F^T / (C * H * W)`` of ``(N, C, H, W)`` features -> ``(N, C, C)``.

    ``mask`` (``(N or 1, 1, h, w)`` in 0..1, any size) restricts the statistics to a region for
    spatial control: it is resized to the features and the normalisation uses its area.
    """
    _check_features(feat)
    n, c, h, w = feat.shape
    if mask is not None:
        m = F.interpolate(mask.to(feat.dtype), size=(h, w), mode="bilinear", align_corners=False)
        feat = feat * m
        area = m.flatten(1).sum(1).clamp_min(1e-8).view(-1, 1, 1)
    else:
        area = torch.tensor(float(h * w), device=feat.device, dtype=feat.dtype)
    if feat.is_contiguous(memory_format=torch.channels_last) and not feat.is_contiguous():
        # Channels-last features are already (N, H*W, C) in memory: multiply that view
        # instead of copying them into (N, C, H*W) first.
        f = feat.permute(0, 2, 3, 1).reshape(n, h * w, c)
        return torch.bmm(f.transpose(1, 2), f) / (c * area)
    f = feat.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * area)


def content_loss(feats: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                 layer_weights: Mapping[str, float]) -> torch.Tensor:
    """Sum over layers of ``weight * MSE(feature, target)``."""
    total = None
    for layer, w in layer_weights.items():
        term = w * F.mse_loss(feats[layer], targets[layer].expand_as(feats[layer]))
        total = term if total is None else total + term
    if total is None:
        raise ConfigError("content loss needs at least one layer")
    return total


def style_loss(feats: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor],
               layer_weights: Mapping[str, float], mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over layers of ``weight * MSE(Gram(feature), target Gram)``; targets broadcast over N."""
    total = None
    for layer, w in layer_weights.items():
        g = gram_matrix(feats[layer], mask)
        term = w * F.mse_loss(g, target_grams[layer].expand_as(g))
        total = term if total is None else total + term
    if total is None:
        raise ConfigError("style loss needs at least one layer")
    return total


def tv_loss(img: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference between horizontal and vertical neighbours."""
    if img.ndim != 4:
        raise ValueError(f"image must be (N, C, H, W), got shape {tuple(img.shape)}")
    dy = img[..., 1:, :] - img[..., :-1, :]
    dx = img[..., :, 1:] - img[..., :, :-1]
    zero = img.new_zeros(())
    return (dy.pow(2).mean() if dy.numel() else zero) + (dx.pow(2).mean() if dx.numel() else zero)


class ContentLoss(nn.Module):
    """:func:`content_loss` against fixed target features."""

    def __init__(self, targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float]):
        super().__init__()
        self.layer_weights = dict(layer_weights)
        self.targets = {k: v.detach() for k, v in targets.items()}

    def forward(self, feats: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return content_loss(feats, self.targets, self.layer_weights)


class StyleLoss(nn.Module):
    """:func:`style_loss` against the Gram matrices of fixed target features."""

    def __init__(self, target_feats: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float],
                 target_mask: torch.Tensor | None = None):
        super().__init__()
        self.layer_weights = dict(layer_weights)
        self.target_grams = {k: gram_matrix(target_feats[k], target_mask).detach()
                             for k in self.layer_weights}

    def forward(self, feats: Mapping[str, torch.Tensor], mask: torch.Tensor | None = None):
        return style_loss(feats, self.target_grams, self.layer_weights, mask)


class TVLoss(nn.Module):
    """:func:`tv_loss` as a module."""

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return tv_loss(img)


@dataclass(frozen=True)
class LossConfig:
    """What a perceptual loss is made of. Shared by Gatys, the fast-net trainer and evaluation."""

    #: Loss network name (see ``rtstyle.train.loss_networks.LOSS_NETWORKS``).
    loss_net: str = "vgg19"
    #: Pooling in the loss network: 'max' (as trained) or 'avg' (Gatys et al. found it smoother).
    pooling: str = "max"
    #: Layers whose activations the output must keep from the content image.
    content_layers: tuple[str, ...] = ("relu4_2",)
    #: Layers whose Gram matrices the output must match to the style image(s).
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    #: One weight per style layer; empty means equal weights of 1 / len(style_layers).
    style_layer_weights: tuple[float, ...] = ()
    #: Overall weights of the three terms (in the scale described in this module's docstring).
    content_weight: float = 1.0
    style_weight: float = 1e3
    tv_weight: float = 0.0

    def __post_init__(self):
        for name in ("content_weight", "style_weight", "tv_weight"):
            v = getattr(self, name)
            if not 0 <= v < float("inf"):  # also catches NaN
                raise ConfigError(f"{name.replace('_', '-')} must be a finite number >= 0, got {v}")
        if not self.content_layers and self.content_weight > 0:
            raise ConfigError("content-weight > 0 needs at least one content layer")
        if not self.style_layers and self.style_weight > 0:
            raise ConfigError("style-weight > 0 needs at least one style layer")
        if self.style_layer_weights:
            if len(self.style_layer_weights) != len(self.style_layers):
                raise ConfigError(f"{len(self.style_layer_weights)} style layer weights given for "
                                  f"{len(self.style_layers)} style layers")
            if any(not w >= 0 for w in self.style_layer_weights):
                raise ConfigError("style layer weights must be >= 0")
        if self.pooling not in ("max", "avg"):
            raise ConfigError(f"pooling must be 'max' or 'avg', got '{self.pooling}'")

    def style_weights_by_layer(self) -> dict[str, float]:
        ws = self.style_layer_weights or (1.0 / max(1, len(self.style_layers)),) * len(self.style_layers)
        return dict(zip(self.style_layers, ws))

    def content_weights_by_layer(self) -> dict[str, float]:
        return {layer: 1.0 / len(self.content_layers) for layer in self.content_layers}


@dataclass
class LossTerms:
    """Weighted loss terms; ``total`` is their sum and carries the graph."""

    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(getattr(self, k).detach()) for k in ("content", "style", "tv", "total")}


class PerceptualLoss(nn.Module):
    """Content + style + TV under a :class:`LossConfig`, against one or more style images.

    ``forward(images, content_feats)`` scores a batch of outputs against the content features
    of their inputs (from :meth:`content_features`) and the stored style Grams. With several
    styles, the style term is the blend-weighted sum of each style's loss.
    """

    def __init__(self, config: LossConfig, net: nn.Module):
        super().__init__()
        self.config = config
        self.net = net
        self.content_weights = config.content_weights_by_layer()
        self.style_weights = config.style_weights_by_layer()
        net.check_layers(list(self.content_weights) + list(self.style_weights))
        self.styles: list[StyleLoss] = []
        self.blend: list[float] = []
        self.tv = TVLoss()

    def set_styles(self, style_images: Sequence[torch.Tensor],
                   blend: Sequence[float] | None = None) -> "PerceptualLoss":
        """Compute and store the target Grams of each ``(1, 3, H, W)`` style image."""
        blend = list(blend) if blend else [1.0 / len(style_images)] * len(style_images)
        if len(blend) != len(style_images):
            raise ConfigError(f"{len(blend)} style weights given for {len(style_images)} styles")
        if any(not w >= 0 for w in blend) or sum(blend) <= 0:
            raise ConfigError("style weights must be >= 0 and not all 0")
        with torch.no_grad():
            self.styles = [StyleLoss(self.net(s, self.style_weights), self.style_weights)
                           for s in style_images]
        total = sum(blend)
        self.blend = [w / total for w in blend]
        return self

    def set_style_features(self, feats: Mapping[str, torch.Tensor]) -> "PerceptualLoss":
        """One style whose loss-network features (at least the style layers) are already
        computed: a style that changes every step without a second pass of the network."""
        self.styles = [StyleLoss({k: feats[k] for k in self.style_weights}, self.style_weights)]
        self.blend = [1.0]
        return self

    @torch.no_grad()
    def content_features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v.detach().float() for k, v in self.net(images, self.content_weights).items()}

    def forward(self, images: torch.Tensor, content_feats: Mapping[str, torch.Tensor]) -> LossTerms:
        layers = list(dict.fromkeys([*self.content_weights, *self.style_weights]))
        feats = self.net(images, layers)  # may run in bf16/fp16 under autocast
        # The loss maths (Gram matrices, squared errors) always runs in float32.
        with torch.autocast(images.device.type, enabled=False):
            return self._terms(images.float(), {k: v.float() for k, v in feats.items()},
                               content_feats)

    def _terms(self, images: torch.Tensor, feats: Mapping[str, torch.Tensor],
               content_feats: Mapping[str, torch.Tensor]) -> LossTerms:
        cfg = self.config
        zero = images.new_zeros(())
        c = cfg.content_weight * content_loss(feats, content_feats, self.content_weights) \
            if cfg.content_weight > 0 else zero
        s = zero
        if cfg.style_weight > 0:
            if not self.styles:
                raise ConfigError("no style set: call set_styles() first")
            s = cfg.style_weight * sum(w * st(feats) for w, st in zip(self.blend, self.styles))
        t = cfg.tv_weight * self.tv(images) if cfg.tv_weight > 0 else zero
        return LossTerms(c, s, t, c + s + t)
