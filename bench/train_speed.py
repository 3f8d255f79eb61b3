"""End-to-end training speed of ``rtstyle train``: the float32 recipe against the CPU fast path.

Each recipe is a real ``rtstyle train`` run (data loading, checkpoint-free steps) of --steps steps
from the same seed, so both see the same batches. Seconds per step are the median of the
``seconds`` column differences in losses.csv after --skip warm-up steps. The same runs give the
same-quality check: the mean total loss over the second half of the steps, fast path against
float32 (the runs start from the same weights and batches; only the arithmetic differs). Since
two runs' trajectories part after a few steps whatever the arithmetic, --held-out DIR adds a
steadier check: each run's final net scored in float32 on the same held-out photos (mean total
loss under the run's loss, at --image-size).

    python bench/train_speed.py --data ../shared/data/train_content \\
        --style ../shared/data/styles/starry_night_van_gogh.jpg --nets lite,full --steps 60 \\
        --out bench/results/train_speed_cpu_DATE

Prints a Markdown table and writes JSON and Markdown (``--out`` stem).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import output, write_report  # noqa: E402

#: The recipes compared: what ``rtstyle train`` did before the fast path, and its defaults now.
RECIPES = {
    "float32 (before)": ["--amp", "off", "--no-channels-last", "--no-cache", "--workers", "2"],
    "fast path (defaults)": [],
    "bf16 in the loss network only": ["--amp", "bf16-loss"],
}
#: --recipes names -> RECIPES keys (the first one is the baseline of the speed-up).
SHORT = {"before": "float32 (before)", "fast": "fast path (defaults)",
         "bf16-loss": "bf16 in the loss network only"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="folder of training photos")
    p.add_argument("--style", required=True, type=Path, help="style image")
    p.add_argument("--nets", default="lite,full",
                   help="comma-separated nets, each with its own steps if given: lite:150,full:40")
    p.add_argument("--steps", type=int, default=60, help="steps for a net without its own")
    p.add_argument("--recipes", default="before,fast",
                   help=f"comma-separated, the first is the baseline: {', '.join(SHORT)}")
    p.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the timing")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--held-out", type=Path, metavar="DIR",
                   help="photos to score each run's final net on, in float32")
    p.add_argument("--out", type=Path, help="stem of the JSON and Markdown results")
    return p.parse_args(argv)


def run_recipe(args, net: str, steps: int, flags: list[str],
               folder: Path) -> list[dict[str, float]]:
    """One ``rtstyle train`` run; its losses.csv rows."""
    cmd = [sys.executable, "-m", "rtstyle", "train", "--style", str(args.style),
           "--data", str(args.data), "--net", net, "--steps", str(steps),
           "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
           "--checkpoint-every", "0", "--preview-every", "0", "--out", str(folder), "-q", *flags]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    with open(folder / "losses.csv") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def held_out_loss(model: Path, photos: list[Path], size: int) -> float:
    """The mean float32 total loss of a trained net on ``photos`` (longer side ``size``)."""
    import torch

    from rtstyle import config, images
    from rtstyle.train import model_folder
    from rtstyle.train.evaluate import net_loss
    from rtstyle.train.trainer import TrainConfig

    net, meta = model_folder.load(model)
    loss = config.from_dict(TrainConfig, meta["recipe"]["config"]).loss
    style = model_folder.style_image(model)
    totals = [net_loss(net.eval(), images.read_image(p, max_side=size), style, loss,
                       torch.device("cpu"))[1]["total"] for p in photos]
    return statistics.fmean(totals)


def summarise(rows: list[dict[str, float]], skip: int) -> dict[str, float]:
    secs = [b["seconds"] - a["seconds"] for a, b in zip(rows[skip:], rows[skip + 1:])]
    half = rows[len(rows) // 2:]
    return {"seconds_per_step": statistics.median(secs),
            "mean_total_second_half": statistics.fmean(r["total"] for r in half),
            "mean_content_second_half": statistics.fmean(r["content"] for r in half),
            "mean_style_second_half": statistics.fmean(r["style"] for r in half)}


def main(argv=None) -> int:
    args = parse_args(argv)
    held = sorted(p for p in args.held_out.iterdir() if p.suffix.lower() in
                  (".jpg", ".jpeg", ".png")) if args.held_out else []
    results = []
    with tempfile.TemporaryDirectory(prefix="rtstyle-train-speed-") as tmp:
        for spec in args.nets.split(","):
            net, _, steps = spec.partition(":")
            steps = int(steps) if steps else args.steps
            base = None
            for short in args.recipes.split(","):
                label, flags = SHORT[short], RECIPES[SHORT[short]]
                folder = Path(tmp) / f"{net}-{len(results)}"
                rows = run_recipe(args, net, steps, flags, folder)
                r = {"net": net, "recipe": label, "flags": " ".join(flags),
                     "steps": steps, **summarise(rows, args.skip)}
                if held:
                    r["held_out_loss"] = held_out_loss(folder / "model", held, args.image_size)
                if base is None:
                    base = r
                r["speedup"] = base["seconds_per_step"] / r["seconds_per_step"]
                r["loss_change"] = r["mean_total_second_half"] / base["mean_total_second_half"] - 1
                if held:
                    r["held_out_change"] = r["held_out_loss"] / base["held_out_loss"] - 1
                results.append(r)
                print(f"{net:5s} {label:22s} {r['seconds_per_step']:.3f} s/step "
                      f"x{r['speedup']:.2f}  loss {100 * r['loss_change']:+.1f}%"
                      + (f"  held-out {100 * r['held_out_change']:+.1f}%" if held else ""),
                      flush=True)
    md = table(results, args)
    print(md)
    if args.out:
        write_report(output(args.out, ".json"), "train_speed", results,
                     image_size=args.image_size, batch_size=args.batch_size)
        output(args.out, ".md").write_text(md)
    return 0


def table(results: list[dict], args) -> str:
    held = bool(results) and "held_out_change" in results[0]
    lines = [f"`rtstyle train`, {args.image_size} px, batch {args.batch_size} (median s/step after "
             f"{args.skip}); loss = mean total loss over the second half of the steps"
             + ("; held-out = the final net's float32 loss on the held-out photos"
                if held else ""),
             "", "| net | recipe | steps | s/step | speed-up | loss vs float32 |"
             + (" held-out vs float32 |" if held else ""),
             "|---|---|---|---|---|---|" + ("---|" if held else "")]
    for r in results:
        h = f" {100 * r['held_out_change']:+.1f} % |" if held else ""
        lines.append(f"| {r['net']} | {r['recipe']} | {r['steps']} | {r['seconds_per_step']:.2f} | "
                     f"{r['speedup']:.2f}x | {100 * r['loss_change']:+.1f} % |{h}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
