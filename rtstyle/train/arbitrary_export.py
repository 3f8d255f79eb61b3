"""ONNX export of an any-painting model folder (:mod:`.arbitrary`): two graphs, each checked in
ONNX Runtime against PyTorch before anything is written.

- ``model.onnx``: the transformer, a multi-style graph over the K basis rows (``input`` and
  ``style_weights`` in, the frame out), run once per frame;
- ``predictor.onnx``: a painting (RGB 0..255, any size) in, its ``style_weights`` out: VGG19 to
  relu3_1, the channel statistics and the predictor, run once per painting.

Both carry the model card and ``rtstyle.arbitrary`` ({"role", "basis"}), which the torch-free
runtime (:mod:`rtstyle.arbitrary`) checks.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import assets, atomic, frames, images, onnx_model
from .arbitrary import load
from .arbitrary_net import ArbitraryStyleNet, StatisticsEncoder
from .export import (DEFAULT_OPSET, ExportError, ExportResult, _ort_cpu, model_card,
                     with_metadata)
from .loss_networks import load_loss_network
from .multistyle_export import check_parity, to_onnx

PREDICTOR_FILE = "predictor.onnx"
#: Largest |ONNX - torch| of a predicted code, relative to the code's largest magnitude.
CODE_TOLERANCE = 1e-3
#: Painting sizes the predictor graph is checked at.
CHECK_SIZES = ((256, 256), (200, 300))


class PredictorGraph(nn.Module):
    """A painting -> its style code (the statistics encoder and the predictor)."""

    def __init__(self, net: ArbitraryStyleNet, vgg_weights: str | None = None):
        super().__init__()
        self.encoder = StatisticsEncoder(load_loss_network("vgg19", "cpu", "max", vgg_weights))
        self.predictor = net.predictor

    def forward(self, painting: torch.Tensor) -> torch.Tensor:
        return self.predictor(self.encoder(painting))


def predictor_to_onnx(graph: PredictorGraph, opset: int = DEFAULT_OPSET) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(graph.eval(), (torch.rand(1, 3, 64, 64) * 255,), buf, dynamo=False,
                              opset_version=opset, input_names=[onnx_model.INPUT_NAME],
                              output_names=[onnx_model.STYLE_WEIGHTS_NAME],
                              dynamic_axes={onnx_model.INPUT_NAME: {2: "height", 3: "width"}},
                              do_constant_folding=True)
        except Exception as e:
            raise ExportError(f"ONNX export of the predictor failed (opset {opset}): {e}") from e
    return buf.getvalue()


def check_predictor(data: bytes, graph: PredictorGraph) -> dict[str, float]:
    """Relative error of the ONNX predictor's code at each size; ExportError above tolerance."""
    session = _ort_cpu(data)
    painting = images.read_image(assets.path(assets.DEMO_STYLE))
    errors = {}
    for h, w in CHECK_SIZES:
        x = frames.to_model_input(images.resize_to(painting, (h, w)))
        with torch.no_grad():
            ref = graph(torch.from_numpy(x)).numpy()
        out = session.run(None, {onnx_model.INPUT_NAME: x})[0]
        err = float(np.abs(out - ref).max() / max(1e-6, np.abs(ref).max())) \
            if out.shape == ref.shape else float("inf")
        errors[f"{h}x{w}"] = err
        if not err <= CODE_TOLERANCE:
            raise ExportError(f"the exported predictor differs from torch by {err:.3g} "
                              f"(relative) at {h}x{w}; not written")
    return errors


def _props(meta: dict, role: str, opset: int) -> dict[str, str]:
    card = {**meta, "kind": "arbitrary"}
    return {**model_card(card, "fp32", opset),
            onnx_model.KEY_ARBITRARY: json.dumps({"role": role,
                                                  "basis": int(meta["net"]["basis"])})}


def export(model_dir: str | os.PathLike, out: str | os.PathLike | None = None,
           opset: int = DEFAULT_OPSET, vgg_weights: str | None = None) -> ExportResult:
    """Write ``model.onnx`` and ``predictor.onnx`` into an any-painting model folder."""
    start = time.perf_counter()
    if out is not None:
        raise ExportError("an any-painting net's two graphs are written into its model folder; "
                          "drop --out")
    net, meta = load(model_dir, "cpu")
    folder = Path(model_dir)
    transformer = to_onnx(net.transformer, opset)
    parity = check_parity(transformer, net.transformer)
    graph = PredictorGraph(net, vgg_weights)
    predictor = predictor_to_onnx(graph, opset)
    codes = check_predictor(predictor, graph)
    parity.update({f"code {k}": v for k, v in codes.items()})
    written = {}
    for name, data, role in ((onnx_model.FP32_FILE, transformer, "transformer"),
                             (PREDICTOR_FILE, predictor, "predictor")):
        data = with_metadata(data, _props(meta, role, opset),
                             f"rtstyle any-painting net: the {role}")
        onnx_model.read_contract_bytes(data, str(folder / name))  # the runtime accepts it
        written[name] = data
    for name, data in written.items():
        atomic.write_bytes(folder / name, data)
    return ExportResult(folder / onnx_model.FP32_FILE, "fp32", opset, parity, {},
                        time.perf_counter() - start, sum(len(d) for d in written.values()))
