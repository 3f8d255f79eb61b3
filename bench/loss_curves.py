"""Has a run flattened? The training losses of runs (their ``losses.csv``), as moving means.

One training step's loss is that of one batch of 4 crops, far too noisy to read a trend from,
so each curve is the mean over --window steps. The table gives, per run, the total loss of
the first and the last window and its change over the last --tail steps: a change of a few
per cent over thousands of steps is a run that has flattened under its loss (more steps of the
same recipe buy little). Steps count from the run's start; a run that began from a trained
net (``--init``) says from how many steps it started.

    python bench/loss_curves.py ~/rtstyle-runs/zoo/*-lite --out bench/results/zoo_lite_losses_DATE

Writes JSON, Markdown (the table) and a plot (``.png``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import output, write_report  # noqa: E402

#: The JSON keeps every EVERY-th point of each curve.
EVERY = 20


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders (each with losses.csv)")
    p.add_argument("--window", type=int, default=200, help="steps per moving mean")
    p.add_argument("--tail", type=int, default=1000, help="steps the last change is taken over")
    p.add_argument("--out", required=True, type=Path, help="stem of the result files")
    return p.parse_args(argv)


def read_losses(run: Path) -> list[dict[str, float]]:
    path = run / "losses.csv"
    if not path.is_file():
        raise SystemExit(f"loss_curves: {run} has no losses.csv (is it a run folder?)")
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def moving_mean(values: list[float], window: int) -> list[float]:
    """Mean of each full window ending at each point (the first window-1 points have none)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        if i >= window - 1:
            out.append(total / window)
    return out


def earlier_steps(run: Path) -> int:
    """Steps of the net the run started from (0 for random weights): from the run's own model
    card when it has one (the init folder may since have been replaced by a newer net)."""
    try:
        own = json.loads((run / "model" / "model.json").read_text())["training"]
        if "init" in own:
            return int(own["total_steps"]) - int(own["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        init = json.loads((run / "config.json").read_text())["config"].get("init")
    except (OSError, ValueError, KeyError):
        return 0
    if not init:
        return 0
    try:
        training = json.loads((Path(init) / "model.json").read_text())["training"]
    except (OSError, ValueError, KeyError):
        return 0
    return int(training.get("total_steps") or training.get("steps") or 0)


def summarise(run: Path, rows: list[dict[str, float]], window: int, tail: int) -> dict:
    total = moving_mean([r["total"] for r in rows], window)
    if not total:
        raise SystemExit(f"loss_curves: {run} has {len(rows)} steps, fewer than --window")
    back = min(tail, len(total) - 1)
    return {"run": run.resolve().name, "label": run.name, "steps": int(rows[-1]["step"]),
            "from_steps": earlier_steps(run), "hours": rows[-1]["seconds"] / 3600,
            "first_window": total[0], "last_window": total[-1],
            "tail_steps": back, "tail_change": total[-1] / total[-1 - back] - 1,
            "curve": total}


def plot(results: list[dict], window: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for r in results:
        steps = range(window, window + len(r["curve"]))
        ax.plot(steps, [v / r["last_window"] for v in r["curve"]], label=r["label"])
    ax.set_xlabel("steps of the run")
    ax.set_ylabel(f"total loss ({window}-step mean) / its last value")
    ax.set_ylim(0.9, 1.6)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(results: list[dict], window: int) -> str:
    lines = [f"Total training loss, {window}-step moving means", "",
             "| run | from steps | steps | hours | first window | last window | "
             "change over the last steps |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['from_steps']} | {r['steps']} | {r['hours']:.2f} | "
              f"{r['first_window']:.3g} | {r['last_window']:.3g} | "
              f"{100 * r['tail_change']:+.1f} % over {r['tail_steps']} |" for r in results]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    results = [summarise(run, read_losses(run), args.window, args.tail) for run in args.runs]
    for r in results:
        print(f"{r['label']:32s} {r['steps']:6d} steps  last {r['last_window']:.3g}  "
              f"{100 * r['tail_change']:+.1f} % over the last {r['tail_steps']}")
    rows = [{**r, "curve": r["curve"][::EVERY]} for r in results]
    write_report(output(args.out, ".json"), "loss_curves", rows, window=args.window,
                 curve_every=EVERY)
    plot(results, args.window, output(args.out, ".png"))
    output(args.out, ".md").write_text(table(results, args.window) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
