"""``rtstyle bench``: latency and FPS per backend, precision, net, resolution and batch; end to
end (``rtstyle video`` per stage, the live loop's added latency); each result as a fraction of
the device's compute and memory floors, and the targets next to them.

The default matrix is the full one, meant for a GPU machine: cases that cannot run here are
recorded as skipped with the reason. --quick runs a small matrix (ORT CPU and torch eager x
full/lite/WCT x 256x256 and 640x360, plus the lite net at batch 8) in a few minutes on a CPU.

Writes OUT/<device>_<date>.jsonl (one record a line), .md (the tables) and .png (a chart);
OUT defaults to bench/results. --compare OLD.jsonl flags cases more than 15% slower (exit 1);
--readme [PAGE.md] rewrites the measured section of a docs page (docs/performance.md by
default) from the results.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

from .args import (add_common, add_json_flag, name_list, nonneg_float, nonneg_int, positive_float,
                   positive_int)

#: (warmup, min repeats, max seconds per case, e2e video frames, live frames)
QUICK = (1, 3, 1.5, 120, 60)
FULL = (3, 10, 3.0, 240, 150)


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark latency, FPS and end-to-end speed",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--quick", action="store_true",
                   help="the quick matrix (a few minutes on a 2-core CPU)")
    m = p.add_argument_group("matrix (each replaces one axis of the full or quick matrix)")
    m.add_argument("--backends", type=name_list, metavar="A,B",
                   help="torch-eager-fp32, torch-compile-fp16, ort-cpu-fp32, ort-cpu-int8 "
                        "(the WCT graph only), ort-cuda-fp32, ort-cuda-fp16, ort-trt-fp16 (or "
                        "torch, torch-compile, ort-cpu, ort-cuda, ort-trt)")
    m.add_argument("--nets", type=name_list, metavar="A,B", help="full, lite, wct")
    m.add_argument("--sizes", type=name_list, metavar="WxH,...",
                   help="e.g. 256x256,640x360,1280x720,1920x1080")
    m.add_argument("--batch", type=name_list, metavar="N,M", help="batch sizes, e.g. 1,8")
    m.add_argument("--model", action="append", default=[], metavar="NET=PATH",
                   help="use this model folder or .onnx file for a net (a WCT folder for wct)")
    t = p.add_argument_group("timing")
    t.add_argument("--repeats", type=positive_int, metavar="N",
                   help="at least N timed calls per case (default 3 quick, 10 full)")
    t.add_argument("--max-seconds", type=nonneg_float, metavar="S",
                   help="keep timing a case until S seconds passed (default 1.5 quick, 3 full)")
    t.add_argument("--warmup", type=nonneg_int, metavar="N",
                   help="untimed calls first (default 1 quick, 3 full)")
    t.add_argument("--threads", type=nonneg_int, default=0, help="ort-cpu threads (0 = all)")
    t.add_argument("--no-peaks", action="store_true",
                   help="do not measure the device peaks (no floors)")
    e = p.add_argument_group("end to end")
    e.add_argument("--no-e2e", action="store_true", help="skip the video and live-loop runs")
    e.add_argument("--clip", metavar="FILE", help="the clip (default: the bundled sample clip)")
    e.add_argument("--e2e-size", metavar="WxH",
                   help="size of the end-to-end runs (default: 1920x1080 video and 1280x720 "
                        "live on a GPU; the clip's size (quick) or 640x360 on a CPU)")
    e.add_argument("--frames", type=positive_int, metavar="N",
                   help="frames of the end-to-end video and live runs (default 120 and 60 "
                        "quick, 240 and 150 full)")
    o = p.add_argument_group("results")
    o.add_argument("--out", metavar="DIR", help="results folder (default bench/results)")
    o.add_argument("--results", metavar="FILE.jsonl",
                   help="use this results file instead of running (with --compare/--readme)")
    o.add_argument("--compare", metavar="OLD.jsonl",
                   help="flag cases slower than in OLD by more than --threshold (exit 1)")
    o.add_argument("--compare-mode", choices=("auto", "absolute", "relative"), default="auto",
                   help="absolute: new/old per case; relative: each case over the same run's "
                        "reference case first; auto: absolute on the same device (default)")
    o.add_argument("--threshold", type=positive_float, default=0.15,
                   help="slowdown that is flagged, as a fraction (default 0.15)")
    o.add_argument("--readme", nargs="?", const="docs/performance.md", metavar="PAGE.md",
                   help="rewrite the results section of this page (default docs/performance.md)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_json_flag(p, "one JSON record per result instead of the Markdown tables")
    p.set_defaults(run=run)


def _command(args: argparse.Namespace) -> str:
    argv = ["rtstyle", "bench"] + (["--quick"] if args.quick else [])
    for flag in ("backends", "nets", "sizes", "batch"):
        value = getattr(args, flag)
        if value:
            argv += [f"--{flag}", ",".join(value)]
    for item in args.model:
        argv += ["--model", item]
    for flag in ("repeats", "max_seconds", "warmup", "threads", "clip", "e2e_size", "frames"):
        value = getattr(args, flag)
        if value is not None and (value or flag in ("max_seconds", "warmup")):
            argv += [f"--{flag.replace('_', '-')}", f"{value:g}" if isinstance(value, float)
                     else str(value)]
    argv += [f for f, on in (("--no-peaks", args.no_peaks), ("--no-e2e", args.no_e2e)) if on]
    return shlex.join(argv)


def _models(items: list[str]) -> dict[str, Path]:
    from ..bench import matrix
    from ..errors import InputError

    out = {}
    for item in items:
        net, sep, path = item.partition("=")
        if not sep or not path:
            raise InputError(f"--model expects NET=PATH, got '{item}'")
        net = matrix.parse_nets([net])[0]
        if not Path(path).exists():
            raise InputError(f"--model {net}: not found: {path}")
        out[net] = Path(path)
    return out


def _settings(args: argparse.Namespace):
    from ..bench import matrix, runner

    warmup, repeats, seconds, frames, live_frames = QUICK if args.quick else FULL
    return runner.Settings(
        warmup=warmup if args.warmup is None else args.warmup,
        min_repeats=args.repeats or repeats,
        max_seconds=seconds if args.max_seconds is None else args.max_seconds,
        threads=args.threads, peaks=not args.no_peaks, e2e=not args.no_e2e,
        clip=Path(args.clip) if args.clip else None,
        e2e_size=matrix.parse_size(args.e2e_size) if args.e2e_size else None,
        e2e_frames=args.frames or frames, live_frames=args.frames or live_frames,
        quick=args.quick,
        models=_models(args.model))


def _show(records, as_json: bool) -> None:
    from ..bench import output

    if as_json:
        for r in records:
            print(json.dumps(r))
    else:
        print(output.markdown(records))


def run(args: argparse.Namespace) -> int:
    from .. import video
    from ..bench import compare, matrix, output, docs_page
    from ..errors import InputError

    # every input is checked before anything runs
    cases = matrix.cases(
        args.quick,
        matrix.parse_backends(args.backends) if args.backends else None,
        matrix.parse_nets(args.nets) if args.nets else None,
        matrix.parse_sizes(args.sizes) if args.sizes else None,
        matrix.parse_batches(args.batch) if args.batch else None)
    settings = _settings(args)
    if args.clip:
        container, _, _ = video.probe(args.clip)
        container.close()
    old = output.read(args.compare) if args.compare else None
    if args.readme and not Path(args.readme).is_file():
        raise InputError(f"README not found: {args.readme}")
    out_dir = Path(args.out) if args.out else output.DEFAULT_FOLDER
    if args.results:
        records = output.read(args.results)
        results_path = Path(args.results)
        _show(records, args.json)
    else:
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"--out must be a folder, got a file: {out_dir}")
        records = _run(cases, settings, _command(args), args.quiet)
        paths = output.write(records, out_dir)
        results_path = paths["jsonl"]
        _show(records, args.json)
        print("wrote " + ", ".join(str(p) for p in paths.values()),
              file=sys.stderr if args.json else sys.stdout)
    if args.readme:
        changed = docs_page.update(args.readme, records, results_path)
        print(f"{'updated' if changed else 'unchanged:'} {args.readme} (performance section "
              f"from {results_path})")
    if old is not None:
        c = compare.compare(records, old, args.threshold, args.compare_mode)
        print(f"\nCompared with {args.compare}:\n\n{compare.table(c)}\n")
        if c.flagged:
            raise compare.RegressionError(c.summary())
        print(c.summary())
    return 0


def _run(cases, settings, command: str, quiet: bool) -> list[dict]:
    from tqdm import tqdm

    from ..bench import runner

    began = time.perf_counter()
    bar = tqdm(total=1, desc="bench", unit="step", disable=True if quiet else None,
               dynamic_ncols=True)

    def on_step(done: int, total: int, label: str) -> None:
        bar.total = total
        bar.set_description_str(label[:48], refresh=False)
        bar.update(done - bar.n)

    try:
        with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as work:
            records = runner.run(cases, settings, work, on_step, command)
    finally:
        bar.close()
    print(f"ran {len(cases)} cases in {time.perf_counter() - began:.0f} s")
    return records
