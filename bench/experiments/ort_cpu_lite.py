"""Why the lite net takes ~68 ms at 640x360 on ONNX Runtime CPU (2 cores), and what helps.

1. Session options: graph optimisation level, intra-op threads, thread spinning, execution
   mode, denormals as zero; median of ``--runs`` calls each, same input.
2. The ORT profiler: time per operator type and the slowest nodes (one thread, so the numbers
   add up).
3. A graph rewrite: the 9x9 output convolution (12 -> 3 channels, stride 1, no padding
   attribute: the nets pad with an explicit reflection Pad) becomes SpaceToDepth(2) -> 5x5
   convolution 48 -> 12 -> DepthToSpace(2). It computes exactly the same function (checked
   here), but no longer runs with its 3 output channels padded to ORT's NCHWc block of 16
   (AVX-512; 8 on AVX2), which wasted most of its time.

    python bench/ort_cpu_lite.py                        # the shipped lite net, 640x360
    python bench/ort_cpu_lite.py --model runs/x/model --size 1280x720 --runs 20

Prints what it finds; times on a busy machine are only indicative.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def polyphase(model, max_out_channels: int = 4):
    """A copy of ``model`` with each large odd k x k Conv (stride 1, group 1, unpadded) with at
    most ``max_out_channels`` outputs rewritten as SpaceToDepth(2) -> Conv (k+1)/2 with 4x the
    channels -> DepthToSpace(2, DCR). Needs even input sizes at those convolutions (the rtstyle
    nets pad to a multiple of 4, then by k-1). In the Johnson nets that is the 9x9 output
    convolution; rewriting the 9x9 input convolution (12 outputs) too was slower."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {t.name: t for t in m.graph.initializer}
    nodes = []
    for node in m.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        k = list(attrs.get("kernel_shape", []))
        if (node.op_type != "Conv" or len(k) != 2 or k[0] != k[1] or k[0] < 5 or k[0] % 2 == 0
                or any(attrs.get("pads", [0])) or any(s != 1 for s in attrs.get("strides", [1]))
                or attrs.get("group", 1) != 1 or node.input[1] not in inits
                or inits[node.input[1]].dims[0] > max_out_channels):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        cout, cin, kk, _ = w.shape
        k2 = (kk + 1) // 2
        w2 = np.zeros((4 * cout, 4 * cin, k2, k2), np.float32)
        for a in range(2):
            for b in range(2):
                for q in range(2):
                    for s in range(2):
                        for p in range(k2):
                            for r in range(k2):
                                i, j = 2 * p + q - a, 2 * r + s - b
                                if 0 <= i < kk and 0 <= j < kk:
                                    w2[(a * 2 + b) * cout:(a * 2 + b + 1) * cout,
                                       (q * 2 + s) * cin:(q * 2 + s + 1) * cin, p, r] = w[:, :, i, j]
        name = node.name or node.output[0]
        new_inputs = [f"{name}_s2d", f"{name}_w2"]
        m.graph.initializer.append(numpy_helper.from_array(w2, f"{name}_w2"))
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
            m.graph.initializer.append(numpy_helper.from_array(np.tile(bias, 4), f"{name}_b2"))
            new_inputs.append(f"{name}_b2")
        nodes += [helper.make_node("SpaceToDepth", [node.input[0]], [f"{name}_s2d"], blocksize=2),
                  helper.make_node("Conv", new_inputs, [f"{name}_c"], kernel_shape=[k2, k2]),
                  helper.make_node("DepthToSpace", [f"{name}_c"], [node.output[0]], blocksize=2,
                                   mode="DCR")]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


class Sessions:
    """ONNX Runtime CPU sessions of one model and one input, and their median latency."""

    def __init__(self, model, x: np.ndarray, runs: int):
        import onnxruntime as ort

        from rtstyle.backends import cpu_count

        self.ort, self.model, self.x, self.runs = ort, model, x, runs
        self.cores = cpu_count()

    def session(self, m=None, threads=None, level=None, mode=None, config=None, profile=None):
        o = self.ort.SessionOptions()
        o.log_severity_level = 3
        o.graph_optimization_level = level or self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        o.intra_op_num_threads = threads or self.cores
        if mode is not None:
            o.execution_mode = mode
        for key, value in (config or {}).items():
            o.add_session_config_entry(key, value)
        if profile:
            o.enable_profiling = True
            o.profile_file_prefix = profile
        return self.ort.InferenceSession((m or self.model).SerializeToString(), o,
                                         providers=["CPUExecutionProvider"])

    def median_ms(self, s) -> float:
        for _ in range(3):
            s.run(None, {"input": self.x})
        t = []
        for _ in range(self.runs):
            a = time.perf_counter()
            s.run(None, {"input": self.x})
            t.append(time.perf_counter() - a)
        return statistics.median(t) * 1e3


def compare_options(sx: Sessions) -> None:
    """1. Session options, two rounds each (a burst of load elsewhere shows as disagreement)."""
    G, ort = sx.ort.GraphOptimizationLevel, sx.ort
    options = {
        f"rtstyle's ort-cpu (ENABLE_ALL, {sx.cores} threads)": {},
        "ENABLE_EXTENDED (no NCHWc layout)": dict(level=G.ORT_ENABLE_EXTENDED),
        "ENABLE_BASIC": dict(level=G.ORT_ENABLE_BASIC),
        "1 thread": dict(threads=1),
        "no intra-op spinning": dict(config={"session.intra_op.allow_spinning": "0"}),
        "denormals as zero": dict(config={"session.set_denormal_as_zero": "1"}),
        "parallel execution mode": dict(mode=ort.ExecutionMode.ORT_PARALLEL),
    }
    sessions = {label: sx.session(**kw) for label, kw in options.items()}
    results = {label: [] for label in options}
    for _ in range(2):
        for label, s in sessions.items():
            results[label].append(sx.median_ms(s))
    for label, (r1, r2) in results.items():
        print(f"  {label:44s} {r1:7.1f} ms  {r2:7.1f} ms", flush=True)


def profile(sx: Sessions) -> None:
    """2. Time per operator type and the slowest nodes, one thread."""
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "prof")
        s = sx.session(threads=1, profile=prefix)
        for _ in range(sx.runs):
            s.run(None, {"input": sx.x})
        events = json.load(open(s.end_profiling()))
        for f in glob.glob(prefix + "*"):
            os.remove(f)
    by_op, by_node = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            op = e["args"].get("op_name")
            by_op[op] += e["dur"]
            shape = e["args"].get("output_type_shape") or [{}]
            dims = next(iter(shape[0].values()), [])
            node = e["name"][:-len("_kernel_time")].split("/")[-2:]
            by_node[(op, "/".join(node)[-40:], "x".join(map(str, dims)))] += e["dur"]
    total = sum(by_op.values())
    print(f"profile, 1 thread: {total / sx.runs / 1e3:.1f} ms of kernels per run")
    for op, d in by_op.most_common(8):
        print(f"  {op:24s} {d / sx.runs / 1e3:7.2f} ms  {d / total:5.1%}")
    print("  slowest nodes:")
    for (op, node, shape), d in by_node.most_common(6):
        print(f"    {op:14s} {node:40s} -> {shape:16s} {d / sx.runs / 1e3:7.2f} ms")


def compare_rewrite(sx: Sessions) -> None:
    """3. The polyphase output convolution: same function, and its speed."""
    rewritten = polyphase(sx.model)
    a = sx.session().run(None, {"input": sx.x})[0]
    b = sx.session(rewritten).run(None, {"input": sx.x})[0]
    print(f"polyphase output convolution: max |difference| {np.abs(a - b).max():.2e} on 0..255")
    for threads in sorted({1, sx.cores}):
        original, faster = sx.session(threads=threads), sx.session(rewritten, threads=threads)
        times = [(sx.median_ms(original), sx.median_ms(faster)) for _ in range(2)]
        print(f"  {threads} thread(s): original " + " / ".join(f"{a:.1f}" for a, _ in times)
              + " ms, rewritten " + " / ".join(f"{b:.1f}" for _, b in times) + " ms", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "models" / "starry_night_lite"))
    p.add_argument("--size", default="640x360")
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args(argv)
    import onnx

    from rtstyle import assets, frames, images
    from rtstyle.onnx_model import resolve

    path = resolve(args.model)
    w, h = (int(v) for v in args.size.split("x"))
    x = frames.to_model_input(images.resize_to(images.read_image(
        assets.path(assets.DEMO_CONTENT)), (h, w)))
    sx = Sessions(onnx.load(str(path)), x, args.runs)
    print(f"{path} at {w}x{h}, {sx.cores} threads unless said, median of {args.runs} runs (two "
          "rounds)")
    compare_options(sx)
    profile(sx)
    compare_rewrite(sx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
