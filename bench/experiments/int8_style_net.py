"""Would an int8 export pay for a trained style net on the CPU, as it does for the WCT graph?

Quantises a style net's ``model.onnx`` the way ``rtstyle export --int8`` quantises the WCT
content path (:func:`rtstyle.train.wct.int8.quantize`: convolutions but the first and last,
99.99th-percentile ranges), calibrated on --calibration photos, then reports the output PSNR
against float32 on --photos and the median time per frame of both graphs at --size (ONNX
Runtime CPU, all cores; run it on an idle machine).

    python bench/experiments/int8_style_net.py --model models/starry_night_lite \\
        --calibration ../shared/data/train_content --photos ../shared/data/test_content
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/starry_night_lite"))
    p.add_argument("--calibration", type=Path, required=True, help="a folder of photos")
    p.add_argument("--photos", type=Path, required=True, help="a folder of held-out photos")
    p.add_argument("--size", default="640x360", help="WxH of every frame")
    p.add_argument("--runs", type=int, default=10, help="timed frames per graph")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import onnxruntime as ort

    from rtstyle import frames, images
    from rtstyle.quality import psnr
    from rtstyle.train.wct import int8

    w, h = (int(v) for v in args.size.split("x"))

    def frame(path):
        return frames.to_model_input(images.resize_to(images.read_image(path), (h, w)))

    calib = [{"input": frame(p)} for p in images.list_images(args.calibration)[:24]]
    fp32_bytes = (args.model / "model.onnx").read_bytes()
    int8_bytes = int8.quantize(fp32_bytes, calib)
    sessions = {name: ort.InferenceSession(data, providers=["CPUExecutionProvider"])
                for name, data in (("fp32", fp32_bytes), ("int8", int8_bytes))}
    scores = []
    for p in images.list_images(args.photos)[:8]:
        x = {"input": frame(p)}
        a, b = (np.clip(s.run(None, x)[0], 0, 255) for s in sessions.values())
        scores.append(psnr(b, a))
    print(f"{args.model.name} at {args.size}: int8 vs float32 PSNR on {len(scores)} photos: "
          f"mean {statistics.mean(scores):.1f} dB, min {min(scores):.1f} dB")
    for name, s in sessions.items():
        s.run(None, x)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            s.run(None, x)
            times.append(time.perf_counter() - t)
        print(f"  {name}: {statistics.median(times) * 1e3:.1f} ms per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
