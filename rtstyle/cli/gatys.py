"""``rtstyle gatys``: the Gatys et al. optimisation, the quality reference."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, float_list, nonneg_int, positive_float, positive_int
from .loss_args import add_loss_args, loss_updates

# flag dest -> GatysConfig key
RUN_FLAGS = {"size": "size", "style_size": "style_size", "optimizer": "optimizer",
             "iterations": "iterations", "lr": "lr", "init": "init", "seed": "seed",
             "device": "device", "loss_net_weights": "loss_net_weights"}


def register(sub) -> None:
    p = sub.add_parser("gatys", help="stylise one image by optimisation (Gatys et al., slow, "
                       "the quality reference)", description=__doc__)
    add_common(p)
    p.add_argument("--content", required=True, metavar="IMAGE", help="content image")
    p.add_argument("--style", required=True, action="append", metavar="IMAGE",
                   help="style image; repeat for a mixture of styles")
    p.add_argument("--style-weights", type=float_list, metavar="W1,W2",
                   help="mixture weights of the styles (default: equal)")
    p.add_argument("--output", "-o", required=True, metavar="IMAGE",
                   help="output image (.png/.jpg); also writes .losses.csv, .losses.png, .json "
                   "beside it; - writes only a PNG to standard output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files (default: write a numbered name and say so)")
    p.add_argument("--preset", default="default",
                   help="named recipe: default, gatys2016, adam-tv, pytorch-tutorial")
    p.add_argument("--size", type=positive_int, help="longer side of the output in pixels")
    p.add_argument("--style-size", type=positive_int, help="longer side of the style image(s)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"))
    p.add_argument("--iterations", type=positive_int)
    p.add_argument("--lr", type=positive_float, help="L-BFGS step or Adam learning rate")
    p.add_argument("--init", choices=("content", "noise", "style", "wct"),
                   help="starting image (wct: rtstyle wct's default output; a few dozen "
                        "iterations then go further than hundreds from the content)")
    p.add_argument("--preserve-color", action="store_true",
                   help="luminance-only transfer: keep the content's colours")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--checkpoint-every", type=nonneg_int, default=0, metavar="K",
                   help="also save the image every K iterations")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any setting, e.g. --set loss.pooling=avg")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_loss_args(p)
    p.set_defaults(run=run)


def build_config(args: argparse.Namespace):
    from .. import config
    from ..train import gatys

    cfg = gatys.preset(args.preset)
    updates = {key: getattr(args, dest) for dest, key in RUN_FLAGS.items()
               if getattr(args, dest, None) is not None}
    updates.update(loss_updates(args))
    if args.preserve_color:
        updates["preserve_color"] = True
    if args.download:
        updates["allow_download"] = True
    updates.update(config.parse_sets(args.set))
    return config.replace(cfg, updates)


def sidecars(output: Path) -> dict[str, Path]:
    stem = output.with_suffix("")
    return {"csv": Path(f"{stem}.losses.csv"), "plot": Path(f"{stem}.losses.png"),
            "json": Path(f"{stem}.json")}


def run(args: argparse.Namespace) -> int:
    from .outputs import single_output

    cfg = build_config(args)
    target = single_output(args.output, args.overwrite)
    if target is not None and str(target) != args.output:
        print(f"{args.output} exists: writing {target} instead (--overwrite replaces)")
    stylize_to_files(args.content, args.style, target, cfg, style_weights=args.style_weights,
                     checkpoint_every=args.checkpoint_every, quiet=args.quiet, preset=args.preset)
    return 0


def stylize_to_files(content_path, style_paths, output, cfg, style_weights=None,
                     checkpoint_every: int = 0, quiet: bool = False, preset: str = "default"):
    """Read, stylise, and write the image plus its CSV, plot and JSON; returns the output path.
    ``output`` None writes only the image, as PNG to standard output."""
    import sys

    from .. import config, images, report
    from ..errors import ConfigError
    from ..train import gatys
    from .outputs import write_single
    from .progress import Progress

    if output is None and checkpoint_every:
        raise ConfigError("--checkpoint-every writes files beside the output; give -o FILE")
    output = images.check_image_path(output) if output is not None else None
    content = images.read_image(content_path, max_side=cfg.size)
    styles = [images.read_image(s, max_side=cfg.style_size or cfg.size) for s in style_paths]
    if style_weights and len(style_weights) != len(styles):
        raise ConfigError(f"--style-weights has {len(style_weights)} values for "
                          f"{len(styles)} --style images")

    def save_checkpoint(i: int, img) -> None:
        images.write_image(output.with_name(f"{output.stem}.iter{i:04d}{output.suffix}"), img)

    with Progress(cfg.iterations, "gatys", unit="it", disable=quiet) as bar:
        result = gatys.stylize_gatys(content, styles, cfg, style_blend=style_weights,
                                     on_iteration=bar.update, checkpoint_every=checkpoint_every,
                                     on_checkpoint=save_checkpoint)
    if output is None:
        write_single(None, result.image)
        print(f"wrote standard output ({result.image.shape[1]}x{result.image.shape[0]}, "
              f"{len(result.history)} iterations in {result.seconds:.1f} s on {result.device})",
              file=sys.stderr)
        return None
    images.write_image(output, result.image)
    files = sidecars(output)
    report.write_csv(files["csv"], result.history)
    report.plot_losses(files["plot"], result.history, title=f"Gatys: {Path(content_path).name}")
    final = result.history[-1]
    report.write_json(files["json"], {
        "content": str(content_path), "styles": [str(s) for s in style_paths],
        "style_weights": list(style_weights or []), "preset": preset,
        "config": config.to_dict(cfg), "device": result.device,
        "iterations": len(result.history), "seconds": round(result.seconds, 3),
        "seconds_per_iteration": round(result.seconds / len(result.history), 4),
        "final_losses": {k: final[k] for k in ("content", "style", "tv", "total")},
        "output": str(output), "size": list(result.image.shape[:2]),
    })
    print(f"wrote {output} ({result.image.shape[1]}x{result.image.shape[0]}, "
          f"{len(result.history)} iterations in {result.seconds:.1f} s on {result.device}); "
          f"losses in {files['csv']}, plot {files['plot']}")
    return output
