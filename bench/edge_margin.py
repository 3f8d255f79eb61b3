"""The rim a style net paints on the frame's outer pixels, with and without the engine's
reflected margin (``rtstyle.stylizer.EDGE_MARGIN``): the edge shift of the output's outer
``--band`` pixels (``rtstyle.quality.edge_shift``), per model, photo and margin, next to the
photo's own.

    python bench/edge_margin.py --models models/starry_night_lite \\
        models/great_wave_hokusai_lite --photos ../shared/data/test_content/{tubingen.jpg,\\
golden_gate.jpg,kodim04.png} --out bench/results/edge_margin_cpu_DATE
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import output, write_report  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", required=True, type=Path)
    p.add_argument("--photos", nargs="+", required=True, type=Path)
    p.add_argument("--margins", default="0,4,8,16")
    p.add_argument("--size", type=int, default=512, help="longest side the photos are read at")
    p.add_argument("--band", type=int, default=2, help="outer pixels measured")
    p.add_argument("--out", required=True, type=Path)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from rtstyle import images, quality, stylizer

    margins = [int(m) for m in args.margins.split(",")]
    rows = []
    for model in args.models:
        st = stylizer.Stylizer([model], backend="ort-cpu", threads=1, warm_up=None)
        for photo_path in args.photos:
            photo = images.read_image(photo_path, max_side=args.size)
            row = {"model": model.name, "photo": photo_path.name,
                   "photo_edge_shift": quality.edge_shift(photo, band=args.band)}
            for m in margins:
                stylizer.EDGE_MARGIN = m
                row[f"margin {m}"] = quality.edge_shift(st(photo), band=args.band)
            rows.append(row)
            print(" ".join(f"{k} {v:.1f}" if isinstance(v, float) else str(v)
                           for k, v in row.items()), flush=True)
    write_report(output(args.out, ".json"), "edge_margin", rows, size=args.size, band=args.band)
    cols = [f"margin {m}" for m in margins]
    lines = [f"Edge shift of the outer {args.band} px (0-255 units; the photo's own in the photo "
             f"column), photos at {args.size} px, ONNX Runtime CPU", "",
             "| model | photo | photo | " + " | ".join(cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    lines += [(f"| {r['model']} | {r['photo']} | {r['photo_edge_shift']:.1f} | "
               + " | ".join(f"{r[c]:.1f}" for c in cols) + " |") for r in rows]
    output(args.out, ".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
