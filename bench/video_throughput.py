"""End-to-end throughput of ``rtstyle video``: frames/s and where the time goes.

Runs the same pipeline as ``rtstyle video`` (threaded decode -> Stylizer -> encode) on a clip
(default: the bundled sample clip at its native size) and reports frames/s plus the share of busy
time spent in decoding, inference and encoding. ``--nets`` exports randomly initialised nets
(speed does not depend on the weights); ``--models`` times existing models.

    python bench/video_throughput.py --nets full,lite --backends ort-cpu
    python bench/video_throughput.py --clip big.mp4 --scale-to 1920x1080 --nets full --backends ort-trt
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import export_nets, machine, write_report  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", help="video file (default: the bundled sample clip)")
    p.add_argument("--nets", default="", help="export these net sizes (full, lite, tiny)")
    p.add_argument("--models", nargs="*", default=[])
    p.add_argument("--backends", default="ort-cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)

    from rtstyle import assets, video
    from rtstyle.stylizer import Stylizer

    clip = Path(args.clip) if args.clip else assets.path(assets.DEMO_CLIP)
    models = {Path(m).name: Path(m) for m in args.models}
    tmp = tempfile.TemporaryDirectory()
    if args.nets:
        models.update(export_nets([n.strip() for n in args.nets.split(",")], Path(tmp.name), False))
    rows = []
    print(f"| model | backend | frames | size | frames/s | decode | inference | encode |  "
          f"({machine()}, {clip.name})")
    print("|---|---|---|---|---|---|---|---|")
    for label, path in models.items():
        for backend in args.backends.split(","):
            st = Stylizer({label: path}, backend=backend.strip(), threads=args.threads)
            out = Path(tmp.name) / f"{label}-{backend}.mp4"
            r = video.stylize_video(clip, out, st)
            busy = sum(r.timings.values()) or 1.0
            share = {k: round(v / busy, 3) for k, v in r.timings.items()}
            row = {"model": label, "backend": backend, "runs_on": st.describe(), "frames": r.frames,
                   "width": r.width, "height": r.height, "fps": round(r.fps_processed, 2),
                   "seconds": round(r.seconds, 2), "busy_share": share}
            rows.append(row)
            print(f"| {label} | {st.describe()} | {r.frames} | {r.width}x{r.height} | "
                  f"{r.fps_processed:.1f} | {share['decode']:.0%} | {share['inference']:.0%} | "
                  f"{share['encode']:.0%} |", flush=True)
    write_report(args.out, "video_throughput", rows, clip=str(clip))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
