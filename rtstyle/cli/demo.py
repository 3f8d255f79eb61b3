"""``rtstyle demo``: the main job on bundled inputs, to see rtstyle work at once.

By default it stylises the bundled sample clip with the bundled style (ONNX Runtime, seconds on
a CPU) and writes an MP4 plus a PNG contact sheet (original frames above, stylised below).
``--gatys`` runs the Gatys reference on the bundled photo and painting instead (about a minute
on two CPU cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, positive_int


def register(sub) -> None:
    p = sub.add_parser("demo", help="stylise the bundled sample clip with the bundled style "
                       "(MP4 + contact sheet)", description=__doc__)
    add_common(p)
    p.add_argument("--out-dir", default="out/demo", help="where to write (default out/demo)")
    p.add_argument("--style", help="style name or path (default: the bundled style)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.add_argument("--gatys", action="store_true",
                   help="run the Gatys optimisation on the bundled photo instead")
    p.add_argument("--size", type=positive_int, default=320, help="Gatys output size (320)")
    p.add_argument("--iterations", type=positive_int, default=100,
                   help="Gatys L-BFGS iterations (default 100)")
    p.add_argument("--device", default="auto", help="Gatys device: auto, cpu, cuda, cuda:N, mps")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _gatys(args, out_dir) if args.gatys else _video(args, out_dir)


def _video(args, out_dir: Path) -> int:
    from .. import assets, styles, video
    from ..stylizer import Stylizer

    model = styles.find(args.style or assets.DEMO_MODEL)
    st = Stylizer([model], backend=args.backend, warm_up=(240, 320))
    clip = assets.path(assets.DEMO_CLIP)
    name = st.names[0]
    output = out_dir / f"sample_clip_{name}.mp4"
    result = video.stylize_video(clip, output, st)
    sheet = contact_sheet(clip, output, out_dir / f"sample_clip_{name}_sheet.png")
    print(f"demo video: {output.resolve()} ({result.frames} frames, {result.fps_processed:.1f} "
          f"frames/s on {st.describe()})\ncontact sheet: {sheet.resolve()}")
    return 0


def contact_sheet(original: Path, styled: Path, target: Path, count: int = 4) -> Path:
    """A PNG of ``count`` evenly spaced frames: the original above, the stylised below."""
    import av
    import numpy as np

    from .. import images
    from ..grid import image_grid

    def frames(path):
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]

    a, b = frames(original), frames(styled)
    picks = [int(i) for i in np.linspace(0, min(len(a), len(b)) - 1, count)]
    rows = [[a[i] for i in picks], [b[i] for i in picks]]
    titles = [[f"frame {i}" for i in picks], ["stylised"] * len(picks)]
    return images.write_image(target, image_grid(rows, cell=240, titles=titles,
                                                 row_titles=["original", "rtstyle"]))


def _gatys(args, out_dir: Path) -> int:
    import dataclasses

    from .. import assets, images
    from ..grid import image_grid
    from ..train import gatys
    from .gatys import stylize_to_files

    content, style = assets.path(assets.DEMO_CONTENT), assets.path(assets.DEMO_STYLE)
    cfg = dataclasses.replace(gatys.preset("default"), size=args.size, iterations=args.iterations,
                              device=args.device)
    output = stylize_to_files(content, [style], out_dir / "tubingen_starry_night.png", cfg)
    sheet = out_dir / "tubingen_starry_night_sheet.png"
    cells = [images.read_image(content), images.read_image(style), images.read_image(output)]
    images.write_image(sheet, image_grid([cells], titles=[["photo", "painting", "rtstyle"]],
                                         cell=args.size))
    print(f"demo result: {output.resolve()}\nside by side: {sheet.resolve()}")
    return 0
