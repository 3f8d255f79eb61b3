"""Flicker table: warping error and style loss per clip x style x stabilisation.

Runs ``rtstyle flicker`` for every clip and every variant, then writes one JSON file with the
commands and the numbers and a Markdown table (the README's "Flicker" table comes from it)::

    python bench/flicker_table.py --videos ../shared/data/videos --frames 60 \\
        --style starry_night_lite --stable models/starry_night_lite_stable \\
        --variant "anti-aliased net=runs/aa/starry_lite_aa/model" \\
        --out bench/results/flicker_cpu_aa_2026-11-22

Variants per style: the per-frame net; the per-frame net with ``--stabilize`` (run time);
the net trained with the temporal term (``--stable``); and that net with ``--stabilize``;
then any other net of the same style given with ``--variant LABEL=MODEL`` (e.g. an
anti-aliased net, ``--net lite-aa``), alone and with ``--stabilize``. All are compared with
the first, per-frame net.
Targets: warping error at least 40% lower than the per-frame net, style loss at most
10% higher. The stabiliser's own flow is DIS, like the metric's by default, so every variant is
also measured with Farneback flow, which the stabiliser does not use (``--no-cross-check``
skips it); a row meets the targets only if both flows say so ("DIS only" otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import time
from pathlib import Path

from common import output, write_report  # (also puts the repo on sys.path)

from rtstyle.cli import main as rtstyle_main

WARP_TARGET = 0.40
STYLE_TARGET = 0.10


def flicker(model: str, video: Path, out: Path, frames: int, stabilize: float, flow: str,
            style_frames: int) -> dict:
    argv = ["flicker", "--model", model, "--video", str(video), "--frames", str(frames),
            "--flow", flow, "--style-loss-frames", str(style_frames), "--out", str(out),
            "--device", "cpu"]
    if stabilize:
        argv += ["--stabilize", f"{stabilize:g}"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = rtstyle_main(argv)
    if code != 0:
        raise SystemExit(f"rtstyle {' '.join(argv)} failed with exit code {code}")
    return json.loads((out / "flicker.json").read_text())


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, required=True, help="folder of clips (or one clip)")
    ap.add_argument("--style", action="append", required=True,
                    help="per-frame model (repeat for several styles)")
    ap.add_argument("--stable", action="append", default=[],
                    help="its temporally trained variant, same order as --style ('-' = none)")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=MODEL",
                    help="another net of the (first) style, measured alone and with "
                         "--stabilize (repeatable)")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--stabilize", type=float, default=None,
                    help="--stabilize weight (default: rtstyle's default)")
    ap.add_argument("--style-loss-frames", type=int, default=8)
    ap.add_argument("--no-cross-check", action="store_true",
                    help="skip the Farneback-flow measurements")
    ap.add_argument("--out", type=Path, required=True, help="output stem (.json and .md)")
    return ap.parse_args()


def variants_of(args, weight: float) -> list[tuple[str, list]]:
    """(style, [(label, model, --stabilize weight)]) for every --style, in order."""
    extra = []
    for spec in args.variant:
        label, sep, model = spec.partition("=")
        if not sep or not label or not model:
            raise SystemExit(f"--variant needs LABEL=MODEL, got {spec!r}")
        extra += [(label, model, 0.0), (f"{label} + --stabilize", model, weight)]
    stables = args.stable + ["-"] * (len(args.style) - len(args.stable))
    out = []
    for n, (style, stable) in enumerate(zip(args.style, stables)):
        variants = [("per-frame", style, 0.0), ("--stabilize", style, weight)]
        if stable != "-":
            variants += [("temporal net", stable, 0.0), ("temporal net + --stabilize", stable,
                                                          weight)]
        out.append((style, variants + (extra if n == 0 else [])))
    return out


def measure_row(args, work: Path, clip: Path, style: str, label: str, model: str,
                stab: float, base: dict | None) -> dict:
    """One variant on one clip, by both flows, against the clip's per-frame ``base`` row."""
    t0 = time.perf_counter()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{Path(style).name} {label}").strip("-")
    tag = f"{clip.stem}_{slug}"
    r = flicker(model, clip, work / tag, args.frames, stab, "dis", args.style_loss_frames)
    row = {"clip": clip.name, "style": Path(style).name, "variant": label, "model": model,
           "stabilize": stab, "frames": r["frames"], "size": f"{r['width']}x{r['height']}",
           "warping_error": r["warping_error"], "original": r["original_warping_error"],
           "style_loss": r["style_loss"], "command": r["command"]}
    if not args.no_cross_check:
        f = flicker(model, clip, work / (tag + "_farneback"), args.frames, stab, "farneback", 0)
        row["warping_error_farneback"] = f["warping_error"]
        row["original_farneback"] = f["original_warping_error"]
    base = base or row
    row["warp_change"] = row["warping_error"] / base["warping_error"] - 1
    if row["style_loss"] is not None and base["style_loss"]:
        row["style_change"] = row["style_loss"] / base["style_loss"] - 1
    if "warping_error_farneback" in row:
        row["warp_change_farneback"] = (row["warping_error_farneback"]
                                        / base["warping_error_farneback"] - 1)
    row["meets_targets_dis"] = (base is not row and row["warp_change"] <= -WARP_TARGET
                                and row.get("style_change", 1.0) <= STYLE_TARGET)
    # met only if the flow the stabiliser does not use agrees
    row["meets_targets"] = row["meets_targets_dis"] and \
        row.get("warp_change_farneback", -1.0) <= -WARP_TARGET
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main() -> int:
    args = parse_args()
    from rtstyle.stabilize import DEFAULT_WEIGHT

    weight = DEFAULT_WEIGHT if args.stabilize is None else args.stabilize
    clips = sorted(args.videos.glob("*.mp4")) if args.videos.is_dir() else [args.videos]
    work = args.out.parent / (args.out.name + "_runs")
    rows = []
    for style, variants in variants_of(args, weight):
        for clip in clips:
            base = None
            for label, model, stab in variants:
                row = measure_row(args, work, clip, style, label, model, stab, base)
                base = base or row
                rows.append(row)
                print(f"{clip.name:45s} {label:28s} E {row['warping_error']:.2f} "
                      f"({row['warp_change']:+.0%})  style {row['style_loss']} "
                      f"({row.get('style_change', 0):+.0%})", flush=True)
    write_report(output(args.out, ".json"), "flicker_table", rows, stabilize=weight,
                 frames=args.frames, targets={"warping_error": f"<= -{WARP_TARGET:.0%}",
                                              "style_loss": f"<= +{STYLE_TARGET:.0%}"})
    output(args.out, ".md").write_text(markdown(rows) + "\n")
    print(f"wrote {output(args.out, '.md')}")
    return 0


def met(row: dict) -> str:
    if row["meets_targets"]:
        return "yes"
    return "DIS only" if row.get("meets_targets_dis") else "no"


def markdown(rows: list[dict]) -> str:
    cross = any("warping_error_farneback" in r for r in rows)
    head = ["clip", "style", "variant", "warping error (DIS)", "change"]
    head += ["warping error (Farneback)", "change"] if cross else []
    head += ["style loss", "change", "targets met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        first = r["variant"] == "per-frame"
        cells = [r["clip"] + f" ({r['size']})", r["style"], r["variant"],
                 f"{r['warping_error']:.2f} (original {r['original']:.2f})",
                 "" if first else f"{r['warp_change']:+.0%}"]
        if cross:
            cells += [f"{r['warping_error_farneback']:.2f} (original {r['original_farneback']:.2f})",
                      "" if first else f"{r['warp_change_farneback']:+.0%}"]
        sl = r["style_loss"]
        cells += ["n/a" if sl is None else f"{sl:.3g}",
                  "" if first or "style_change" not in r else f"{r['style_change']:+.0%}",
                  "" if first else met(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
