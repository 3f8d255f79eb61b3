"""The temporal term: a stylised frame should move with the scene, not flicker.

No video or optical-flow data set is needed (in the spirit of Gupta et al. 2017 and ReCoNet,
Gao et al. 2018): each training batch ``x`` is also shown to the net slightly changed, the way
the next video frame differs from this one::

    x' = g * A(x) + n        A: a small random affine warp (shift, rotation, zoom)
                             g: a brightness gain near 1, n: Gaussian pixel noise
    temporal = mean over valid pixels and channels of (f(x') - A(f(x)))^2     (0..255 units)

The net's output for the changed frame must equal the same warp of its output for this frame
(equivariance to motion, invariance to noise and small lighting changes). "Valid" pixels are the
ones whose warped position lies inside the frame: the warp's border is not scored. The input is
warped with reflected borders so the net never sees a black band.

The term is 0 for a net that commutes with the warp (e.g. a per-pixel colour map, with noise and
gain off): see tests/train/test_temporal.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError


@dataclass(frozen=True)
class Jitter:
    """How far the changed frame is from the frame: each value is the largest change drawn."""

    #: Shift as a fraction of the side (0.02 of 256 px = 5 px).
    shift: float = 0.02
    #: Rotation in degrees.
    rotate: float = 1.0
    #: Zoom as a fraction (0.02: 0.98x .. 1.02x).
    zoom: float = 0.02
    #: Standard deviation of the pixel noise, in 0..255 units.
    noise: float = 2.0
    #: Brightness gain: 1 +- this.
    brightness: float = 0.05

    def __post_init__(self):
        for name in ("shift", "rotate", "zoom", "noise", "brightness"):
            v = getattr(self, name)
            if not 0 <= v < float("inf"):
                raise ConfigError(f"temporal {name} must be >= 0, got {v}")
        if self.shift > 0.25 or self.zoom > 0.25 or self.rotate > 15 or self.brightness > 0.5:
            raise ConfigError("temporal jitter is meant to be small (shift, zoom <= 0.25, "
                              "rotate <= 15 degrees, brightness <= 0.5)")


@dataclass
class Change:
    """One drawn change per image of a batch (on the batch's device)."""

    #: (N, 2, 3) affine matrices in normalised coordinates, output -> input (affine_grid's).
    theta: torch.Tensor
    #: (N, 1, 1, 1) brightness gains.
    gain: torch.Tensor
    #: (N, C, H, W) noise in 0..255 units, or None.
    noise: torch.Tensor | None


def draw(jitter: Jitter, shape: tuple[int, ...], generator: torch.Generator,
         device: torch.device | str = "cpu") -> Change:
    """Random changes for a batch of ``shape`` (N, C, H, W), from ``generator`` (a CPU generator,
    so a run draws the same changes on any device and after a resume)."""
    n, c, h, w = shape

    def uniform(size, scale):
        return (torch.rand(size, generator=generator, dtype=torch.float64) * 2 - 1) * scale

    angle = uniform(n, math.radians(jitter.rotate))
    zoom = 1 + uniform(n, jitter.zoom)
    tx, ty = uniform(n, 2 * jitter.shift), uniform(n, 2 * jitter.shift)  # normalised: side = 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    aspect = h / w  # rotate in pixel space, not in the stretched normalised square
    theta = torch.stack([torch.stack([cos, -sin * aspect, tx], 1),
                         torch.stack([sin / aspect, cos, ty], 1)], 1)
    gain = (1 + uniform(n, jitter.brightness)).view(n, 1, 1, 1)
    noise = (torch.randn((n, c, h, w), generator=generator) * jitter.noise
             if jitter.noise > 0 else None)
    return Change(theta.float().to(device), gain.float().to(device),
                  None if noise is None else noise.to(device))


def identity(n: int, device: torch.device | str = "cpu") -> Change:
    """No change at all (the temporal term of any deterministic net is then 0)."""
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=device).expand(n, 2, 3)
    return Change(theta.contiguous(), torch.ones(n, 1, 1, 1, device=device), None)


def warp(x: torch.Tensor, theta: torch.Tensor, padding: str = "reflection") -> torch.Tensor:
    """``x`` (N, C, H, W) moved by ``theta`` (bilinear)."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def valid(theta: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """(N, 1, H, W) mask: 1 where the warp samples inside the frame (at least half a pixel in)."""
    n, _, h, w = shape
    grid = F.affine_grid(theta.float(), [n, 1, h, w], align_corners=False)
    lim_x, lim_y = 1 - 1 / w + 1e-6, 1 - 1 / h + 1e-6  # (float rounding at the edge)
    inside = (grid[..., 0].abs() <= lim_x) & (grid[..., 1].abs() <= lim_y)
    return inside.unsqueeze(1)


def changed_input(x: torch.Tensor, change: Change) -> torch.Tensor:
    """The changed frame x' (0..255, not clamped: the net sees 0..255 +- noise)."""
    out = warp(x, change.theta) * change.gain.to(x.dtype)
    if change.noise is not None:
        out = out + change.noise.to(x.dtype)
    return out


def temporal_loss(y: torch.Tensor, y_changed: torch.Tensor, change: Change) -> torch.Tensor:
    """mean over valid pixels of (f(x') - A(f(x)))^2, given y = f(x) and y_changed = f(x')."""
    target = warp(y.float(), change.theta, padding="zeros")
    mask = valid(change.theta, tuple(y.shape)).to(target.dtype)
    diff = (y_changed.float() - target) * mask
    count = mask.sum() * y.shape[1]
    return diff.pow(2).sum() / count.clamp_min(1.0)


def generator_for(seed: int, step: int) -> torch.Generator:
    """A generator that depends only on (seed, step): resumed runs draw the same changes."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) % (2 ** 63))
