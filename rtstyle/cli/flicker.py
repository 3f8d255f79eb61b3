"""``rtstyle flicker --model M --video V``: how much a style flickers on a video.

Reports the temporal warping error of the stylised frames next to the same number for the
original frames (the floor the motion and the lighting allow). Optical flow (OpenCV DIS or
Farneback) comes from the ORIGINAL frames; stylised frame t is warped onto frame t+1 and compared
with stylised frame t+1 over the pixels a forward-backward consistency check keeps: the mean
absolute difference in 0..255 RGB. The exact formula is in flicker.json and in rtstyle/flicker.py.

Writes OUT/flicker.json (the command, the numbers, per-pair values, the formula) and
OUT/heatmaps.png (original t+1 | stylised t+1 | heat maps of both differences, for a few pairs).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from .args import add_common, nonneg_float, nonneg_int, positive_int, safe_name
from .engine_args import add_stabilize_arg

#: Pairs shown in heatmaps.png.
HEATMAP_PAIRS = 4


def register(sub) -> None:
    p = sub.add_parser("flicker", help="measure the temporal warping error of a style on a video",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--model", required=True, metavar="NAME|PATH",
                   help="installed style name (see 'rtstyle styles'), .onnx file or model folder")
    p.add_argument("--video", required=True, metavar="FILE", help="the video to measure on")
    p.add_argument("--frames", type=positive_int, default=60, metavar="N",
                   help="consecutive frames to use, N-1 pairs (default 60)")
    p.add_argument("--start", type=nonneg_float, default=0.0, metavar="SEC",
                   help="start this far into the video (default 0)")
    p.add_argument("--max-side", type=positive_int, default=640, metavar="PX",
                   help="scale frames down to this longer side before flow and stylising "
                        "(default 640)")
    p.add_argument("--flow", choices=("dis", "farneback"), default="dis",
                   help="optical flow on the original frames (default dis: DIS, preset medium)")
    p.add_argument("--backend", default="auto",
                   help="auto, ort-trt, ort-cuda, ort-cpu, torch, torch-compile (default auto)")
    p.add_argument("--threads", type=nonneg_int, default=0,
                   help="CPU threads for ort-cpu (0 = all)")
    add_stabilize_arg(p)
    p.add_argument("--style-loss-frames", type=nonneg_int, default=8, metavar="N",
                   help="score the style loss of N evenly spaced stylised frames under the "
                        "model's training loss (needs the train extra; 0 = skip; default 8)")
    p.add_argument("--device", default="auto",
                   help="device for the style loss: auto, cpu, cuda (default auto)")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default out/flicker/<video stem>_<style>)")
    p.set_defaults(run=run)


def _command(args: argparse.Namespace) -> str:
    """The command with every effective setting, so the run can be repeated exactly."""
    argv = ["rtstyle", "flicker", "--model", str(args.model), "--video", str(args.video),
            "--frames", str(args.frames), "--start", f"{args.start:g}", "--max-side",
            str(args.max_side), "--flow", args.flow, "--backend", args.backend]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if args.stabilize:
        argv += ["--stabilize", f"{args.stabilize:g}"]
    argv += ["--style-loss-frames", str(args.style_loss_frames)]
    if args.style_loss_frames and args.device != "auto":
        argv += ["--device", args.device]
    if args.out:
        argv += ["--out", str(args.out)]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    from .. import flicker, images, report, styles
    from ..errors import InputError
    from ..stylizer import MIN_SIDE, Controls, Stylizer

    if args.frames < 2:
        raise InputError(f"--frames must be at least 2 (one pair), got {args.frames}")
    if args.max_side < MIN_SIDE:
        raise InputError(f"--max-side must be at least {MIN_SIDE}, got {args.max_side}")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out must be a folder, got a file: {args.out}")
    frames = flicker.read_frames(args.video, args.frames, args.start, args.max_side)
    if len(frames) < 2:
        where = f" from {args.start:g} s" if args.start else ""
        raise InputError(f"{args.video} has {len(frames)} decodable frame(s){where}: the "
                         "warping error needs at least 2")
    h, w = frames[0].shape[:2]
    model = styles.find(args.model)
    stylizer = Stylizer({"main": model}, backend=args.backend, threads=args.threads,
                        warm_up=(h, w), controls=Controls(stabilize=args.stabilize))
    main = stylizer.models["main"]
    label = safe_name(getattr(main, "name", None) or main.info.name, "styled")
    if args.stabilize:
        label += "_stabilized"
    style_loss, note = _style_loss_hook(model, args)
    out = Path(args.out) if args.out else \
        Path("out") / "flicker" / f"{safe_name(Path(args.video).stem, 'video')}_{label}"
    batch = 1 if "cpu" in stylizer.describe() else 4
    result = flicker.measure(frames, stylizer, method=args.flow, samples=HEATMAP_PAIRS,
                             batch=batch, style_loss=style_loss)
    data = {"command": _command(args), "video": str(args.video), "model": str(model),
            "style": label, "backend": stylizer.describe(), "start_s": args.start,
            "stabilize": args.stabilize, **result.as_dict()}
    if result.style_loss is not None:
        data["style_loss_frames"] = min(args.style_loss_frames, len(frames))
    if note:
        data["style_loss_note"] = note
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(out / "flicker.json", data)
    images.write_image(out / "heatmaps.png", flicker.heatmap_grid(result))
    loss = f"; style loss {result.style_loss:.4g}" if result.style_loss is not None else \
        (f"; style loss not measured ({note})" if note else "")
    print(f"{result.summary()}{loss}; wrote {out}/flicker.json and heatmaps.png")
    return 0


def _style_loss_hook(model, args):
    """(callable scoring the stylised frames, None) or (None, why not)."""
    if args.style_loss_frames == 0:
        return None, None
    from .. import metadata
    from ..errors import DependencyError, RtstyleError

    try:
        kind = metadata.read(model).get("kind")
    except RtstyleError:
        return None, f"{model} is not a model folder (the loss needs its recipe and style image)"
    if kind != "transformer":
        return None, f"{model} is a {kind}, not a trained style net"
    try:
        from ..train.evaluate import style_loss_of_frames
    except (ImportError, DependencyError):
        return None, "needs the train extra: pip install 'rtstyle[train]'"

    def score(stylized):
        k = min(args.style_loss_frames, len(stylized))
        picks = sorted({round(i * (len(stylized) - 1) / max(1, k - 1)) for i in range(k)})
        return style_loss_of_frames(model, [stylized[i] for i in picks], device=args.device)

    return score, None
