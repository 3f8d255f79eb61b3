"""Speed of WCT universal style transfer: seconds per image (PyTorch, exact eigendecompositions)
for single- and multi-level stylisation, and the real-time path (one ONNX graph per frame).

    python bench/wct_speed.py --size 512 --device cpu --realtime 640x360 --out bench/results/wct_cpu.json
    python bench/wct_speed.py --size 512 --device cuda --realtime 1280x720 --backends ort-cuda,ort-trt

Content: the bundled photo; style: the bundled painting. Each figure is the median of
``--repeats`` runs after one warm-up run. Decoders come from models/wct (or ``--decoders``); the
real-time path needs the exported graphs there (``rtstyle export --model models/wct/level3``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_report  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512, help="longer side of the output (default 512)")
    p.add_argument("--configs", default="4;4,3,2,1",
                   help="level lists separated by ';' (default: '4;4,3,2,1')")
    p.add_argument("--alpha", type=float, default=0.8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--decoders", type=Path, help="folder with level1..level5 (default models/wct)")
    p.add_argument("--realtime", default="", help="WIDTHxHEIGHT sizes for the real-time path")
    p.add_argument("--levels-realtime", default="3", help="real-time levels to time (exported)")
    p.add_argument("--backends", default="ort-cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--frames", type=int, default=10, help="frames per real-time measurement")
    p.add_argument("--out", type=Path)
    return p.parse_args(argv)


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np

    from rtstyle import assets, images, wct_realtime
    from rtstyle.stylizer import Stylizer

    content = images.read_image(assets.path(assets.DEMO_CONTENT))
    style = images.read_image(assets.path(assets.DEMO_STYLE))
    rows = []
    configs = [c for c in args.configs.split(";") if c.strip()]
    if configs:
        import torch

        from rtstyle.train.device import describe, resolve_device
        from rtstyle.train.wct.stylize import WCTConfig, levels_from_text, stylize_wct
        from rtstyle.train.wct.trainer import encoder_for, find_decoder, load_decoder

        device = resolve_device(args.device)
        for text in configs:
            levels = levels_from_text(text)
            decs = {lv: load_decoder(find_decoder(lv, args.decoders), device)[0] for lv in levels}
            encs = {lv: encoder_for(lv, device) for lv in levels}
            cfg = WCTConfig(levels=levels, alpha=args.alpha, size=args.size)

            def once():
                stylize_wct(content, [style], encs, decs, cfg)
                if device.type == "cuda":
                    torch.cuda.synchronize()

            sec = _median_seconds(once, args.repeats)
            row = {"path": "torch eigh", "levels": list(levels), "size": args.size,
                   "device": describe(device), "seconds_per_image": round(sec, 3)}
            rows.append(row)
            print(f"levels {text}: {sec:.2f} s/image at {args.size} px on {row['device']}")
    for size in [s for s in args.realtime.split(",") if s.strip()]:
        w, h = (int(v) for v in size.lower().split("x"))
        frame = images.resize_to(content, (h, w))
        for level in [int(v) for v in args.levels_realtime.split(",") if v.strip()]:
            for backend in args.backends.split(","):
                st = wct_realtime.WCTStyle(style, level, None, backend, shape=(h, w))
                stylizer = Stylizer({"painting": st}, warm_up=(h, w))
                lat = []
                for _ in range(args.frames):
                    t = time.perf_counter()
                    stylizer(frame)
                    lat.append(time.perf_counter() - t)
                med = statistics.median(lat)
                rows.append({"path": "realtime onnx", "level": level, "size": f"{w}x{h}",
                             "backend": st.describe(), "median_ms": round(med * 1e3, 1),
                             "p90_ms": round(float(np.percentile(lat, 90)) * 1e3, 1),
                             "fps": round(1 / med, 2)})
                print(f"real-time relu{level}_1 {w}x{h} {st.describe()}: {med * 1e3:.0f} ms "
                      f"({1 / med:.1f} FPS)")
    write_report(args.out, "wct_speed", rows, machine=machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
