"""``rtstyle train-wct``: train the WCT decoder of one VGG19 level (Li et al. 2017).

The decoder learns to invert the frozen encoder (VGG19 up to relu{L}_1) on any folder of
photos; the run folder has the same progress bar, losses.csv/png, previews (reconstructions
with their PSNR), checkpoints and exact --resume as 'rtstyle train'. The model's metadata
records the reconstruction PSNR on --eval-images (held-out photos). Multi-GPU: torchrun.
"""

from __future__ import annotations

import argparse

from .args import add_common, nonneg_float, positive_int
from .train import (
    COMMON_FLAGS,
    _preview_images,
    add_run_args,
    check_resume_flags,
    data_folder,
    prepare_run,
    run_in_foreground,
    run_updates,
)

RUN_FLAGS = ("level", "feature_weight", *COMMON_FLAGS)


def register(sub) -> None:
    p = sub.add_parser("train-wct", help="train a WCT decoder for one VGG19 level (Li et al.)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--level", type=int, metavar="L",
                   help="1..5: the decoder of relu{L}_1 (not needed with --resume or --init)")
    p.add_argument("--init", metavar="DECODER",
                   help="start from this decoder model folder (e.g. models/wct/level3) instead "
                        "of random weights; its level is the run's")
    p.add_argument("--data", metavar="DIR", help="folder of training photos, searched "
                   "recursively; not needed with --resume")
    p.add_argument("--eval-images", nargs="+", metavar="PATH",
                   help="held-out photos (files or folders) whose reconstruction PSNR goes into "
                   "the model's metadata (default: the bundled photo)")
    p.add_argument("--eval-size", type=positive_int, metavar="PX",
                   help="longer side of the evaluation images (default 512)")
    g = add_run_args(p, steps=20000, lr=1e-4, batch="8")
    g.add_argument("--feature-weight", type=nonneg_float, metavar="LAMBDA",
                   help="weight of the feature reconstruction term (Li et al.: 1)")
    g.add_argument("--vgg-weights", dest="loss_net_weights", metavar="FILE",
                   help="VGG19 weights for the encoder (default: the bundled ImageNet weights)")
    p.set_defaults(run=run, download=False)


def init_updates(init: str, level: int | None) -> dict[str, object]:
    """``--init DECODER``: the folder, resolved, and its level (unless --level names one, which
    must then match: the trainer's check says so)."""
    from .. import metadata
    from ..train.wct import trainer as wct_trainer

    decoder, _ = wct_trainer.load_decoder(init)  # a readable decoder, or a one-line error
    return {"init": str(metadata.model_dir(init).resolve()),
            "level": decoder.level if level is None else level}


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import assets, config
    from ..errors import InputError
    from ..train import distributed, trainer
    from ..train.data import find_images
    from ..train.wct import trainer as wct_trainer

    run_dir = trainer.RunFolder(args.out)
    world = distributed.from_env()
    updates = run_updates(args, RUN_FLAGS)
    state = None
    eval_paths = [str(Path(p).resolve()) for p in args.eval_images or ()]
    if args.resume:
        if args.init:
            raise InputError("--init cannot change on --resume: the checkpoint holds the weights")
        check_resume_flags(args)
        run_dir.prepare(resume=True, force=False)
        state = trainer.resume_state(run_dir)
        if "level" not in state["config"]:
            raise InputError(f"{run_dir.path} is not a WCT decoder run (use 'rtstyle train "
                             "--resume' for style nets)")
        cfg = trainer.resumed_config(state, updates, wct_trainer.WCTTrainConfig)
        eval_paths = eval_paths or list(state.get("eval_paths", []))
        eval_size = args.eval_size or int(state.get("eval_size", 512))
        data = data_folder(args, state)
        wct_trainer.check(cfg, world, resuming=True)
    else:
        if args.init:
            updates.update(init_updates(args.init, args.level))
        elif args.level is None:
            raise InputError("--level is required (1..5; unless you --resume a run or --init "
                             "from a decoder)")
        if not args.data:
            raise InputError("--data is required (unless you --resume a run)")
        cfg = config.replace(wct_trainer.WCTTrainConfig(), updates)
        data = str(Path(args.data).resolve())
        find_images(data)  # fail before creating the run folder
        eval_paths = eval_paths or [str(assets.path(assets.DEMO_CONTENT))]
        eval_size = args.eval_size or 512
        wct_trainer.check(cfg, world)
        wct_trainer.eval_images_from(eval_paths, 16)  # unreadable paths fail before --force
        if world.is_main:
            run_dir.prepare(resume=False, force=args.force)
    if args.resume:
        wct_trainer.eval_images_from(eval_paths, 16)  # fail early on unreadable paths
    preview = _preview_images(args.preview_images, data) if world.is_main else None

    prepare_run(cfg, world, data, args.quiet)
    result, code = run_in_foreground(
        lambda on_step, stop: wct_trainer.train_wct(cfg, run_dir.path, data, state=state,
                                                    preview=preview, eval_paths=eval_paths,
                                                    eval_size=eval_size, on_step=on_step,
                                                    stop=stop),
        world, args, "train-wct")
    if code is not None:
        return code
    from .. import metadata

    ev = metadata.read(result.model_dir).get("evaluation", {})
    psnr = f"; reconstruction PSNR {ev['psnr_db']:.2f} dB on {ev['images']} held-out " \
        f"image(s)" if ev else ""
    print(f"trained relu{cfg.level}_1 decoder: {result.steps} steps in {result.seconds:.0f} s "
          f"({result.images_per_s:.1f} images/s on {result.device}){psnr}\n"
          f"model: {result.model_dir}\nlosses: {run_dir.csv} (plot {run_dir.plot}); previews in "
          f"{run_dir.previews}")
    return 0
