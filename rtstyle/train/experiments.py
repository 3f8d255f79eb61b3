"""The seed reports' experiments, each a labelled image grid (Gatys et al. 2016, figs 1 and 3).

- content reconstruction: white noise optimised to match one layer's activations of a photo;
- style reconstruction: white noise optimised to match Grams of growing sets of layers;
- parameter grid: style weight x style layer set.

Defaults are small (128 px, few iterations) so each runs in minutes on a laptop CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from .. import images
from ..grid import image_grid
from .gatys import GatysConfig, stylize_gatys
from .losses import LossConfig

CONTENT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
STYLE_LAYER_SETS = (("relu1_1",), ("relu1_1", "relu2_1"), ("relu1_1", "relu2_1", "relu3_1"),
                    ("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
                    ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"))
STYLE_WEIGHTS = (1e1, 1e2, 1e3, 1e4, 1e5)

Step = Callable[[str], None]


def _base(size: int, iterations: int, device: str, seed: int) -> GatysConfig:
    return GatysConfig(size=size, iterations=iterations, init="noise", device=device, seed=seed)


def layer_set_label(layers: Sequence[str]) -> str:
    return layers[0] if len(layers) == 1 else f"{layers[0]}..{layers[-1]}"


def content_reconstructions(content: np.ndarray, layers: Sequence[str] = CONTENT_LAYERS,
                            size: int = 128, iterations: int = 200, device: str = "auto",
                            seed: int = 0, on_step: Step | None = None) -> np.ndarray:
    """Grid: the photo, then its reconstruction from each single layer (content loss only)."""
    base = _base(size, iterations, device, seed)
    content = images.fit_within(content, size)
    cells, titles = [content], ["original"]
    for layer in layers:
        loss = LossConfig(content_layers=(layer,), style_layers=(), style_weight=0.0, tv_weight=0.0)
        cells.append(stylize_gatys(content, [], replace(base, loss=loss)).image)
        titles.append(layer)
        if on_step:
            on_step(layer)
    return image_grid([cells], titles=[titles], cell=size)


def style_reconstructions(style: np.ndarray, layer_sets: Sequence[Sequence[str]] = STYLE_LAYER_SETS,
                          size: int = 128, iterations: int = 200, device: str = "auto",
                          seed: int = 0, on_step: Step | None = None) -> np.ndarray:
    """Grid: the painting, then noise optimised to match its Grams on growing sets of layers."""
    base = _base(size, iterations, device, seed)
    style = images.fit_within(style, size)
    cells, titles = [style], ["style"]
    for layers in layer_sets:
        loss = LossConfig(content_layers=(), content_weight=0.0, style_layers=tuple(layers),
                          style_weight=1e3, tv_weight=0.0)
        # The style image only sets the output size here: its content weight is 0.
        cells.append(stylize_gatys(style, [style], replace(base, loss=loss)).image)
        titles.append(layer_set_label(layers))
        if on_step:
            on_step(layer_set_label(layers))
    return image_grid([cells], titles=[titles], cell=size)


def weight_grid(content: np.ndarray, style: np.ndarray,
                style_weights: Sequence[float] = STYLE_WEIGHTS,
                layer_sets: Sequence[Sequence[str]] = STYLE_LAYER_SETS[2:],
                size: int = 128, iterations: int = 100, device: str = "auto", seed: int = 0,
                init: str = "content", on_step: Step | None = None) -> np.ndarray:
    """Grid: rows are style layer sets, columns style weights (content weight 1, relu4_2)."""
    base = replace(_base(size, iterations, device, seed), init=init)
    content = images.fit_within(content, size)
    rows, titles, row_titles = [], [], []
    for layers in layer_sets:
        row, row_t = [], []
        for w in style_weights:
            loss = LossConfig(style_layers=tuple(layers), style_weight=float(w), tv_weight=0.0)
            row.append(stylize_gatys(content, [style], replace(base, loss=loss)).image)
            row_t.append(f"style weight {w:g}")
            if on_step:
                on_step(f"{layer_set_label(layers)} x {w:g}")
        rows.append(row)
        titles.append(row_t)
        row_titles.append(layer_set_label(layers))
    return image_grid(rows, titles=titles, row_titles=row_titles, cell=size)
