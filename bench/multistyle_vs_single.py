"""A multi-style net against per-style nets, style by style, on the per-style nets' own
evaluations: equivalent Gatys iterations of both, and the CPU-hours behind each.

Each per-style net is given by the evaluation folder ``rtstyle evaluate`` (or the zoo builder)
wrote for it: its loss, photos, size and the whole Gatys curve of every photo. The multi-style
net's style of the same name (or ``NAME=FOLDER``) runs on the same photos at the same size, is
scored under that same loss against the same painting, and is placed on the same curves, so no
Gatys optimisation is run again.

    python bench/multistyle_vs_single.py --multi ~/rtstyle-runs/zoo_multi_lite/model \\
        --evaluations ~/rtstyle-runs/zoo/*-lite/evaluation \\
        --out bench/results/multistyle_vs_single_cpu_DATE
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, output, write_report  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--multi", required=True, type=Path, help="the multi-style model folder")
    p.add_argument("--evaluations", required=True, nargs="+", metavar="[NAME=]FOLDER",
                   help="evaluation folders of per-style nets (NAME: the multi-style net's "
                        "style to compare with, when the names differ)")
    p.add_argument("--out", required=True, type=Path)
    return p.parse_args(argv)


def _path(recorded: str, base: Path) -> Path:
    """A path an evaluation recorded, relative to where it ran (the repository, usually)."""
    p = Path(recorded)
    return p if p.is_absolute() or p.exists() else ROOT / p if (ROOT / p).exists() else base / p


def compare(multi_folder: Path, spec: str) -> list[dict]:
    """Rows (one per photo) for one per-style net's evaluation folder."""
    import torch

    from rtstyle import config, frames, images, metadata
    from rtstyle.errors import ConfigError
    from rtstyle.train import model_folder, multistyle
    from rtstyle.train.evaluate import score_image
    from rtstyle.train.gatys import equivalent_iterations
    from rtstyle.train.losses import LossConfig
    from rtstyle.train.multistyle_net import one_hot

    name, _, folder = spec.rpartition("=")
    ev_dir = Path(folder)
    ev = json.loads((ev_dir / "evaluation.json").read_text())
    single = _path(ev["model"], ev_dir.parent)
    if not (single / metadata.METADATA_FILE).is_file():
        single = ev_dir.parent / "model"
    single_meta = metadata.read(single)
    net, meta = multistyle.load(multi_folder)
    names = [s["name"] for s in meta["styles"]]
    name = name or single_meta["style"]["name"]
    lower = [n.lower() for n in names]
    if name.lower() not in lower:
        raise ConfigError(f"{multi_folder} has no style '{name}' (it has {', '.join(names)})")
    index = lower.index(name.lower())
    loss_cfg = config.from_dict(LossConfig, ev["loss"])
    style = model_folder.style_image(single)
    multi_hours = meta["training"].get("total_seconds", meta["training"]["seconds"]) / 3600
    single_hours = single_meta["training"].get("total_seconds",
                                               single_meta["training"]["seconds"]) / 3600
    rows = []
    for r in ev["images"]:
        if "gatys_curve" not in r:
            raise ConfigError(f"{ev_dir}: no Gatys curve saved for {r['image']} (evaluated "
                              "before curves were kept): run rtstyle evaluate again")
        content = images.read_image(_path(r["image"], ev_dir.parent), max_side=ev["size"])
        x = torch.from_numpy(frames.to_model_input(content))
        with torch.no_grad():
            y = net(x, one_hot(index, len(names)))
        out = frames.from_model_output(y.numpy())
        total = score_image(out, content, style, loss_cfg)["total"]
        eq = equivalent_iterations(total, r["gatys_curve"])
        rows.append({"style": names[index], "photo": Path(r["image"]).name,
                     "single": single.name, "single_loss": r["net"]["total"],
                     "single_equivalent": r["equivalent_iterations"],
                     "single_hours": round(single_hours, 2),
                     "multi_loss": total, "multi_equivalent": None if eq == float("inf")
                     else round(eq, 1), "multi_hours": round(multi_hours, 2),
                     "multi_styles": len(names)})
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = [row for spec in args.evaluations for row in compare(args.multi, spec)]
    for r in rows:
        print(f"{r['style']:28s} {r['photo']:16s} per-style {r['single_equivalent']} "
              f"({r['single_hours']} h)  multi {r['multi_equivalent']} "
              f"({r['multi_hours']} h for {r['multi_styles']} styles)", flush=True)
    write_report(output(args.out, ".json"), "multistyle_vs_single", rows,
                 multi=str(args.multi))
    lines = ["Equivalent Gatys iterations of each style, per-style net against the multi-style "
             "net, under the per-style net's loss and on its Gatys curves (None: below the "
             "curve); CPU-hours of all the training behind each net", "",
             "| style | photo | per-style net | its hours | multi-style net | its hours "
             "(all styles) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['style']} | {r['photo']} | {r['single_equivalent']} | "
              f"{r['single_hours']} | {r['multi_equivalent']} | {r['multi_hours']} "
              f"({r['multi_styles']}) |" for r in rows]
    output(args.out, ".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
