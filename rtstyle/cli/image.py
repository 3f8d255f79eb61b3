"""``rtstyle image``: stylise image files with a trained style (ONNX Runtime, no torch needed)."""

from __future__ import annotations

import argparse

from .args import add_common, add_json_flag
from .engine_args import add_engine_args, choose_style, make_stylizer, style_label


def register(sub) -> None:
    p = sub.add_parser("image", help="stylise image files with a trained style",
                       description=__doc__)
    add_common(p)
    p.add_argument("inputs", nargs="+", metavar="IN",
                   help="image files or folders; - reads one image from standard input")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="output file (for one input) or folder (default out/images); "
                   "- writes a PNG to standard output")
    p.add_argument("--out", help=argparse.SUPPRESS)  # the old spelling, for one release
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files (default: write a numbered name and say so)")
    p.add_argument("--format", choices=("png", "jpg", "same"), default="same",
                   help="output format (default: the input's, PNG for other kinds)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_json_flag(p, "one JSON record per input (input, output, style, size or error) instead "
                  "of the summary")
    add_engine_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from . import outputs

    choose_style(args)
    plan = outputs.plan_images(args.inputs, outputs.output_option(args, "out/images"),
                               args.format, args.overwrite)
    stylizer = make_stylizer(args, shape=None)
    label = style_label(args, stylizer)
    done = outputs.write_images(plan, label, stylizer, args.quiet or args.json)
    if args.json:
        import json

        for record in done.records:
            print(json.dumps({"input": record.get("input"), **record, "style": label,
                              "backend": stylizer.describe()}))
        return 1 if done.failed else 0
    for old, new in done.renamed:
        print(f"{old.name} exists: wrote {new.name} instead (--overwrite replaces)")
    if done.written:
        where = plan.folder or done.written[0].parent
        print(f"wrote {len(done.written)} image(s) to {where} with {stylizer.describe()}")
    return done.raise_failures()
