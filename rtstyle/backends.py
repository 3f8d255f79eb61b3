"""Inference backends, chosen from a spec string (torch-free for the ONNX Runtime ones).

``auto``      TensorRT, then CUDA, then CPU: whichever ONNX Runtime providers exist here.
``ort-trt``   TensorRT EP (fp16, engine cache, shape profiles), falling back to CUDA then CPU.
``ort-cuda``  CUDA EP with IO binding and exhaustive cuDNN algorithm search.
``ort-cpu``   CPU EP; ``threads`` sets the intra-op threads (default: all cores).
``torch``, ``torch-compile``  PyTorch eager / compiled (need the train extra and a model folder).

:func:`plan` is the pure decision (tested against fake provider lists); :class:`OrtBackend`
creates one session, reads which provider really runs it, and warms it up.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DependencyError, InputError, unknown

log = logging.getLogger(__name__)

BACKENDS = ("auto", "ort-trt", "ort-cuda", "ort-cpu", "torch", "torch-compile")
TRT, CUDA, CPU = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
SHORT = {TRT: "ort-trt", CUDA: "ort-cuda", CPU: "ort-cpu"}


class BackendError(InputError):
    """An explicitly requested backend cannot run here."""


@dataclass(frozen=True)
class Plan:
    """Which ONNX Runtime providers to ask for, in order, and why."""

    backend: str
    providers: tuple[str, ...]
    notes: tuple[str, ...] = ()


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def plan(spec: str, available: list[str]) -> Plan:
    """Decide the provider chain for ``spec`` given the providers this onnxruntime has."""
    spec = (spec or "auto").strip().lower()
    if spec not in BACKENDS:
        raise unknown("backend", spec, BACKENDS)
    if spec in ("torch", "torch-compile"):
        return Plan(spec, ())
    have = [p for p in (TRT, CUDA, CPU) if p in available]
    listed = ", ".join(["ort-cpu"] + [SHORT[p] for p in (CUDA, TRT) if p in available])
    if spec == "auto":
        notes = tuple(f"{SHORT[p]} not available in this onnxruntime" for p in (TRT, CUDA)
                      if p not in available)
        return Plan(SHORT[have[0]] if have else "ort-cpu", tuple(have) or (CPU,), notes)
    want = {"ort-trt": TRT, "ort-cuda": CUDA, "ort-cpu": CPU}[spec]
    if want not in available:
        hint = "" if spec == "ort-cpu" else \
            " (install onnxruntime-gpu with matching CUDA/TensorRT libraries: pip install 'rtstyle[gpu]')"
        raise BackendError(f"backend {spec} is not available here{hint}; available: {listed}")
    chain = {"ort-trt": (TRT, CUDA, CPU), "ort-cuda": (CUDA, CPU), "ort-cpu": (CPU,)}[spec]
    return Plan(spec, tuple(p for p in chain if p in available))


def cpu_count() -> int:
    """CPUs this process may run on (respects affinity masks and container CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cache_dir() -> Path:
    """Where TensorRT engines are cached: $RTSTYLE_CACHE, else the user cache folder."""
    base = os.environ.get("RTSTYLE_CACHE") or os.environ.get("XDG_CACHE_HOME") \
        or str(Path.home() / ".cache")
    return Path(base) / ("" if os.environ.get("RTSTYLE_CACHE") else "rtstyle") / "trt"


#: Largest batch a TensorRT engine accepts (``rtstyle video --batch``, ``rtstyle bench``).
TRT_MAX_BATCH = 8


def provider_options(provider: str, fp16: bool, shape: tuple[int, int] | None,
                     device_id: int = 0) -> dict[str, Any]:
    """Options for one provider: TensorRT fp16 + engine cache + a shape profile for ``shape``."""
    if provider == TRT:
        opts: dict[str, Any] = {"device_id": device_id, "trt_fp16_enable": fp16,
                                "trt_engine_cache_enable": True,
                                "trt_engine_cache_path": str(cache_dir()),
                                "trt_timing_cache_enable": True}
        if shape:
            h, w = shape
            opts.update({"trt_profile_min_shapes": "input:1x3x16x16",
                         "trt_profile_opt_shapes": f"input:1x3x{h}x{w}",
                         "trt_profile_max_shapes":
                             f"input:{TRT_MAX_BATCH}x3x{max(h, 1088)}x{max(w, 1920)}"})
        return opts
    if provider == CUDA:
        return {"device_id": device_id, "cudnn_conv_algo_search": "EXHAUSTIVE",
                "do_copy_in_default_stream": True}
    return {}


@dataclass
class OrtBackend:
    """One ONNX Runtime session for one model, warmed up, with IO binding on CUDA."""

    model_path: Path
    spec: str = "auto"
    threads: int = 0
    shape: tuple[int, int] | None = None
    #: Inputs other than the frame that stay the same from run to run (a WCT style's statistics).
    feeds: dict[str, np.ndarray] = field(default_factory=dict)
    provider: str = field(init=False, default="")
    notes: list[str] = field(init=False, default_factory=list)

    def __post_init__(self):
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - a base dependency
            raise DependencyError("onnxruntime is missing: pip install onnxruntime") from e
        p = plan(self.spec, available_providers())
        if p.backend in ("torch", "torch-compile"):
            raise ConfigError(f"{p.backend} is not an ONNX Runtime backend")
        self.notes = list(p.notes)
        from .onnx_model import read_contract

        self.info = read_contract(self.model_path)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ORT's own default is not always every core (it gave 1 of 2 on a 2-vCPU VM).
        opts.intra_op_num_threads = self.threads or cpu_count()
        fp16 = self.info.precision == "fp16" or p.backend == "ort-trt"
        if TRT in p.providers:
            cache_dir().mkdir(parents=True, exist_ok=True)
        providers = [(name, provider_options(name, fp16, self.shape)) for name in p.providers]
        try:
            self.session = ort.InferenceSession(str(self.info.path), opts, providers=providers)
        except Exception as e:  # ORT raises its own exception types
            raise BackendError(f"cannot create an ONNX Runtime session for {self.info.path}: "
                               f"{str(e).splitlines()[0]}") from e
        actual = self.session.get_providers()
        self.provider = SHORT.get(actual[0], actual[0]) if actual else "?"
        if p.providers and actual and actual[0] != p.providers[0]:
            self.notes.append(f"{SHORT.get(p.providers[0])} could not start (missing libraries?); "
                              f"running on {self.provider}")
        for note in self.notes:
            log.info("%s", note)
        self._output = self.session.get_outputs()[0].name
        self._binding = None
        if self.provider in ("ort-cuda", "ort-trt"):
            self._binding = self.session.io_binding()

    def run(self, batch: np.ndarray) -> np.ndarray:
        """RGB float32 NCHW 0..255 (H, W multiples of the model's size_multiple) -> same
        (or, for a WCT encoder, its features)."""
        from .onnx_model import INPUT_NAME

        batch = np.ascontiguousarray(batch, dtype=np.float32)
        output = self._output
        if self._binding is None:
            return self.session.run([output], {INPUT_NAME: batch, **self.feeds})[0]
        # IO binding: the input is copied to the GPU once, the output allocated there by ORT,
        # and nothing is copied between the nodes or through an intermediate host buffer.
        b = self._binding
        b.bind_cpu_input(INPUT_NAME, batch)
        for name, value in self.feeds.items():
            b.bind_cpu_input(name, value)
        b.bind_output(output, "cuda")
        self.session.run_with_iobinding(b)
        return b.copy_outputs_to_cpu()[0]

    def warm_up(self, shape: tuple[int, int]) -> None:
        m = self.info.size_multiple
        h, w = (-(-shape[0] // m) * m, -(-shape[1] // m) * m)
        self.run(np.zeros((1, 3, h, w), np.float32))

    def describe(self) -> str:
        return f"{self.provider} ({self.info.precision})"


def make_backend(model: str | os.PathLike, backend: str = "auto", threads: int = 0,
                 shape: tuple[int, int] | None = None, fp16: bool = False, wct: bool = False):
    """An inference backend for ``model`` (an .onnx file or a model folder) from a spec string.

    ``fp16`` picks a model folder's ``model.fp16.onnx`` when it has one. WCT and any-painting
    graphs are only accepted with ``wct`` (the painting paths, :mod:`rtstyle.wct_realtime` and
    :mod:`rtstyle.arbitrary`, feed them the style).
    """
    spec = (backend or "auto").strip().lower()
    if spec not in BACKENDS:
        raise unknown("backend", spec, BACKENDS)
    if spec in ("torch", "torch-compile"):
        from .train.torch_backend import TorchBackend  # needs the train extra

        return TorchBackend(model, compiled=spec == "torch-compile")
    from .metadata import ModelError
    from .onnx_model import resolve

    backend_ = OrtBackend(resolve(model, fp16=fp16), spec, threads, shape)
    if backend_.info.wct and not wct:
        raise ModelError(f"{backend_.info.path} is a real-time WCT graph, not a trained style: "
                         "give a painting with --style-image instead")
    if backend_.info.arbitrary and not wct:
        raise ModelError(f"{backend_.info.path} is an any-painting net, not a trained style: "
                         "give a painting with --style-image instead")
    return backend_
