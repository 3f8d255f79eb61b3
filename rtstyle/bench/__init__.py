"""Runtime benchmarks: latency and FPS per backend, precision, net, resolution and batch, end
to end (``rtstyle video``, the live loop), against the device's own compute and memory limits.

- :mod:`.timing`  the harness: warm-up, a sync hook, repetitions under a time budget, rotating
  input buffers of real frames, median/p90/p99 and FPS.
- :mod:`.matrix`  which cases run (the full matrix, the quick one, parsing ``--backends`` etc.).
- :mod:`.nets`    which model file each net uses (shipped, or randomly initialised and exported).
- :mod:`.backends` how each backend is driven (ONNX Runtime CPU/CUDA/TensorRT, PyTorch).
- :mod:`.floors`  FLOPs and minimum bytes per frame from the ONNX graph; the device's peaks.
- :mod:`.e2e`     ``rtstyle video`` throughput per stage, the live loop's added latency.
- :mod:`.targets` the goals printed next to the results.
- :mod:`.runner`  runs a matrix and returns result records.
- :mod:`.output`  JSON lines, a Markdown table and a PNG chart under ``bench/results``.
- :mod:`.compare` the regression check between two result files (ratios, not absolute times).
- :mod:`.readme`  the README's performance section, regenerated from a results file.

Torch-free: the PyTorch backends and the export of random nets import torch when they run.
"""
