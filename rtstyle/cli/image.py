"""``rtstyle image``: stylise image files with a trained style (ONNX Runtime, no torch needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, nonneg_int, positive_float, positive_int, safe_name


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
    g = p.add_argument_group("arbitrary style (real-time WCT: any painting, no training)")
    g.add_argument("--style-image", action="append", metavar="IMAGE",
                   help="use this painting as the style (repeat for several)")
    g.add_argument("--wct-level", type=positive_int, default=None, metavar="L",
                   help="WCT level of the real-time graph, 1..5 (default 3: relu3_1)")
    g.add_argument("--alpha", type=float, default=1.0, metavar="A",
                   help="style strength of the WCT features, 0..1 (default 1)")


def add_stabilize_arg(p: argparse.ArgumentParser) -> None:
    """``--stabilize [W]`` for the commands that stylise frames in order (video, webcam)."""
    from ..stabilize import DEFAULT_WEIGHT

    p.add_argument("--stabilize", type=float, nargs="?", const=DEFAULT_WEIGHT, default=0.0,
                   metavar="W", help="steadier video: blend the previous stylised frame, moved "
                   "by the optical flow, into each frame with weight W in [0, 1) (bare "
                   f"--stabilize: {DEFAULT_WEIGHT}); occluded and changed pixels are not blended")


def painting_styles(args: argparse.Namespace, shape=None) -> dict:
    """{name: WCTStyle} for --style-image (empty without it)."""
    from .. import arbitrary
    from ..errors import ConfigError

    if not args.style_image:
        if args.wct_level is not None or args.alpha != 1.0:
            raise ConfigError("--wct-level and --alpha apply to --style-image")
        return {}
    if args.fp16:
        raise ConfigError("--fp16 is for trained styles; the real-time WCT graph runs in fp32")
    return arbitrary.load_styles(args.style_image, args.wct_level or arbitrary.DEFAULT_LEVEL,
                                 args.backend, args.threads, shape, args.alpha)


def make_stylizer(args: argparse.Namespace, shape=None):
    from .. import styles
    from ..errors import InputError
    from ..stylizer import Controls, Stylizer

    if bool(args.style) == bool(args.style_image):
        raise InputError("give a trained style with --style, or a painting with --style-image "
                         "(one of them)")
    if args.style_image and len(args.style_image) > 1:
        raise InputError("one --style-image here (the webcam takes several)")
    paintings = painting_styles(args, shape)
    models = {"main": styles.find(args.style) if args.style else next(iter(paintings.values()))}
    if args.blend:
        models["blend"] = styles.find(args.blend)
    controls = Controls(strength=args.strength, preserve_color=args.preserve_color,
                        blend="blend" if args.blend else None, blend_weight=args.blend_weight,
                        stabilize=getattr(args, "stabilize", 0.0))
    return Stylizer(models, backend=args.backend, threads=args.threads, scale=args.scale,
                    max_side=args.max_side, controls=controls, warm_up=shape, fp16=args.fp16)


def register(sub) -> None:
    p = sub.add_parser("image", help="stylise image files with a trained style",
                       description=__doc__)
    add_common(p)
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument("--out", default="out/images", metavar="DIR",
                   help="output folder (default out/images)")
    p.add_argument("--format", choices=("png", "jpg", "same"), default="same",
                   help="output format (default: the input's, PNG for other kinds)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_engine_args(p)
    p.set_defaults(run=run)


def _targets(files, out_dir: Path, label: str, fmt: str) -> list[Path]:
    """``<stem>_<style>.<ext>`` per input; inputs with the same name get _2, _3, ..."""
    seen: set[Path] = set()
    out = []
    for f in files:
        suffix = f".{fmt}" if fmt != "same" else (
            f.suffix.lower() if f.suffix.lower() in (".jpg", ".jpeg", ".png") else ".png")
        target, k = out_dir / f"{f.stem}_{label}{suffix}", 2
        while target in seen:
            target, k = out_dir / f"{f.stem}_{label}_{k}{suffix}", k + 1
        seen.add(target)
        out.append(target)
    return out


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .. import images

    files = images.collect_images(args.inputs)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        from ..errors import InputError

        raise InputError(f"--out must be a folder, got a file: {out_dir}")
    stylizer = make_stylizer(args, shape=None)
    out_dir.mkdir(parents=True, exist_ok=True)
    main = stylizer.models["main"]
    label = safe_name(getattr(main, "name", None) or main.info.name, "styled")
    targets = _targets(files, out_dir, label, args.format)
    written = []
    for f, target in tqdm(list(zip(files, targets)), desc="image", unit="img",
                          disable=True if args.quiet else None):
        written.append(images.write_image(target, stylizer(images.read_image(f))))
    print(f"wrote {len(written)} image(s) to {out_dir} with {stylizer.describe()}")
    return 0
