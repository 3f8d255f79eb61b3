"""FLOPs and bytes counted from ONNX graphs (a hand-built graph against a hand count, the
shipped nets against the nets' own MAC formula), the floors and fractions, and the peak
measurement's plumbing (no speed asserted)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rtstyle.bench import floors
from rtstyle.bench.floors import GraphCost, Peak
from tests.helpers import ROOT


def _init(name, shape):
    return numpy_helper.from_array(np.ones(shape, np.float32), name)


def tiny_graph() -> onnx.ModelProto:
    """x (N, 2, H, W) -> Conv 3x3 pad 1 (4 out, bias) -> InstanceNorm -> Relu
    -> ConvTranspose 2x2 stride 2 (3 out, no bias) -> y (N, 3, 2H, 2W)."""
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("InstanceNormalization", ["c", "s", "t"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("ConvTranspose", ["r", "wt"], ["y"], strides=[2, 2],
                         kernel_shape=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [_init("w", (4, 2, 3, 3)), _init("b", (4,)), _init("s", (4,)), _init("t", (4,)),
         _init("wt", (4, 3, 2, 2))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_flops_and_bytes_of_a_tiny_graph_match_a_hand_count():
    n, h, w = 1, 4, 6
    cost = floors.count(tiny_graph(), {"x": (n, 2, h, w)})
    conv = 2 * n * 4 * (h * w) * 2 * 3 * 3 + n * 4 * h * w     # MACs x 2, plus the bias
    norm = 8 * n * 4 * h * w
    relu = n * 4 * h * w
    convt = 2 * n * 4 * (h * w) * 3 * 2 * 2                    # C_in * in pixels * C_out * k
    assert cost.by_op == {"Conv": conv, "InstanceNormalization": norm, "Relu": relu,
                          "ConvTranspose": convt}
    assert cost.flops == conv + norm + relu + convt == 6720
    assert cost.weight_bytes == 4 * (72 + 4 + 4 + 4 + 48)
    assert cost.io_bytes == 4 * (n * 2 * h * w + n * 3 * 2 * h * 2 * w)
    assert cost.min_bytes == cost.weight_bytes + cost.io_bytes
    # c, n and r: 96 floats each, written once and read once
    assert cost.activation_bytes == 3 * 96 * 4 * 2


def test_flops_scale_with_batch_and_pixels_weights_do_not():
    one = floors.count(tiny_graph(), {"x": (1, 2, 8, 8)})
    four = floors.count(tiny_graph(), {"x": (4, 2, 8, 8)})
    big = floors.count(tiny_graph(), {"x": (1, 2, 16, 16)})
    assert four.flops == 4 * one.flops and big.flops == 4 * one.flops
    assert four.weight_bytes == one.weight_bytes
    assert four.io_bytes == 4 * one.io_bytes


def test_matmul_and_gemm_flops():
    shapes = {"a": [2, 3, 5], "b": [5, 7], "c": [3, 4], "d": [4, 6]}
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["ab"]),
         helper.make_node("Gemm", ["c", "d"], ["cd"])], "mm",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in shapes.items()],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("cd", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    cost = floors.count(model, {})
    assert cost.by_op == {"MatMul": 2 * (2 * 3 * 7) * 5, "Gemm": 2 * 3 * 6 * 4}


def test_a_fixed_input_size_cannot_be_changed():
    from rtstyle.errors import InputError

    model = tiny_graph()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 2
    with pytest.raises(InputError, match="fixed size 2"):
        floors.count(model, {"x": (1, 3, 4, 4)})


def test_the_shipped_lite_net_matches_its_mac_formula():
    pytest.importorskip("torch")
    from rtstyle.train.transformer_net import net_config

    cost = floors.frame_cost(ROOT / "models" / "starry_night_lite" / "model.onnx", 1, 256, 256)
    macs = net_config("lite").macs_per_pixel() * 256 * 256
    assert cost.by_op["Conv"] / 2 == pytest.approx(macs, rel=0.02)
    assert cost.io_bytes == 2 * 3 * 256 * 256 * 4


def test_the_wct_graph_runs_once_per_frame():
    path = ROOT / "models" / "wct" / "level3" / "realtime.onnx"
    one = floors.frame_cost(path, 1, 64, 64)
    three = floors.frame_cost(path, 3, 64, 64)
    assert one.by_op["MatMul"] > 0 and one.by_op["Conv"] > 0  # Newton-Schulz + the nets
    assert three.flops == 3 * one.flops and three.weight_bytes == 3 * one.weight_bytes


def test_floors_and_fractions():
    cost = GraphCost(flops=2_000_000_000, weight_bytes=1_000_000, io_bytes=3_000_000,
                     activation_bytes=0)
    peak = Peak("cpu", {"fp32": 100e9}, 20e9, "test")
    f = floors.fractions(cost, 0.040, peak, "fp32")
    assert f["gflops"] == 2.0 and f["mbytes_min"] == 4.0
    assert f["compute_floor_ms"] == pytest.approx(20.0)   # 2 GFLOP at 100 GFLOP/s
    assert f["memory_floor_ms"] == pytest.approx(0.2)     # 4 MB at 20 GB/s
    assert f["frac_compute"] == pytest.approx(0.5) and f["frac_memory"] == pytest.approx(0.005)
    # an fp16 case without an fp16 peak is held against fp32; no peak: no floors
    assert floors.fractions(cost, 0.040, peak, "fp16")["frac_compute"] == pytest.approx(0.5)
    none = floors.fractions(cost, 0.040, None, "fp32")
    assert none["frac_compute"] is None and none["gflops"] == 2.0


def test_cpu_peak_plumbing_and_round_trip():
    peak = floors.cpu_peak(n=64, copy_mib=1, repeats=1)
    assert peak.device == "cpu" and peak.flops["fp32"] > 0 and peak.bandwidth > 0
    back = Peak.from_dict(peak.as_dict())
    assert back.device == "cpu" and "numpy" in back.how
    assert back.flops["fp32"] == pytest.approx(peak.flops["fp32"], rel=1e-2, abs=1e8)


def test_counting_needs_neither_sympy_nor_ort_symbolic_inference(monkeypatch):
    """The exported nets compute their pads from constants: folding them is enough for ONNX's
    own shape inference (ORT's symbolic inference needs sympy, which only torch brings)."""
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime.tools.symbolic_shape_infer", None)
    monkeypatch.setitem(sys.modules, "sympy", None)
    for path in (ROOT / "models" / "starry_night_lite" / "model.onnx",
                 ROOT / "models" / "wct" / "level3" / "realtime.onnx"):
        cost = floors.count(path, {"input": (1, 3, 40, 56)})
        assert cost.by_op["Conv"] > 0
    assert floors.count(ROOT / "models" / "starry_night_lite" / "model.onnx",
                        {"input": (1, 3, 256, 256)}).flops == pytest.approx(2 * 1.3358e9, rel=1e-3)
