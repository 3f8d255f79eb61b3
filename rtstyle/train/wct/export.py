"""Exporting a WCT decoder's real-time path to ONNX: ``rtstyle export --model models/wct/level3``.

Two graphs go into the decoder's model folder:

- ``encoder.onnx``: image -> relu{L}_1 features (used once per style, for its statistics);
- ``realtime.onnx``: (image, style_mean, style_colour, alpha) -> stylised image: the encoder,
  whitening by coupled Newton-Schulz iterations and colouring (:class:`.wct.WhitenColour`, only
  matrix products), and the decoder, as one graph.

Both are checked in ONNX Runtime against PyTorch, and the content path against the exact
eigendecomposition WCT (output PSNR must reach :data:`MIN_PSNR_VS_EIGH`). With ``int8`` a third,
``realtime.int8.onnx``, is the content path with int8 convolutions for the CPU (:mod:`.int8`),
checked against the float32 graph. Nothing is written when a check fails, and a re-export
without ``int8`` removes an older int8 graph (it would belong to other decoder weights).
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ... import assets, atomic, frames, images, metadata, onnx_model, wct_realtime
from ...quality import psnr
from ..export import DEFAULT_OPSET, ExportError, _ort_cpu, _photo_batch, with_metadata
from . import transform as wct
from .models import CHANNELS, WCTDecoder, WCTEncoder, size_multiple
from .trainer import encoder_for, load_decoder

#: Newton-Schulz iterations in the exported whitening.
ITERATIONS = 20
#: The exported content path must match the eigendecomposition WCT to this PSNR (dB).
MIN_PSNR_VS_EIGH = 30.0
#: ...and PyTorch running the same graph to this PSNR (dB).
MIN_PSNR_VS_TORCH = 45.0
#: Largest error of the Newton-Schulz WCT features against the exact ones, relative to their
#: largest magnitude (checked at the export's check sizes, where pixels outnumber channels).
MAX_FEATURE_ERROR = 0.05
#: Largest |ONNX - torch| of the encoder's features, relative to their largest magnitude.
ENCODER_TOLERANCE = 1e-4
#: (height, width) of the check images: a photo at two aspect ratios.
CHECK_SIZES = ((256, 256), (360, 640))


class ContentPath(nn.Module):
    """encoder -> Newton-Schulz whitening + colouring -> decoder, for one image."""

    def __init__(self, encoder: WCTEncoder, decoder: WCTDecoder, iterations: int = ITERATIONS):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder.eval()
        self.wc = wct.WhitenColour(iterations)

    def forward(self, x, style_mean, style_color, alpha):
        return self.decoder(self.wc(self.encoder(x), style_mean, style_color, alpha))


class _EncoderGraph(nn.Module):
    def __init__(self, encoder: WCTEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        return self.encoder(x)


def _export(module: nn.Module, args: tuple, inputs: list[str], outputs: list[str],
            opset: int) -> bytes:
    axes = {2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, args, buf, dynamo=False, opset_version=opset,
                              input_names=inputs, output_names=outputs,
                              dynamic_axes={inputs[0]: axes, outputs[0]: axes},
                              do_constant_folding=True)
        except Exception as e:
            raise ExportError(f"ONNX export failed (opset {opset}): {e}") from e
    return buf.getvalue()


def style_feeds(encoder: WCTEncoder, style_bgr: np.ndarray, alpha: float = 1.0
                ) -> tuple[dict[str, np.ndarray], wct.StyleStats]:
    """The content path's style inputs for a painting (and the exact statistics)."""
    x = torch.from_numpy(frames.to_model_input(style_bgr))
    from .stylize import pad

    with torch.no_grad():
        feat = encoder(pad(x, size_multiple(encoder.level))[0])
    stats = wct.StyleStats.of(feat)
    mean, color = wct_realtime.style_statistics(feat.numpy())
    return {"style_mean": mean, "style_colour": color,
            "alpha": np.array([alpha], np.float32)}, stats


@torch.no_grad()
def eigh_reference(encoder: WCTEncoder, decoder: WCTDecoder, x: np.ndarray,
                   stats: wct.StyleStats, alpha: float) -> np.ndarray:
    """The exact WCT (float64 eigendecomposition) of an RGB NCHW batch of one image."""
    f = encoder(torch.from_numpy(x))
    return decoder(wct.transform(f, stats, alpha)).numpy()


@dataclass
class WCTExportResult:
    folder: Path
    level: int
    iterations: int
    checks: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    bytes: dict[str, int] = field(default_factory=dict)


def _props(meta: dict[str, Any], role: str, level: int, opset: int, extra: dict,
           precision: str = "fp32") -> dict[str, str]:
    io_contract = {**metadata.IO_CONTRACT, "size_multiple": size_multiple(level),
                   "precision": precision}
    card = {"name": meta.get("name"), "kind": "wct-" + role, "net": meta.get("net"),
            "evaluation": meta.get("evaluation", {}), "training": meta.get("training", {}),
            "opset": opset, **extra}
    return {onnx_model.KEY_FORMAT: onnx_model.FORMAT,
            onnx_model.KEY_IO: json.dumps(io_contract, sort_keys=True),
            onnx_model.KEY_CARD: json.dumps(card, sort_keys=True, default=str),
            onnx_model.KEY_WCT: json.dumps({"role": role, "level": level,
                                            "channels": CHANNELS[level]})}


def export_wct(model_dir: str | os.PathLike, opset: int = DEFAULT_OPSET,
               iterations: int = ITERATIONS, alpha_check: float = 1.0,
               vgg_weights: str | None = None,
               sizes: Sequence[tuple[int, int]] = CHECK_SIZES, int8: bool = False,
               calibration: Sequence[str | os.PathLike] | None = None) -> WCTExportResult:
    """Write ``encoder.onnx`` and ``realtime.onnx`` (and with ``int8``, ``realtime.int8.onnx``,
    calibrated on the ``calibration`` images or the bundled ones) into a WCT decoder's model
    folder."""
    start = time.perf_counter()
    if not 11 <= opset <= 21:
        raise ExportError(f"opset must be between 11 and 21, got {opset}")
    if not 1 <= iterations <= 100:
        raise ExportError(f"Newton-Schulz iterations must be 1..100, got {iterations}")
    decoder, meta = load_decoder(model_dir)
    folder = metadata.model_dir(model_dir)
    level = decoder.level
    encoder = encoder_for(level, "cpu", vgg_weights)
    path = ContentPath(encoder, decoder, iterations).eval()

    m = size_multiple(level)
    style = images.fit_within(images.read_image(assets.path(assets.DEMO_STYLE)), 256)
    feeds, stats = style_feeds(encoder, style, alpha_check)
    ex = torch.rand(1, 3, 8 * m, 8 * m) * 255
    tensors = tuple(torch.from_numpy(feeds[k]) for k in onnx_model.WCT_INPUTS[1:])
    content_bytes = _export(path, (ex, *tensors), list(onnx_model.WCT_INPUTS),
                            [onnx_model.OUTPUT_NAME], opset)
    encoder_bytes = _export(_EncoderGraph(encoder), (ex,), [onnx_model.INPUT_NAME],
                            [onnx_model.FEATURES_NAME], opset)

    checks: dict[str, Any] = {"iterations": iterations, "style": assets.DEMO_STYLE,
                              "alpha": alpha_check}
    enc_s, path_s = _ort_cpu(encoder_bytes), _ort_cpu(content_bytes)
    for k, (h, w) in enumerate(sizes):
        h, w = -(-h // m) * m, -(-w // m) * m
        x = _photo_batch(h, w, k)
        with torch.no_grad():
            f_ref = encoder(torch.from_numpy(x)).numpy()
            torch_out = path(torch.from_numpy(x), *tensors).numpy()
        f_onnx = enc_s.run(None, {onnx_model.INPUT_NAME: x})[0]
        enc_err = float(np.abs(f_onnx - f_ref).max() / max(1e-6, np.abs(f_ref).max()))
        if not enc_err <= ENCODER_TOLERANCE:
            raise ExportError(f"exported encoder differs from torch by {enc_err:.2g} (relative) "
                              f"at {h}x{w}; not written")
        out = path_s.run(None, {onnx_model.INPUT_NAME: x, **feeds})[0]
        ref = eigh_reference(encoder, decoder, x, stats, alpha_check)
        vs_torch, vs_eigh = psnr(out, torch_out), psnr(out, ref)
        feat_err = _feature_error(encoder, x, stats, feeds, iterations, alpha_check)
        checks[f"{h}x{w}"] = {"encoder_rel_err": enc_err, "psnr_vs_torch_db": round(vs_torch, 2),
                              "psnr_vs_eigh_db": round(vs_eigh, 2),
                              "feature_rel_err_vs_eigh": feat_err}
        if not feat_err <= MAX_FEATURE_ERROR:
            raise ExportError(f"Newton-Schulz WCT features differ from the eigendecomposition "
                              f"by {feat_err:.2g} (relative) at {h}x{w} (allowed "
                              f"{MAX_FEATURE_ERROR}); try more --ns-iterations; not written")
        if not vs_torch >= MIN_PSNR_VS_TORCH:
            raise ExportError(f"the exported content path differs from torch at {h}x{w} "
                              f"({vs_torch:.1f} dB < {MIN_PSNR_VS_TORCH} dB); not written")
        if not vs_eigh >= MIN_PSNR_VS_EIGH:
            raise ExportError(f"Newton-Schulz WCT differs from the eigendecomposition at {h}x{w} "
                              f"({vs_eigh:.1f} dB < {MIN_PSNR_VS_EIGH} dB); try more "
                              "--ns-iterations; not written")
    files = {}
    if int8:
        files[wct_realtime.INT8_FILE], checks["int8"] = _int8_graph(
            content_bytes, path_s, encoder, feeds, sizes, m, calibration, meta, level, opset)
    encoder_bytes = with_metadata(encoder_bytes, _props(meta, "encoder", level, opset, {}),
                                  f"rtstyle WCT encoder (VGG19 to relu{level}_1)")
    content_bytes = with_metadata(content_bytes, _props(meta, "content-path", level, opset,
                                                        {"checks": checks}),
                                  f"rtstyle real-time WCT relu{level}_1 content path")
    files = {wct_realtime.ENCODER_FILE: encoder_bytes, wct_realtime.CONTENT_FILE: content_bytes,
             **files}
    for name, data in files.items():
        onnx_model.read_contract_bytes(data, str(folder / name))  # the runtime accepts it
    for name, data in files.items():
        atomic.write_bytes(folder / name, data)
    if not int8:
        (folder / wct_realtime.INT8_FILE).unlink(missing_ok=True)
    return WCTExportResult(folder, level, iterations, checks, time.perf_counter() - start,
                           {name: len(data) for name, data in files.items()})


def _int8_graph(content_bytes, fp32_session, encoder, feeds, sizes, m, calibration, meta,
                level, opset) -> tuple[bytes, dict[str, Any]]:
    """The int8 content path and its checks: against the float32 graph at the check sizes on
    the check photo (``feeds``: the bundled painting's statistics)."""
    from . import int8 as q

    def style(bgr, alpha):
        return style_feeds(encoder, images.fit_within(bgr, wct_realtime.STYLE_SIZE), alpha)[0]

    pictures = q.calibration_images(calibration)
    data = q.quantize(content_bytes, q.calibration_feeds(pictures, style))
    session = _ort_cpu(data)
    checks: dict[str, Any] = {
        "calibration_images": len(pictures),
        "method": f"{q.PERCENTILE} percentile ranges, per-channel int8 weights, uint8 "
                  "activations, the convolutions but the first and the last"}
    for k, (h, w) in enumerate(sizes):
        h, w = -(-h // m) * m, -(-w // m) * m
        x = {onnx_model.INPUT_NAME: _photo_batch(h, w, k), **feeds}
        got = psnr(session.run(None, x)[0], fp32_session.run(None, x)[0])
        checks[f"{h}x{w}"] = {"psnr_vs_fp32_db": round(got, 2)}
        if not got >= q.MIN_PSNR_VS_FP32:
            raise ExportError(f"the int8 content path differs from float32 at {h}x{w} "
                              f"({got:.1f} dB < {q.MIN_PSNR_VS_FP32} dB); nothing written")
    return with_metadata(data, _props(meta, "content-path", level, opset, {"checks": checks},
                                      precision="int8"),
                         f"rtstyle real-time WCT relu{level}_1 content path, int8 "
                         "convolutions"), checks


@torch.no_grad()
def _feature_error(encoder, x, stats, feeds, iterations, alpha) -> float:
    """Relative max error of the Newton-Schulz WCT features against the eigendecomposition."""
    f = encoder(torch.from_numpy(x))
    exact = wct.transform(f, stats, alpha).double()
    ns = wct.WhitenColour(iterations)(f, *(torch.from_numpy(feeds[k]) for k in
                                          onnx_model.WCT_INPUTS[1:])).double()
    return float((ns - exact).abs().max() / exact.abs().max().clamp_min(1e-12))
