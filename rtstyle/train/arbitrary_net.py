"""Any painting at a trained net's speed: style prediction (Ghiasi, Lee, Kudlur, Dumoulin and
Shlens 2017, "Exploring the structure of a real-time, arbitrary neural artistic stylization
network").

A small network reads a painting's feature statistics and predicts a style code; the code
weights the K basis rows of γ, β of a conditional-instance-norm transformer
(:class:`.multistyle_net.MultiStyleNet`), so the frame path is exactly a multi-style net and
runs at its speed. The painting side runs once per painting: VGG19 to relu3_1, then the mean
and standard deviation of every channel of relu1_1, relu2_1 and relu3_1 (colours, then ever
larger textures), then an MLP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .features import FeatureExtractor
from .multistyle_net import MultiStyleNet
from .transformer_net import NetConfig

#: Layers whose channel statistics describe a painting to the predictor.
STATS_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
#: VGG19's channels at those layers.
STATS_CHANNELS = (64, 128, 256)
#: Length of the statistics vector: a mean and a standard deviation per channel.
STATS_DIM = 2 * sum(STATS_CHANNELS)


def feature_statistics(feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(N, STATS_DIM)``: log(1 + x) of each channel's mean and standard deviation, layer by
    layer. VGG19 activations of 0..255 images span orders of magnitude; the log evens them."""
    parts = []
    for f in feats:
        f = f.float().flatten(2)
        mean = f.mean(2, keepdim=True)
        std = ((f - mean) ** 2).mean(2).add(1e-5).sqrt()  # plain ops: exports to ONNX
        parts += [mean.squeeze(2), std]
    return torch.log1p(torch.cat(parts, 1))


class StatisticsEncoder(nn.Module):
    """A painting (RGB 0..255 ``(N, 3, H, W)``) -> its :func:`feature_statistics`; VGG19 up to
    relu3_1, frozen (the loss network's own layers, so training and export see one function)."""

    def __init__(self, vgg: FeatureExtractor):
        super().__init__()
        layers, self.taps = [], []
        for name, module in vgg.body.items():
            layers.append(module)
            if name in STATS_LAYERS:
                self.taps.append(len(layers) - 1)
            if name == STATS_LAYERS[-1]:
                break
        self.body = nn.ModuleList(layers)
        self.vgg_preprocess = vgg.preprocess
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "StatisticsEncoder":
        return super().train(False)  # always frozen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, feats = self.vgg_preprocess(x), []
        for i, module in enumerate(self.body):
            h = module(h)
            if i in self.taps:
                feats.append(h)
        return feature_statistics(feats)


class StylePredictor(nn.Module):
    """Statistics -> a style code: ``n_basis`` weights that sum to one (a softmax).

    Ghiasi et al. leave their code unconstrained; a convex mix keeps γ and β among the rows'
    own values, so a step of the predictor cannot scale every norm at once (with rows that start
    equal, an unconstrained code's sum did exactly that within three steps). The rows are free,
    so the mixes lose nothing. ``shift`` and ``scale`` standardise the statistics; they are set
    once from the training styles (:meth:`calibrate`) and travel with the weights.
    """

    def __init__(self, n_basis: int, hidden: int = 256):
        super().__init__()
        self.register_buffer("shift", torch.zeros(STATS_DIM))
        self.register_buffer("scale", torch.ones(STATS_DIM))
        self.mlp = nn.Sequential(nn.Linear(STATS_DIM, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, n_basis))

    def calibrate(self, stats: torch.Tensor) -> None:
        """Standardise with the mean and spread of ``stats`` (rows: sample styles)."""
        with torch.no_grad():
            self.shift.copy_(stats.mean(0))
            self.scale.copy_(stats.std(0, unbiased=False).clamp_min(1e-3))

    def start_at(self, code: torch.Tensor) -> None:
        """Predict (nearly) ``code`` (weights summing to one) for every painting at first: the
        training starts from a known style, e.g. the mean of trained ones."""
        last = self.mlp[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.log(code.clamp_min(1e-4)))

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.mlp((stats - self.shift) / self.scale), dim=1)


class ArbitraryStyleNet(nn.Module):
    """The transformer (a multi-style net over ``n_basis`` rows) and the style predictor.

    ``forward(x, stats, pad=True)``: frames RGB 0..255 and the painting's statistics
    (``(1, STATS_DIM)`` for the whole batch, or one row per frame) -> stylised frames.
    """

    def __init__(self, config: NetConfig, n_basis: int, hidden: int = 256):
        super().__init__()
        self.config, self.n_basis, self.hidden = config, n_basis, hidden
        self.transformer = MultiStyleNet(config, n_basis)
        self.predictor = StylePredictor(n_basis, hidden)

    def forward(self, x: torch.Tensor, stats: torch.Tensor, pad: bool = True) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):  # the code in float32, always
            code = self.predictor(stats.float())
        return self.transformer(x, code, pad)


def statistics_of(features: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """:func:`feature_statistics` of a loss network's output (it must hold STATS_LAYERS)."""
    return feature_statistics([features[name] for name in STATS_LAYERS])
