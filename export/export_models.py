"""Export every model folder under a directory (default: models/) to ONNX, fp32 and optionally fp16.

    python export/export_models.py                 # models/*/model.onnx
    python export/export_models.py runs --fp16     # also model.fp16.onnx

Each export is parity-checked like ``rtstyle export`` (a real ONNX Runtime CPU session against
PyTorch at 256x256 and 360x640); a model that fails is reported and left without a new file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", nargs="?", default=str(ROOT / "models"))
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--opset", type=int, default=17)
    args = p.parse_args(argv)

    from rtstyle.errors import RtstyleError
    from rtstyle.train import export

    folders = sorted(f.parent for f in Path(args.root).rglob("model.json"))
    if not folders:
        print(f"no model folders under {args.root}")
        return 0
    failed = 0
    for folder in folders:
        for fp16 in (False, True) if args.fp16 else (False,):
            try:
                r = export.export(folder, opset=args.opset, fp16=fp16)
            except RtstyleError as e:
                failed += 1
                print(f"FAILED {folder} ({'fp16' if fp16 else 'fp32'}): {e}")
                continue
            worst = max(r.parity.values())
            psnr = f", PSNR {min(r.fp16_psnr.values()):.1f} dB" if r.fp16_psnr else ""
            print(f"{r.path}: max |onnx - torch| {worst:.2g}{psnr}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
