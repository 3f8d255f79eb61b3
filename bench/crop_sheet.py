"""Full-resolution crops of what several nets make of the same photos: for differences a
contact sheet's thumbnails hide (stroke size and density). One row per photo, one column per
net, each cell a crop at the size the photo is stylised at.

    python bench/crop_sheet.py --nets "256 px crops only=models/starry_night_lite" \\
        "+ 500 steps at 512 px=runs/zoo/starry_night-lite-finish/model" \\
        --photos ../shared/data/test_content/tubingen.jpg@0,150 --size 512 --out docs/crops.jpg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", required=True, metavar="LABEL=MODEL",
                   help="model folders or .onnx files, each with the column's label")
    p.add_argument("--photos", nargs="+", required=True, metavar="PHOTO@Y,X",
                   help="photos, each with the top-left corner of its crop")
    p.add_argument("--size", type=int, default=512, help="longer side the photos are stylised at")
    p.add_argument("--crop", type=int, default=256, help="side of the square crops")
    p.add_argument("--out", type=Path, required=True, help="the sheet (.jpg or .png)")
    return p.parse_args(argv)


def _split(text: str, sep: str, what: str) -> tuple[str, str]:
    if sep not in text:
        raise SystemExit(f"crop_sheet: expected {what}, got {text!r}")
    a, b = text.rsplit(sep, 1) if sep == "@" else text.split(sep, 1)
    return a, b


def main(argv=None) -> int:
    args = parse_args(argv)
    from rtstyle import images
    from rtstyle.errors import RtstyleError
    from rtstyle.grid import image_grid
    from rtstyle.stylizer import Stylizer

    nets = dict(_split(n, "=", "LABEL=MODEL") for n in args.nets)
    try:
        st = Stylizer(nets, backend="ort-cpu", warm_up=None)
        rows, titles = [], []
        for item in args.photos:
            path, corner = _split(item, "@", "PHOTO@Y,X")
            y, x = (int(v) for v in corner.split(","))
            photo = images.read_image(path, max_side=args.size)
            c = args.crop
            if y + c > photo.shape[0] or x + c > photo.shape[1]:
                raise SystemExit(f"crop_sheet: a {c} px crop at {y},{x} leaves {path} "
                                 f"({photo.shape[1]}x{photo.shape[0]} at --size {args.size})")
            row = [photo[y:y + c, x:x + c]]
            for label in nets:
                st.use(label)
                row.append(st(photo)[y:y + c, x:x + c])
            rows.append(row)
            titles.append([f"{Path(path).name} ({args.size} px, a crop)", *nets])
        images.write_image(args.out, image_grid(rows, cell=args.crop, titles=titles))
    except RtstyleError as e:
        print(f"crop_sheet: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
