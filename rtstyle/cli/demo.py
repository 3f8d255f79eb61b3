"""``rtstyle demo``: the main job on a bundled photo and painting, to see rtstyle work at once.

Until trained styles ship, this runs the Gatys reference at a size that takes about a minute on
two CPU cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, positive_int


def register(sub) -> None:
    p = sub.add_parser("demo", help="stylise a bundled photo with a bundled painting "
                       "(about a minute on a 2-core CPU)", description=__doc__)
    add_common(p)
    p.add_argument("--out-dir", default="out/demo", help="where to write (default out/demo)")
    p.add_argument("--size", type=positive_int, default=320, help="output size (default 320)")
    p.add_argument("--iterations", type=positive_int, default=100,
                   help="L-BFGS iterations (default 100)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from .. import assets, images
    from ..grid import image_grid
    from ..train import gatys
    from .gatys import stylise_to_files

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    content, style = assets.path(assets.DEMO_CONTENT), assets.path(assets.DEMO_STYLE)
    cfg = dataclasses.replace(gatys.preset("default"), size=args.size, iterations=args.iterations,
                              device=args.device)
    output = stylise_to_files(content, [style], out_dir / "tubingen_starry_night.png", cfg)
    sheet = out_dir / "tubingen_starry_night_sheet.png"
    cells = [images.read_image(content), images.read_image(style), images.read_image(output)]
    images.write_image(sheet, image_grid([cells], titles=[["photo", "painting", "rtstyle"]],
                                         cell=args.size))
    print(f"demo result: {output.resolve()}\nside by side: {sheet.resolve()}")
    return 0
