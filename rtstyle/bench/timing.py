"""The timing harness: warm-up, a sync hook, repetitions under a time budget, and statistics.

Inputs rotate through several buffers holding different REAL frames (crops of the bundled photo
and frames of a clip, rescaled), so no run sees the same input twice in a row: caches, zero
pages and input-dependent shortcuts cannot flatter the result. ``sync`` is called after every
call (a GPU backend waits for its queue there), so a sample is the time the work really took.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

#: Rotating input buffers take at most this many bytes together (at least 2 buffers always).
BUFFER_BYTES = 512 * 2 ** 20
#: Buffers to rotate through when memory allows.
BUFFERS = 4


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between order statistics
    (numpy's default method)."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in 0..100, got {q}")
    s = sorted(samples)
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass(frozen=True)
class Timing:
    """Seconds per call (one call = one batch of ``batch`` frames)."""

    samples: tuple[float, ...]
    batch: int = 1
    warmup: int = 0

    @property
    def median(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p90(self) -> float:
        return percentile(self.samples, 90)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)

    @property
    def fps(self) -> float:
        """Frames per second at the median latency."""
        return self.batch / self.median if self.median > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        ms = 1e3
        return {"repeats": len(self.samples), "warmup": self.warmup,
                "ms_median": round(self.median * ms, 3), "ms_p90": round(self.p90 * ms, 3),
                "ms_p99": round(self.p99 * ms, 3), "ms_mean": round(self.mean * ms, 3),
                "ms_min": round(min(self.samples) * ms, 3), "fps": round(self.fps, 2)}


def measure(fn: Callable[[Any], Any], inputs: Sequence[Any], *,
            sync: Callable[[], None] | None = None, warmup: int = 2, min_repeats: int = 5,
            max_repeats: int = 10_000, max_seconds: float = 2.0, batch: int = 1,
            clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Call ``fn(inputs[i % len(inputs)])`` ``warmup`` times, then time it until at least
    ``min_repeats`` samples were taken and ``max_seconds`` passed (or ``max_repeats``).

    ``sync()`` runs before the clock starts and after each call, inside the timed span.
    """
    if not inputs:
        raise ConfigError("the timing harness needs at least one input buffer")
    if min_repeats < 1 or max_repeats < min_repeats or warmup < 0 or max_seconds < 0:
        raise ConfigError(f"bad timing settings: warmup {warmup}, repeats {min_repeats}.."
                          f"{max_repeats}, max seconds {max_seconds}")
    wait = sync or (lambda: None)
    n = len(inputs)
    for i in range(warmup):
        fn(inputs[i % n])
        wait()
    samples: list[float] = []
    began = clock()
    i = warmup
    while len(samples) < max_repeats:
        x = inputs[i % n]
        wait()
        t0 = clock()
        fn(x)
        wait()
        t1 = clock()
        samples.append(t1 - t0)
        i += 1
        if len(samples) >= min_repeats and t1 - began >= max_seconds:
            break
    return Timing(tuple(samples), batch, warmup)


# --- real frames -----------------------------------------------------------------------------

def _crop_to_aspect(img: np.ndarray, aspect: float, fraction: float, where: float) -> np.ndarray:
    """The largest window of ``img`` with width/height ``aspect``, scaled by ``fraction`` and
    placed at ``where`` (0..1) along both free axes."""
    h, w = img.shape[:2]
    cw, ch = (w, w / aspect) if w / h < aspect else (h * aspect, h)
    cw, ch = max(8, int(cw * fraction)), max(8, int(ch * fraction))
    x0, y0 = int((w - cw) * where), int((h - ch) * where)
    return img[y0:y0 + ch, x0:x0 + cw]


def clip_frames(path: str | os.PathLike, count: int) -> list[np.ndarray]:
    """Up to ``count`` BGR frames spread over the first seconds of a video."""
    from .. import video

    container, vstream, _ = video.probe(path)
    out: list[np.ndarray] = []
    try:
        vstream.thread_type = "AUTO"
        step = 7  # frames apart: consecutive frames of a clip are nearly the same image
        for k, frame in enumerate(container.decode(vstream)):
            if k % step == 0:
                out.append(frame.to_ndarray(format="bgr24"))
            if len(out) >= count:
                break
    finally:
        container.close()
    return out


def real_frames(size: tuple[int, int], count: int, clip: str | os.PathLike | None = None,
                photo: str | os.PathLike | None = None) -> list[np.ndarray]:
    """``count`` different BGR uint8 frames of ``size`` (width, height): crops of the bundled
    photo and frames of ``clip`` (default: the bundled sample clip), rescaled. Not zeros."""
    from .. import assets, images

    w, h = size
    if count < 1:
        raise ConfigError(f"need at least one frame, got {count}")
    sources = [images.read_image(Path(photo) if photo else assets.path(assets.DEMO_CONTENT))]
    sources += clip_frames(Path(clip) if clip else assets.path(assets.DEMO_CLIP), count)
    frames = []
    for k in range(count):
        src = sources[k % len(sources)]
        turn = k // len(sources)  # later rounds take other windows of the same images
        crop = _crop_to_aspect(src, w / h, 1.0 - 0.15 * (turn % 3), (0.5 + 0.37 * turn) % 1.0)
        frames.append(np.ascontiguousarray(images.resize_to(crop, (h, w))))
    return frames


def buffer_count(batch_bytes: int, budget: int = BUFFER_BYTES, most: int = BUFFERS) -> int:
    """How many input buffers to rotate through: ``most`` when they fit ``budget``, never < 2."""
    return max(2, min(most, budget // max(1, batch_bytes)))


def input_batches(frames: Sequence[np.ndarray], batch: int, buffers: int,
                  multiple: int = 1) -> list[np.ndarray]:
    """``buffers`` model inputs (RGB float32 NCHW 0..255, padded to ``multiple``) of ``batch``
    frames each, every buffer starting at a different frame."""
    from .. import frames as fr

    out = []
    for b in range(buffers):
        picked = np.stack([frames[(b * batch + j) % len(frames)] for j in range(batch)])
        x, _ = fr.pad_to_multiple(fr.to_model_input(picked), multiple)
        out.append(np.ascontiguousarray(x))
    return out
