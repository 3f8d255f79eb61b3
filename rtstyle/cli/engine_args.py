"""The flags every command that runs the engine shares (style, blend, strength, colour,
backend, speed, the any-painting path, ``--stabilize``), and turning them into a Stylizer."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import level_list, nonneg_int, positive_float, positive_int, safe_name


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """Style, backend and control flags shared by every command that runs the engine."""
    p.add_argument("--style", metavar="NAME|PATH",
                   help="installed style name (see 'rtstyle styles'), .onnx file or model folder")
    add_control_args(p)


def add_control_args(p: argparse.ArgumentParser) -> None:
    """Blend, strength, colour, backend and speed flags (everything but --style)."""
    p.add_argument("--blend", metavar="NAME|PATH", help="a second style to blend in")
    p.add_argument("--blend-weight", type=float, default=0.5, metavar="W",
                   help="weight of --blend, 0..1 (default 0.5)")
    p.add_argument("--strength", type=float, default=1.0, metavar="S",
                   help="0 = original, 1 = fully stylised (default 1)")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the original colours, stylise only the luminance")
    p.add_argument("--backend", default="auto",
                   help="auto, ort-trt, ort-cuda, ort-cpu, torch, torch-compile (default auto)")
    p.add_argument("--threads", type=nonneg_int, default=0, help="CPU threads for ort-cpu (0 = all)")
    p.add_argument("--fp16", action="store_true",
                   help="use the model folder's fp16 ONNX file (rtstyle export --fp16) if it has one")
    p.add_argument("--scale", type=positive_float, default=1.0,
                   help="run the net at this fraction of the size, then resize back")
    p.add_argument("--max-side", type=positive_int, metavar="PX",
                   help="run the net at most at this longer side, then resize back")
    g = p.add_argument_group("any painting, no training (a style-prediction net or WCT)")
    g.add_argument("--style-image", action="append", metavar="IMAGE",
                   help="use this painting as the style (repeat for several)")
    g.add_argument("--any-painting", choices=("auto", "net", "wct"), default="auto",
                   help="how: net = an any-painting net (rtstyle train-any), wct = the WCT "
                   "graphs; auto (the default) = the net when one is installed, else WCT")
    g.add_argument("--wct-level", type=level_list, default=None, metavar="L[,L...]",
                   help="WCT level of the real-time graph, 1..5 (default 3: relu3_1), or a chain "
                   "run coarse to fine, e.g. 3,2,1: larger patterns and finer strokes, one pass "
                   "per level")
    g.add_argument("--alpha", type=float, default=1.0, metavar="A",
                   help="style strength of the WCT features, 0..1 (default 1)")
    g.add_argument("--wct-precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="WCT content path: int8 convolutions (about 2x faster on the CPU, "
                   "rtstyle export --int8) or fp32; auto (the default) = int8 on the CPU where a "
                   "level has it")


def add_stabilize_arg(p: argparse.ArgumentParser) -> None:
    """``--stabilize [W]`` for the commands that stylise frames in order (video, webcam)."""
    from ..stabilize import DEFAULT_WEIGHT

    p.add_argument("--stabilize", type=float, nargs="?", const=DEFAULT_WEIGHT, default=0.0,
                   metavar="W", help="steadier video: blend the previous stylised frame, moved "
                   "by the optical flow, into each frame with weight W in [0, 1) (bare "
                   f"--stabilize: {DEFAULT_WEIGHT}); occluded and changed pixels are not blended")


def painting_styles(args: argparse.Namespace, shape=None) -> dict:
    """{name: WCTStyle} for --style-image (empty without it)."""
    from .. import wct_realtime
    from ..errors import ConfigError

    wct_only = args.wct_level is not None or args.alpha != 1.0 or args.wct_precision != "auto"
    if not args.style_image:
        if wct_only:
            raise ConfigError("--wct-level, --wct-precision and --alpha apply to --style-image")
        return {}
    if args.fp16:
        raise ConfigError("--fp16 is for trained styles; the any-painting graphs run in fp32")
    if any_painting_method(args) == "net":
        from .. import arbitrary

        if wct_only:
            raise ConfigError("--wct-level, --wct-precision and --alpha apply to the WCT graphs "
                              "(--any-painting wct), not to an any-painting net")
        return arbitrary.load_styles(args.style_image, args.backend, args.threads, shape)
    return wct_realtime.load_styles(args.style_image, args.wct_level or wct_realtime.DEFAULT_LEVEL,
                                 args.backend, args.threads, shape, args.alpha,
                                 precision=args.wct_precision)


def any_painting_method(args: argparse.Namespace) -> str:
    """'net' or 'wct' for ``--style-image``: auto picks the net when one is installed and no
    WCT-only option (--wct-level, --alpha) is given."""
    from .. import arbitrary

    method = getattr(args, "any_painting", "auto")
    if method != "auto":
        return method
    wct_only = args.wct_level is not None or args.alpha != 1.0 or \
        getattr(args, "wct_precision", "auto") != "auto"
    return "net" if not wct_only and arbitrary.available() else "wct"


def choose_style(args: argparse.Namespace) -> None:
    """Settle ``--style`` before the engine starts: a painting file given to ``--style`` moves
    to ``--style-image``; no style at all means the default one. Each says so in one line."""
    import sys

    from .. import images, styles

    if args.style and not args.style_image and Path(args.style).is_file() \
            and Path(args.style).suffix.lower() in images.READ_SUFFIXES:
        print(f"rtstyle: {args.style} is a painting: stylising with the any-painting path "
              "(train a net for it with 'rtstyle train')", file=sys.stderr)
        args.style_image, args.style = [args.style], None
    elif not args.style and not args.style_image:
        args.style = styles.find(styles.DEFAULT, styles.prefer_size(args.backend)).name
        print(f"rtstyle: using the default style {args.style} (pick another with --style; "
              "'rtstyle styles' lists them)", file=sys.stderr)


def style_label(args: argparse.Namespace, stylizer) -> str:
    """What outputs are named after: the style the user chose (its installed name, so that
    ``starry_night_lite`` and ``starry_night_lite_stable`` differ), else the model's own name."""
    from .. import styles
    from ..multistyle import Mix

    if args.style_image:
        name = Path(args.style_image[0]).stem
    elif args.style and not (Path(args.style).exists() or Path(args.style).suffix == ".onnx"
                             or len(Path(args.style).parts) > 1):
        found = styles.locate(args.style, styles.prefer_size(args.backend))
        name = found.label if isinstance(found, Mix) else found.name
    else:
        main = stylizer.models["main"]
        name = getattr(main, "name", None) or main.info.name
    return safe_name(name, "styled")


def with_mixes(models: dict, backend: str, threads: int, shape, fp16: bool = False) -> dict:
    """``models`` with every multi-style :class:`~rtstyle.multistyle.Mix` turned into a
    :class:`~rtstyle.multistyle.StyleMix` (mixes of one net share one session)."""
    from .. import multistyle
    from ..errors import ConfigError

    mixes = {k: v for k, v in models.items() if isinstance(v, multistyle.Mix)}
    if not mixes:
        return models
    if fp16:
        raise ConfigError("--fp16: multi-style nets ship in float32 only")
    if backend in ("torch", "torch-compile"):
        raise ConfigError(f"multi-style nets run on ONNX Runtime, not --backend {backend}")
    made = multistyle.load(mixes, backend, threads, shape)
    return {k: made.get(k, v) for k, v in models.items()}


def make_stylizer(args: argparse.Namespace, shape=None):
    from .. import styles
    from ..errors import InputError
    from ..stylizer import Controls, Stylizer

    if args.style and args.style_image:
        raise InputError("give a trained style with --style, or a painting with --style-image "
                         "(one of them)")
    if args.style_image and len(args.style_image) > 1:
        raise InputError("one --style-image here (the webcam takes several)")
    paintings = painting_styles(args, shape)
    prefer = styles.prefer_size(args.backend)
    models = {"main": styles.locate(args.style, prefer) if args.style
              else next(iter(paintings.values()))}
    if args.blend:
        models["blend"] = styles.locate(args.blend, prefer)
    models = with_mixes(models, args.backend, args.threads, shape, args.fp16)
    controls = Controls(strength=args.strength, preserve_color=args.preserve_color,
                        blend="blend" if args.blend else None, blend_weight=args.blend_weight,
                        stabilize=getattr(args, "stabilize", 0.0))
    return Stylizer(models, backend=args.backend, threads=args.threads, scale=args.scale,
                    max_side=args.max_side, controls=controls, warm_up=shape, fp16=args.fp16)
