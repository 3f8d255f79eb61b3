"""What training buys: a run's equivalent Gatys iterations at each of its saved checkpoints.

For each checkpoint (copies of a run's checkpoint.pt taken while it trained, any file names),
the net is written out as a model folder and scored the way ``rtstyle evaluate`` scores a model:
its output on each test photo at --size under the run's own loss, placed on the curve of Gatys
L-BFGS optimising that same loss (noise start). The Gatys curve depends only on the photo, the
style and the loss, so it is computed once per photo and shared by every checkpoint.

    python bench/train_curve.py --checkpoints ~/rtstyle-runs/snap_starry_lite \\
        --images ../shared/data/test_content/chicago.jpg ../shared/data/test_content/kodim23.png \\
        --out bench/results/train_curve_starry_lite_cpu_DATE

Writes JSON and Markdown (steps, training hours, equivalent iterations per photo and mean),
a plot against steps and against hours (``.png``) and a grid of the checkpoints' outputs
(``_grid.jpg``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import output, write_report  # noqa: E402

BARS = (50, 100)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", required=True, type=Path,
                   help="folder of checkpoint copies (*.pt) of one run")
    p.add_argument("--images", required=True, nargs="+", type=Path, help="test photos")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--iterations", type=int, default=200, help="Gatys iterations (the ceiling)")
    p.add_argument("--every", type=int, default=1, help="use every k-th checkpoint")
    p.add_argument("--grid-columns", type=int, default=6,
                   help="checkpoints shown in the grid (evenly spaced, the last one included)")
    p.add_argument("--label", default="", help="title of the plot (default: the run's style)")
    p.add_argument("--gatys-cache", type=Path,
                   help="JSON file keeping the Gatys curves (reused when the photo, size, "
                   "iterations, loss and style are the same)")
    p.add_argument("--gatys-only", action="store_true",
                   help="compute (and cache) the Gatys curves from the first checkpoint, then stop")
    p.add_argument("--out", required=True, type=Path, help="stem of the result files")
    return p.parse_args(argv)


def checkpoints_by_step(folder: Path, every: int) -> list[tuple[int, Path]]:
    from rtstyle.train import checkpoint

    found: dict[int, Path] = {}
    for path in sorted(folder.glob("*.pt")):
        found.setdefault(int(checkpoint.load(path)["step"]), path)
    steps = sorted(found)
    keep = steps[::every] + ([steps[-1]] if steps and (len(steps) - 1) % every else [])
    return [(s, found[s]) for s in keep]


def gatys_curves(model: Path, photos: list, size: int, iterations: int,
                 cache: Path | None = None) -> list[list[float]]:
    import hashlib
    import json

    from rtstyle import config, metadata
    from rtstyle.train import gatys, model_folder
    from rtstyle.train.trainer import TrainConfig

    meta = metadata.read(model)
    loss = config.from_dict(TrainConfig, meta["recipe"]["config"]).loss
    style = model_folder.style_image(model)
    known = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    curves = []
    for name, content in photos:
        key = hashlib.sha256(json.dumps([config.to_dict(loss), size, iterations]).encode()
                             + style.tobytes() + content.tobytes()).hexdigest()[:16]
        if key not in known:
            print(f"Gatys {iterations} iterations on {name} at {size} px", flush=True)
            known[key] = gatys.loss_curve(content, style, loss, iterations=iterations,
                                          size=size, init="noise", device="cpu",
                                          style_size=max(style.shape[:2]))
            if cache:
                cache.write_text(json.dumps(known))
        curves.append(known[key])
    return curves


def score(model: Path, photos: list, curves: list[list[float]]) -> tuple[list, list]:
    """Per photo: (equivalent iterations, net output)."""
    import torch

    from rtstyle import config
    from rtstyle.train import evaluate, gatys, model_folder
    from rtstyle.train.trainer import TrainConfig

    net, meta = model_folder.load(model)
    loss = config.from_dict(TrainConfig, meta["recipe"]["config"]).loss
    style = model_folder.style_image(model)
    eq, outs = [], []
    for (_, content), curve in zip(photos, curves):
        out, losses, _ = evaluate.net_loss(net, content, style, loss, torch.device("cpu"))
        eq.append(gatys.equivalent_iterations(losses["total"], curve))
        outs.append(out)
    return eq, outs


def main(argv=None) -> int:
    args = parse_args(argv)
    from rtstyle import images, metadata
    from rtstyle.train import trainer

    photos = [(p.stem, images.read_image(p, max_side=args.size)) for p in args.images]
    found = checkpoints_by_step(args.checkpoints, args.every)
    if not found:
        raise SystemExit(f"no checkpoints in {args.checkpoints}")
    rows, grid_rows, titles, curves = [], [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        for step, path in found:
            model = trainer.model_from_checkpoint(path, Path(tmp) / f"step{step}")
            if curves is None:
                curves = gatys_curves(model, photos, args.size, args.iterations,
                                      args.gatys_cache)
                if args.gatys_only:
                    return 0
            eq, outs = score(model, photos, curves)
            hours = metadata.read(model)["training"]["seconds"] / 3600
            finite = [e for e in eq if math.isfinite(e)]
            mean = statistics.fmean(eq) if len(finite) == len(eq) else math.inf
            rows.append({"step": step, "hours": round(hours, 3),
                         "equivalent_iterations": [None if math.isinf(e) else round(e, 1)
                                                   for e in eq],
                         "mean": None if math.isinf(mean) else round(mean, 1)})
            print(f"step {step:6d}  {hours:5.2f} h  mean {mean:6.1f}  "
                  + "  ".join(f"{e:.1f}" for e in eq), flush=True)
            grid_rows.append(outs)
            titles.append(f"step {step}")
    reached = {bar: next((r["step"] for r in rows if r["mean"] is None or r["mean"] >= bar), None)
               for bar in BARS}
    write_report(output(args.out, ".json"), "train_curve", rows,
                 images=[str(p) for p in args.images], size=args.size,
                 gatys_iterations=args.iterations, reached=reached)
    output(args.out, ".md").write_text(table(rows, photos, reached, args))
    plot(output(args.out, ".png"), rows, args.label or found[0][1].parent.name)
    images.write_image(args.out.with_name(args.out.name + "_grid.jpg"),
                       preview_grid(photos, grid_rows, titles, args.grid_columns))
    return 0


def preview_grid(photos, outputs, titles, columns: int):
    """One row per photo: the photo, then the outputs of ``columns`` evenly spaced checkpoints."""
    import numpy as np

    from rtstyle import grid

    picks = sorted({int(round(i)) for i in np.linspace(0, len(outputs) - 1, columns)})
    rows = [[content, *(outputs[k][i] for k in picks)] for i, (_, content) in enumerate(photos)]
    names = [[name, *(titles[k] for k in picks)] for name, _ in photos]
    return grid.image_grid(rows, cell=200, titles=names)


def table(rows, photos, reached, args) -> str:
    names = [n for n, _ in photos]
    lines = [f"Equivalent Gatys iterations at {args.size} px (ceiling {args.iterations}; "
             "'>' = better than Gatys reached)", "",
             "| step | hours | " + " | ".join(names) + " | mean |",
             "|---" * (len(names) + 3) + "|"]
    for r in rows:
        cells = [f"{e:.0f}" if e is not None else f">{args.iterations}"
                 for e in r["equivalent_iterations"]]
        mean = f"{r['mean']:.0f}" if r["mean"] is not None else f">{args.iterations}"
        lines.append(f"| {r['step']} | {r['hours']:.2f} | " + " | ".join(cells) + f" | {mean} |")
    lines += ["", *(f"- Gatys-{bar}: " + (f"reached at step {s}" if s else "not reached")
                    for bar, s in reached.items())]
    return "\n".join(lines) + "\n"


def plot(path: Path, rows, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, xlabel in ((axes[0], "step", "training steps"),
                            (axes[1], "hours", "training hours on this CPU")):
        done = [r for r in rows if r["mean"] is not None]
        ax.plot([r[key] for r in done], [r["mean"] for r in done], "o-", label="mean")
        for bar in BARS:
            ax.axhline(bar, color="grey", linestyle="--", linewidth=0.8)
            ax.text(ax.get_xlim()[0], bar, f" Gatys-{bar}", va="bottom", fontsize=8)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("equivalent Gatys iterations")
    fig.suptitle(label)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
