"""Why per-frame style nets flicker: how much a net's output changes when its input moves.

For each model, on frames of a clip (or photos), the mean absolute difference (0..255 RGB,
over the interior, a margin of 32 px left out) between

    net(I moved by d)   and   net(I) moved by d

for horizontal moves d of 0.25, 0.5, 1, 2, 3 and 4 px (whole pixels by cropping, exact;
fractions by bilinear resampling of both sides), and between net(I + noise) and net(I) for
Gaussian pixel noise of sigma 1 and 2 (what video compression adds). A net that commuted with
shifts would score ~0 everywhere. A Johnson net with two stride-2 convolutions only commutes
with moves by multiples of 4 px, so 1 px of scene motion can redraw its strokes as much as a
new frame does; the anti-aliased nets (``--net lite-aa``) are meant to score lower::

    python bench/shift_sensitivity.py --model models/starry_night_lite runs/x/model \\
        --video ../shared/data/videos/fox_640x640.mp4 --frames 4 --out bench/results/shift

Runs on ONNX Runtime (CPU by default), no torch. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from common import output, write_report  # (also puts the repo on sys.path)

from rtstyle import flicker, images
from rtstyle.stylizer import Stylizer

SHIFTS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0)
NOISE = (1.0, 2.0)
MARGIN = 32


def moved(img: np.ndarray, d: float, width: int) -> np.ndarray:
    """``img`` with its content moved ``d`` px to the left, ``width`` columns kept."""
    if float(d).is_integer():
        return np.ascontiguousarray(img[:, int(d):int(d) + width])
    h = img.shape[0]
    ys, xs = np.mgrid[0:h, 0:width].astype(np.float32)
    return cv2.remap(img, xs + np.float32(d), ys, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT_101)


def interior_diff(a: np.ndarray, b: np.ndarray) -> float:
    m = MARGIN
    return float(np.abs(a[m:-m, m:-m].astype(np.float32) - b[m:-m, m:-m]).mean())


def sensitivity(stylize, frame: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    h, w = frame.shape[:2]
    width = (w - int(max(SHIFTS)) - 1) // 4 * 4
    base = stylize(moved(frame, 0, width))
    full = stylize(frame)
    out = {}
    for d in SHIFTS:
        ref = moved(full, d, width) if not float(d).is_integer() else None
        if ref is None:
            # whole pixels: the crop of the stylised full frame is exact away from the borders
            ref = np.ascontiguousarray(full[:, int(d):int(d) + width])
        out[f"shift {d:g} px"] = interior_diff(stylize(moved(frame, d, width)), ref)
    for sigma in NOISE:
        noisy = np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)
        out[f"noise sigma {sigma:g}"] = interior_diff(stylize(moved(noisy, 0, width)), base)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs="+", required=True, help="installed styles or folders")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", type=Path, help="take evenly spaced frames of this clip")
    src.add_argument("--images", type=Path, nargs="+", help="or these photos")
    ap.add_argument("--frames", type=int, default=4, help="frames taken from --video")
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--backend", default="ort-cpu")
    ap.add_argument("--out", type=Path, help="output stem (.json and .md)")
    args = ap.parse_args()
    if args.video:
        clip = flicker.read_frames(args.video, 10 * args.frames, 0, args.max_side)
        frames = clip[::max(1, len(clip) // args.frames)][:args.frames]
    else:
        frames = []
        for p in args.images:
            img = images.read_image(p)
            s = args.max_side / max(img.shape[:2])
            frames.append(cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                          if s < 1 else img)
    rows = []
    for model in args.model:
        st = Stylizer({"main": model}, backend=args.backend)
        rng = np.random.default_rng(0)
        per = [sensitivity(st, f, rng) for f in frames]
        row = {"model": model, **{k: round(float(np.mean([p[k] for p in per])), 3)
                                  for k in per[0]}}
        rows.append(row)
        print(" ".join([model] + [f"{k}: {v:.2f}" for k, v in row.items() if k != "model"]),
              flush=True)
    source = str(args.video) if args.video else ", ".join(map(str, args.images))
    if args.out:
        write_report(output(args.out, ".json"), "shift_sensitivity", rows, source=source,
                     frames=len(frames), margin_px=MARGIN)
        output(args.out, ".md").write_text(markdown(rows) + "\n")
    else:
        print(markdown(rows))
    return 0


def markdown(rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k != "model"]
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    lines += ["| " + " | ".join([r["model"]] + [f"{r[k]:.2f}" for k in keys]) + " |"
              for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
