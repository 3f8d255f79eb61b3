"""``rtstyle export``: a trained model folder to an ONNX file, checked against PyTorch.

A WCT decoder folder (models/wct/levelL) gets its real-time arbitrary-style graphs instead:
encoder.onnx and realtime.onnx (encoder + Newton-Schulz whitening/colouring + decoder), checked
against PyTorch and against the exact eigendecomposition WCT (>= 30 dB PSNR); with --int8 also
realtime.int8.onnx (int8 convolutions for the CPU, >= 30 dB PSNR against float32), calibrated on
--calibration images (photos and paintings) or the bundled ones.

Every style-net export is run in a real ONNX Runtime CPU session at 256x256 and 360x640 and compared with
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
    p.add_argument("--fp16-weights", action="store_true",
                   help="first store the folder's weights in float16 (half the size, also in "
                        "model.onnx, which still computes in float32); refused unless the "
                        "output keeps 40 dB PSNR")
    p.add_argument("--ns-iterations", type=positive_int, default=None, metavar="N",
                   help="WCT decoders: Newton-Schulz iterations in the whitening (default 20)")
    p.add_argument("--int8", action="store_true",
                   help="WCT decoders: also an int8 content path for the CPU (realtime.int8.onnx)")
    p.add_argument("--calibration", nargs="+", metavar="PATH",
                   help="--int8: images or folders of photos and paintings to calibrate on "
                        "(default: the bundled photo and painting)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import metadata
    from ..errors import InputError
    from ..train import export

    if metadata.read(args.model)["kind"] == "wct-decoder":
        if args.out or args.fp16 or args.fp16_weights:
            raise InputError("--out, --fp16 and --fp16-weights are for style nets; a WCT "
                             "decoder's graphs are written into its model folder in fp32")
        from ..train.wct import export as wct_export

        if args.calibration and not args.int8:
            raise InputError("--calibration is for --int8")
        r = wct_export.export_wct(args.model, opset=args.opset,
                                  iterations=args.ns_iterations or wct_export.ITERATIONS,
                                  int8=args.int8, calibration=args.calibration)
        worst = min(v["psnr_vs_eigh_db"] for k, v in r.checks.items()
                    if isinstance(v, dict) and k != "int8")
        sizes = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in r.bytes.items())
        int8 = ""
        if "int8" in r.checks:
            low = min(v["psnr_vs_fp32_db"] for v in r.checks["int8"].values() if isinstance(v, dict))
            int8 = f"; int8 vs float32: >= {low:.1f} dB PSNR"
        print(f"wrote {sizes} to {r.folder} in {r.seconds:.1f} s; real-time WCT relu{r.level}_1 "
              f"({r.iterations} Newton-Schulz iterations) vs eigendecomposition: >= {worst:.1f} "
              f"dB PSNR{int8}")
        return 0
    if args.ns_iterations or args.int8 or args.calibration:
        raise InputError("--ns-iterations, --int8 and --calibration are for WCT decoders")

    r = export.export(args.model, args.out, opset=args.opset, fp16=args.fp16,
                      fp16_weights=args.fp16_weights)
    parity = ", ".join(f"{k}: {v:.2g}" for k, v in r.parity.items())
    extra = ""
    if r.fp16_psnr:
        extra = "; fp16 PSNR vs fp32 " + ", ".join(f"{k}: {v:.1f} dB" for k, v in r.fp16_psnr.items())
    if r.weights_psnr:
        extra += ("; weights stored in float16 (output PSNR vs float32 "
                  + ", ".join(f"{k}: {v:.1f} dB" for k, v in r.weights_psnr.items()) + ")")
    print(f"wrote {r.path} ({r.precision}, opset {r.opset}, {r.bytes / 1e6:.2f} MB) in "
          f"{r.seconds:.1f} s; max |onnx - torch| {parity}{extra}")
    return 0
