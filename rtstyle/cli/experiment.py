"""``rtstyle experiment``: the seed reports' experiments, each writing a labelled image grid."""

from __future__ import annotations

import argparse

from .args import add_common, float_list, name_list, positive_int


def _layer_sets(text: str) -> tuple[tuple[str, ...], ...]:
    sets = tuple(name_list(part) for part in text.split(";") if part.strip())
    if not sets:
        raise argparse.ArgumentTypeError("expected layer sets like 'relu1_1;relu1_1,relu2_1'")
    return sets


def register(sub) -> None:
    p = sub.add_parser("experiment", help="reproduce the Gatys experiments as image grids "
                       "(content/style reconstructions, weight x layer grid)", description=__doc__)
    add_common(p)
    kinds = p.add_subparsers(title="experiments", metavar="EXPERIMENT", dest="experiment",
                             required=True, parser_class=type(p))

    def common(q):
        add_common(q)
        q.add_argument("--output", "-o", required=True, metavar="IMAGE", help="grid image to write")
        q.add_argument("--size", type=positive_int, default=128, help="image size (default 128)")
        q.add_argument("--iterations", type=positive_int, default=None,
                       help="L-BFGS iterations per cell")
        q.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
        q.add_argument("--seed", type=int, default=0)

    c = kinds.add_parser("content", help="reconstruct a photo from single layers (content loss only)")
    common(c)
    c.add_argument("--content", required=True, metavar="IMAGE")
    c.add_argument("--layers", type=name_list, help="layers (default conv1_2,...,conv5_2)")
    c.set_defaults(run=run, kind="content")

    s = kinds.add_parser("style", help="reconstruct a painting's texture from growing layer sets")
    common(s)
    s.add_argument("--style", required=True, metavar="IMAGE")
    s.add_argument("--layer-sets", type=_layer_sets, help="';'-separated sets of ','-separated layers")
    s.set_defaults(run=run, kind="style")

    w = kinds.add_parser("weights", help="grid of style weight x style layer set")
    common(w)
    w.add_argument("--content", required=True, metavar="IMAGE")
    w.add_argument("--style", required=True, metavar="IMAGE")
    w.add_argument("--style-weights", type=float_list, help="columns (default 1e1,...,1e5)")
    w.add_argument("--layer-sets", type=_layer_sets, help="rows: ';'-separated layer sets")
    w.add_argument("--init", choices=("content", "noise"), default="content")
    w.set_defaults(run=run, kind="weights")


def run(args: argparse.Namespace) -> int:
    from .. import images
    from ..train import experiments as ex
    from .progress import Progress

    output = images.check_image_path(args.output)
    common = {"size": args.size, "device": args.device, "seed": args.seed}
    if args.iterations:
        common["iterations"] = args.iterations
    if args.kind == "content":
        content = images.read_image(args.content, max_side=args.size)
        layers = args.layers or ex.CONTENT_LAYERS
        with Progress(len(layers), "content layers", unit="layer") as bar:
            grid = ex.content_reconstructions(content, layers, on_step=lambda _: bar.update(bar.bar.n + 1),
                                              **common)
    elif args.kind == "style":
        style = images.read_image(args.style, max_side=args.size)
        sets = args.layer_sets or ex.STYLE_LAYER_SETS
        with Progress(len(sets), "style layer sets", unit="set") as bar:
            grid = ex.style_reconstructions(style, sets, on_step=lambda _: bar.update(bar.bar.n + 1),
                                            **common)
    else:
        content = images.read_image(args.content, max_side=args.size)
        style = images.read_image(args.style, max_side=args.size)
        weights = args.style_weights or ex.STYLE_WEIGHTS
        sets = args.layer_sets or ex.STYLE_LAYER_SETS[2:]
        with Progress(len(weights) * len(sets), "weight grid", unit="run") as bar:
            grid = ex.weight_grid(content, style, weights, sets, init=args.init,
                                  on_step=lambda _: bar.update(bar.bar.n + 1), **common)
    images.write_image(output, grid)
    print(f"wrote {output}")
    return 0
