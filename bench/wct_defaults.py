"""What ``rtstyle wct``'s level choice does to a photo: content and style distances (under the
default training loss, VGG19 Gram and feature distances) of the default chain, of every
level with a decoder, of Gatys-100 from noise on the same loss (the quality reference), and of the painting
itself as the output (the "nothing of the photo is left" end), per photo and painting.

With ``--matched-iterations N``, Gatys also runs from the photo for N iterations, and each WCT
row gets the content distance of Gatys at the same style distance: at the first iteration whose
style distance is at most the WCT output's (the optimiser's float image, not rounded to
8 bits). Gatys' path from the photo trades content for style step by step, so this says how
much of the photo a WCT chain gives up beyond what the optimisation needs for as much style.
``--alphas`` adds the default chain at other style strengths.

    S=../shared/data/styles
    python bench/wct_defaults.py --photos rtstyle/assets/tubingen.jpg \\
        ../shared/data/test_content/golden_gate.jpg --paintings \\
        $S/starry_night_van_gogh.jpg $S/great_wave_hokusai.jpg \\
        --size 256 --out bench/results/wct_defaults_cpu_DATE
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import output, write_report  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", nargs="+", required=True, type=Path)
    p.add_argument("--paintings", nargs="+", required=True, type=Path)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--gatys-iterations", type=int, default=100, help="0 leaves Gatys out")
    p.add_argument("--matched-iterations", type=int, default=0, metavar="N",
                   help="also Gatys from the photo for N iterations: its content distance at "
                        "each WCT row's style distance")
    p.add_argument("--alphas", type=alpha_list, default=(), metavar="A,B",
                   help="also the default chain at these style strengths (default: only "
                        "rtstyle wct's own alpha)")
    p.add_argument("--decoders", help="folder with level1..level5 (default: the search path)")
    p.add_argument("--out", required=True, type=Path)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from rtstyle import images
    from rtstyle.train.evaluate import score_image
    from rtstyle.train.gatys import GatysConfig, stylize_gatys
    from rtstyle.train.trainer import TrainConfig
    from rtstyle.train.wct.levels import default_levels
    from rtstyle.train.wct.stylize import WCTConfig, stylize_wct
    from rtstyle.train.wct.trainer import encoder_for, find_decoder, load_decoder

    loss = TrainConfig().loss
    chosen, left_out = default_levels(args.decoders)
    # every level with a decoder, the ones below their floor included (what the old default ran)
    every = tuple(sorted({*chosen, *(c.level for c in left_out if c.psnr_db is not None)},
                         reverse=True))
    decoders = {lv: load_decoder(find_decoder(lv, args.decoders))[0] for lv in every}
    encoders = {lv: encoder_for(lv, "cpu") for lv in every}
    levels = ",".join(map(str, chosen))
    methods = {f"wct {levels} (default)": WCTConfig(levels=chosen, size=args.size),
               f"wct {','.join(map(str, every))} (every decoder)":
                   WCTConfig(levels=every, size=args.size)}
    methods |= {f"wct {levels} alpha {a:g}": WCTConfig(levels=chosen, size=args.size, alpha=a)
                for a in args.alphas}
    rows = []
    for photo_path in args.photos:
        photo = images.read_image(photo_path, max_side=args.size)
        for painting_path in args.paintings:
            painting = images.read_image(painting_path, max_side=args.size)
            outs = {name: stylize_wct(photo, [painting], encoders, decoders, cfg)
                    for name, cfg in methods.items()}
            if args.gatys_iterations:
                cfg = GatysConfig(loss=loss, size=args.size, iterations=args.gatys_iterations,
                                  init="noise", device="cpu")
                outs[f"gatys {args.gatys_iterations} (noise)"] = \
                    stylize_gatys(photo, [painting], cfg).image
            outs["the painting itself"] = images.resize_to(painting, photo.shape[:2])
            path = []
            if args.matched_iterations:
                cfg = GatysConfig(loss=loss, size=args.size, iterations=args.matched_iterations,
                                  init="content", device="cpu")
                path = stylize_gatys(photo, [painting], cfg).history
            for name, img in outs.items():
                d = score_image(img, photo, painting, loss)
                row = {"photo": photo_path.name, "painting": painting_path.name,
                       "method": name, "content": d["content"], "style": d["style"]}
                if path and name.startswith("wct"):
                    row["gatys_at_same_style"] = matched(path, d["style"])
                rows.append(row)
                print(f"{photo_path.name:16s} {painting_path.name:32s} {name:26s} content "
                      f"{d['content']:9.4g} style {d['style']:9.4g}", flush=True)
    write_report(output(args.out, ".json"), "wct_defaults", rows, size=args.size,
                 default_levels=list(chosen))
    output(args.out, ".md").write_text(table(rows, args) + "\n")
    return 0


def alpha_list(text: str) -> tuple[float, ...]:
    """``0.4,1`` -> (0.4, 1.0), each in [0, 1]."""
    try:
        alphas = tuple(float(a) for a in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not all(0.0 <= a <= 1.0 for a in alphas):
        raise argparse.ArgumentTypeError(f"alphas must be between 0 and 1: {text!r}")
    return alphas


def matched(path: list[dict], style: float) -> dict | None:
    """Gatys' content distance at the first iteration of ``path`` with at most ``style``."""
    for row in path:
        if row["style"] <= style:
            return {"iteration": row["iteration"], "content": row["content"],
                    "style": row["style"]}
    return None


def table(rows: list[dict], args) -> str:
    extra = bool(args.matched_iterations)
    lines = [f"Distances under the default training loss at {args.size} px (lower = closer)", "",
             "| photo | painting | method | content | style |"
             + (" Gatys from the photo at the same style: content (iteration) |" if extra else ""),
             "|---|---|---|---|---|" + ("---|" if extra else "")]
    for r in rows:
        line = (f"| {r['photo']} | {r['painting']} | {r['method']} | {r['content']:.3g} | "
                f"{r['style']:.3g} |")
        if extra:
            m = r.get("gatys_at_same_style")
            line += (f" {m['content']:.3g} ({m['iteration']}) |" if m else
                     (f" not reached in {args.matched_iterations} |"
                      if r["method"].startswith("wct") else " |"))
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
