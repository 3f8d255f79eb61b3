"""ONNX export of a multi-style model folder: the frame and a style-weights vector in, the
stylised frame out, checked against PyTorch with mixed weights before it is written.

The graph's second input ``style_weights`` is ``(1, S)`` (one blend for the batch) or
``(N, S)``; the model card lists the styles in row order (``styles``: name, credit, licence,
style weight), so the torch-free runtime can name them and build the vector.
"""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import atomic, onnx_model
from .export import (DEFAULT_OPSET, PARITY_SIZES, PARITY_TOLERANCE, ExportError, ExportResult,
                     _ort_cpu, _photo_batch, default_output, model_card, with_metadata)
from .multistyle import load
from .multistyle_net import MultiStyleNet


class _Bare(nn.Module):
    def __init__(self, net: MultiStyleNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        return self.net(x, style_weights, pad=False)


def to_onnx(net: MultiStyleNet, opset: int = DEFAULT_OPSET) -> bytes:
    module = _Bare(net.cpu().eval()).eval()
    example = (torch.rand(1, 3, 64, 64) * 255, torch.full((1, net.n_styles), 1.0 / net.n_styles))
    axes = {0: "batch", 2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, example, buf, dynamo=False, opset_version=opset,
                              input_names=[onnx_model.INPUT_NAME, onnx_model.STYLE_WEIGHTS_NAME],
                              output_names=[onnx_model.OUTPUT_NAME],
                              dynamic_axes={onnx_model.INPUT_NAME: axes,
                                            onnx_model.STYLE_WEIGHTS_NAME: {0: "rows"},
                                            onnx_model.OUTPUT_NAME: axes},
                              do_constant_folding=True)
        except Exception as e:
            raise ExportError(f"ONNX export failed (opset {opset}): {e}") from e
    return buf.getvalue()


def parity_weights(n_styles: int, k: int) -> np.ndarray:
    """A blend of all styles, different at each checked size (so no row goes unchecked)."""
    w = np.roll(np.arange(1, n_styles + 1, dtype=np.float32), k)
    return (w / w.sum())[None]


def check_parity(onnx_bytes: bytes, net: MultiStyleNet,
                 sizes: Sequence[tuple[int, int]] = PARITY_SIZES,
                 tolerance: float = PARITY_TOLERANCE) -> dict[str, float]:
    """Max |ONNX Runtime CPU - torch| at each size with mixed weights; ExportError above
    ``tolerance``."""
    session = _ort_cpu(onnx_bytes)
    net = net.cpu().eval()
    errors = {}
    for k, (h, w) in enumerate(sizes):
        x, weights = _photo_batch(h, w, k), parity_weights(net.n_styles, k)
        with torch.no_grad():
            ref = net(torch.from_numpy(x), torch.from_numpy(weights), pad=False).numpy()
        out = session.run(None, {onnx_model.INPUT_NAME: x,
                                 onnx_model.STYLE_WEIGHTS_NAME: weights})[0]
        err = float(np.abs(out - ref).max()) if out.shape == ref.shape else float("inf")
        errors[f"{h}x{w}"] = err
        if not err <= tolerance:
            raise ExportError(f"exported model differs from torch by {err:.3g} at {h}x{w} "
                              f"with mixed style weights (allowed {tolerance}); not written")
    return errors


def card_styles(meta: dict) -> list[dict]:
    return [{k: s.get(k) for k in ("name", "credit", "license", "style_weight")}
            for s in meta["styles"]]


def export(model_dir: str | os.PathLike, out: str | os.PathLike | None = None,
           opset: int = DEFAULT_OPSET) -> ExportResult:
    """Export a multi-style model folder to ONNX (fp32), check it, write it atomically."""
    start = time.perf_counter()
    net, meta = load(model_dir, "cpu")
    out = Path(out) if out else default_output(model_dir, False)
    if out.suffix != ".onnx":
        raise ExportError(f"the output file must end in .onnx, got {out.name}")
    atomic.check_output_path(out)
    data = to_onnx(net, opset)
    parity = check_parity(data, net)
    props = model_card({**meta, "styles": card_styles(meta)}, "fp32", opset)
    data = with_metadata(data, props, f"rtstyle multi-style net: "
                                      f"{', '.join(s['name'] for s in meta['styles'])}")
    onnx_model.read_contract_bytes(data, str(out))  # the runtime accepts what we wrote
    atomic.write_bytes(out, data)
    return ExportResult(out, "fp32", opset, parity, {}, time.perf_counter() - start, len(data))
