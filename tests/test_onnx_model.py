"""The torch-free ONNX contract reader: it accepts a file that carries rtstyle's contract and
takes and returns 3-channel float images, and refuses everything else with one clear
ModelError. The files are built with onnx.helper (no torch)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from rtstyle import metadata, onnx_model
from rtstyle.metadata import ModelError

from tests.helpers import BLOCK_TORCH

GOOD_IO = {**metadata.IO_CONTRACT, "precision": "fp32"}


def props(**change) -> dict[str, str]:
    p = {"rtstyle.format": "rtstyle-onnx/1", "rtstyle.io": json.dumps(GOOD_IO),
         "rtstyle.card": '{"name": "x"}'}
    p.update(change)
    return {k: v for k, v in p.items() if v is not None}


def build(meta: dict[str, str] | None = None, *, in_name="input", out_name="output",
          channels=3, dtype=TensorProto.FLOAT, rank=4, extra_input=False) -> bytes:
    """input [N, C, H, W] -> Identity -> output, with ``meta`` as metadata properties."""
    shape = ["N", channels, "H", "W"][:rank]
    inputs = [helper.make_tensor_value_info(in_name, dtype, shape)]
    nodes = [helper.make_node("Identity", [in_name], [out_name])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("strength", TensorProto.FLOAT, [1]))
        nodes = [helper.make_node("Mul", [in_name, "strength"], [out_name])]
    outputs = [helper.make_tensor_value_info(out_name, dtype, shape)]
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, props() if meta is None else meta)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def refused(path, *words) -> str:
    with pytest.raises(ModelError) as info:
        onnx_model.read_contract(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    for word in words:
        assert word in message, (word, message)
    return message


# --- accepted ---------------------------------------------------------------------------------

def test_reads_a_correct_file(tmp_path):
    path = write(tmp_path / "m.onnx", build())
    info = onnx_model.read_contract(path)
    assert info.path == path
    assert info.name == "x"
    assert info.io == GOOD_IO
    assert info.card == {"name": "x"}
    assert info.size_multiple == 4 and info.precision == "fp32" and info.style == {}
    # and ONNX Runtime agrees it is a working model with that metadata
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert s.get_modelmeta().custom_metadata_map["rtstyle.format"] == "rtstyle-onnx/1"
    x = np.arange(2 * 3 * 4 * 8, dtype=np.float32).reshape(2, 3, 4, 8)
    np.testing.assert_array_equal(s.run(["output"], {"input": x})[0], x)


def test_reads_a_model_folder_and_the_bytes(tmp_path):
    write(tmp_path / "model.onnx", build())
    info = onnx_model.read_contract(tmp_path)
    assert info.path == tmp_path / "model.onnx"
    info2 = onnx_model.read_contract_bytes(build(), "somewhere/m.onnx")
    assert info2.path == Path("somewhere/m.onnx") and info2.io == GOOD_IO


def test_fp16_precision_and_default_name(tmp_path):
    folder = tmp_path / "my_style"
    folder.mkdir()
    data = build(props(**{"rtstyle.io": json.dumps({**GOOD_IO, "precision": "fp16"}),
                          "rtstyle.card": "{}"}))
    info = onnx_model.read_contract(write(folder / "model.fp16.onnx", data))
    assert info.precision == "fp16"
    assert info.name == "my_style"  # no name in the card: the folder's name


def test_precision_defaults_to_fp32(tmp_path):
    io = dict(metadata.IO_CONTRACT)
    info = onnx_model.read_contract(write(tmp_path / "m.onnx",
                                          build(props(**{"rtstyle.io": json.dumps(io)}))))
    assert info.precision == "fp32"


def test_input_listed_as_an_initializer_is_not_an_input(tmp_path):
    """Older exporters list initializers among the graph inputs; they are not image inputs."""
    model = onnx.load_from_string(build())
    w = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    model.graph.initializer.append(w)
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [1]))
    info = onnx_model.read_contract_bytes(model.SerializeToString(), "m.onnx")
    assert info.name == "x"


# --- resolve ----------------------------------------------------------------------------------

def test_resolve_prefers_fp16_only_when_asked(tmp_path):
    write(tmp_path / "model.onnx", build())
    assert onnx_model.resolve(tmp_path) == tmp_path / "model.onnx"
    assert onnx_model.resolve(tmp_path, fp16=True) == tmp_path / "model.onnx"  # none yet
    write(tmp_path / "model.fp16.onnx", build())
    assert onnx_model.resolve(tmp_path) == tmp_path / "model.onnx"
    assert onnx_model.resolve(tmp_path, fp16=True) == tmp_path / "model.fp16.onnx"
    # a file is itself, whatever fp16 says
    assert onnx_model.resolve(tmp_path / "model.onnx", fp16=True) == tmp_path / "model.onnx"


def test_resolve_with_only_an_fp16_file(tmp_path):
    write(tmp_path / "model.fp16.onnx", build())
    assert onnx_model.resolve(tmp_path, fp16=True) == tmp_path / "model.fp16.onnx"
    with pytest.raises(ModelError, match="without model.onnx"):
        onnx_model.resolve(tmp_path)


# --- refused: files and folders ---------------------------------------------------------------

def test_missing_file(tmp_path):
    refused(tmp_path / "nope.onnx", "model not found", "nope.onnx")


def test_folder_without_model_onnx(tmp_path):
    msg = refused(tmp_path, "folder without model.onnx")
    assert "rtstyle export" not in msg


def test_model_folder_not_exported_yet_says_export_it(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    refused(tmp_path, "has no model.onnx", f"'rtstyle export --model {tmp_path}'")


def test_empty_file(tmp_path):
    refused(write(tmp_path / "m.onnx", b""), "m.onnx is empty")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes(tmp_path, seed):
    data = np.random.default_rng(seed).integers(0, 256, 4096, np.uint8).tobytes()
    refused(write(tmp_path / "m.onnx", data), "m.onnx", "not an ONNX model")


def test_text_file(tmp_path):
    refused(write(tmp_path / "m.onnx", b"this is not a model\n"), "not an ONNX model")


@pytest.mark.parametrize("fraction", [0.5, 0.25, 0.9])
def test_truncated_file(tmp_path, fraction):
    data = build()
    refused(write(tmp_path / "m.onnx", data[:int(len(data) * fraction)]),
            "not an ONNX model (or it is truncated)")


def test_truncated_real_export_is_refused(tmp_path):
    """A bigger file, with weights: cut in half it is refused, whole it is accepted."""
    model = onnx.load_from_string(build())
    w = np.random.default_rng(0).standard_normal((3, 3, 9, 9)).astype(np.float32)
    model.graph.initializer.append(onnx.numpy_helper.from_array(w, "w"))
    model.graph.node[0].CopyFrom(helper.make_node("Conv", ["input", "w"], ["output"],
                                                  pads=[4, 4, 4, 4]))
    data = model.SerializeToString()
    assert onnx_model.read_contract(write(tmp_path / "whole.onnx", data)).name == "x"
    refused(write(tmp_path / "half.onnx", data[:len(data) // 2]), "half.onnx", "truncated")


def test_a_graph_without_nodes(tmp_path):
    model = onnx.ModelProto()
    model.ir_version = 8
    helper.set_model_props(model, props())
    refused(write(tmp_path / "m.onnx", model.SerializeToString()), "no graph")


# --- refused: the contract metadata -----------------------------------------------------------

def test_no_rtstyle_metadata(tmp_path):
    refused(write(tmp_path / "m.onnx", build({})),
            "lacks rtstyle's contract metadata", "no rtstyle.format", "'rtstyle export'")


def test_only_foreign_metadata(tmp_path):
    refused(write(tmp_path / "m.onnx", build({"author": "someone"})),
            "lacks", "'rtstyle export'")


def test_wrong_format(tmp_path):
    refused(write(tmp_path / "m.onnx", build(props(**{"rtstyle.format": "rtstyle-onnx/2"}))),
            "lacks", "format 'rtstyle-onnx/2'", "'rtstyle export'")


def test_invalid_json_io(tmp_path):
    refused(write(tmp_path / "m.onnx", build(props(**{"rtstyle.io": "{layout: NCHW"}))),
            "m.onnx", "not valid JSON")


def test_missing_io(tmp_path):
    refused(write(tmp_path / "m.onnx", build(props(**{"rtstyle.io": None}))), "m.onnx",
            "lacks rtstyle.io", "IO contract")


def test_invalid_json_card(tmp_path):
    refused(write(tmp_path / "m.onnx", build(props(**{"rtstyle.card": "{oops"}))),
            "not valid JSON")


def test_card_not_an_object(tmp_path):
    refused(write(tmp_path / "m.onnx", build(props(**{"rtstyle.card": "[1, 2]"}))),
            "model card is not a JSON object")


@pytest.mark.parametrize("change, words", [
    ({"channels": "BGR"}, ["unsupported model IO channels 'BGR'", "'RGB'"]),
    ({"range": [0, 1]}, ["unsupported model IO range [0, 1]", "[0, 255]"]),
    ({"layout": "NHWC"}, ["unsupported model IO layout 'NHWC'"]),
    ({"dtype": "float16"}, ["unsupported model IO dtype 'float16'"]),
    ({"size_multiple": 0}, ["invalid size_multiple 0"]),
    ({"size_multiple": "4"}, ["invalid size_multiple '4'"]),
    ({"precision": "int8"}, ["unknown precision 'int8'"]),
], ids=["bgr", "range-0-1", "nhwc", "float16-io", "multiple-0", "multiple-str", "int8"])
def test_unknown_io_contract(tmp_path, change, words):
    io = json.dumps({**GOOD_IO, **change})
    refused(write(tmp_path / "m.onnx", build(props(**{"rtstyle.io": io}))), "m.onnx", *words)


def test_io_not_an_object(tmp_path):
    refused(write(tmp_path / "m.onnx", build(props(**{"rtstyle.io": "[]"}))),
            "IO contract is missing")


# --- refused: the graph signature -------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 4])
def test_wrong_channel_count(tmp_path, channels):
    refused(write(tmp_path / "m.onnx", build(channels=channels)),
            f"input has {channels} channels", "3-channel RGB")


def test_symbolic_channel_count(tmp_path):
    refused(write(tmp_path / "m.onnx", build(channels="C")), "channel count is not fixed to 3")


@pytest.mark.parametrize("dtype", [TensorProto.INT64, TensorProto.FLOAT16, TensorProto.UINT8])
def test_non_float32_input(tmp_path, dtype):
    refused(write(tmp_path / "m.onnx", build(dtype=dtype)), "input is not float32")


def test_rank_3_input(tmp_path):
    refused(write(tmp_path / "m.onnx", build(rank=3)), "input has rank 3, expected NCHW")


def test_two_inputs(tmp_path):
    refused(write(tmp_path / "m.onnx", build(extra_input=True)),
            "expected one image input and one output", "2 inputs")


def test_input_named_differently(tmp_path):
    refused(write(tmp_path / "m.onnx", build(in_name="image")),
            "input is named 'image'", "expected 'input'")


def test_output_with_wrong_channels(tmp_path):
    model = onnx.load_from_string(build())
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 4
    refused(write(tmp_path / "m.onnx", model.SerializeToString()), "output has 4 channels")


def test_output_named_differently(tmp_path):
    path = write(tmp_path / "m.onnx", build(out_name="stylised"))
    refused(path, "output is named 'stylised'", "expected 'output'")


def test_backend_refuses_an_output_named_differently_at_load(tmp_path):
    from rtstyle import backends

    path = write(tmp_path / "m.onnx", build(out_name="stylised"))
    with pytest.raises(ModelError, match="output"):
        backend = backends.OrtBackend(path, "ort-cpu")
        backend.run(np.zeros((1, 3, 8, 8), np.float32))  # (today: ORT's InvalidArgument)


# --- torch-free -------------------------------------------------------------------------------

SCRIPT = BLOCK_TORCH + textwrap.dedent("""
    import rtstyle.onnx_model, rtstyle.backends, rtstyle.stylizer, rtstyle.styles
    info = rtstyle.onnx_model.read_contract(sys.argv[1])
    assert info.name == "x" and info.size_multiple == 4, info
    try:
        rtstyle.onnx_model.read_contract(sys.argv[1] + ".missing")
    except rtstyle.onnx_model.ModelError as e:
        print("refused:", e)
    try:
        import torch
    except ImportError:
        print("torch blocked")
    assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), \\
        sorted(m for m in sys.modules if m.startswith("torch"))
    print("ok")
""")


def test_runtime_modules_import_and_read_contracts_without_torch(tmp_path):
    path = write(tmp_path / "m.onnx", build())
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("refused: model not found")
    assert lines[1:] == ["torch blocked", "ok"]
