"""``rtstyle sheet PHOTO``: the photo in every installed style, labelled, in one image, to choose a
style by eye."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, positive_int


def register(sub) -> None:
    p = sub.add_parser("sheet", help="the photo in every installed style, in one image",
                       description=__doc__)
    add_common(p)
    p.add_argument("photo", metavar="PHOTO", help="image file")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="output image (default out/<photo>_sheet.jpg)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--cell", type=positive_int, default=256, metavar="PX",
                   help="side of each picture in the sheet (default 256)")
    p.add_argument("--columns", type=positive_int, default=4, metavar="N")
    p.add_argument("--backend", default="auto", help="as for 'rtstyle image' (default auto)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import atomic, grid, images, styles
    from ..errors import InputError
    from ..stylizer import Stylizer
    from .outputs import free_name

    photo = images.read_image(args.photo)
    found = [s for s in styles.installed() if s.onnx]
    if not found:
        raise InputError("no exported styles installed: see 'rtstyle styles'")
    target = Path(args.output or Path("out") / f"{Path(args.photo).stem}_sheet.jpg")
    atomic.check_output_path(target)
    images.check_image_path(target)
    small = images.fit_within(photo, args.cell * 2)  # the sheet shows cells, not full size
    cells, titles = [small], ["original"]
    for s in found:
        for name, model in _models_of(s, args.backend).items():
            cells.append(Stylizer({name: model}, backend=args.backend, warm_up=None)(small))
            titles.append(name)
    rows = [cells[i:i + args.columns] for i in range(0, len(cells), args.columns)]
    names = [titles[i:i + args.columns] for i in range(0, len(titles), args.columns)]
    final = target if args.overwrite else free_name(target, set())
    if final != target:
        print(f"{target.name} exists: wrote {final.name} instead (--overwrite replaces)")
    images.write_image(final, grid.image_grid(rows, cell=args.cell, titles=names))
    print(f"wrote {final}: {Path(args.photo).name} in {len(cells) - 1} styles")
    return 0


def _models_of(style, backend: str) -> dict:
    """{title: model} for one installed style: itself, or each style of a multi-style net."""
    from .. import multistyle

    if not style.members:
        return {style.name: style.folder}
    mixes = {f"{style.name}: {m}": multistyle.mix_of(style.folder, style.members, [(m, 1.0)])
             for m in style.members}
    return multistyle.load(mixes, backend)
