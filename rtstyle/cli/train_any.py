"""``rtstyle train-any``: train a net that stylises with any painting at a trained net's speed
(style prediction, Ghiasi et al. 2017): a predictor reads the painting's statistics and sets the
style code of a conditional-instance-norm transformer.

The paintings (files or folders) are its training styles, with crops of the training photos;
``--hold-out`` keeps some out of training and shows them in the previews. Start from a trained
multi-style net with ``--init`` (its styles become the first basis rows). The run folder,
checkpoints, exact --resume and --minutes are those of 'rtstyle train'.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, nonneg_float, positive_int
from .loss_args import add_loss_args, loss_updates
from .train import (COMMON_FLAGS, _preview_images, add_run_args, check_resume_flags, data_folder,
                    init_updates, prepare_run, run_in_foreground, run_updates)

RUN_FLAGS = ("net", "style_size", *COMMON_FLAGS)
SETTINGS_FLAGS = {"basis": "n_basis", "photo_styles": "photo_styles"}


def register(sub) -> None:
    p = sub.add_parser("train-any", help="train a net for any painting (style prediction)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--paintings", nargs="+", metavar="PATH",
                   help="training paintings: image files or folders (not needed with --resume)")
    p.add_argument("--hold-out", metavar="NAME[,NAME]",
                   help="paintings (file names, without extension) kept out of training and "
                   "shown in the previews")
    p.add_argument("--data", metavar="DIR", help="folder of training photos, searched "
                   "recursively; not needed with --resume")
    g = add_run_args(p, steps=40000, lr=1e-3, batch="4")
    g.add_argument("--net", help="net size: lite (default), full or tiny (tests)")
    g.add_argument("--style-size", type=positive_int, metavar="PX",
                   help="side of the style crops (default: --image-size)")
    g.add_argument("--init", metavar="MODEL",
                   help="start from this multi-style (or one-style) model: its convolutions, "
                   "and its styles as the first basis rows")
    g.add_argument("--basis", type=positive_int, metavar="K",
                   help="rows of instance-norm scales and shifts the code weighs (default 32)")
    g.add_argument("--photo-styles", type=nonneg_float, metavar="P",
                   help="share of the steps whose style is a photo crop (default 0.5)")
    add_loss_args(p)
    p.set_defaults(run=run, download=False)


def paintings_from(paths, hold_out: str | None, size: int, style_weight: float):
    """(training paintings, held-out paintings) from files and folders."""
    from .. import images
    from ..errors import InputError
    from ..train.multistyle import Painting
    from ..train.trainer import StyleInfo

    files = images.collect_images(paths)
    if not files:
        raise InputError(f"no paintings found in {', '.join(map(str, paths))}")
    held = {n.strip() for n in hold_out.split(",") if n.strip()} if hold_out else set()
    unknown = held - {f.stem for f in files}
    if unknown:
        raise InputError(f"--hold-out names no painting given: {', '.join(sorted(unknown))}")
    train, out = [], []
    for f in files:
        painting = Painting(StyleInfo(f.stem, source=str(f.resolve())),
                            images.read_image(f, max_side=2 * size), style_weight)
        (out if f.stem in held else train).append(painting)
    if not train:
        raise InputError("every painting is held out: nothing left to train on")
    return train, out


def run(args: argparse.Namespace) -> int:
    from .. import config
    from ..errors import InputError
    from ..train import arbitrary, distributed, trainer
    from ..train.data import find_images

    run_dir = trainer.RunFolder(args.out)
    world = distributed.from_env()
    updates = run_updates(args, RUN_FLAGS, loss_updates(args))
    if args.resume:
        check_resume_flags(args)
        if args.paintings or args.hold_out or args.init:
            raise InputError("--paintings, --hold-out and --init cannot change on --resume: "
                             "the checkpoint holds them")
        run_dir.prepare(resume=True, force=False)
        state = trainer.resume_state(run_dir)
        if "arbitrary" not in state:
            raise InputError(f"{run_dir.path} is not an any-painting run")
        cfg = trainer.resumed_config(state, updates)
        train_p = arbitrary.paintings_from_state(state, "paintings")
        held = arbitrary.paintings_from_state(state, "held_out")
        settings = arbitrary.ArbitrarySettings(**state["arbitrary"])
        data, preset_name = data_folder(args, state), state["preset"]
    else:
        state = None
        if not args.paintings:
            raise InputError("--paintings is required (unless you --resume a run)")
        if not args.data:
            raise InputError("--data is required (unless you --resume a run)")
        updates.setdefault("net", "lite")
        if args.init:
            init_updates(args.init, updates)
        preset_name = "default"
        cfg = config.replace(trainer.preset(preset_name), updates)
        settings = arbitrary.ArbitrarySettings(**{
            key: getattr(args, flag) for flag, key in SETTINGS_FLAGS.items()
            if getattr(args, flag) is not None})
        train_p, held = paintings_from(args.paintings, args.hold_out,
                                       cfg.style_size or cfg.image_size, cfg.loss.style_weight)
        data = str(Path(args.data).resolve())
        find_images(data)  # fail before creating the run folder
        if cfg.init:
            arbitrary.start_net(cfg, settings)  # a wrong --init fails before the run folder
        if world.is_main:
            run_dir.prepare(resume=False, force=args.force)
    preview = _preview_images(args.preview_images, data) if world.is_main else None
    prepare_run(cfg, world, data, args.quiet)
    result, code = run_in_foreground(
        lambda on_step, stop: arbitrary.train(cfg, run_dir.path, train_p, held, data, settings,
                                              preset_name=preset_name, state=state,
                                              preview=preview, on_step=on_step, stop=stop),
        world, args, "train-any")
    if code is not None:
        return code
    print(f"trained {result.steps} steps in {result.seconds:.0f} s ({result.images_per_s:.1f} "
          f"images/s on {result.device}) on {len(train_p)} paintings and the photos' crops"
          f"{f'; held out: {len(held)}' if held else ''}\nmodel: {result.model_dir}\n"
          f"losses: {run_dir.csv} (plot {run_dir.plot}); previews in {run_dir.previews}")
    return 0
