"""``rtstyle refit-wct``: give a WCT decoder's last convolution its least-squares weights.

The last convolution maps the decoder's final feature map to the pixels and is linear, so the
weights with the lowest pixel error on a set of photos follow from the normal equations: a
minute's work where Adam, which also serves the feature term, leaves pixel accuracy behind
(relu1_1: 35.7 -> 41 dB, relu2_1: 29.3 -> 31.2 dB on the held-out photos). The result is a new
decoder folder with its reconstruction PSNR; export its real-time graphs afterwards.

It trades texture for accuracy: on relu3_1 and deeper, the refit decoders reconstruct better
but stylise flatter (docs/any-painting.md measures both); the shipped relu3_1 keeps its
trained layer.
"""

from __future__ import annotations

import argparse

from .args import add_common, positive_int


def register(sub) -> None:
    p = sub.add_parser("refit-wct", help="least-squares refit of a WCT decoder's last layer",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--model", required=True, metavar="DECODER",
                   help="a WCT decoder folder (e.g. models/wct/level1 or runs/wct2/model)")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="folder of photos to fit on (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the refit decoder's folder (may be --model itself: replaced atomically)")
    p.add_argument("--photos", type=positive_int, default=100, metavar="N",
                   help="photos drawn from --data (default 100)")
    p.add_argument("--size", type=positive_int, default=512, metavar="PX",
                   help="longer side the photos are read at (default 512)")
    p.add_argument("--seed", type=int, default=0, help="which photos are drawn (default 0)")
    p.add_argument("--eval-images", nargs="+", metavar="PATH",
                   help="held-out photos whose reconstruction PSNR goes into the metadata "
                        "(default: the bundled photo)")
    p.add_argument("--eval-size", type=positive_int, default=512, metavar="PX",
                   help="longer side of the evaluation images (default 512)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import assets
    from ..train.wct import refit, trainer
    from .progress import Progress

    trainer.load_decoder(args.model)  # a readable decoder, or a one-line error, before the work
    eval_paths = args.eval_images or [str(assets.path(assets.DEMO_CONTENT))]
    trainer.eval_images_from(eval_paths, 16)  # unreadable paths fail before the work
    count = len(refit.pick_photos(args.data, args.photos, args.seed))
    with Progress(count, "refit", unit="photo", disable=args.quiet) as bar:
        folder, meta = refit.refit_folder(args.model, args.data, args.out, count=args.photos,
                                          size=args.size, seed=args.seed,
                                          eval_paths=eval_paths, eval_size=args.eval_size,
                                          progress=bar.update)
    ev, fit = meta["evaluation"], meta["refit"]
    before = f"{fit['psnr_db_before']:.2f} dB before, " if fit["psnr_db_before"] else ""
    skipped = f", {fit['skipped']} unreadable skipped" if fit["skipped"] else ""
    print(f"refit the last convolution of the relu{meta['net']['level']}_1 decoder on "
          f"{fit['photos']} photos{skipped}: reconstruction PSNR {before}{ev['psnr_db']:.2f} dB "
          f"on {ev['images']} held-out image(s)\nmodel: {folder} (before and after: "
          f"{folder / refit.PREVIEW})\nreal-time graphs: rtstyle export --model {folder}")
    if fit["psnr_db_before"] is not None and ev["psnr_db"] < fit["psnr_db_before"]:
        print(f"note: the refit reconstructs the held-out photos worse than {args.model} did; "
              "fit on more --photos, or keep the old decoder")
    return 0
