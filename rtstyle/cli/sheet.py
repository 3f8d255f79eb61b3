"""``rtstyle sheet PHOTO``: the photo in every installed style, labelled, in one image, to choose a
style by eye; with ``--blend A,B``, a strip of blends from style A to style B instead."""

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
    p.add_argument("--blend", metavar="A,B",
                   help="a strip from style A to style B instead: mixes of the two styles' "
                        "weights when one multi-style net has both, else the two nets' outputs "
                        "cross-faded")
    p.add_argument("--steps", type=positive_int, default=5, metavar="N",
                   help="pictures in a --blend strip, A and B included (default 5)")
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
    kind = "blend" if args.blend else "sheet"
    target = Path(args.output or Path("out") / f"{Path(args.photo).stem}_{kind}.jpg")
    atomic.check_output_path(target)
    images.check_image_path(target)
    small = images.fit_within(photo, args.cell * 2)  # the sheet shows cells, not full size
    cells, titles = [small], ["original"]
    if args.blend:
        strip = _blend_strip(small, args.blend, args.steps, args.backend)
        cells, titles = cells + list(strip.values()), titles + list(strip)
        args.columns = len(cells)
    for s in found if not args.blend else []:
        for name, model in _models_of(s, args.backend).items():
            cells.append(Stylizer({name: model}, backend=args.backend, warm_up=None)(small))
            titles.append(name)
    rows = [cells[i:i + args.columns] for i in range(0, len(cells), args.columns)]
    names = [titles[i:i + args.columns] for i in range(0, len(titles), args.columns)]
    final = target if args.overwrite else free_name(target, set())
    if final != target:
        print(f"{target.name} exists: wrote {final.name} instead (--overwrite replaces)")
    images.write_image(final, grid.image_grid(rows, cell=args.cell, titles=names))
    what = f"{len(cells) - 1} blends" if args.blend else f"{len(cells) - 1} styles"
    print(f"wrote {final}: {Path(args.photo).name} in {what}")
    return 0


def _blend_strip(photo, spec: str, steps: int, backend: str) -> dict:
    """{title: picture} from style A alone to style B alone in ``steps`` even steps."""
    from .. import multistyle, styles
    from ..errors import ConfigError
    from ..metadata import ModelError
    from ..stylizer import Controls, Stylizer

    names = [n.strip() for n in spec.split(",")]
    if len(names) != 2 or not all(names) or ":" in spec:
        raise ConfigError(f"--blend takes two style names, A,B; got '{spec}'")
    if steps < 2:
        raise ConfigError(f"a blend strip needs at least 2 steps, got {steps}")
    a, b = names
    ts = [k / (steps - 1) for k in range(steps)]
    titles = [a if t == 0 else b if t == 1 else f"{a} {1 - t:.2f} + {b} {t:.2f}" for t in ts]
    prefer = styles.prefer_size(backend)
    try:  # styles of one multi-style net: mix their weights
        mixes = {title: styles.locate(f"{a}:{1 - t},{b}:{t}", prefer)
                 for title, t in zip(titles, ts)}
    except ModelError:  # two separate nets: cross-fade their outputs
        st = Stylizer({a: styles.find(a, prefer), b: styles.find(b, prefer)}, backend=backend,
                      warm_up=None)
        out = {}
        for title, t in zip(titles, ts):
            st.set_controls(Controls(blend=b, blend_weight=t))
            out[title] = st(photo)
        return out
    made = multistyle.load(mixes, backend)
    st = Stylizer(made, backend=backend, warm_up=None)
    out = {}
    for title in titles:
        st.use(title)
        out[title] = st(photo)
    return out


def _models_of(style, backend: str) -> dict:
    """{title: model} for one installed style: itself, or each style of a multi-style net."""
    from .. import multistyle

    if not style.members:
        return {style.name: style.folder}
    mixes = {f"{style.name}: {m}": multistyle.mix_of(style.folder, style.members, [(m, 1.0)])
             for m in style.members}
    return multistyle.load(mixes, backend)
