"""ONNX export of a trained model folder, verified against PyTorch on every export.

The exported graph is the bare net (no padding inside; the runtime pads to ``size_multiple``)
with dynamic batch, height and width. Its metadata properties carry the IO contract and the
model card, so the torch-free runtime can check a file before it trusts it.

Pitfalls handled on purpose (and tested):
- reflection padding becomes ONNX ``Pad(mode=reflect)``; nearest upsampling becomes ``Resize``
  with constant scales (2, 2), which TensorRT accepts for dynamic shapes;
- instance norm is ``InstanceNormalization`` over the dynamic spatial axes;
- fp16: the convolutions run in half precision, but instance norm computes its variance in
  float32 (at 0..255 activations an fp16 variance overflows), and the IO stays float32. The
  fp16 file is refused unless it reaches ``FP16_MIN_PSNR`` dB against fp32 on real photos.
- float16 storage (``fp16_weights``): a folder's weights can be rounded to float16 once, when the
  net's output keeps ``FP16_MIN_PSNR`` dB. Weights that float16 holds exactly are then stored as
  float16 in the fp32 graph too, each behind a ``Cast`` that ONNX Runtime folds when it loads
  the file: half the bytes, the same float32 arithmetic and speed. That is what lets six full
  nets ship within the repository's size budget.
"""

from __future__ import annotations

import io
import json
import logging
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

from .. import assets, atomic, frames, images, metadata, onnx_model
from ..errors import RtstyleError
from ..quality import psnr
from . import model_folder
from .transformer_net import TransformerNet

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
#: (height, width) pairs at which every export is compared with PyTorch.
PARITY_SIZES = ((256, 256), (360, 640))
#: Largest allowed |ONNX - torch| on the 0..255 scale for an fp32 export.
PARITY_TOLERANCE = 0.5
#: Smallest allowed PSNR of the fp16 export against fp32, in dB, on real photos.
FP16_MIN_PSNR = 40.0


class ExportError(RtstyleError):
    """The export failed, or the exported file does not match the PyTorch net."""


class _Bare(nn.Module):
    """The net without padding, float32 in and out (fp16 inside when the net is half)."""

    def __init__(self, net: TransformerNet, half: bool):
        super().__init__()
        self.net, self.half_ = net, half

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.half_:
            return self.net(x.half(), pad=False).float()
        return self.net(x, pad=False)


class _Float32InstanceNorm(nn.Module):
    """Instance norm computed in float32 inside an fp16 graph (variance overflow otherwise)."""

    def __init__(self, norm: nn.InstanceNorm2d):
        super().__init__()
        self.norm = norm.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.float()).to(x.dtype)


def _half_copy(net: TransformerNet) -> TransformerNet:
    copy = TransformerNet(net.config)
    copy.load_state_dict(net.state_dict())
    copy.half()

    def swap(module: nn.Module):
        for name, child in module.named_children():
            if isinstance(child, nn.InstanceNorm2d):
                setattr(module, name, _Float32InstanceNorm(child))
            else:
                swap(child)

    swap(copy)
    return copy.eval()


def to_onnx(net: TransformerNet, opset: int = DEFAULT_OPSET, fp16: bool = False) -> bytes:
    """Serialise ``net`` (on the CPU) to ONNX bytes with dynamic batch, height and width."""
    net = net.cpu().eval()
    module = _Bare(_half_copy(net) if fp16 else net, fp16).eval()
    example = torch.rand(1, 3, 64, 64) * 255
    buf = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        try:
            torch.onnx.export(module, (example,), buf, dynamo=False, opset_version=opset,
                              input_names=[onnx_model.INPUT_NAME],
                              output_names=[onnx_model.OUTPUT_NAME],
                              dynamic_axes={onnx_model.INPUT_NAME: axes,
                                            onnx_model.OUTPUT_NAME: axes},
                              do_constant_folding=True)
        except Exception as e:  # unsupported opset, exporter bugs
            raise ExportError(f"ONNX export failed (opset {opset}): {e}") from e
    module.eval()
    return buf.getvalue()


#: Initialisers smaller than this stay float32 (biases, norm parameters: a Cast costs more
#: than it saves).
HALF_STORAGE_MIN_ELEMENTS = 1024


def store_exact_halves(onnx_bytes: bytes) -> bytes:
    """Store every large float32 initialiser whose values float16 holds exactly as float16,
    cast back to float32 by a node at the top of the graph (folded by ONNX Runtime at load).
    Lossless: a graph with ordinary float32 weights comes back unchanged."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        if values.size < HALF_STORAGE_MIN_ELEMENTS:
            continue
        half = values.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), values):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}.fp16"))
        casts.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=TensorProto.FLOAT,
                                      name=f"{name}.cast"))
    if not casts:
        return onnx_bytes
    for node in reversed(casts):
        graph.node.insert(0, node)
    return model.SerializeToString()


def halve_weights(net: TransformerNet,
                  sizes: Sequence[tuple[int, int]] = PARITY_SIZES,
                  min_psnr: float = FP16_MIN_PSNR) -> tuple[TransformerNet, dict[str, float]]:
    """A copy of ``net`` with its weights rounded to float16 (kept as float32 tensors), and the
    PSNR of its output against ``net``'s on real photos; ExportError below ``min_psnr``."""
    rounded = TransformerNet(net.config)
    rounded.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                             for k, v in net.state_dict().items()})
    rounded.eval()
    net = net.cpu().eval()
    out = {}
    for k, (h, w) in enumerate(sizes):
        x = torch.from_numpy(_photo_batch(h, w, k))
        with torch.no_grad():
            value = psnr(net(x, pad=False).clamp(0, 255).numpy(),
                         rounded(x, pad=False).clamp(0, 255).numpy())
        out[f"{h}x{w}"] = value
        if not value >= min_psnr:
            raise ExportError(f"float16 weights reach only {value:.1f} dB PSNR against float32 at "
                              f"{h}x{w} (needs {min_psnr} dB); the weights stay float32")
    return rounded, out


def save_half_weights(model_dir: str | os.PathLike, net: TransformerNet,
                      meta: dict[str, Any]) -> None:
    """Rewrite the folder's one safetensors file in float16 (atomically; left untouched when
    it already holds these weights, so evaluations dated after it stay valid)."""
    from safetensors.torch import save as to_safetensors

    folder = metadata.model_dir(model_dir)
    files = model_folder.weight_files(folder, meta)
    if len(files) != 1:
        raise ExportError(f"{folder}: float16 storage is for single-file style nets")
    state = {k: v.detach().half().contiguous() if v.is_floating_point() else v
             for k, v in net.state_dict().items()}
    data = to_safetensors(state)
    if files[0].read_bytes() != data:
        atomic.write_bytes(files[0], data)


def model_card(meta: dict[str, Any], precision: str, opset: int) -> dict[str, str]:
    """The ONNX metadata properties for a model folder's metadata."""
    io_contract = {**metadata.IO_CONTRACT, "precision": precision}
    card = {k: meta[k] for k in ("name", "kind", "net", "style", "styles", "recipe", "training",
                                   "zoo", "evaluation") if k in meta}
    return {onnx_model.KEY_FORMAT: onnx_model.FORMAT,
            onnx_model.KEY_IO: json.dumps(io_contract, sort_keys=True),
            onnx_model.KEY_CARD: json.dumps({**card, "opset": opset}, sort_keys=True,
                                            default=str)}


def with_metadata(onnx_bytes: bytes, props: dict[str, str], doc: str = "") -> bytes:
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    del model.metadata_props[:]
    for k, v in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = "rtstyle"
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _ort_cpu(onnx_bytes: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])


def _photo_batch(h: int, w: int, k: int) -> np.ndarray:
    """A real photo cropped and resized to (h, w), shifted by ``k`` so sizes see different content."""
    photo = images.read_image(assets.path(assets.DEMO_CONTENT))
    ph, pw = photo.shape[:2]
    crop = photo[k * ph // 8:, k * pw // 8:]
    return frames.to_model_input(images.resize_to(crop, (h, w)))


def check_parity(onnx_bytes: bytes, net: TransformerNet,
                 sizes: Sequence[tuple[int, int]] = PARITY_SIZES,
                 tolerance: float = PARITY_TOLERANCE) -> dict[str, float]:
    """Max |ONNX Runtime CPU - torch| at each size; ExportError above ``tolerance``."""
    session = _ort_cpu(onnx_bytes)
    net = net.cpu().eval()
    errors = {}
    for k, (h, w) in enumerate(sizes):
        x = _photo_batch(h, w, k)
        with torch.no_grad():
            ref = net(torch.from_numpy(x), pad=False).numpy()
        out = session.run(None, {onnx_model.INPUT_NAME: x})[0]
        if out.shape != ref.shape:
            raise ExportError(f"exported model gives shape {out.shape} at {h}x{w}, torch {ref.shape}")
        err = float(np.abs(out - ref).max())
        errors[f"{h}x{w}"] = err
        if not err <= tolerance:
            raise ExportError(f"exported model differs from torch by {err:.3g} at {h}x{w} "
                              f"(allowed {tolerance}); not written")
    return errors


def check_fp16(fp16_bytes: bytes, fp32_bytes: bytes,
               sizes: Sequence[tuple[int, int]] = PARITY_SIZES,
               min_psnr: float = FP16_MIN_PSNR) -> dict[str, float]:
    """PSNR of the fp16 export against the fp32 one on real photos; ExportError below ``min_psnr``."""
    s16, s32 = _ort_cpu(fp16_bytes), _ort_cpu(fp32_bytes)
    out = {}
    for k, (h, w) in enumerate(sizes):
        x = _photo_batch(h, w, k)
        a = np.clip(s32.run(None, {onnx_model.INPUT_NAME: x})[0], 0, 255)
        b = s16.run(None, {onnx_model.INPUT_NAME: x})[0]
        if not np.isfinite(b).all():
            raise ExportError(f"the fp16 export gives non-finite values at {h}x{w}; not written")
        value = psnr(a, np.clip(b, 0, 255))
        out[f"{h}x{w}"] = value
        if not value >= min_psnr:
            raise ExportError(f"the fp16 export reaches only {value:.1f} dB PSNR against fp32 at "
                              f"{h}x{w} (needs {min_psnr} dB); not written, use fp32")
    return out


@dataclass
class ExportResult:
    path: Path
    precision: str
    opset: int
    parity: dict[str, float] = field(default_factory=dict)
    fp16_psnr: dict[str, float] = field(default_factory=dict)
    #: PSNR of the float16-rounded weights' output against float32's (``fp16_weights``).
    weights_psnr: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    bytes: int = 0


def default_output(model_dir: str | os.PathLike, fp16: bool) -> Path:
    folder = metadata.model_dir(model_dir)
    return folder / (onnx_model.FP16_FILE if fp16 else onnx_model.FP32_FILE)


def export(model_dir: str | os.PathLike, out: str | os.PathLike | None = None,
           opset: int = DEFAULT_OPSET, fp16: bool = False,
           fp16_weights: bool = False) -> ExportResult:
    """Export a model folder to ONNX, check it, and write it atomically (nothing on failure).

    ``fp16_weights`` first rounds the folder's weights to float16 and rewrites them so (refused,
    changing nothing, unless the output keeps ``FP16_MIN_PSNR`` dB): the folder and its fp32
    graph then take half the space."""
    start = time.perf_counter()
    if not 11 <= opset <= 21:
        raise ExportError(f"opset must be between 11 and 21, got {opset}")
    kind = metadata.read(model_dir)["kind"]
    if fp16_weights and kind != "transformer":
        raise ExportError(f"float16 weight storage is for one-style nets, not {kind} models")
    if kind == "arbitrary":
        if fp16:
            raise ExportError("fp16 export of any-painting nets is not supported yet; export "
                              "float32 (without --fp16)")
        from .arbitrary_export import export as export_arbitrary

        return export_arbitrary(model_dir, out, opset)
    if kind == "multi-style":
        if fp16:
            raise ExportError("fp16 export of multi-style nets is not supported yet; export "
                              "float32 (without --fp16)")
        from .multistyle_export import export as export_multi

        return export_multi(model_dir, out, opset)
    net, meta = model_folder.load(model_dir, "cpu")
    out = Path(out) if out else default_output(model_dir, fp16)
    if out.suffix != ".onnx":
        raise ExportError(f"the output file must end in .onnx, got {out.name}")
    atomic.check_output_path(out)
    weights_psnr: dict[str, float] = {}
    if fp16_weights:
        net, weights_psnr = halve_weights(net)
    fp32 = store_exact_halves(to_onnx(net, opset, fp16=False))
    parity = check_parity(fp32, net)
    precision = "fp32"
    data, psnrs = fp32, {}
    if fp16:
        precision = "fp16"
        data = to_onnx(net, opset, fp16=True)
        psnrs = check_fp16(data, fp32)
    style = meta.get("style", {})
    doc = f"rtstyle {meta.get('name', '')}: {style.get('credit') or 'style'}" \
          f"{' (' + style['license'] + ')' if style.get('license') else ''}"
    data = with_metadata(data, model_card(meta, precision, opset), doc)
    onnx_model.read_contract_bytes(data, str(out))  # the runtime accepts what we wrote
    if fp16_weights:  # only once every check has passed
        save_half_weights(model_dir, net, meta)
    atomic.write_bytes(out, data)
    return ExportResult(out, precision, opset, parity, psnrs, weights_psnr,
                        time.perf_counter() - start, len(data))
