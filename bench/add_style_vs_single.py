"""A new painting two ways, for the same minutes of this CPU: ``rtstyle train --add-style``
(only the new γ, β row of a multi-style net learns) against a one-style net fine-tuned from a
trained one (what the zoo does for each painting), both then scored under the same loss.

Both runs get ``--minutes M`` of training with the same loss flags. The one-style net is then
evaluated with ``rtstyle evaluate`` (Gatys curves at ``--size``), and the added style is placed
on those same curves (``multistyle_vs_single.compare``), so Gatys runs once. The report gives
each run's wall time (the whole command: loading, photo cache, training, writing the model),
its steps, and equivalent Gatys iterations per photo, plus a sheet: photo, added style,
one-style net.

    python bench/add_style_vs_single.py --multi ~/rtstyle-runs/zoo_multi_lite/model \\
        --painting ../shared/data/styles/udnie_picabia.jpg --minutes 10 \\
        --data ../shared/data/train_content --runs ~/rtstyle-runs/add_style \\
        --out bench/results/add_style_vs_single_cpu_DATE
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, output, write_report  # noqa: E402
from multistyle_vs_single import compare  # noqa: E402

TEST_PHOTOS = ROOT.parent / "shared" / "data" / "test_content"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--multi", required=True, type=Path, help="the multi-style model to add to")
    p.add_argument("--painting", required=True, type=Path)
    p.add_argument("--name", help="style name (default: the painting's file name)")
    p.add_argument("--single-init", default="starry_night_lite",
                   help="trained one-style net the one-style run starts from (default: "
                        "starry_night_lite, as the zoo's lite nets do)")
    p.add_argument("--minutes", type=float, required=True, help="training minutes of each run")
    p.add_argument("--data", required=True, type=Path, help="training photos")
    p.add_argument("--runs", required=True, type=Path, help="folder for the two run folders")
    p.add_argument("--style-weight", type=float, default=10.0)
    p.add_argument("--images", nargs="+", type=Path,
                   default=[TEST_PHOTOS / "tubingen.jpg", TEST_PHOTOS / "golden_gate.jpg"])
    p.add_argument("--size", type=int, default=512, help="evaluation size (px)")
    p.add_argument("--iterations", default="50,100", help="Gatys iterations to report")
    p.add_argument("--train-args", default="", help="more flags for both training runs")
    p.add_argument("--reuse", action="store_true",
                   help="keep runs already finished in --runs (their recorded wall time)")
    p.add_argument("--out", required=True, type=Path)
    return p.parse_args(argv)


def rtstyle(*args) -> float:
    """Run ``rtstyle ARGS`` and return its wall time; fail with its last lines."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rtstyle", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"rtstyle {args[0]} failed:\n{(done.stdout + done.stderr)[-2000:]}")
    return time.perf_counter() - t


def train(run: Path, flags: list, args) -> dict:
    """One training run for ``--minutes`` (or the finished one, with --reuse)."""
    record = run / "wall.json"
    if args.reuse and record.is_file() and (run / "model" / "model.json").is_file():
        return json.loads(record.read_text())
    wall = rtstyle("train", "--out", run, "--force", "--data", args.data, "--steps", 10**7,
                   "--minutes", args.minutes, "--style-weight", args.style_weight, "-q",
                   "--checkpoint-every", 0, *flags, *shlex.split(args.train_args))
    meta = json.loads((run / "model" / "model.json").read_text())["training"]
    info = {"wall_s": round(wall, 1), "train_s": meta["seconds"], "steps": meta["steps"]}
    record.write_text(json.dumps(info))
    return info


def sheet(added: Path, single: Path, name: str, painting: Path, photos: list[Path],
          size: int, path: Path) -> None:
    """Photo, added style, one-style net and painting, one row per photo."""
    import torch

    from rtstyle import frames, grid, images
    from rtstyle.train import model_folder, multistyle
    from rtstyle.train.multistyle_net import one_hot

    multi, meta = multistyle.load(added)
    names = [s["name"] for s in meta["styles"]]
    one, _ = model_folder.load(single)
    w = one_hot(names.index(name), len(names))

    def run(net, img, *extra):
        with torch.no_grad():
            y = net(torch.from_numpy(frames.to_model_input(img)), *extra)
        return frames.from_model_output(y.numpy())

    rows, titles = [], []
    for photo in photos:
        content = images.read_image(photo, max_side=size)
        rows.append([content, run(multi, content, w), run(one, content),
                     images.read_image(painting, max_side=size)])
        titles.append([photo.name, "added style (its row only)", "one-style net", name])
    images.write_image(path, grid.image_grid(rows, cell=256, titles=titles))


def main(argv=None) -> int:
    args = parse_args(argv)
    name = args.name or args.painting.stem
    added_run, single_run = args.runs / "added", args.runs / "single"
    args.runs.mkdir(parents=True, exist_ok=True)
    added = train(added_run, ["--add-style", args.painting, "--init", args.multi,
                              "--style-name", name], args)
    single = train(single_run, ["--style", args.painting, "--init", args.single_init,
                                "--style-name", name], args)
    evaluation = single_run / "evaluation"
    if not (args.reuse and (evaluation / "evaluation.json").is_file()):
        rtstyle("evaluate", "--model", single_run / "model", "--images", *args.images,
                "--size", args.size, "--iterations", args.iterations, "--out", evaluation, "-q")
    rows = compare(added_run / "model", f"{name}={evaluation}")
    for r in rows:
        r.update(added_wall_s=added["wall_s"], added_steps=added["steps"],
                 single_wall_s=single["wall_s"], single_steps=single["steps"],
                 minutes=args.minutes)
        print(f"{r['photo']:16s} added style {r['multi_equivalent']} ({added['steps']} steps, "
              f"{added['wall_s']:.0f} s)  one-style net {r['single_equivalent']} "
              f"({single['steps']} steps, {single['wall_s']:.0f} s)", flush=True)
    write_report(output(args.out, ".json"), "add_style_vs_single", rows,
                 multi=str(args.multi), painting=str(args.painting), style_weight=args.style_weight)
    lines = [f"{name}, {args.minutes:g} minutes of training each, equivalent Gatys iterations at "
             f"{args.size} px under the one-style net's loss (None: below its curve)", "",
             "| photo | added to the multi-style net | steps | wall s | one-style net from "
             f"{args.single_init} | steps | wall s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['photo']} | {r['multi_equivalent']} | {r['added_steps']} | "
              f"{r['added_wall_s']:.0f} | {r['single_equivalent']} | {r['single_steps']} | "
              f"{r['single_wall_s']:.0f} |" for r in rows]
    output(args.out, ".md").write_text("\n".join(lines) + "\n")
    sheet(added_run / "model", single_run / "model", name, args.painting, args.images,
          args.size, output(args.out, ".jpg"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
