"""Latency of the inference engine per frame: the whole Stylizer call (BGR uint8 in and out).

Each measurement is the median over ``--frames`` calls after ``--warmup`` calls. The frame is a
real photo (the bundled one) resized to the requested size. ``--nets full,lite`` exports
randomly initialised nets of those sizes to ONNX first (latency does not depend on the weights;
needs the train extra); ``--models`` times existing model files or folders instead.

    python bench/engine_latency.py --nets full,lite --size 640x360 --backends ort-cpu
    python bench/engine_latency.py --nets full,lite --size 1280x720 --backends ort-cuda,ort-trt,torch,torch-compile

Prints a Markdown table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import export_nets, machine, write_report  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", default="", help="export these net sizes (full, lite, tiny)")
    p.add_argument("--models", nargs="*", default=[], help="model files or folders to time")
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the frames")
    p.add_argument("--backends", default="ort-cpu", help="comma-separated backend specs")
    p.add_argument("--fp16", action="store_true", help="also time fp16 exports (with --nets)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", type=Path)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import onnxruntime as ort

    from rtstyle import assets, images
    from rtstyle.stylizer import Stylizer

    w, h = (int(v) for v in args.size.lower().split("x"))
    frame = images.resize_to(images.read_image(assets.path(assets.DEMO_CONTENT)), (h, w))
    models: dict[str, Path] = {Path(m).stem if Path(m).suffix else Path(m).name: Path(m)
                               for m in args.models}
    tmp = tempfile.TemporaryDirectory()
    if args.nets:
        models.update(export_nets([n.strip() for n in args.nets.split(",")], Path(tmp.name),
                                  args.fp16))
    rows = []
    print(f"| model | backend | runs on | ms / frame (median) | fps |  ({machine()}, {w}x{h})")
    print("|---|---|---|---|---|")
    for label, path in models.items():
        for backend in args.backends.split(","):
            backend = backend.strip()
            if backend.startswith("torch") and label.endswith("fp16"):
                continue  # the torch backends take the model folder; fp16 is their own choice
            st = Stylizer({label: path}, backend=backend, threads=args.threads, warm_up=(h, w))
            for _ in range(args.warmup):
                st(frame)
            times = []
            for _ in range(args.frames):
                t = time.perf_counter()
                st(frame)
                times.append(time.perf_counter() - t)
            med = statistics.median(times) * 1000
            row = {"model": label, "backend": backend, "runs_on": st.describe(),
                   "width": w, "height": h, "ms_median": round(med, 2),
                   "ms_p90": round(sorted(times)[int(0.9 * (len(times) - 1))] * 1000, 2),
                   "fps": round(1000 / med, 1), "frames": args.frames}
            rows.append(row)
            print(f"| {label} | {backend} | {row['runs_on']} | {med:.1f} | {row['fps']:.1f} |",
                  flush=True)
    write_report(args.out, "engine_latency", rows, onnxruntime=ort.__version__)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
