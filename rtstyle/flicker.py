"""Temporal stability of a stylised video: the warping error (flicker), numpy + OpenCV only.

For each pair of consecutive frames, the optical flow is estimated on the ORIGINAL frames (the
stylised ones have texture the flow would follow), once, and reused for the original and the
stylised video. Stylised frame t is warped onto frame t+1 with that flow, pixels that have no
trustworthy correspondence are masked out by a forward-backward consistency check, and what
remains is compared with stylised frame t+1. The same number for the original video is the
floor that the motion, the lighting and the flow's own errors allow.

The metric (the text of :data:`FORMULA`, reported with every measurement)::

    I_1..I_T   original frames, S_1..S_T stylised frames: 8-bit, 3 channels, values 0..255
    b_t        = flow(I_{t+1} -> I_t)      backward flow, on the grey original frames
    f_t        = flow(I_t -> I_{t+1})      forward flow
    W_t(x)     = S_t(x + b_t(x))           S_t warped onto frame t+1 (bilinear, not rounded)
    M_t(x)     = 1 if x + b_t(x) lies inside the frame and
                      |b_t(x) + f_t(x + b_t(x))|^2 <= 0.01 (|b_t(x)|^2 + |f_t(x + b_t(x))|^2) + 0.5
                 else 0                    (occluded, disoccluded or unreliable)
    E_t        = sum_x M_t(x) sum_c |S_{t+1}(x, c) - W_t(x, c)|  /  (3 sum_x M_t(x))
    E          = mean of E_t over the T-1 pairs (pairs with no unmasked pixel are left out)

    E_orig is the same with S = I. Lower is steadier; E - E_orig is the flicker the stylisation
    adds. Flow: OpenCV DIS (preset medium) by default, or Farneback; no learned flow.

The mask is the consistency criterion of Sundaram, Brox & Keutzer (ECCV 2010) as used by Ruder,
Dosovitskiy & Brox ("Artistic style transfer for videos", GCPR 2016) for disocclusions; it is
written here in frame t+1's coordinates, where the error is measured (backward flow first,
forward flow sampled bilinearly where it points). Ruder et al.'s extra motion-boundary test is
not applied. The grey frames are OpenCV's BGR2GRAY; "inside" is 0 <= x + b_t(x) <= W - 1 (and
the same for y).

The averaging over masked pixels and then over pairs follows Lai et al. ("Learning blind video
temporal consistency", ECCV 2018), who use the squared error of 0..1 RGB instead: our E is the
mean absolute error of 0..255 values, so compare like with like.

The mean absolute difference over the three channels does not depend on their order, so BGR
frames (OpenCV, PyAV, :class:`rtstyle.stylizer.Stylizer`) are used as they are.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .errors import unknown
from .flow import METHODS, FlowError, _gray, consistency_mask, flow, warp  # noqa: F401

#: The metric of the module docstring in one paragraph; written into every report.
FORMULA = (
    "E = mean over consecutive pairs t of E_t; E_t = sum_x M_t(x) sum_c |S_{t+1}(x,c) - "
    "S_t(x + b_t(x), c)| / (3 sum_x M_t(x)), S = stylised frames (8-bit RGB, 0..255), "
    "b_t = optical flow I_{t+1} -> I_t on the grey ORIGINAL frames I (OpenCV {method}), "
    "S_t warped bilinearly; M_t(x) = 1 where x + b_t(x) is inside the frame and "
    "|b_t(x) + f_t(x + b_t(x))|^2 <= 0.01 (|b_t(x)|^2 + |f_t(x + b_t(x))|^2) + 0.5 "
    "(forward-backward consistency, Sundaram et al. 2010 / Ruder et al. 2016), f_t = flow "
    "I_t -> I_{t+1}; pairs with no unmasked pixel are left out. The original's number is the "
    "same with S = I.")

#: Heat maps: |difference| of 0..HEAT_MAX (0..255 units) spans the colour map.
HEAT_MAX = 64.0
#: Occluded pixels in the heat maps (BGR).
OCCLUDED_BGR = (128, 128, 128)


#: Frames, flows or masks that cannot be measured (too few, different sizes, not images).
FlickerError = FlowError


# --- the error -------------------------------------------------------------------------------

def difference_map(prev: np.ndarray, nxt: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """``mean_c |nxt(x, c) - prev(x + flow_back(x), c)|`` as ``(H, W)`` float32, 0..255 units."""
    warped = warp(prev.astype(np.float32), flow_back)  # not rounded back to 8 bits
    diff = np.abs(nxt.astype(np.float32) - warped)
    return diff.mean(axis=-1) if diff.ndim == 3 else diff


def pair_error(prev: np.ndarray, nxt: np.ndarray, flow_back: np.ndarray,
               mask: np.ndarray) -> float:
    """``E_t``: the mean of :func:`difference_map` over ``mask``; NaN if nothing is unmasked."""
    n = int(np.count_nonzero(mask))
    if n == 0:
        return math.nan
    return float(difference_map(prev, nxt, flow_back)[mask].sum(dtype=np.float64) / n)


def warping_error(frames: Sequence[np.ndarray], flows: Sequence[np.ndarray],
                  masks: Sequence[np.ndarray]) -> list[float]:
    """``[E_1, ..., E_{T-1}]`` of ``T`` frames, given the ``T-1`` backward flows ``b_t``
    (frame t+1 -> t, of the ORIGINAL video) and the ``T-1`` masks ``M_t`` (see module doc)."""
    frames = _check_frames(frames)
    if len(flows) != len(frames) - 1 or len(masks) != len(frames) - 1:
        raise FlickerError(f"{len(frames)} frames need {len(frames) - 1} flows and masks, got "
                           f"{len(flows)} and {len(masks)}")
    return [pair_error(frames[t], frames[t + 1], flows[t], masks[t])
            for t in range(len(frames) - 1)]


def _nanmean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else math.nan


def _check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    frames = list(frames)
    if len(frames) < 2:
        raise FlickerError(f"the warping error needs at least 2 frames, got {len(frames)}")
    shape = None
    for i, f in enumerate(frames):
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 3 \
                or f.shape[2] != 3:
            raise FlickerError(f"frame {i}: expected an (H, W, 3) uint8 BGR frame, got "
                               f"{getattr(f, 'shape', type(f).__name__)} "
                               f"{getattr(f, 'dtype', '')}".rstrip())
        if shape is None:
            shape = f.shape
        elif f.shape != shape:
            raise FlickerError(f"frame {i} is {f.shape[1]}x{f.shape[0]}, frame 0 is "
                               f"{shape[1]}x{shape[0]}: all frames must have one size")
    return frames


# --- the measurement -------------------------------------------------------------------------

@dataclass
class HeatmapSample:
    """One frame pair kept for the picture: original and stylised t+1, both difference maps
    (0..255 units) and the mask."""

    pair: int
    original: np.ndarray
    stylized: np.ndarray
    diff_stylized: np.ndarray
    diff_original: np.ndarray
    mask: np.ndarray


@dataclass
class FlickerReport:
    """The warping error of a stylised clip next to the original's (see :data:`FORMULA`)."""

    #: E_t of the stylised frames, one per consecutive pair (NaN: no unmasked pixel).
    pairs: list[float]
    #: E_t of the original frames (S = I): the floor.
    original_pairs: list[float]
    #: Fraction of pixels kept by M_t, one per pair.
    non_occluded_pairs: list[float]
    frames: int
    #: (width, height) the flow and the error were computed at.
    size: tuple[int, int]
    method: str = "dis"
    #: Mean style loss of the stylised frames: a hook for a torch-side callable (None = not
    #: measured; the runtime stays torch-free).
    style_loss: float | None = None
    samples: list[HeatmapSample] = field(default_factory=list, repr=False)

    @property
    def mean(self) -> float:
        return _nanmean(self.pairs)

    @property
    def original_mean(self) -> float:
        return _nanmean(self.original_pairs)

    @property
    def non_occluded(self) -> float:
        return float(np.mean(self.non_occluded_pairs)) if self.non_occluded_pairs else 0.0

    @property
    def formula(self) -> str:
        return FORMULA.replace("{method}", "DIS, preset medium" if self.method == "dis"
                               else "Farneback")

    def summary(self) -> str:
        return (f"warping error {self.mean:.2f} (original {self.original_mean:.2f}) over "
                f"{len(self.pairs)} frame pairs, {self.non_occluded:.0%} pixels non-occluded")

    def as_dict(self) -> dict[str, Any]:
        def num(v: float | None):
            return None if v is None or math.isnan(v) else round(float(v), 4)

        return {"warping_error": num(self.mean), "original_warping_error": num(self.original_mean),
                "added_by_style": num(self.mean - self.original_mean),
                "non_occluded": num(self.non_occluded), "frames": self.frames,
                "pairs": len(self.pairs), "width": self.size[0], "height": self.size[1],
                "flow": self.method, "units": "mean absolute difference, 0..255 RGB",
                "style_loss": num(self.style_loss), "formula": self.formula,
                "per_pair": [{"pair": t, "warping_error": num(e), "original": num(o),
                              "non_occluded": num(m)}
                             for t, (e, o, m) in enumerate(zip(self.pairs, self.original_pairs,
                                                                self.non_occluded_pairs))]}


def sample_pairs(n_pairs: int, k: int) -> list[int]:
    """``k`` pair indices spread evenly over ``n_pairs`` (all of them when there are fewer)."""
    if k <= 0 or n_pairs <= 0:
        return []
    if n_pairs <= k:
        return list(range(n_pairs))
    return sorted({round(i * (n_pairs - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]


def measure(frames: Sequence[np.ndarray],
            stylize: Callable[[np.ndarray], np.ndarray] | None = None, *,
            method: str = "dis", samples: int = 4, batch: int = 4,
            style_loss: Callable[[Sequence[np.ndarray]], float] | None = None,
            on_pair: Callable[[int, int], None] | None = None) -> FlickerReport:
    """The warping error of ``stylise`` applied to ``frames`` (BGR uint8, one size, >= 2).

    ``stylise`` maps a BGR frame to a BGR frame of the same size (a
    :class:`~rtstyle.stylizer.Stylizer` does; ``None`` = the identity, so the stylised number
    is the original's). The flow is computed once per pair on the original frames and used for
    both. ``samples`` evenly spread pairs keep their images for :func:`heatmap_grid`.
    ``style_loss(stylised_frames) -> float`` is an optional hook (e.g. a torch style loss from
    the train extra) whose result is stored in the report. ``on_pair(done, total)`` reports
    progress.
    """
    if method not in METHODS:
        raise unknown("flow method", method, METHODS)
    if batch < 1:
        raise FlickerError(f"batch must be at least 1, got {batch}")
    frames = _check_frames(frames)
    h, w = frames[0].shape[:2]
    if stylize is None:
        styled = frames
    else:
        many = getattr(stylize, "many", None)
        styled = []
        for k in range(0, len(frames), batch):  # a Stylizer runs a few frames per net call
            chunk = frames[k:k + batch]
            styled += list(many(chunk)) if many else [stylize(f) for f in chunk]
        for i, s in enumerate(styled):
            if not isinstance(s, np.ndarray) or s.shape != frames[i].shape or s.dtype != np.uint8:
                raise FlickerError(f"the stylised frame {i} is "
                                   f"{getattr(s, 'shape', type(s).__name__)} "
                                   f"{getattr(s, 'dtype', '')}, expected {frames[i].shape} uint8")
    keep = set(sample_pairs(len(frames) - 1, samples))
    grays = [_gray(f) for f in frames]
    report = FlickerReport([], [], [], frames=len(frames), size=(w, h), method=method)
    total = len(frames) - 1
    for t in range(total):
        back = flow(grays[t + 1], grays[t], method)
        fwd = flow(grays[t], grays[t + 1], method)
        mask = consistency_mask(back, fwd)
        d_style = difference_map(styled[t], styled[t + 1], back)
        d_orig = d_style if stylize is None else difference_map(frames[t], frames[t + 1], back)
        n = int(np.count_nonzero(mask))
        report.pairs.append(float(d_style[mask].sum(dtype=np.float64) / n) if n else math.nan)
        report.original_pairs.append(float(d_orig[mask].sum(dtype=np.float64) / n) if n
                                     else math.nan)
        report.non_occluded_pairs.append(n / mask.size)
        if t in keep:
            report.samples.append(HeatmapSample(t, frames[t + 1], styled[t + 1], d_style,
                                                d_orig, mask))
        if on_pair:
            on_pair(t + 1, total)
    if style_loss is not None:
        report.style_loss = float(style_loss(styled))
    return report


# --- reading a clip -------------------------------------------------------------------------

def read_frames(path: str | os.PathLike, count: int, start: float = 0.0,
                max_side: int | None = None) -> list[np.ndarray]:
    """Up to ``count`` consecutive frames of a video from ``start`` seconds, BGR uint8, upright
    (display rotation applied, as ``rtstyle video`` does), scaled down so the longer side is at
    most ``max_side``. Opens the file with :func:`rtstyle.video.probe` (its errors: missing
    file, folder, not a video, no video stream); undecodable packets are skipped."""
    import av

    from .images import fit_within
    from .video import VideoError, decode, probe, upright

    if count < 1:
        raise FlickerError(f"the number of frames must be at least 1, got {count}")
    if start < 0:
        raise FlickerError(f"the start must be >= 0 s, got {start}")
    container, stream, _ = probe(path)
    out: list[np.ndarray] = []
    try:
        for _, frame in decode(container, stream, start=start):
            image, _ = upright(frame)
            out.append(fit_within(image, max_side) if max_side else image)
            if len(out) >= count:
                return out
    except av.error.FFmpegError as e:
        raise VideoError(f"cannot decode {path}: {e}") from e
    finally:
        container.close()
    return out


# --- pictures --------------------------------------------------------------------------------

def heatmap(diff: np.ndarray, mask: np.ndarray | None = None, vmax: float = HEAT_MAX
            ) -> np.ndarray:
    """A BGR heat map of a difference map (0 .. ``vmax`` spans the inferno colour map);
    pixels outside ``mask`` are grey."""
    scaled = np.clip(diff.astype(np.float32) * (255.0 / vmax), 0, 255).astype(np.uint8)
    out = cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)
    if mask is not None:
        out[~mask] = OCCLUDED_BGR
    return out


def heatmap_grid(report: FlickerReport, cell: int = 192) -> np.ndarray:
    """One row per kept pair: original t+1 | stylised t+1 | |S_{t+1} - warp(S_t)| |
    |I_{t+1} - warp(I_t)| (grey = masked out; the colour map spans 0..HEAT_MAX)."""
    from .grid import image_grid

    if not report.samples:
        raise FlickerError("the report kept no frame pairs for the heat maps")
    rows, titles, side = [], [], []
    for s in report.samples:
        e_s = s.diff_stylized[s.mask].mean() if s.mask.any() else math.nan
        e_o = s.diff_original[s.mask].mean() if s.mask.any() else math.nan
        rows.append([s.original, s.stylized, heatmap(s.diff_stylized, s.mask),
                     heatmap(s.diff_original, s.mask)])
        titles.append(["original t+1", "stylised t+1", f"stylised |diff| {e_s:.1f}",
                       f"original |diff| {e_o:.1f}"])
        side.append(f"pair {s.pair}->{s.pair + 1}")
    return image_grid(rows, cell=cell, titles=titles, row_titles=side)
