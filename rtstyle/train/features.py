"""A frozen CNN that returns named intermediate activations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from ..errors import unknown


class FeatureExtractor(nn.Module):
    """A chain of named layers; ``forward(x, layers)`` returns ``{name: activation}``.

    Input is RGB 0..255 ``(N, 3, H, W)`` float, whatever the network's own convention:
    :meth:`preprocess` converts. The chain stops after the deepest layer asked for.
    """

    def __init__(self, layers: Sequence[tuple[str, nn.Module]]):
        super().__init__()
        self.layer_names: tuple[str, ...] = tuple(name for name, _ in layers)
        self.body = nn.ModuleDict(dict(layers))

    def freeze(self) -> "FeatureExtractor":
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> "FeatureExtractor":
        # Always eval: a loss network never updates batch-norm statistics or uses dropout.
        return super().train(False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def check_layers(self, layers: Iterable[str]) -> tuple[str, ...]:
        """Validate layer names (ConfigError with the closest name) and return them as a tuple."""
        layers = tuple(layers)
        for name in layers:
            if name not in self.layer_names:
                raise unknown(f"{type(self).__name__} layer", name, self.layer_names)
        return layers

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(self.check_layers(layers))
        out: dict[str, torch.Tensor] = {}
        if not wanted:
            return out
        h = self.preprocess(x)
        previous = None
        for name, module in self.body.items():
            if isinstance(module, nn.ReLU) and previous is not None and previous not in wanted:
                # In place: nobody keeps the layer before (a convolution's backward needs only
                # its input), and the frozen network is memory-bound on a CPU.
                h = torch.relu_(h)
            else:
                h = module(h)
            previous = name
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out
