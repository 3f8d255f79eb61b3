"""``rtstyle train``: train a fast transformer net (Johnson et al. 2016) for one style.

Multi-GPU: ``torchrun --nproc_per_node N -m rtstyle train ...`` (one process per GPU; the batch
size is per process). Ctrl-C or SIGTERM saves a checkpoint; ``--resume`` continues exactly.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, nonneg_float, nonneg_int, positive_float, positive_int
from .loss_args import add_loss_args, loss_updates
from . import train_multi
from .progress import TrainingBar

#: Settings every training command takes from flags of the same name (flag dest = config key).
COMMON_FLAGS = ("image_size", "batch_size", "steps", "epochs", "lr", "warmup", "seed", "amp",
                "workers", "cache_photos", "device", "checkpoint_every", "preview_every", "loss_net_weights")
RUN_FLAGS = ("net", "style_size", "temporal_weight", *COMMON_FLAGS)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a fast style net for one style (Johnson et al.)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--style", metavar="IMAGE", help="style image (not needed with --resume)")
    p.add_argument("--data", metavar="DIR", help="folder of training photos, searched "
                   "recursively (e.g. COCO train2014/); not needed with --resume")
    p.add_argument("--preset", help="named recipe: default, johnson2016 (see README)")
    g = add_run_args(p, steps=40000, lr=1e-3, batch="4")
    g.add_argument("--net", help="net size: full (Johnson et al.), lite (~1/8 FLOPs, CPU "
                   "real time) or tiny (tests); full-aa, lite-aa: anti-aliased resampling")
    g.add_argument("--style-size", type=positive_int, metavar="PX",
                   help="longer side of the style image (default: --image-size)")
    g.add_argument("--init", metavar="MODEL",
                   help="start from this trained model (installed style name or model folder, "
                   "same --net, or a lite net to grow into a full one: Net2Net) instead of "
                   "random weights: fine-tuning, e.g. with "
                   "--temporal-weight")
    g.add_argument("--temporal-weight", type=nonneg_float, metavar="W",
                   help="weight of the temporal term for steadier video (0 = off, the default; "
                   "e.g. 20): the output of a slightly moved, noisier, brighter crop must be the "
                   "moved output. Tune the changes with --set temporal.shift=0.02 etc.")
    m = p.add_argument_group("style credit (stored in the model's metadata)")
    m.add_argument("--style-name", help="style name (default: the style file's name)")
    m.add_argument("--style-credit", default="", help="e.g. 'The Starry Night, Vincent van Gogh (1889)'")
    m.add_argument("--style-license", default="", help="e.g. 'public domain'")
    add_loss_args(p)
    train_multi.add_args(p)
    p.set_defaults(run=run)


def add_run_args(p: argparse.ArgumentParser, steps: int, lr: float, batch: str):
    """The options every training command has (run folder, schedule, precision, outputs)."""
    p.add_argument("--out", required=True, metavar="DIR", help="run folder, e.g. runs/starry")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint")
    p.add_argument("--force", action="store_true",
                   help="replace an existing run in --out (its checkpoints are deleted)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    g = p.add_argument_group("training (defaults come from the preset)")
    g.add_argument("--image-size", type=positive_int, metavar="PX",
                   help="side of the square training crops (default 256)")
    g.add_argument("--batch-size", type=positive_int, metavar="N",
                   help=f"images per step per process (default {batch})")
    g.add_argument("--steps", type=positive_int, help=f"optimiser steps (default {steps})")
    g.add_argument("--epochs", type=positive_float, help="passes over --data (instead of --steps)")
    g.add_argument("--minutes", type=positive_float, metavar="M",
                   help="finish after M minutes of this sitting, as if --steps were reached: "
                   "the model is written at that step; --resume continues towards --steps")
    g.add_argument("--lr", type=positive_float, help=f"Adam learning rate (default {lr:g})")
    g.add_argument("--warmup", type=nonneg_int, metavar="K",
                   help="raise the learning rate linearly over the run's first K steps "
                   "(default 0 = none); spares a trained net (--init) Adam's first big steps")
    g.add_argument("--seed", type=int)
    g.add_argument("--amp", nargs="?", const="bf16",
                   choices=("auto", "off", "bf16", "bf16-loss", "fp16"),
                   help="mixed precision: auto (the default) uses bf16 where the CPU (AVX512_BF16, "
                   "AMX) or GPU computes it natively; off = float32; bf16-loss = bf16 in the loss "
                   "network only; bare --amp means bf16")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format (default: on with mixed precision)")
    g.add_argument("--workers", type=nonneg_int,
                   help="data loading processes when photos are not cached (default 2)")
    g.add_argument("--cache", dest="cache_photos", action=argparse.BooleanOptionalAction,
                   default=None, help="decode and scale the training photos once into a cache "
                   "under ~/.cache/rtstyle (default: on); --no-cache reads them every step")
    g.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    g.add_argument("--checkpoint-every", type=nonneg_int, metavar="K",
                   help="checkpoint every K steps (default 500; 0 = only at the end)")
    g.add_argument("--preview-every", type=nonneg_int, metavar="K",
                   help="preview images every K steps (default 500)")
    g.add_argument("--preview-images", metavar="DIR",
                   help="folder of images for the preview grids (default: the bundled photo "
                   "and three data images)")
    g.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any setting, e.g. --set loss.pooling=avg")
    return g


def run_updates(args: argparse.Namespace, flags: tuple[str, ...],
                extra: dict[str, object] | None = None) -> dict[str, object]:
    """The settings given explicitly on the command line, as dotted config keys (``extra``
    before ``--set``, which has the last word)."""
    from .. import config

    updates = {key: getattr(args, key) for key in flags if getattr(args, key, None) is not None}
    if args.channels_last is not None:
        updates["channels_last"] = args.channels_last
    if args.download:
        updates["allow_download"] = True
    updates.update(extra or {})
    updates.update(config.parse_sets(args.set))
    return updates


def init_updates(init: str, updates: dict[str, object]) -> None:
    """``--init MODEL``: the model folder, and its net size unless ``--net`` names one (a
    mismatch is then refused when the net is built)."""
    from .. import metadata, styles

    folder = styles.find(init).resolve()
    updates["init"] = str(folder)
    if "net" not in updates:
        net = metadata.read(folder).get("net", {}).get("name")
        if net:
            updates["net"] = net


def check_resume_flags(args: argparse.Namespace) -> None:
    from ..errors import InputError

    if args.force:
        raise InputError("--resume and --force contradict each other; choose one")
    if getattr(args, "preset", None):
        raise InputError("--preset cannot change on --resume: the run keeps its recipe")


def data_folder(args: argparse.Namespace, state) -> str:
    from ..errors import InputError

    data = str(Path(args.data).resolve()) if args.data else state["data"]
    if not Path(data).is_dir():
        raise InputError(f"the run's data folder {data} is not there any more; pass its new "
                         "location with --data")
    return data


def config_updates(args: argparse.Namespace) -> dict[str, object]:
    """The settings given explicitly on the command line, as dotted config keys."""
    return run_updates(args, RUN_FLAGS, loss_updates(args))


def run(args: argparse.Namespace) -> int:
    from .. import config, images
    from ..errors import InputError
    from ..train import distributed, trainer

    run_dir = trainer.RunFolder(args.out)
    world = distributed.from_env()
    updates = config_updates(args)
    state = None
    if args.resume:
        check_resume_flags(args)
        if args.init:
            raise InputError("--init cannot change on --resume: the checkpoint holds the weights")
        run_dir.prepare(resume=True, force=False)
        state = trainer.resume_state(run_dir)
        if "level" in state["config"]:
            raise InputError(f"{run_dir.path} is a WCT decoder run: continue it with "
                             "'rtstyle train-wct --resume'")
        if "arbitrary" in state:
            raise InputError(f"{run_dir.path} is an any-painting run: continue it with "
                             "'rtstyle train-any --resume'")
        if train_multi.wanted(args, state):
            return train_multi.run(args, run_dir, world, updates, state)
        cfg = trainer.resumed_config(state, updates)
        info = trainer.StyleInfo(**state["style_info"])
        if args.style and Path(args.style).resolve() != Path(info.source).resolve():
            raise InputError(f"--style cannot change on --resume (the run was trained on "
                             f"{info.source}); the checkpoint holds the style image, drop --style")
        style = state["style_image"].numpy()
        data = data_folder(args, state)
        trainer.check(cfg, world, resuming=True)
        preset_name = state["preset"]
    elif train_multi.wanted(args, None):
        return train_multi.run(args, run_dir, world, updates, None)
    else:
        if not args.style:
            raise InputError("--style is required (unless you --resume a run)")
        if not args.data:
            raise InputError("--data is required (unless you --resume a run)")
        preset_name = args.preset or "default"
        if args.init:
            init_updates(args.init, updates)
        cfg = config.replace(trainer.preset(preset_name), updates)
        style = images.read_image(args.style, max_side=cfg.style_size or cfg.image_size)
        info = trainer.StyleInfo(name=args.style_name or Path(args.style).stem,
                                 credit=args.style_credit, license=args.style_license,
                                 source=str(Path(args.style).resolve()))
        from ..train.data import find_images

        data = str(Path(args.data).resolve())
        find_images(data)  # fail before creating the run folder
        trainer.check(cfg, world)
        if world.is_main:
            run_dir.prepare(resume=False, force=args.force)
    preview = None
    if world.is_main:
        preview = _preview_images(args.preview_images, data)

    prepare_run(cfg, world, data, args.quiet)
    result, code = run_in_foreground(
        lambda on_step, stop: trainer.train(cfg, run_dir.path, style, info, data,
                                            preset_name=preset_name, state=state,
                                            preview=preview, on_step=on_step, stop=stop),
        world, args, "train")
    if code is not None:
        return code
    ips = result.images_per_s
    skipped = f"; {result.skipped_images} unreadable images skipped" if result.skipped_images else ""
    print(f"trained {result.steps} steps in {result.seconds:.0f} s ({ips:.1f} images/s on "
          f"{result.device}){skipped}\nmodel: {result.model_dir}\nlosses: {run_dir.csv} "
          f"(plot {run_dir.plot}); previews in {run_dir.previews}")
    return 0


def run_in_foreground(train, world, args: argparse.Namespace, command: str):
    """Run ``train(on_step, stop)`` with a progress bar and Ctrl-C/SIGTERM deferred to a
    checkpoint; returns (result, exit code to return now, or None when it finished)."""
    from .. import interrupts

    bar = TrainingBar(args.quiet or not world.is_main)
    with interrupts.deferred() as stop, bar:
        minutes = getattr(args, "minutes", None)
        stop.finish_after(minutes * 60 if minutes else None)
        result = train(bar.update, stop)
    if not world.is_main:
        return result, 130 if result.interrupted else 0
    if result.interrupted:
        print(f"rtstyle: stopped at step {result.steps} of {result.total_steps} "
              f"({stop.signal_name}); checkpoint saved. Continue with: rtstyle {command} --out "
              f"{args.out} --resume")
        return result, 130
    if result.steps < result.total_steps:
        print(f"rtstyle: time limit of {args.minutes:g} min reached at step {result.steps} of "
              f"{result.total_steps}; the model is written at that step. Continue with: rtstyle "
              f"{command} --out {args.out} --resume")
    return result, None


def prepare_run(cfg, world, data: str, quiet: bool) -> None:
    """Say where and in what precision the run computes; build the photo cache with a bar."""
    from ..train import photo_cache, precision, trainer
    from ..train.data import find_images
    from ..train.device import describe

    device = trainer.check_device(cfg, world)
    if world.is_main:
        p = precision.resolve(cfg.amp, cfg.channels_last, device)
        hint = "; --amp off for float32" if p.amp != "off" else ""
        print(f"training on {describe(device)} in {p.describe()}{hint}", flush=True)
    if not cfg.cache_photos:
        return
    files = find_images(data)
    if photo_cache.open_cache(files, cfg.image_size) is None:
        from .progress import Progress

        with Progress(len(files), "caching photos", "photo", quiet or not world.is_main) as bar:
            photo_cache.build(files, cfg.image_size, progress=lambda i, n: bar.update(i))


def _preview_images(folder, data):
    from .. import images
    from ..errors import InputError
    from ..train import trainer
    from ..train.data import find_images

    if folder:
        files = images.list_images(folder) if Path(folder).is_dir() else []
        if not files:
            raise InputError(f"no preview images found in {folder}")
        return [(f.stem, images.read_image(f, max_side=256)) for f in files[:8]]
    return trainer.default_preview_images(find_images(data))
