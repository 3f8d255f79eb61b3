"""The limits a result is held against: FLOPs and minimum bytes per frame of a net, counted
from its ONNX graph, and the device's peak compute and copy bandwidth, measured in the same run.

FLOPs (a multiply-add is 2), per node, from the shapes that ONNX's shape inference gives at the
benchmarked input size, after folding the constant parts of the graph (the exported nets compute
their reflection pads from constants; ONNX Runtime folds those when it loads a graph, so they
cost nothing per frame):

- ``Conv``: 2 * N * C_out * prod(out spatial) * C_in/group * prod(kernel), plus one per output
  element for the bias. ``ConvTranspose``: 2 * N * C_in * prod(in spatial) * C_out/group *
  prod(kernel), plus the bias.
- ``MatMul``: 2 * prod(output shape) * K. ``Gemm``: 2 * M * N * K, plus M * N for C.
- ``InstanceNormalization`` / ``BatchNormalization`` / ``LayerNormalization``: 8 per element
  (mean: 1; variance: 3; normalise: 2; scale and shift: 2).
- ``MaxPool``/``AveragePool``: prod(kernel) per output element; ``ReduceMean``/``ReduceSum``:
  one per input element; elementwise arithmetic and activations: one per output element.
- Data movement (``Pad``, ``Resize``, ``Reshape``, ``Transpose``, ``Slice``, ``Concat``, ``Cast``,
  ...) costs 0 FLOPs.

Minimum bytes per batch: every weight read once plus the input read once and the output written
once, at the element sizes of the graph. Anything a real engine moves on top (activations that
do not fit in cache, layout changes) is what the memory fraction leaves room for; the
activation traffic of an unfused execution (each node output written once and read once per
consumer) is recorded too, for reference.

The peaks: on CUDA (with torch) the best of several large fp16 and fp32 matmuls and a 1 GiB
device copy; on the CPU the better of a large fp32 matmul in numpy (its BLAS) and in ONNX
Runtime (MLAS, the kernels the nets run on), every core, and a large ``np.copyto`` (read +
write counted). A net can still beat a measured peak by a little (a noisy machine, turbo).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)

NORM_FLOPS = 8
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "PRelu", "Clip", "Sqrt", "Pow",
               "Sigmoid", "Tanh", "Exp", "Log", "Erf", "Abs", "Neg", "Max", "Min", "Reciprocal",
               "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus", "Gelu", "Where"}
NORMS = {"InstanceNormalization", "BatchNormalization", "LayerNormalization"}
REDUCTIONS = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceSumSquare"}
POOLS = {"MaxPool", "AveragePool"}
COMPUTE = ("Conv", "ConvTranspose", "MatMul", "Gemm")

_ELEM_BYTES = {1: 4, 10: 2, 16: 2, 11: 8, 7: 8, 6: 4, 9: 1, 2: 1, 3: 1, 5: 2, 4: 2, 12: 4, 13: 8}


@dataclass(frozen=True)
class GraphCost:
    """What one call of a graph costs at one input shape."""

    flops: int
    weight_bytes: int
    io_bytes: int
    activation_bytes: int
    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def min_bytes(self) -> int:
        return self.weight_bytes + self.io_bytes

    def scaled(self, k: int) -> "GraphCost":
        """``k`` calls, each with its own input and output (weights read once per call)."""
        return GraphCost(self.flops * k, self.weight_bytes * k, self.io_bytes * k,
                         self.activation_bytes * k, {o: f * k for o, f in self.by_op.items()})


def _dims(value_info) -> list[int] | None:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return dims


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def _attr(node, name: str, default: Any = None) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _fix_input_shape(model, shapes: dict[str, tuple[int, ...]]) -> None:
    for value in model.graph.input:
        if value.name not in shapes:
            continue
        dims = value.type.tensor_type.shape.dim
        want = shapes[value.name]
        if len(dims) != len(want):
            raise InputError(f"input {value.name} has rank {len(dims)}, got shape {want}")
        for d, v in zip(dims, want):
            if d.HasField("dim_value") and d.dim_value != v:
                raise InputError(f"input {value.name} has a fixed size {d.dim_value} where "
                                 f"{v} was asked for")
            d.ClearField("dim_param")
            d.dim_value = int(v)


def fold_constants(model) -> None:
    """Evaluate (in place) every node whose inputs are all constants, with ONNX's numpy
    reference evaluator: the computed pads and scales of exported nets become initializers, so
    ONNX's own shape inference can follow them. ONNX Runtime folds the same nodes when it loads
    the graph, so they cost nothing per frame either."""
    from onnx import AttributeProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    g = model.graph
    const = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    graph_inputs = {v.name for v in g.input}
    keep = []
    for node in g.node:
        foldable = (node.op_type == "Constant" or (
            node.input and all(not i or (i in const and i not in graph_inputs)
                               for i in node.input))) \
            and not any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS)
                        for a in node.attribute) \
            and not node.op_type.startswith("Random")
        if foldable:
            try:
                sub = helper.make_graph(
                    [node], "fold", [],
                    [helper.make_tensor_value_info(o, 0, None) for o in node.output],
                    [numpy_helper.from_array(const[i], i) for i in node.input if i])
                m = helper.make_model(sub, opset_imports=model.opset_import)
                m.ir_version = model.ir_version
                for name, value in zip(node.output, ReferenceEvaluator(m).run(None, {})):
                    const[name] = np.asarray(value)
                continue
            except Exception as e:  # noqa: BLE001 - not foldable after all: keep the node
                log.debug("not folded: %s (%s)", node.op_type, e)
        keep.append(node)
    used = {i for n in keep for i in n.input} | {o.name for o in g.output}
    inits = [numpy_helper.from_array(v, k) for k, v in const.items() if k in used]
    del g.node[:]
    g.node.extend(keep)
    del g.initializer[:]
    g.initializer.extend(inits)


def _shapes_known(model) -> bool:
    g = model.graph
    known = {v.name for v in [*g.input, *g.value_info, *g.output] if _dims(v) is not None}
    known |= {t.name for t in g.initializer}
    return all(o in known for n in g.node if n.op_type in COMPUTE for o in n.output[:1])


def _infer(model):
    """The model, constants folded, with every value's shape inferred: ONNX's inference (no
    extra dependency), else ONNX Runtime's symbolic inference (it needs sympy)."""
    import onnx

    fold_constants(model)
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    if _shapes_known(inferred):
        return inferred
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        return SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception as e:  # noqa: BLE001 - report what is missing below
        log.info("symbolic shape inference failed too (%s)", e)
        return inferred


def node_flops(node, shape) -> int:
    """FLOPs of one node given ``shape(name) -> dims or None`` (see the module docstring)."""
    op = node.op_type
    out = shape(node.output[0]) if node.output else None
    if op == "Conv":
        w = shape(node.input[1])
        if out is None or w is None:
            return 0
        n, cout, spatial = out[0], out[1], out[2:]
        cin_g, kernel = w[1], w[2:]
        bias = _prod(out) if len(node.input) > 2 and node.input[2] else 0
        return 2 * n * cout * _prod(spatial) * cin_g * _prod(kernel) + bias
    if op == "ConvTranspose":
        x, w = shape(node.input[0]), shape(node.input[1])
        if x is None or w is None or out is None:
            return 0
        n, cin, spatial = x[0], x[1], x[2:]
        cout_g, kernel = w[1], w[2:]  # the weight is (C_in, C_out / group, *kernel)
        bias = _prod(out) if len(node.input) > 2 and node.input[2] else 0
        return 2 * n * cin * _prod(spatial) * cout_g * _prod(kernel) + bias
    if op == "MatMul":
        a = shape(node.input[0])
        if a is None or out is None:
            return 0
        return 2 * _prod(out) * a[-1]
    if op == "Gemm":
        a = shape(node.input[0])
        if a is None or out is None:
            return 0
        k = a[0] if _attr(node, "transA", 0) else a[1]
        c = _prod(out) if len(node.input) > 2 and node.input[2] else 0
        return 2 * _prod(out) * k + c
    if out is None:
        return 0
    if op in NORMS:
        return NORM_FLOPS * _prod(out)
    if op in POOLS:
        return _prod(out) * _prod(_attr(node, "kernel_shape", [1]))
    if op in REDUCTIONS:
        x = shape(node.input[0])
        return _prod(x) if x is not None else 0
    if op in ELEMENTWISE:
        return _prod(out)
    return 0


def count(model: str | os.PathLike | Any, shapes: dict[str, tuple[int, ...]]) -> GraphCost:
    """FLOPs and bytes of one call of ``model`` (an ONNX file or ModelProto) with inputs of
    ``shapes`` ({input name: shape}; other inputs must have fixed shapes)."""
    import onnx

    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(str(model))
    else:
        model = onnx.ModelProto.FromString(model.SerializeToString())
    _fix_input_shape(model, shapes)
    weight_bytes = sum(_prod(t.dims) * _ELEM_BYTES.get(t.data_type, 4)
                       for t in model.graph.initializer)
    inferred = _infer(model)
    g = inferred.graph
    known: dict[str, list[int]] = {}
    elem: dict[str, int] = {}
    for v in [*g.input, *g.value_info, *g.output]:
        d = _dims(v)
        if d is not None:
            known[v.name] = d
        elem[v.name] = v.type.tensor_type.elem_type
    inits = {t.name for t in g.initializer}
    for t in g.initializer:
        known[t.name] = list(t.dims)
        elem[t.name] = t.data_type
    for node in g.node:  # Constant nodes hold small tensors (pads, scales); shapes only
        if node.op_type == "Constant":
            value = _attr(node, "value")
            if value is not None and hasattr(value, "dims"):
                known.setdefault(node.output[0], list(value.dims))

    def shape(name: str) -> list[int] | None:
        return known.get(name)

    def nbytes(name: str) -> int:
        d = known.get(name)
        return _prod(d) * _ELEM_BYTES.get(elem.get(name, 1), 4) if d is not None else 0

    by_op: dict[str, int] = {}
    consumers: dict[str, int] = {}
    for node in g.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    outputs = {o.name for o in g.output}
    flops = activation = 0
    missing = []
    for node in g.node:
        f = node_flops(node, shape)
        if f == 0 and node.op_type in COMPUTE:
            missing.append(node.name or node.op_type)
        flops += f
        if f:
            by_op[node.op_type] = by_op.get(node.op_type, 0) + f
        if node.op_type not in ("Constant", "Shape"):
            for name in node.output:
                if name in outputs:
                    continue
                activation += nbytes(name) * (1 + consumers.get(name, 0))
    if missing:
        raise InputError(f"could not infer the shapes of {len(missing)} compute node(s) "
                         f"(e.g. {missing[0]}); cannot count FLOPs")
    io = sum(nbytes(v.name) for v in g.input if v.name not in inits)
    io += sum(nbytes(v.name) for v in g.output)
    return GraphCost(int(flops), int(weight_bytes), int(io), int(activation), by_op)


@functools.lru_cache(maxsize=64)
def _count_cached(path: str, mtime: float, shapes: tuple) -> GraphCost:
    return count(path, dict(shapes))


def frame_cost(path: str | os.PathLike, batch: int, height: int, width: int) -> GraphCost:
    """The cost of one batch through an rtstyle ONNX file. A graph with a fixed batch of 1 (the
    WCT content path) runs once per frame."""
    import onnx

    p = Path(path)
    first = onnx.load(str(p), load_external_data=False).graph.input[0]
    dims = first.type.tensor_type.shape.dim
    fixed_one = bool(dims) and dims[0].HasField("dim_value") and dims[0].dim_value == 1
    n = 1 if fixed_one else batch
    cost = _count_cached(str(p), p.stat().st_mtime, ((first.name, (n, 3, height, width)),))
    return cost.scaled(batch) if fixed_one and batch > 1 else cost


# --- device peaks ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Peak:
    """Peak FLOP/s per precision and copy bandwidth (bytes/s) of one device, as measured."""

    device: str
    flops: dict[str, float]
    bandwidth: float
    how: str

    def flops_for(self, precision: str) -> float | None:
        return self.flops.get(precision) or self.flops.get("fp32")

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "tflops": {k: round(v / 1e12, 4) for k, v in self.flops.items()},
                "gbytes_per_s": round(self.bandwidth / 1e9, 2), "how": self.how}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Peak":
        return cls(d["device"], {k: v * 1e12 for k, v in d["tflops"].items()},
                   d["gbytes_per_s"] * 1e9, d.get("how", ""))


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _ort_matmul(n: int):
    """An ONNX Runtime CPU session of one n x n fp32 MatMul (MLAS: the kernels the nets use)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from ..backends import cpu_count

    spec = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [n, n]) for k in "ABC"]
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "peak",
                              spec[:2], spec[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_count()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def cpu_peak(n: int = 2048, copy_mib: int = 256, repeats: int = 3) -> Peak:
    """fp32 matmul FLOP/s (the better of numpy's BLAS and ONNX Runtime's MLAS, every core)
    and copy bandwidth (np.copyto) of this CPU."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    t_np = _best(lambda: np.matmul(a, b, out=c), repeats)
    session = _ort_matmul(n)
    t_ort = _best(lambda: session.run(None, {"A": a, "B": b}), repeats)
    src = np.ones(copy_mib * 2 ** 20 // 4, np.float32)
    dst = np.empty_like(src)
    tc = _best(lambda: np.copyto(dst, src), repeats + 2)
    return Peak("cpu", {"fp32": 2 * n ** 3 / min(t_np, t_ort)}, 2 * src.nbytes / tc,
                f"fp32 matmul {n}x{n}, best of numpy ({2 * n ** 3 / t_np / 1e9:.0f} GFLOP/s) "
                f"and ONNX Runtime ({2 * n ** 3 / t_ort / 1e9:.0f} GFLOP/s); np.copyto of "
                f"{copy_mib} MiB (read+write); best of {repeats}")


def cuda_peak(n: int = 8192, copy_mib: int = 1024, repeats: int = 5) -> Peak:
    """fp16 and fp32 (no TF32) matmul FLOP/s and device copy bandwidth, with torch on CUDA."""
    import torch

    dev = torch.device("cuda")

    def matmul_flops(dtype, iters: int) -> float:
        a = torch.randn(n, n, device=dev, dtype=dtype)
        b = torch.randn(n, n, device=dev, dtype=dtype)

        def once():
            for _ in range(iters):
                torch.matmul(a, b)
            torch.cuda.synchronize()

        return 2 * n ** 3 * iters / _best(once, repeats)

    def copy_bandwidth() -> float:
        src = torch.empty(copy_mib * 2 ** 20, dtype=torch.uint8, device=dev)
        dst = torch.empty_like(src)

        def once():
            for _ in range(10):
                dst.copy_(src)
            torch.cuda.synchronize()

        return 2 * src.numel() * 10 / _best(once, repeats)

    tf32 = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        flops = {"fp16": matmul_flops(torch.float16, 10), "fp32": matmul_flops(torch.float32, 3)}
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    bandwidth = copy_bandwidth()
    torch.cuda.empty_cache()
    return Peak("cuda", flops, bandwidth,
                f"torch matmul {n}x{n} fp16 and fp32 (TF32 off), device copy of {copy_mib} MiB "
                f"(read+write); best of {repeats}")


def fractions(cost: GraphCost, seconds: float, peak: Peak | None, precision: str
              ) -> dict[str, float | None]:
    """The compute and memory floors (ms) of one batch and the share of them a result reaches."""
    out: dict[str, float | None] = {"gflops": round(cost.flops / 1e9, 3),
                                    "mbytes_min": round(cost.min_bytes / 1e6, 3),
                                    "mbytes_activations": round(cost.activation_bytes / 1e6, 3),
                                    "compute_floor_ms": None, "memory_floor_ms": None,
                                    "frac_compute": None, "frac_memory": None}
    if peak is None or seconds <= 0:
        return out
    peak_flops = peak.flops_for(precision)
    if peak_flops:
        floor = cost.flops / peak_flops
        out["compute_floor_ms"] = round(floor * 1e3, 4)
        out["frac_compute"] = round(floor / seconds, 4)
    if peak.bandwidth:
        floor = cost.min_bytes / peak.bandwidth
        out["memory_floor_ms"] = round(floor * 1e3, 4)
        out["frac_memory"] = round(floor / seconds, 4)
    return out
