"""Choose a painting's loss from short fine-tuning runs: each variant (its own ``rtstyle train``
flags: style weight, style size, style layers) continues one trained net for --steps steps, so
the variants differ only in the loss. The finished model folders are exported; compare them by
eye and against the peer with ``bench/peer_compare.py --measure-with ONE_OF_THEM --sheet``.

    python bench/loss_sweep.py --init runs/starry_lite/model --style painting.jpg \\
        --data ../shared/data/train_content --steps 400 --out ~/rtstyle-runs/sweep \\
        --variant "sw10=--style-weight 10" --variant "sw25=--style-weight 25" \\
        --variant "sw60=--style-weight 60" --variant "sw25_s512=--style-weight 25 --style-size 512"

Variants already trained in --out are reused, so an interrupted sweep continues.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--init", required=True, help="the trained model every variant starts from")
    p.add_argument("--style", required=True, type=Path, help="the painting")
    p.add_argument("--data", required=True, type=Path, help="training photos")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--variant", action="append", required=True, metavar="NAME=FLAGS",
                   help="a name and its rtstyle train flags; repeat")
    p.add_argument("--out", required=True, type=Path, help="folder of the variants' runs")
    p.add_argument("--extra", default="", help="flags every variant gets (e.g. '--net lite')")
    p.add_argument("--style-name", help="default: the init model's when it was trained on this "
                   "painting, else the file's name")
    p.add_argument("--style-credit", help="default: the init model's, for the same painting")
    p.add_argument("--style-license", help="default: the init model's, for the same painting")
    return p.parse_args(argv)


def variants(specs: list[str]) -> list[tuple[str, list[str]]]:
    out = []
    for spec in specs:
        name, sep, flags = spec.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"loss_sweep: a variant is NAME=FLAGS, got {spec!r}")
        out.append((name.strip(), shlex.split(flags)))
    return out


def train_command(args, flags: list[str], run: Path) -> list[str]:
    from rtstyle import metadata

    meta = metadata.read(args.init)
    same = meta.get("style", {}).get("source") == args.style.name
    style = meta.get("style", {}) if same else {"name": args.style.stem}
    return [sys.executable, "-m", "rtstyle", "train", "--out", str(run), "--init", args.init,
            "--net", meta["net"]["name"], "--style", str(args.style), "--data", str(args.data),
            "--style-name", args.style_name or style.get("name") or args.style.stem,
            "--style-credit", args.style_credit or style.get("credit", ""),
            "--style-license", args.style_license or style.get("license", ""),
            "--steps", str(args.steps), "--checkpoint-every", "100", "--preview-every", "0",
            "--quiet", *shlex.split(args.extra), *flags]


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, flags in variants(args.variant):
        run = args.out / name
        model = run / "model"
        if (model / "model.onnx").is_file():
            print(f"{name}: done ({model})", flush=True)
            continue
        cmd = train_command(args, flags, run)
        if (run / "checkpoint.pt").is_file():
            cmd = [sys.executable, "-m", "rtstyle", "train", "--out", str(run), "--resume",
                   "--quiet"]
        print(f"{name}: {shlex.join(cmd[2:])}", flush=True)
        subprocess.run(cmd, check=True)
        subprocess.run([sys.executable, "-m", "rtstyle", "export", "--model", str(model)],
                       check=True)
    print("models:", " ".join(str(args.out / n / "model") for n, _ in variants(args.variant)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
