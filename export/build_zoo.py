"""Build the shipped style zoo from export/zoo.toml: train (or resume), store the weights in
float16 (when the output keeps 40 dB), evaluate against Gatys, export to ONNX (fp32, and fp16
when it passes its checks), install into models/, and redraw the contact sheet and the
evaluation table.

    # on a GPU: the paper's schedule, every style, full and lite nets
    python export/build_zoo.py --device cuda --amp bf16 --channels-last
    # on this project's 2-core CPU: lite stand-ins, 300 steps each
    python export/build_zoo.py --nets lite --steps 300 --device cpu --workers 1
    # only redraw models/zoo_sheet.png and models/zoo_evaluation.md from what is installed
    python export/build_zoo.py --sheet-only

Runs live in runs/zoo/<style>-<net>, and the recipe's finishing phase on larger crops (from
that run's net) in runs/zoo/<style>-<net>-finish, which is what is evaluated and installed;
interrupted or shorter runs are continued from their checkpoints, finished ones are reused.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(ROOT / "export" / "zoo.toml"))
    p.add_argument("--styles", help="comma-separated zoo keys (default: all)")
    p.add_argument("--nets", help="comma-separated nets to build (default: each style's)")
    p.add_argument("--steps", type=int, help="training steps (default: the recipe's, 40000)")
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", choices=["off", "bf16", "fp16"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--data", default=str(SHARED / "train_content"), help="training photos")
    p.add_argument("--styles-dir", default=str(SHARED / "styles"))
    p.add_argument("--photos-dir", default=str(SHARED / "test_content"),
                   help="held-out photos for the evaluation and the contact sheet")
    p.add_argument("--videos-dir", default=str(SHARED / "videos"),
                   help="clips for the flicker figure")
    p.add_argument("--runs", default=str(ROOT / "runs" / "zoo"))
    p.add_argument("--install", default=str(ROOT / "models"))
    p.add_argument("--no-evaluate", action="store_true")
    p.add_argument("--evaluate-size", type=int)
    p.add_argument("--evaluate-iterations", help="e.g. 50,100 (default: the recipe's)")
    p.add_argument("--evaluate-device", help="device for the Gatys evaluation (default --device)")
    p.add_argument("--no-fp16", action="store_true")
    p.add_argument("--sheet-only", action="store_true",
                   help="only redraw the contact sheet and the table from models/")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--debug", action="store_true")
    return p.parse_args(argv)


def zoo_mod_nets() -> tuple[str, ...]:
    from rtstyle.zoo import NETS

    return NETS


def installed_zoo(zoo, install: Path) -> list[Path]:
    """The zoo's installed folders, in recipe order, full nets before lite ones."""
    out = []
    for s in zoo.styles:
        for net in zoo_mod_nets():
            folder = install / s.installed_name(net)
            if (folder / "model.json").is_file() and (folder / "model.onnx").is_file():
                out.append(folder)
    return out


def redraw(zoo, install: Path, photos_dir: Path) -> None:
    from rtstyle import atomic
    from rtstyle import zoo as zoo_mod

    folders = installed_zoo(zoo, install)
    photos = [photos_dir / p for p in zoo.sheet_images]
    sheet = zoo_mod.contact_sheet(folders, photos, install / "zoo_sheet.png")
    table = atomic.write_text(
        install / "zoo_evaluation.md",
        "# The installed zoo\n\nRedrawn by `python export/build_zoo.py --sheet-only` from each "
        "model's `model.json`.\n\n## Training\n\n" + zoo_mod.training_table(folders)
        + "\n## Evaluation\n\nLosses under each net's training loss at "
        f"{zoo.evaluate_size} px; Gatys L-BFGS from noise on the same loss and photo. "
        "Checkerboard and edge shift: `rtstyle/quality.py`, 0-255 units, the input photo's "
        "value in brackets. Flicker: `rtstyle flicker` warping error, the original clip's in "
        "brackets.\n\n" + zoo_mod.table(folders))
    print(f"contact sheet: {sheet}\nevaluation table: {table}")


def main(argv=None) -> int:
    args = parse_args(argv)
    from rtstyle.errors import RtstyleError
    from rtstyle import zoo as zoo_mod

    try:
        zoo = zoo_mod.load(args.recipe)
        install = Path(args.install)
        if not args.sheet_only:
            opts = zoo_mod.BuildOptions(
                styles_dir=Path(args.styles_dir), data=Path(args.data),
                photos_dir=Path(args.photos_dir), videos_dir=Path(args.videos_dir),
                runs=Path(args.runs), install=install,
                steps=args.steps, device=args.device, amp=args.amp,
                channels_last=args.channels_last, batch_size=args.batch_size,
                workers=args.workers, fp16=not args.no_fp16, evaluate=not args.no_evaluate,
                evaluate_size=args.evaluate_size,
                evaluate_iterations=tuple(int(i) for i in args.evaluate_iterations.split(","))
                if args.evaluate_iterations else None,
                evaluate_device=args.evaluate_device, quiet=args.quiet)
            nets = args.nets.split(",") if args.nets else None
            for style in zoo.select(args.styles.split(",") if args.styles else None):
                for net in zoo.build_order(nets or style.nets):
                    built = zoo_mod.build(zoo, style, net, opts)
                    ev = built.evaluation
                    eq = "n/a" if ev is None else ev["equivalent_iterations_median"]
                    eq = "more than were run" if eq is None else \
                        eq if isinstance(eq, str) else f"{eq:.0f}"
                    print(f"installed {built.folder} ({built.steps} steps, fp16 "
                          f"{'yes' if built.fp16 else 'no'}, equivalent Gatys iterations {eq})",
                          flush=True)
        redraw(zoo, install, Path(args.photos_dir))
    except (RtstyleError, ValueError) as e:
        if args.debug:
            raise
        print(f"build_zoo: {e}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as e:
        print(f"build_zoo: a step failed (exit {e.returncode}): {' '.join(e.cmd)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build_zoo: interrupted; run it again to continue from the checkpoints",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
