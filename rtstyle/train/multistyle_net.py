"""One transformer net for many styles: conditional instance normalisation (Dumoulin, Shlens and
Kudlur 2017, "A Learned Representation for Artistic Style").

Every instance norm of :class:`~.transformer_net.TransformerNet` gets one row of scales and
shifts (γ, β) per style; the convolutions are shared. The net takes the frame and a style-weights
vector ``w`` (``(1, S)`` or ``(N, S)``) and normalises with ``γ = w·Γ`` and ``β = w·Β``, so a
one-hot ``w`` is exactly one style and any other ``w`` a blend that costs nothing extra: the
same graph, one pass per frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .transformer_net import NetConfig, TransformerNet


class CondInstanceNorm(nn.Module):
    """Instance norm whose affine parameters are a weighted mix of ``n_styles`` rows."""

    def __init__(self, channels: int, n_styles: int, weights: list[torch.Tensor],
                 eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_styles, channels))
        self.bias = nn.Parameter(torch.zeros(n_styles, channels))
        self.eps = eps
        self._weights = weights  # shared with the net: holds the current style weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the mix in float32 even under autocast: γ rounded to bf16 would move every style
        with torch.autocast(x.device.type, enabled=False):
            w = self._weights[0].float()
            gamma, beta = w @ self.weight.float(), w @ self.bias.float()  # (N or 1, C)
        y = F.instance_norm(x, eps=self.eps)
        return y * gamma.to(y.dtype)[:, :, None, None] + beta.to(y.dtype)[:, :, None, None]


class MultiStyleNet(nn.Module):
    """A :class:`TransformerNet` with conditional instance norms for ``n_styles`` styles.

    ``forward(x, style_weights, pad=True)``: RGB 0..255 ``(N, 3, H, W)`` and ``(1 or N, S)``
    style weights in, the stylised frames out. The weights are used as given (a blend need not
    sum to one; the engine normalises what users type).
    """

    def __init__(self, config: NetConfig, n_styles: int):
        super().__init__()
        if n_styles < 1:
            raise ConfigError(f"a multi-style net needs at least one style, got {n_styles}")
        self.n_styles = n_styles
        self._weights: list[torch.Tensor] = []
        self.net = TransformerNet(config)
        self.config = config
        _replace_norms(self.net, n_styles, self._weights)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor,
                pad: bool = True) -> torch.Tensor:
        if style_weights.ndim != 2 or style_weights.shape[1] != self.n_styles or \
                style_weights.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"style weights must be (1 or {x.shape[0]}, {self.n_styles}), got "
                             f"{tuple(style_weights.shape)}")
        self._weights[:] = [style_weights]
        try:
            return self.net(x, pad)
        finally:
            self._weights.clear()

    def norms(self) -> list[CondInstanceNorm]:
        return [m for m in self.modules() if isinstance(m, CondInstanceNorm)]

    def style_parameters(self, index: int) -> list[torch.Tensor]:
        """Views of one style's rows (γ and β of every norm), e.g. to compare or copy them."""
        return [t[index] for m in self.norms() for t in (m.weight, m.bias)]


def _replace_norms(module: nn.Module, n_styles: int, weights: list[torch.Tensor]) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            setattr(module, name, CondInstanceNorm(child.num_features, n_styles, weights,
                                                   child.eps))
        else:
            _replace_norms(child, n_styles, weights)


def from_single(net: TransformerNet, n_styles: int) -> MultiStyleNet:
    """A multi-style net whose every style starts as ``net`` (its convolutions and its γ, β):
    the warm start for training several styles, or the base of ``--add-style``."""
    multi = MultiStyleNet(net.config, n_styles)
    plain = dict(net.named_modules())
    for name, m in multi.net.named_modules():
        if isinstance(m, CondInstanceNorm):
            src = plain[name]
            with torch.no_grad():
                m.weight.copy_(src.weight.detach().expand(n_styles, -1))
                m.bias.copy_(src.bias.detach().expand(n_styles, -1))
    own = {k: v for k, v in net.state_dict().items()
           if not isinstance(plain.get(k.rsplit(".", 1)[0]), nn.InstanceNorm2d)}
    missing = multi.net.load_state_dict(own, strict=False)
    if missing.unexpected_keys:
        raise ConfigError(f"unexpected weights: {missing.unexpected_keys[:3]}")
    return multi


def to_single(multi: MultiStyleNet, style_weights: torch.Tensor) -> TransformerNet:
    """The plain net of one style or blend (``(S,)`` weights): the shared convolutions and
    ``γ = w·Γ``, ``β = w·Β``; it computes what ``multi`` computes with those weights."""
    net = TransformerNet(multi.config)
    mine = dict(multi.net.named_modules())
    state = {}
    for k, v in multi.net.state_dict().items():
        owner = mine.get(k.rsplit(".", 1)[0])
        state[k] = style_weights.to(v.dtype) @ v if isinstance(owner, CondInstanceNorm) else v
    net.load_state_dict(state)
    return net


def with_one_more_style(multi: MultiStyleNet, init: int | None = None) -> MultiStyleNet:
    """A copy of ``multi`` with a new last style, its γ, β copied from style ``init`` (default:
    the mean of the existing rows); every other weight is the same tensor value."""
    bigger = MultiStyleNet(multi.config, multi.n_styles + 1)
    state = {}
    for k, v in multi.state_dict().items():
        if k.endswith((".weight", ".bias")) and v.ndim == 2 and v.shape[0] == multi.n_styles:
            row = v.mean(0, keepdim=True) if init is None else v[init:init + 1]
            v = torch.cat([v, row])
        state[k] = v
    bigger.load_state_dict(state)
    return bigger


def one_hot(index: int, n_styles: int, batch: int = 1) -> torch.Tensor:
    w = torch.zeros(batch, n_styles)
    w[:, index] = 1.0
    return w
