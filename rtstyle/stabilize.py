"""Run-time stabilisation: blend the previous stylised frame, moved by the optical flow, into
the current one (``--stabilize``), numpy + OpenCV only.

For frame t+1 with stylised output S_{t+1} and the previous shown output O_t::

    b     = flow(I_{t+1} -> I_t), f = flow(I_t -> I_{t+1})   on small grey ORIGINAL frames (DIS)
    M(x)  = forward-backward consistency of b and f (rtstyle.flow.consistency_mask)
    W(x)  = O_t(x + b(x))                                     the previous output, moved (bicubic)
    a(x)  = w * M(x) * exp(-(|W(x) - S_{t+1}(x)| / GATE)^2)   trust: consistent and similar
    B     = S_{t+1} + a * (W - S_{t+1})                      the blend
    O_{t+1} = G_3(B) + sum_i k_i D_i(B)                       fine detail kept, two bands
    D_1(X) = X - G_1(X), D_2(X) = G_1(X) - G_3(X)             (G_s: Gaussian blur of sigma s)
    k_i   = clip(std(D_i(S_{t+1})) / std(D_i(B)), 1, K_MAX)   per band, per channel, per frame

``w`` (0..1) is the strength. Averaging two frames whose brush strokes do not line up exactly
(and resampling by the flow) washes out the fine texture, which is what the style is made of:
``k_i`` gives the blend back the current frame's amount of detail, band by band (resampling
takes most from the finest band, blending misaligned strokes from the next one), on the
warped-and-blended texture, so it does not bring the flicker back. Occluded pixels and large
disagreements (something new appeared: the flow missed it) take the current frame, so moving
objects do not smear. A scene cut (most pixels inconsistent), a change of frame size or of
style starts afresh. On a static scene O converges to S (the net is deterministic; k_i -> 1):
see tests/test_stabilize.py.

The flow runs on frames scaled down to :data:`FLOW_SIDE`, so the cost does not grow with the
output size beyond one remap and a few per-pixel operations. How well the moved frame lines up
decides how much it can take from the current one without washing out its strokes, so the flow
is computed at a fairly high resolution with a mid-quality preset. The previous output is moved
again on every frame, so the interpolation's blur adds up: bicubic keeps the strokes in place,
which lets the blend take more of the previous frame for the same style loss. The measured
trade-offs are in docs/flicker.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from .errors import ConfigError
from .flow import consistency_mask

#: Default strength of ``--stabilize`` (the weight of the moved previous frame): lower keeps
#: more texture, higher removes more flicker (chosen on real clips: docs/flicker.md).
DEFAULT_WEIGHT = 0.9
#: Longer side of the frames the flow is computed on, and the DIS preset.
FLOW_SIDE = 640
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST
#: Differences (0..255, mean over channels) at which the previous frame's weight falls to 1/e.
GATE = 35.0
#: Below this fraction of consistent pixels the previous frame is dropped (a cut).
MIN_CONSISTENT = 0.3
#: Blurs (sigma, pixels) that split the fine detail into bands, finest first, and the largest
#: gain of a band.
DETAIL_SIGMAS = (1.0, 3.0)
K_MAX = 1.6
#: How the previous output is moved. It is moved again on every frame, so the interpolation's
#: blur adds up: bicubic keeps more of the strokes than bilinear (docs/flicker.md).
INTERP = cv2.INTER_CUBIC


def check_weight(weight: float) -> float:
    if not 0.0 <= weight < 1.0:
        raise ConfigError(f"stabilize must be in [0, 1) (0 = off, e.g. {DEFAULT_WEIGHT}), "
                          f"got {weight}")
    return float(weight)


class Stabilizer:
    """Keeps the previous original (small, grey) and the previous output; call it on each
    frame in display order."""

    def __init__(self, flow_side: int = FLOW_SIDE, gate: float = GATE,
                 min_consistent: float = MIN_CONSISTENT):
        if flow_side < 16:
            raise ConfigError(f"flow side must be at least 16 pixels, got {flow_side}")
        self.flow_side, self.gate, self.min_consistent = flow_side, gate, min_consistent
        self._dis = cv2.DISOpticalFlow_create(FLOW_PRESET)
        #: Fraction of pixels that took part of the previous frame, last call (for overlays).
        self.kept = 0.0
        self.reset()

    def reset(self) -> None:
        self._gray: np.ndarray | None = None
        self._out: np.ndarray | None = None

    def _grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        grid = getattr(self, "_xy", None)
        if grid is None or grid[0].shape != (h, w):
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            self._xy = grid = (xs, ys)
        return grid

    def _small_gray(self, frame: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape
        s = self.flow_side / max(h, w)
        if s < 1:
            gray = cv2.resize(gray, (max(16, round(w * s)), max(16, round(h * s))),
                              interpolation=cv2.INTER_AREA)
        return gray

    def __call__(self, frame: np.ndarray, styled: np.ndarray, weight: float) -> np.ndarray:
        """The output for ``frame`` (BGR uint8) given its stylised version (same size)."""
        gray = self._small_gray(frame)
        prev_gray, prev_out = self._gray, self._out
        self._gray = gray
        if weight <= 0 or prev_gray is None or prev_gray.shape != gray.shape \
                or prev_out is None or prev_out.shape != styled.shape:
            self._out, self.kept = styled.astype(np.float32), 0.0
            return styled
        back = self._dis.calc(gray, prev_gray, None)
        fwd = self._dis.calc(prev_gray, gray, None)
        mask = consistency_mask(back, fwd).astype(np.float32)
        if mask.mean() < self.min_consistent:  # a cut, or a jump the flow cannot follow
            self._out, self.kept = styled.astype(np.float32), 0.0
            return styled
        h, w = styled.shape[:2]
        sh, sw = gray.shape
        if (sh, sw) != (h, w):
            back = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR)
            back[..., 0] *= w / sw
            back[..., 1] *= h / sh
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        xs, ys = self._grid(h, w)
        moved = cv2.remap(prev_out, xs + back[..., 0], ys + back[..., 1],
                          interpolation=INTERP, borderMode=cv2.BORDER_REPLICATE)
        cur = styled.astype(np.float32)
        delta = cv2.subtract(moved, cur)
        # per-pixel mean |delta| over the channels, then the gate (OpenCV: numpy's strided
        # reductions over the channel axis cost more than the flow)
        spread = cv2.transform(cv2.absdiff(moved, cur), _MEAN3) * (1.0 / self.gate)
        near = cv2.exp(-cv2.multiply(spread, spread))
        alpha = cv2.multiply(near, mask, scale=weight)
        out = _keep_detail(cv2.add(cur, cv2.multiply(delta, cv2.merge([alpha] * 3))), cur)
        # the next frame blends what was shown (bicubic and the detail gain can overshoot)
        self._out = out = np.clip(out, 0.0, 255.0, out=out)
        self.kept = float(cv2.mean(alpha)[0] / weight)
        return (out + 0.5).astype(np.uint8)


_MEAN3 = np.full((1, 3), 1.0 / 3.0, np.float32)


def detail_bands(img: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """``([D_1, D_2, ...], G_last)``: ``img`` split at :data:`DETAIL_SIGMAS` (the bands and
    the base add up to ``img``)."""
    bands, rest = [], img
    for sigma in DETAIL_SIGMAS:
        low = cv2.GaussianBlur(img, (0, 0), sigma)
        bands.append(cv2.subtract(rest, low))
        rest = low
    return bands, rest


def _keep_detail(blend: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``blend`` with the detail of each band scaled back up to ``current``'s (per channel)."""
    bands, out = detail_bands(blend)
    for have_band, want_band in zip(bands, detail_bands(current)[0]):
        want = cv2.meanStdDev(want_band)[1].ravel()
        have = cv2.meanStdDev(have_band)[1].ravel()
        k = np.clip(want / np.maximum(have, 1e-3), 1.0, K_MAX)
        out = cv2.add(out, cv2.multiply(have_band, tuple(float(v) for v in k) + (0.0,)))
    return out
