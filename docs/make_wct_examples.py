"""Make docs/wct_examples.png: what the shipped WCT decoders do with any painting.

    python docs/make_wct_examples.py --out docs/wct_examples.png

Top row: the inputs (photo, two paintings, the mask). Bottom row: single-level relu4_1 at
alpha 0.8; multi-level relu5_1 -> relu1_1 at alpha 0.6; texture synthesis from noise; a 50/50
mixture of the two paintings; spatial control (painting 1 where the mask is dark, painting 2
where it is light). Prints the seconds each took (PyTorch on the given device).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--content", type=Path, default=ROOT / "rtstyle/assets/tubingen.jpg")
    p.add_argument("--style", type=Path, default=ROOT / "rtstyle/assets/starry_night_van_gogh.jpg")
    p.add_argument("--style2", type=Path,
                   default=ROOT.parent / "shared/data/styles/great_wave_hokusai.jpg")
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--cell", type=int, default=200)
    p.add_argument("--device", default="cpu")
    p.add_argument("--decoders", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "docs/wct_examples.png")
    args = p.parse_args(argv)

    import numpy as np

    from rtstyle import grid, images
    from rtstyle.train.device import resolve_device
    from rtstyle.train.wct.stylize import WCTConfig, stylize_wct
    from rtstyle.train.wct.trainer import encoder_for, find_decoder, load_decoder

    device = resolve_device(args.device)
    decs = {lv: load_decoder(find_decoder(lv, args.decoders), device)[0] for lv in range(1, 6)}
    encs = {lv: encoder_for(lv, device) for lv in range(1, 6)}
    content = images.fit_within(images.read_image(args.content), args.size)
    s1, s2 = images.read_image(args.style), images.read_image(args.style2)
    h, w = content.shape[:2]
    mask = np.full((h, w), 40, np.uint8)  # dark = painting 1, light = painting 2
    mask[:, w // 2:] = 215
    runs = [
        ("relu4_1, alpha 0.8", dict(content=content, styles=[s1],
                                    cfg=WCTConfig(levels=(4,), alpha=0.8, size=args.size))),
        ("5..1 levels, alpha 0.6", dict(content=content, styles=[s1],
                                        cfg=WCTConfig(alpha=0.6, size=args.size))),
        ("texture (5..1)", dict(content=None, styles=[s1],
                                cfg=WCTConfig(alpha=1.0, size=args.size // 2 * 2, texture=True))),
        ("mixture 50/50", dict(content=content, styles=[s1, s2], style_weights=[1, 1],
                               cfg=WCTConfig(alpha=0.6, size=args.size))),
        ("mask: left 1, right 2", dict(content=content, styles=[s1, s2], mask=mask,
                                       cfg=WCTConfig(alpha=0.6, size=args.size))),
    ]
    outs, titles = [], []
    for title, kw in runs:
        t = time.perf_counter()
        outs.append(stylize_wct(kw["content"], kw["styles"], encs, decs, kw["cfg"],
                                kw.get("style_weights"), kw.get("mask")))
        sec = time.perf_counter() - t
        titles.append(f"{title} ({sec:.1f} s)")
        print(f"{title}: {sec:.1f} s at {args.size} px on {device}")
    top = [content, s1, s2, np.dstack([mask] * 3), None]
    sheet = grid.image_grid([top, outs], cell=args.cell,
                            titles=[["photo", "painting 1", "painting 2", "mask", ""], titles])
    images.write_image(args.out, sheet)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
