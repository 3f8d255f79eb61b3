"""``rtstyle wct``: universal style transfer (Li et al. 2017): any painting, no training.

Multi-level WCT, coarse to fine, with the trained decoders in models/wct/, in PyTorch with exact
eigendecompositions. By default it runs every level whose decoder meets its reconstruction floor
(recorded in its model.json) and says which; --levels chooses. Several --style images are mixed (--style-weights) or,
with --mask, painted into the mask's brightness bands (darkest = first style). --texture
synthesises a texture from noise. For live video use 'rtstyle webcam --style-image'.
"""

from __future__ import annotations

import argparse

from .args import add_common, float_list, positive_int


def register(sub) -> None:
    p = sub.add_parser("wct", help="stylise with any painting (universal style transfer, WCT)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--content", metavar="IMAGE", help="photo to stylise (not with --texture)")
    p.add_argument("--style", action="append", required=True, metavar="IMAGE",
                   help="painting; repeat to mix styles or to fill mask regions")
    p.add_argument("--style-weights", type=float_list, metavar="W1,W2,...",
                   help="mixture weights, one per --style (default equal)")
    p.add_argument("--levels", metavar="L,L,...",
                   help="WCT levels to run, coarse to fine, e.g. 5,4,3,2,1 (default: the levels "
                   "whose decoder meets its reconstruction floor)")
    p.add_argument("--alpha", type=float, default=0.6,
                   help="style strength at each level, 0..1 (default 0.6)")
    p.add_argument("--mask", metavar="IMAGE",
                   help="grey image: brightness band k (darkest first) gets style k; resized to "
                   "the content")
    p.add_argument("--texture", action="store_true", help="texture synthesis from noise")
    p.add_argument("--size", type=positive_int, default=512, metavar="PX",
                   help="longer side of the output (default 512; the content is never enlarged)")
    p.add_argument("--style-size", type=positive_int, metavar="PX",
                   help="longer side of the style images (default: --size)")
    p.add_argument("--seed", type=int, default=0, help="noise seed for --texture")
    p.add_argument("--decoders", metavar="DIR",
                   help="folder with level1..level5 decoders (default: models/wct)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--output", "-o", required=True, metavar="OUT.png",
                   help="output image (missing folders are created); - writes a PNG to standard "
                   "output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing file (default: write a numbered name and say so)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from dataclasses import replace

    from .. import images
    from ..errors import InputError
    from ..train.device import resolve_device
    from ..train.wct.levels import default_levels
    from ..train.wct.stylize import WCTConfig, levels_from_text, stylize_wct
    from ..train.wct.trainer import encoder_for, find_decoder, load_decoder
    from .outputs import single_output, write_single

    levels = levels_from_text(args.levels) if args.levels else (1,)
    cfg = WCTConfig(levels=levels, alpha=args.alpha, size=args.size, style_size=args.style_size,
                    texture=args.texture, seed=args.seed)
    if args.texture and args.content:
        raise InputError("--texture makes an image from noise; drop --content (or --texture)")
    if not args.texture and not args.content:
        raise InputError("--content is required (or --texture for texture synthesis)")
    if args.mask and len(args.style) < 2:
        raise InputError("--mask needs two or more --style images (one per region)")
    if args.mask and args.style_weights:
        raise InputError("use either --mask (a style per region) or --style-weights (a mixture)")
    if args.style_weights and len(args.style_weights) != len(args.style):
        raise InputError(f"{len(args.style_weights)} --style-weights for {len(args.style)} "
                         "--style images")
    left_out = []
    if not args.levels:  # after every check of the arguments: their errors come first
        levels, left_out = default_levels(args.decoders)
        cfg = replace(cfg, levels=levels)
    target = single_output(args.output, args.overwrite)
    content = None if args.texture else images.read_image(args.content)
    styles = [images.read_image(s) for s in args.style]
    mask = images.read_image(args.mask) if args.mask else None
    device = resolve_device(args.device)
    decoders, sources = {}, []
    for level in sorted(set(levels), reverse=True):
        folder = find_decoder(level, args.decoders)
        decoders[level], meta = load_decoder(folder, device)
        ev = meta.get("evaluation", {})
        sources.append(f"relu{level}_1" + (f" {ev['psnr_db']:.1f} dB" if ev else ""))
    encoders = {level: encoder_for(level, device) for level in decoders}
    start = time.perf_counter()
    out = stylize_wct(content, styles, encoders, decoders, cfg, args.style_weights, mask)
    seconds = time.perf_counter() - start
    where = write_single(target, out)
    renamed = f" ({args.output} exists; --overwrite replaces it)" if target and \
        str(target) != args.output else ""
    skipped = f" (left out, below their floors: {', '.join(c.describe() for c in left_out)}; " \
        "--levels to use them)" if left_out else ""
    print(f"wrote {where}{renamed} ({out.shape[1]}x{out.shape[0]}) in {seconds:.1f} s on "
          f"{device}; levels {','.join(map(str, levels))}: decoders {', '.join(sources)}"
          f"{skipped}", file=sys.stderr if target is None else sys.stdout)
    return 0
