"""An int8 copy of a WCT level's real-time content path, for ONNX Runtime on the CPU.

The per-frame cost of the real-time WCT graphs is their VGG19 convolutions (the whitening's
matrix products are small next to them). ONNX Runtime runs 8-bit convolutions on the CPU's
integer dot-product units (VNNI, AMX), about twice as fast for relu3_1. Only the convolutions
are quantised (int8 weights per output channel, uint8 activations, QDQ format), and not the
first and last ones: with 3 image channels they gain nothing in int8 and cost accuracy. The
covariance, the Newton-Schulz whitening and the colouring stay float32, since they divide by
small eigenvalues. Activation ranges come from calibration frames: photos as content with
paintings' and photos' statistics as styles, so the decoder's input range covers the range of
paintings, not just one; each range is the 99.99th percentile, since min-max spends the 8 bits
on rare outliers (relu3_1, on held-out photos with held-out paintings: 38.9 dB mean against
float32, min-max 32.8 dB).

The int8 graph is checked against the float32 one and refused below :data:`MIN_PSNR_VS_FP32`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ... import assets, frames, images, onnx_model
from ..export import ExportError

#: Output PSNR (dB) the int8 content path must keep against the float32 one.
MIN_PSNR_VS_FP32 = 30.0
#: (height, width) of the calibration frames: the live window's usual 16:9 frame.
CALIBRATION_SIZE = (360, 640)
#: At most this many calibration frames.
MAX_CALIBRATION = 24
#: Each activation's range: this percentile of its calibration values.
PERCENTILE = 99.99


def calibration_images(paths: Sequence[str | os.PathLike] | None = None) -> list[np.ndarray]:
    """BGR images for calibration: ``paths`` (files, or folders of images), else the bundled
    photo and painting."""
    if not paths:
        paths = [assets.path(assets.DEMO_CONTENT), assets.path(assets.DEMO_STYLE)]
    paths = [Path(p) for p in paths]
    folders = [p for p in paths if p.is_dir()]
    # image files count one each; folders share the rest, spread over each folder
    share = max(1, (MAX_CALIBRATION - len(paths) + len(folders)) // max(1, len(folders)))
    files: list[Path] = []
    for p in paths:
        found = images.list_images(p, recursive=False) if p.is_dir() else [p]
        step = max(1, len(found) // share)
        files += found[::step][:share]
    if not files:
        raise ExportError("no calibration images found in " + ", ".join(map(str, paths)))
    return [images.read_image(f, max_side=1024) for f in files]


def calibration_feeds(pictures: list[np.ndarray], style_feeds, alpha: float = 1.0,
                      size: tuple[int, int] = CALIBRATION_SIZE) -> list[dict[str, np.ndarray]]:
    """One feed per picture: the picture as content, the one half the list away as the style
    (each serves as both, so with photos and paintings listed one group after the other, each
    group meets the other). With a single picture its mirror image is the content.
    ``style_feeds(bgr, alpha)`` gives a style's inputs."""
    h, w = size
    n = len(pictures)
    out = []
    for i, pic in enumerate(pictures):
        style = pictures[(i + max(1, n // 2)) % n]
        content = pic if n > 1 else pic[:, ::-1]
        x = frames.to_model_input(images.resize_to(content, (h, w)))
        out.append({onnx_model.INPUT_NAME: x, **style_feeds(style, alpha)})
    return out


def quantize(content_bytes: bytes, feeds: list[dict[str, np.ndarray]]) -> bytes:
    """The content path with its convolutions in int8 (QDQ), calibrated on ``feeds``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items: Iterator = iter(feeds)

        def get_next(self):
            return next(self.items, None)

    import onnx

    with tempfile.TemporaryDirectory(prefix="rtstyle-int8-") as tmp:
        src, pre, out = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(content_bytes)
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            convs = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type == "Conv"]
            if len(convs) <= 2:
                raise ExportError("nothing to quantise: the graph's only convolutions are the "
                                  "first and the last, which stay float (relu1_1 runs as fast "
                                  "in float32)")
            quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv"], per_channel=True,
                            nodes_to_exclude=[convs[0], convs[-1]],
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.Percentile,
                            extra_options={"CalibPercentile": PERCENTILE})
        except ExportError:
            raise
        except Exception as e:  # the quantiser raises bare exceptions of several kinds
            raise ExportError(f"int8 quantisation failed: {str(e).splitlines()[0]}") from e
        return out.read_bytes()
