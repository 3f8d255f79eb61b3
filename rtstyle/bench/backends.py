"""How each benchmarked backend is driven: upload, infer, download, sync.

A driver runs one net on one backend. ``infer`` is what the latency cases time: on a GPU the
input already lies on the device (uploaded once per rotating buffer) and the output stays there,
so the number is the engine's own; ``upload``/``download`` are timed separately. On the CPU
there is nothing to copy, so ``upload``/``download`` return their argument and their cost is
part of ``infer``.

- ``ort-*``: the product's :class:`rtstyle.backends.OrtBackend` session (same options as
  ``rtstyle image``/``video``/``webcam``); on CUDA and TensorRT with IO binding of device
  buffers (``OrtValue``), ``ort-cuda-fp16`` on the fp16 export, ``ort-trt-fp16`` with
  TensorRT's fp16 on the fp32 graph. The WCT graph gets a painting's statistics (the bundled
  *Starry Night*) through :class:`rtstyle.wct_realtime.WCTStyle`.
- ``torch-*``: the product's :class:`rtstyle.train.torch_backend.TorchBackend` (eager fp32;
  compiled fp16 channels-last with CUDA graphs on a GPU), imported only when used.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import RtstyleError
from .nets import NetFiles, NetStore, Unavailable, has_torch

log = logging.getLogger(__name__)

ORT_SPECS = {"ort-cpu-fp32": "ort-cpu", "ort-cpu-int8": "ort-cpu", "ort-cuda-fp32": "ort-cuda", "ort-cuda-fp16": "ort-cuda",
             "ort-trt-fp16": "ort-trt"}
GPU_ONLY = ("torch-compile-fp16", "ort-cuda-fp32", "ort-cuda-fp16", "ort-trt-fp16")


def unavailable_reason(backend: str) -> str | None:
    """Why ``backend`` cannot run on this machine, or None (a cheap check before any model)."""
    from .. import backends as rb

    if backend.startswith("torch"):
        if not has_torch():
            return "needs torch (pip install 'rtstyle[train]')"
        if backend == "torch-compile-fp16" and not torch_cuda():
            return "GPU only (compiled fp16 channels-last with CUDA graphs); no CUDA device here"
        return None
    spec = ORT_SPECS[backend]
    if spec == "ort-cpu":
        return None
    try:
        rb.plan(spec, rb.available_providers())
    except RtstyleError:
        provider = rb.TRT if spec == "ort-trt" else rb.CUDA
        return (f"no {provider} in this onnxruntime (needs a GPU and "
                "pip install 'rtstyle[gpu]')")
    return None


def torch_cuda() -> bool:
    if not has_torch():
        return False
    import torch

    return bool(torch.cuda.is_available())


class Driver:
    """One net on one backend (subclasses set the attributes below)."""

    backend: str = ""
    device: str = "cpu"     # "cpu" or "cuda": which peak the case is measured against
    runs_on: str = ""       # what really runs it, e.g. "ort-cpu (fp32)"
    multiple: int = 4       # the net's size multiple

    def upload(self, x: np.ndarray) -> Any:
        return x

    def infer(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def download(self, y: Any) -> np.ndarray:
        return y

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


class OrtDriver(Driver):
    def __init__(self, backend: str, files: NetFiles, store: NetStore, threads: int = 0,
                 shape: tuple[int, int] | None = None):
        from .. import assets, images, wct_realtime
        from ..backends import make_backend

        self.backend = backend
        spec = ORT_SPECS[backend]
        self.wct = files.wct
        int8 = backend.endswith("-int8")
        if int8 and not files.wct:
            raise Unavailable("int8: only the WCT real-time graph has an int8 export "
                              "(rtstyle export --int8)")
        if int8 and not (files.folder / wct_realtime.INT8_FILE).is_file():
            raise Unavailable(f"no int8 graph in {files.folder}: rtstyle export --model "
                              f"{files.folder} --int8")
        if files.wct:
            painting = images.read_image(assets.path(assets.DEMO_STYLE))
            self.style = wct_realtime.WCTStyle(painting, files.level, files.folder, spec, threads,
                                               shape, precision="int8" if int8 else "fp32")
            self.ort = self.style.net
            self.runs_on = self.style.describe()
        else:
            path = store.fp16(files.net) if backend == "ort-cuda-fp16" else files.onnx
            self.ort = make_backend(path, spec, threads, shape)
            self.runs_on = self.ort.describe()
        if self.ort.provider != spec:
            raise Unavailable(f"{spec} could not start here: it runs on {self.ort.provider}")
        self.multiple = self.ort.info.size_multiple
        self.device = "cpu" if spec == "ort-cpu" else "cuda"
        self._binding = None
        if self.device == "cuda":
            import onnxruntime as ort

            self._ortvalue = ort.OrtValue
            self._binding = self.ort.session.io_binding()
            self._feeds = {k: ort.OrtValue.ortvalue_from_numpy(v, "cuda", 0)
                           for k, v in self.ort.feeds.items()}

    def _items(self, x: np.ndarray) -> list[np.ndarray]:
        # the WCT graph whitens one image at a time (batch 1); the Johnson nets take batches
        return [x[i:i + 1] for i in range(len(x))] if self.wct else [x]

    def upload(self, x: np.ndarray) -> Any:
        if self._binding is None:
            return x
        return [self._ortvalue.ortvalue_from_numpy(np.ascontiguousarray(item), "cuda", 0)
                for item in self._items(x)]

    def infer(self, x: Any) -> Any:
        if self._binding is None:
            return self.style.run(x) if self.wct else self.ort.run(x)
        from ..onnx_model import INPUT_NAME, OUTPUT_NAME

        b, outs = self._binding, []
        for item in x:
            b.bind_ortvalue_input(INPUT_NAME, item)
            for name, value in self._feeds.items():
                b.bind_ortvalue_input(name, value)
            b.bind_output(OUTPUT_NAME, "cuda")
            self.ort.session.run_with_iobinding(b)
            outs.append(b.get_outputs()[0])
        return outs

    def download(self, y: Any) -> np.ndarray:
        if self._binding is None:
            return y
        return np.concatenate([v.numpy() for v in y])

    def sync(self) -> None:
        if self._binding is not None:
            self._binding.synchronize_outputs()


class TorchDriver(Driver):
    def __init__(self, backend: str, files: NetFiles):
        if files.wct:
            raise Unavailable("the WCT real-time graph runs on ONNX Runtime only")
        if files.folder is None or not (files.folder / "model.json").is_file():
            raise Unavailable(f"the torch backends need a model folder, not {files.onnx}")
        import torch

        from ..train.torch_backend import TorchBackend

        compiled = backend == "torch-compile-fp16"
        if compiled and not torch.cuda.is_available():
            raise Unavailable("GPU only (compiled fp16 channels-last with CUDA graphs)")
        if compiled:
            # one compiled graph per input shape (dynamic=False), and dynamo counts them per
            # code object across nets: the default limit (8) would silently fall back to eager
            cfg = torch._dynamo.config
            for name in ("recompile_limit", "cache_size_limit"):
                if hasattr(cfg, name):
                    setattr(cfg, name, max(getattr(cfg, name), 64))
        self.torch = torch
        self.backend = backend
        self.tb = TorchBackend(files.folder, compiled=compiled)
        # the backend's forward function without its numpy round trip (the copies are timed
        # separately): the compiled module, or the net itself in eager mode
        self.fn = getattr(self.tb, "_fn", self.tb.net)
        self.device = self.tb.device.type
        self.multiple = self.tb.info.size_multiple
        self.runs_on = self.tb.describe()

    def upload(self, x: np.ndarray) -> Any:
        t = self.torch.from_numpy(np.ascontiguousarray(x)).to(self.tb.device, self.tb.dtype)
        if self.tb.dtype == self.torch.float16:
            t = t.contiguous(memory_format=self.torch.channels_last)
        return t

    def infer(self, x: Any) -> Any:
        with self.torch.no_grad():
            return self.fn(x)

    def download(self, y: Any) -> np.ndarray:
        return y.float().cpu().numpy()

    def sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()


def open_driver(backend: str, net: str, store: NetStore, threads: int = 0,
                shape: tuple[int, int] | None = None) -> Driver:
    """A driver for ``net`` on ``backend``; :class:`Unavailable` says why one cannot run."""
    reason = unavailable_reason(backend)
    if reason:
        raise Unavailable(reason)
    files = store.get(net)
    if backend.startswith("torch"):
        return TorchDriver(backend, files)
    return OrtDriver(backend, files, store, threads, shape)
