"""The whitening and colouring transform (Li et al. 2017, "Universal Style Transfer").

Features are ``(C, N)`` matrices (channels x pixels). Whitening removes the content's channel
correlations, ``f_hat = E_c D_c^-1/2 E_c^T (f_c - m_c)``; colouring imposes the style's,
``f_cs = E_s D_s^1/2 E_s^T f_hat + m_s``. The eigendecompositions run in float64 with an
eigenvalue floor, so flat (singular) images and tiny feature maps stay finite.

Two ways to the matrix square roots: :func:`eigh_sqrt` (exact, the reference) and
:func:`newton_schulz_sqrt` (only matrix products, so it exports to plain ONNX ops for the
real-time path). Style statistics (:class:`StyleStats`) are computed once per style and can be
mixed (weighted covariances) or applied inside a mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...errors import ConfigError

# The same floors as the runtime's exact statistics (rtstyle.wct_realtime), so the two agree.
from ...wct_realtime import EIG_FLOOR, EPS


def flatten(feat: torch.Tensor) -> torch.Tensor:
    """``(1, C, H, W)`` or ``(C, H, W)`` features -> ``(C, H*W)``."""
    if feat.ndim == 4:
        if feat.shape[0] != 1:
            raise ValueError(f"WCT works on one image at a time, got a batch of {feat.shape[0]}")
        feat = feat[0]
    if feat.ndim != 3:
        raise ValueError(f"expected (C, H, W) features, got shape {tuple(feat.shape)}")
    return feat.reshape(feat.shape[0], -1)


def covariance(f: torch.Tensor, mean: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(C, 1)`` and covariance ``(C, C)`` of ``(C, N)`` features, in float64."""
    f = f.double()
    mean = f.mean(dim=1, keepdim=True) if mean is None else mean.double()
    centred = f - mean
    n = max(1, f.shape[1] - 1)
    cov = centred @ centred.T / n
    return mean, cov + EPS * torch.eye(f.shape[0], dtype=f.dtype, device=f.device)


def eigh_sqrt(cov: torch.Tensor, power: float) -> torch.Tensor:
    """``cov ** power`` (0.5 or -0.5) through a floored symmetric eigendecomposition."""
    evals, evecs = torch.linalg.eigh(cov.double())
    floor = max(float(evals.max()) * EIG_FLOOR, EPS)
    evals = evals.clamp_min(floor)
    return (evecs * evals.pow(power)) @ evecs.T


def newton_schulz_sqrt(cov: torch.Tensor, iterations: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cov^1/2, cov^-1/2)`` by coupled Newton-Schulz iterations: matrix products only.

    The matrix is scaled by its Frobenius norm first (so the iteration converges), which is
    undone at the end. Works in the dtype given (float32 in the exported graph).
    """
    c = cov.shape[0]
    eye = torch.eye(c, dtype=cov.dtype, device=cov.device)
    norm = torch.linalg.matrix_norm(cov) if cov.ndim == 2 else cov.norm()
    y = cov / norm
    z = eye.clone()
    for _ in range(iterations):
        t = 0.5 * (3.0 * eye - z @ y)
        y = y @ t
        z = t @ z
    root = norm.sqrt()
    return y * root, z / root


@dataclass
class StyleStats:
    """A style's feature mean ``(C, 1)`` and colouring matrix ``cov^1/2`` ``(C, C)`` (float64)."""

    mean: torch.Tensor
    color: torch.Tensor

    @staticmethod
    def of(feat: torch.Tensor) -> "StyleStats":
        f = flatten(feat)
        mean, cov = covariance(f)
        return StyleStats(mean, eigh_sqrt(cov, 0.5))

    @staticmethod
    def mixture(feats: Sequence[torch.Tensor], weights: Sequence[float] | None = None) -> "StyleStats":
        """Several styles as one: weighted means and weighted covariances (Li et al., sec. 4)."""
        if not feats:
            raise ConfigError("a mixture needs at least one style")
        weights = list(weights) if weights else [1.0] * len(feats)
        if len(weights) != len(feats) or any(not w >= 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError("style weights must be >= 0, not all 0, one per style")
        total = sum(weights)
        mean = cov = None
        for f, w in zip(feats, weights):
            m, c = covariance(flatten(f))
            mean = m * (w / total) if mean is None else mean + m * (w / total)
            cov = c * (w / total) if cov is None else cov + c * (w / total)
        return StyleStats(mean, eigh_sqrt(cov, 0.5))


def whiten(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Whitened ``(C, N)`` features (identity covariance) and the content mean."""
    mean, cov = covariance(f)
    return eigh_sqrt(cov, -0.5) @ (f.double() - mean), mean


def color(f_hat: torch.Tensor, style: StyleStats) -> torch.Tensor:
    return style.color @ f_hat + style.mean


def transform(content: torch.Tensor, style: StyleStats, alpha: float = 1.0,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """WCT of ``(1, C, H, W)`` content features towards ``style``, blended with ``alpha``.

    ``mask`` (``(H, W)`` bool, at the feature size) limits the transform to those pixels: they
    are whitened and coloured with their own statistics, the others keep the content features.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
    shape, dtype = content.shape, content.dtype
    fc = flatten(content)
    out = fc.double().clone()
    if mask is None:
        f_hat, _ = whiten(fc)
        out = color(f_hat, style)
    else:
        m = mask.reshape(-1).to(fc.device)
        if int(m.sum()) == 0:
            return content
        f_hat, _ = whiten(fc[:, m])
        out[:, m] = color(f_hat, style)
    blended = alpha * out + (1.0 - alpha) * fc.double()
    return blended.to(dtype).reshape(shape)


def transform_regions(content: torch.Tensor, styles: Sequence[StyleStats],
                      masks: Sequence[torch.Tensor], alpha: float = 1.0) -> torch.Tensor:
    """Spatial control: style ``k`` inside ``masks[k]`` (``(H, W)`` bool at the feature size)."""
    if len(styles) != len(masks):
        raise ConfigError(f"{len(masks)} masks for {len(styles)} styles")
    out = content
    for st, m in zip(styles, masks):
        out = transform(out, st, alpha, m) if int(m.sum()) else out
    return out


def whiten_ns(fc: torch.Tensor, iterations: int = 20) -> torch.Tensor:
    """Whitening with Newton-Schulz (float32, products only), ``(C, N)`` -> ``(C, N)``."""
    inv_sqrt, mean = whitening_matrix(fc, iterations)
    return inv_sqrt @ (fc - mean)


def whitening_matrix(fc: torch.Tensor, iterations: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cov^-1/2 (C, C), mean (C, 1))`` of ``(C, N)`` features, by Newton-Schulz."""
    mean = fc.mean(dim=1, keepdim=True)
    centred = fc - mean
    # the pixel count as a tensor, so an exported graph keeps it dynamic (not a traced constant)
    count = torch.ones_like(fc[:1]).sum()
    cov = centred @ centred.T / torch.clamp(count - 1, min=1)
    cov = cov + EPS * torch.eye(fc.shape[0], dtype=fc.dtype, device=fc.device)
    _, inv_sqrt = newton_schulz_sqrt(cov, iterations)
    return inv_sqrt, mean


class WhitenColour(torch.nn.Module):
    """WCT as plain tensor ops (Newton-Schulz, no eigendecomposition), exportable to ONNX.

    ``forward(feat, style_mean, style_colour, alpha)``: ``feat`` is ``(1, C, H, W)`` float32,
    ``style_mean`` ``(C, 1)`` and ``style_colour`` ``(C, C)`` come from :class:`StyleStats`
    (computed once per style, exactly), ``alpha`` is a 1-element tensor. The real-time path runs
    encoder -> this -> decoder as one graph with the style statistics as inputs.
    """

    def __init__(self, iterations: int = 20):
        super().__init__()
        self.iterations = iterations

    def forward(self, feat: torch.Tensor, style_mean: torch.Tensor, style_color: torch.Tensor,
                alpha: torch.Tensor) -> torch.Tensor:
        c = feat.shape[1]
        fc = feat.reshape(c, -1)
        # alpha * (S W (f - m) + m_s) + (1 - alpha) f = T f + b: the whole transform is one
        # (C, C) matrix and a bias, so the (C, N) features are read once, not once per step
        inv_sqrt, mean = whitening_matrix(fc, self.iterations)
        colour = style_color @ inv_sqrt
        eye = torch.eye(c, dtype=fc.dtype, device=fc.device)
        t = alpha * colour + (1.0 - alpha) * eye
        b = alpha * (style_mean - colour @ mean)
        return (t @ fc + b).reshape(feat.shape)
