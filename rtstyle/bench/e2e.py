"""End to end: ``rtstyle video`` throughput per stage, and the live loop's added latency.

Video: the same pipeline as ``rtstyle video`` (:func:`rtstyle.video.stylize_video`: threaded
decode -> Stylizer -> encode, default encoder settings) on a real clip, rescaled to the size
asked for. Stage times come from the pipeline itself: decode, inference and encode (busy seconds;
the three stages overlap, so frames/s is set by the slowest). Inference there includes the copies
to and from the device; on the CPU there are none. On a GPU the upload and download of a frame
are also timed on their own (``ms_upload``/``ms_download`` of the latency case at that size).

Live: :class:`rtstyle.live.LiveLoop`, headless, on a file source played as if live (paced at
its frame rate, newest frame only). Capture-to-display latency is what the loop itself reports
(from the moment a frame was read to the moment it is ready to show); the added latency is that
minus the inference of the same frame: waiting for the loop, conversions, composition.
"""

from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .timing import percentile


def make_clip(src: str | os.PathLike, dst: str | os.PathLike, size: tuple[int, int] | None,
              frames: int) -> Path:
    """``frames`` frames of ``src`` (looped when shorter) rescaled to ``size`` (width, height),
    encoded as near-lossless H.264 at ``src``'s frame rate: a real clip at any benchmark size."""
    import av
    import cv2

    from .. import video

    container, vstream, _ = video.probe(src)
    rate = Fraction(vstream.average_rate or 30)
    try:
        decoded = []
        for frame in container.decode(vstream):
            decoded.append(frame.to_ndarray(format="bgr24"))
            if len(decoded) >= frames:
                break
    finally:
        container.close()
    if not decoded:
        raise InputError(f"no video frames could be decoded from {src}")
    h0, w0 = decoded[0].shape[:2]
    w, h = size or (w0, h0)
    dst = Path(dst)
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w + w % 2, h + h % 2, "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast"}
        for i in range(frames):
            img = decoded[i % len(decoded)]
            if (w, h) != (w0, h0):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if w * h < w0 * h0
                                 else cv2.INTER_CUBIC)
            if w % 2 or h % 2:
                img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            vf.pts, vf.time_base = i, 1 / rate
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


def video_throughput(clip: str | os.PathLike, stylizer, out: str | os.PathLike,
                     batch: int = 1) -> dict[str, Any]:
    """Run ``rtstyle video``'s pipeline on ``clip`` into ``out``; frames/s and stage times."""
    from .. import video

    options = video.EncodeOptions()
    r = video.stylize_video(clip, out, stylizer, options=options, batch=batch)
    n = max(1, r.frames)
    busy = sum(r.timings.values()) or 1.0
    stages = {k: round(v / n * 1e3, 3) for k, v in r.timings.items()}
    return {"frames": r.frames, "width": r.width, "height": r.height, "batch": batch,
            "fps": round(r.fps_processed, 2), "seconds": round(r.seconds, 3),
            "ms_per_frame": {"decode": stages.get("decode"), "inference": stages.get("inference"),
                             "encode": stages.get("encode")},
            "busy_share": {k: round(v / busy, 3) for k, v in r.timings.items()},
            "encoder": f"{options.codec} crf {options.crf} preset {options.preset}"}


class _TimedStylizer:
    """The stylizer, with the time of each call kept (the live loop sees no difference)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.ms: list[float] = []

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        out = self.inner(frame)
        self.ms.append((time.perf_counter() - t) * 1e3)
        return out

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None, "p99": None}
    return {"median": round(percentile(values, 50), 3), "p90": round(percentile(values, 90), 3),
            "p99": round(percentile(values, 99), 3)}


def live_latency(clip: str | os.PathLike, stylizer, frames: int) -> dict[str, Any]:
    """The live loop, headless, on ``clip`` played as if live (looped), for ``frames`` frames."""
    from .. import live, sources

    timed = _TimedStylizer(stylizer)
    source = sources.Source(str(clip), loop=True)  # the loop, not the clip, sets the length
    size = source.size
    loop = live.LiveLoop(timed, sources.LatestFrame(source), window=False, max_frames=frames,
                         backend_label=stylizer.describe())
    stats = loop.run()
    total = list(stats.latency_ms)
    infer = timed.ms[:len(total)]
    added = [t - i for t, i in zip(total, infer)]
    return {"frames": stats.frames, "width": size[0], "height": size[1],
            "source_fps": round(source.fps, 3), "fps": round(stats.fps, 2),
            "dropped": stats.dropped, "ms_capture_to_display": _stats(total),
            "ms_inference": _stats(infer), "ms_added": _stats(added)}
