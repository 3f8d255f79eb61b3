"""``rtstyle export``: a trained model folder to an ONNX file, checked against PyTorch.

Every export is run in a real ONNX Runtime CPU session at 256x256 and 360x640 and compared with
the PyTorch net (max abs error <= 0.5 on 0..255); an --fp16 export must also reach 40 dB PSNR
against fp32 on real photos. A file that fails is not written.
"""

from __future__ import annotations

import argparse

from .args import add_common, positive_int


def register(sub) -> None:
    p = sub.add_parser("export", help="export a trained model to ONNX (parity-checked)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--model", required=True, metavar="DIR", help="model folder (runs/NAME/model)")
    p.add_argument("--out", metavar="FILE.onnx",
                   help="output file (default: model.onnx, or model.fp16.onnx, in the model folder)")
    p.add_argument("--opset", type=positive_int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--fp16", action="store_true",
                   help="half-precision weights and convolutions (instance norm stays float32)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..train import export

    r = export.export(args.model, args.out, opset=args.opset, fp16=args.fp16)
    parity = ", ".join(f"{k}: {v:.2g}" for k, v in r.parity.items())
    extra = ""
    if r.fp16_psnr:
        extra = "; fp16 PSNR vs fp32 " + ", ".join(f"{k}: {v:.1f} dB" for k, v in r.fp16_psnr.items())
    print(f"wrote {r.path} ({r.precision}, opset {r.opset}, {r.bytes / 1e6:.2f} MB) in "
          f"{r.seconds:.1f} s; max |onnx - torch| {parity}{extra}")
    return 0
