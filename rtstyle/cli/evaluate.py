"""``rtstyle evaluate``: a trained net's loss against Gatys L-BFGS on the same loss and images.

Writes evaluation.json (per image: the net's loss terms, the Gatys loss at each of --iterations,
the equivalent number of Gatys iterations), evaluation.jpg (content | net | Gatys 100 | Gatys
last) and evaluation.png (Gatys loss / net loss against iterations).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, name_list, positive_int, safe_name


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="compare a trained net with Gatys optimisation",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--model", required=True, metavar="DIR",
                   help="model folder (runs/NAME/model, or a shipped model in models/)")
    p.add_argument("--images", required=True, nargs="+", metavar="PATH",
                   help="image files or folders of images")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: out/evaluate/<model name>)")
    p.add_argument("--size", type=positive_int, default=512,
                   help="longer side the images are scaled to (default 512)")
    p.add_argument("--iterations", type=name_list, default=("50", "100", "200", "300"),
                   metavar="N1,N2,...", help="Gatys iterations to report (default 50,100,200,300)")
    p.add_argument("--init", choices=("noise", "content"), default="noise",
                   help="Gatys starting image (default noise, as Johnson et al. compared)")
    p.add_argument("--limit", type=positive_int, help="evaluate at most N images")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss-net-weights", metavar="FILE", help="weights of the loss network")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _iterations(items) -> list[int]:
    from ..errors import InputError

    try:
        its = [int(i) for i in items]
    except ValueError:
        raise InputError(f"--iterations expects whole numbers, got {','.join(items)}") from None
    if any(i < 1 for i in its):
        raise InputError("--iterations must be at least 1")
    return sorted(set(its))


def run(args: argparse.Namespace) -> int:
    from .. import images, metadata, report
    from ..train import evaluate
    from .progress import Progress

    its = _iterations(args.iterations)
    meta = metadata.read(args.model)  # fail fast on a wrong --model
    files = images.collect_images(args.images, args.limit)
    for f in files:  # fail before minutes of optimisation on a bad file
        images.read_image(f, max_side=16)
    out = Path(args.out) if args.out else Path("out") / "evaluate" / safe_name(meta.get("name"), "model")

    with Progress(len(files) * its[-1], "evaluate", unit="it", disable=args.quiet) as bar:
        done = [0]

        def on_image(k, path):
            done[0] = k * its[-1]
            bar.bar.set_description(f"evaluate {Path(path).name}")

        def on_iteration(i, row):
            bar.update(done[0] + i, row)

        ev = evaluate.evaluate(args.model, files, size=args.size, iterations=its, init=args.init,
                               device=args.device, seed=args.seed,
                               loss_net_weights=args.loss_net_weights,
                               on_image=on_image, on_iteration=on_iteration)
    data = ev.as_dict()
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(out / "evaluation.json", data)
    images.write_image(out / "evaluation.jpg", ev.grid())
    evaluate.plot(out / "evaluation.png", ev)
    for row in data["images"]:
        eq = row["equivalent_iterations"]
        eq_text = f"> {its[-1]}" if eq is None else f"{eq:.0f}"
        print(f"{Path(row['image']).name}: net loss {row['net']['total']:.4g} "
              f"= Gatys {eq_text} iterations ({', '.join(f'{k}: {v:.4g}' for k, v in row['gatys'].items())})")
    s = data["summary"]
    med = s["equivalent_iterations_median"]
    print(f"median equivalent iterations: {f'{med:.0f}' if med is not None else f'> {its[-1]}'} "
          f"over {s['images']} images; wrote {out / 'evaluation.json'}, evaluation.jpg, "
          f"evaluation.png")
    return 0
