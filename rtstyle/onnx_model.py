"""Reading and checking an exported ONNX model before any session is created (torch-free).

An rtstyle ONNX file carries its IO contract and model card in metadata properties (written
by ``rtstyle export``). :func:`read_contract` refuses files that are not ONNX, are truncated,
lack the contract, promise a contract the runtime does not know, or whose graph does not take
and return 3-channel float images.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import metadata
from .metadata import ModelError

INPUT_NAME = "input"
OUTPUT_NAME = "output"
FP32_FILE = "model.onnx"
FP16_FILE = "model.fp16.onnx"
FORMAT = "rtstyle-onnx/1"
KEY_FORMAT = "rtstyle.format"
KEY_IO = "rtstyle.io"
KEY_CARD = "rtstyle.card"
PRECISIONS = ("fp32", "fp16", "int8")
#: Real-time arbitrary style (WCT) graphs carry this too: {"role", "level", "channels"}.
KEY_WCT = "rtstyle.wct"
#: The WCT content path: the frame plus the style's statistics (computed once per style).
WCT_INPUTS = (INPUT_NAME, "style_mean", "style_colour", "alpha")
#: The WCT encoder's output (relu{L}_1 features of the style image).
FEATURES_NAME = "features"
WCT_ROLES = ("content-path", "encoder")
#: A multi-style net's second input: (1 or N, S) weights of its styles, in the card's order.
STYLE_WEIGHTS_NAME = "style_weights"
#: Any-painting (style prediction) graphs carry this: {"role", "basis"}.
KEY_ARBITRARY = "rtstyle.arbitrary"
ARBITRARY_ROLES = ("transformer", "predictor")


@dataclass(frozen=True)
class ModelInfo:
    """What the runtime needs to know about an ONNX model file."""

    path: Path
    name: str
    io: dict[str, Any]
    card: dict[str, Any] = field(default_factory=dict)
    #: For WCT graphs: {"role": "content-path" | "encoder", "level": L, "channels": C}.
    wct: dict[str, Any] = field(default_factory=dict)
    #: For any-painting graphs: {"role": "transformer" | "predictor", "basis": K}.
    arbitrary: dict[str, Any] = field(default_factory=dict)

    @property
    def size_multiple(self) -> int:
        return int(self.io["size_multiple"])

    @property
    def precision(self) -> str:
        return str(self.io.get("precision", "fp32"))

    @property
    def style(self) -> dict[str, Any]:
        return dict(self.card.get("style", {}))

    @property
    def styles(self) -> list[dict[str, Any]]:
        """A multi-style net's styles in weight order (empty for a one-style net)."""
        return list(self.card.get("styles", [])) if self.card.get("kind") == "multi-style" \
            else []


def resolve(path: str | os.PathLike, fp16: bool = False) -> Path:
    """The ONNX file for ``path``: the file itself, or the one inside a model folder."""
    p = Path(path)
    if p.is_dir():
        names = (FP16_FILE, FP32_FILE) if fp16 else (FP32_FILE,)
        for name in names:
            if (p / name).is_file():
                return p / name
        if (p / metadata.METADATA_FILE).is_file():
            if _kind(p) == "wct-decoder":
                raise ModelError(f"{p} is a WCT decoder, not a trained style: give a painting "
                                 "with --style-image to use the real-time WCT graphs")
            raise ModelError(f"{p} has no {FP32_FILE}: export it first with "
                             f"'rtstyle export --model {p}'")
        raise ModelError(f"{p} is a folder without {FP32_FILE}")
    if not p.exists():
        raise ModelError(f"model not found: {p}")
    return p


def _kind(folder: Path) -> str | None:
    try:
        return metadata.read(folder)["kind"]
    except ModelError:
        return None


def read_contract(path: str | os.PathLike) -> ModelInfo:
    """Check an ONNX file's metadata and graph signature; returns its :class:`ModelInfo`."""
    p = resolve(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {p}: {e.strerror or e}") from e
    return read_contract_bytes(data, str(p))


def read_contract_bytes(data: bytes, where: str) -> ModelInfo:
    import onnx
    from google.protobuf.message import DecodeError

    if not data:
        raise ModelError(f"{where} is empty")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ModelError(f"{where} is not an ONNX model (or it is truncated): {e}") from e
    if not model.graph.node:
        raise ModelError(f"{where} is not an ONNX model (or it is truncated): no graph")
    props = {p.key: p.value for p in model.metadata_props}
    if props.get(KEY_FORMAT) != FORMAT:
        found = props.get(KEY_FORMAT)
        raise ModelError(f"{where} lacks rtstyle's contract metadata "
                         f"({'format ' + repr(found) if found else 'no ' + KEY_FORMAT}); export "
                         "models with 'rtstyle export', which records how to feed them")
    if KEY_IO not in props:
        raise ModelError(f"{where} lacks {KEY_IO} (its IO contract); re-export it with "
                         "'rtstyle export'")
    try:
        io = json.loads(props[KEY_IO])
        card = json.loads(props.get(KEY_CARD, "{}"))
        wct = json.loads(props[KEY_WCT]) if KEY_WCT in props else {}
        arbitrary = json.loads(props[KEY_ARBITRARY]) if KEY_ARBITRARY in props else {}
    except json.JSONDecodeError as e:
        raise ModelError(f"{where}: its contract metadata is not valid JSON ({e})") from e
    metadata.check_io(io, where)
    # int8 is only made for the WCT content path (rtstyle export --int8)
    content_path = isinstance(wct, dict) and wct.get("role") == "content-path"
    if io.get("precision", "fp32") not in (PRECISIONS if content_path else PRECISIONS[:2]):
        raise ModelError(f"{where}: unknown precision {io.get('precision')!r}")
    if not isinstance(card, dict):
        raise ModelError(f"{where}: its model card is not a JSON object")
    if KEY_WCT in props:
        _check_wct(model, wct, where)
    elif KEY_ARBITRARY in props:
        _check_arbitrary(model, arbitrary, where)
    elif card.get("kind") == "multi-style":
        _check_multi(model, card, where)
    else:
        _check_signature(model, where)
    return ModelInfo(Path(where), str(card.get("name") or Path(where).parent.name), io, card, wct,
                     arbitrary)


def _inputs(model) -> list:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _check_wct(model, wct: Any, where: str) -> None:
    """A WCT graph: the content path (frame + style statistics -> frame) or the encoder."""
    if not isinstance(wct, dict) or wct.get("role") not in WCT_ROLES:
        raise ModelError(f"{where}: unknown WCT graph role {wct!r}")
    level, channels = wct.get("level"), wct.get("channels")
    if level not in (1, 2, 3, 4, 5) or not isinstance(channels, int) or channels < 1:
        raise ModelError(f"{where}: invalid WCT level/channels {level!r}/{channels!r}")
    names = [i.name for i in _inputs(model)]
    outputs = [o.name for o in model.graph.output]
    if wct["role"] == "content-path":
        if tuple(names) != WCT_INPUTS or outputs != [OUTPUT_NAME]:
            raise ModelError(f"{where}: a WCT content path takes {', '.join(WCT_INPUTS)} and "
                             f"gives {OUTPUT_NAME}; this one takes {names} and gives {outputs}")
    elif names != [INPUT_NAME] or outputs != [FEATURES_NAME]:
        raise ModelError(f"{where}: a WCT encoder takes {INPUT_NAME} and gives "
                         f"{FEATURES_NAME}; this one takes {names} and gives {outputs}")


def _check_arbitrary(model, info: Any, where: str) -> None:
    """An any-painting graph: the transformer (frame + (rows, K) code -> frame) or the
    predictor (painting -> (1, K) code)."""
    import onnx

    if not isinstance(info, dict) or info.get("role") not in ARBITRARY_ROLES or \
            not isinstance(info.get("basis"), int) or info["basis"] < 1:
        raise ModelError(f"{where}: invalid any-painting graph description {info!r}")
    inputs = _inputs(model)
    names, outputs = [i.name for i in inputs], [o.name for o in model.graph.output]
    if info["role"] == "transformer":
        want, code = ([INPUT_NAME, STYLE_WEIGHTS_NAME], [OUTPUT_NAME]), inputs[-1:]
    else:
        want, code = ([INPUT_NAME], [STYLE_WEIGHTS_NAME]), list(model.graph.output)
    if (names, outputs) != want:
        raise ModelError(f"{where}: an any-painting {info['role']} takes {', '.join(want[0])} "
                         f"and gives {', '.join(want[1])}; this one takes {names} and gives "
                         f"{outputs}")
    dims = code[0].type.tensor_type.shape.dim
    if len(dims) != 2 or dims[1].dim_value != info["basis"] or \
            code[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ModelError(f"{where}: its {STYLE_WEIGHTS_NAME} must be float32 (rows, "
                         f"{info['basis']})")


def _check_multi(model, card: dict[str, Any], where: str) -> None:
    """A multi-style net: the frame and (rows, S) style weights in, the frame out; the card
    names its S styles."""
    import onnx

    styles = card.get("styles")
    if not isinstance(styles, list) or not styles or \
            not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in styles):
        raise ModelError(f"{where}: a multi-style net's card must list its styles by name")
    names = [i.name for i in _inputs(model)]
    if names != [INPUT_NAME, STYLE_WEIGHTS_NAME] or \
            [o.name for o in model.graph.output] != [OUTPUT_NAME]:
        raise ModelError(f"{where}: a multi-style net takes {INPUT_NAME} and "
                         f"{STYLE_WEIGHTS_NAME} and gives {OUTPUT_NAME}; this one takes {names}")
    dims = _inputs(model)[1].type.tensor_type.shape.dim
    if len(dims) != 2 or dims[1].dim_value != len(styles) or \
            _inputs(model)[1].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ModelError(f"{where}: its {STYLE_WEIGHTS_NAME} input must be float32 "
                         f"(rows, {len(styles)}), one weight per listed style")


def _check_signature(model, where: str) -> None:
    import onnx

    inputs = _inputs(model)
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise ModelError(f"{where}: expected one image input and one output, got "
                         f"{len(inputs)} inputs and {len(model.graph.output)} outputs")
    for kind, value in (("input", inputs[0]), ("output", model.graph.output[0])):
        t = value.type.tensor_type
        if t.elem_type != onnx.TensorProto.FLOAT:
            raise ModelError(f"{where}: the model's {kind} is not float32")
        dims = t.shape.dim
        if len(dims) != 4:
            raise ModelError(f"{where}: the model's {kind} has rank {len(dims)}, expected NCHW")
        if dims[1].HasField("dim_value") and dims[1].dim_value != 3:
            raise ModelError(f"{where}: the model's {kind} has {dims[1].dim_value} channels; "
                             "rtstyle models take 3-channel RGB")
        if not dims[1].HasField("dim_value"):
            raise ModelError(f"{where}: the model's {kind} channel count is not fixed to 3")
    if inputs[0].name != INPUT_NAME:
        raise ModelError(f"{where}: input is named {inputs[0].name!r}, expected {INPUT_NAME!r}")
    if model.graph.output[0].name != OUTPUT_NAME:
        raise ModelError(f"{where}: output is named {model.graph.output[0].name!r}, expected "
                         f"{OUTPUT_NAME!r}")
