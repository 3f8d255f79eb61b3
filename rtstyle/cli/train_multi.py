"""``rtstyle train --zoo RECIPE`` (one net for every painting of a zoo recipe) and
``rtstyle train --add-style PAINTING --init MODEL`` (one painting more, only its γ, β trained):
the multi-style side of ``rtstyle train`` (:mod:`rtstyle.train.multistyle`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("one net for several styles (conditional instance norm)")
    g.add_argument("--zoo", metavar="RECIPE.toml",
                   help="train one net for every painting of a zoo recipe (export/zoo.toml), "
                   "each under its own style weight and size; instead of --style")
    g.add_argument("--zoo-styles", metavar="KEY,KEY",
                   help="only these paintings of --zoo (default: all)")
    g.add_argument("--styles-dir", metavar="DIR",
                   help="where --zoo's painting files are (default: the recipe's folder)")
    g.add_argument("--add-style", metavar="IMAGE",
                   help="add this painting to the model given with --init: only its row of "
                   "instance-norm scales and shifts is trained, every other weight stays as it "
                   "was; name and credit it with --style-name, --style-credit, --style-license")


def wanted(args: argparse.Namespace, state) -> bool:
    """Whether this ``rtstyle train`` is a multi-style one."""
    if state is not None:
        return "paintings" in state
    return bool(args.zoo or args.add_style)


def paintings_of_zoo(args: argparse.Namespace, cfg) -> list:
    from .. import images
    from .. import zoo as zoo_mod
    from ..errors import InputError
    from ..train.multistyle import Painting
    from ..train.trainer import StyleInfo

    recipe = zoo_mod.load(args.zoo)
    chosen = recipe.select(args.zoo_styles.split(",") if args.zoo_styles else None)
    folder = Path(args.styles_dir) if args.styles_dir else Path(args.zoo).parent
    out = []
    for s in chosen:
        file = folder / s.file
        if not file.is_file():
            raise InputError(f"painting not found: {file} (give its folder with --styles-dir)")
        img = images.read_image(file, max_side=s.style_size or cfg.style_size or cfg.image_size)
        out.append(Painting(StyleInfo(s.key, s.credit, s.license, str(file.resolve())), img,
                            s.style_weight))
    return out


def paintings_to_add(args: argparse.Namespace, cfg) -> list:
    from .. import images
    from ..train.multistyle import Painting, init_paintings
    from ..train.trainer import StyleInfo

    img = images.read_image(args.add_style, max_side=cfg.style_size or cfg.image_size)
    info = StyleInfo(args.style_name or Path(args.add_style).stem, args.style_credit,
                     args.style_license, str(Path(args.add_style).resolve()))
    return [*init_paintings(cfg.init), Painting(info, img, cfg.loss.style_weight)]


def start(args: argparse.Namespace, updates: dict, world):
    """(config, paintings, add_style, preset) of a new multi-style run; checks the flags."""
    from .. import config
    from ..errors import InputError
    from ..train import trainer
    from .train import init_updates

    if args.zoo and args.add_style:
        raise InputError("--zoo trains a new net for a recipe's paintings; --add-style adds one "
                         "painting to a trained net: choose one")
    if args.style:
        flag, source = ("--zoo", "the recipe") if args.zoo else \
            ("--add-style", "--add-style and --init")
        raise InputError(f"--style is for a one-style net; with {flag} the paintings come from "
                         f"{source}")
    if args.add_style and not args.init:
        raise InputError("--add-style needs --init MODEL: the trained model to add it to")
    if not args.data:
        raise InputError("--data is required (unless you --resume a run)")
    if args.init:
        init_updates(args.init, updates)
    preset_name = args.preset or "default"
    cfg = config.replace(trainer.preset(preset_name), updates)
    paintings = paintings_of_zoo(args, cfg) if args.zoo else paintings_to_add(args, cfg)
    return cfg, paintings, bool(args.add_style), preset_name


def run(args: argparse.Namespace, run_dir, world, updates: dict, state) -> int:
    from ..train import multistyle, trainer
    from ..train.data import find_images
    from .train import _preview_images, data_folder, prepare_run, run_in_foreground

    if state is not None:
        cfg = trainer.resumed_config(state, updates)
        paintings = multistyle.paintings_from_state(state)
        add_style, preset_name = bool(state.get("add_style")), state["preset"]
        data = data_folder(args, state)
    else:
        cfg, paintings, add_style, preset_name = start(args, updates, world)
        data = str(Path(args.data).resolve())
        find_images(data)  # fail before creating the run folder
        if world.is_main:
            run_dir.prepare(resume=False, force=args.force)
    preview = _preview_images(args.preview_images, data) if world.is_main else None
    prepare_run(cfg, world, data, args.quiet)
    result, code = run_in_foreground(
        lambda on_step, stop: multistyle.train(cfg, run_dir.path, paintings, data,
                                               add_style=add_style, preset_name=preset_name,
                                               state=state, preview=preview, on_step=on_step,
                                               stop=stop),
        world, args, "train")
    if code is not None:
        return code
    names = ", ".join(p.info.name for p in paintings)
    print(f"trained {result.steps} steps in {result.seconds:.0f} s ({result.images_per_s:.1f} "
          f"images/s on {result.device}) for {len(paintings)} styles ({names})\n"
          f"model: {result.model_dir}\nlosses: {run_dir.csv} (plot {run_dir.plot}); previews "
          f"in {run_dir.previews}")
    return 0
