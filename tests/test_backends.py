"""Backend selection (the pure ``plan`` against fake provider lists), provider options, and a
real ONNX Runtime CPU session on a tiny exported model."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from rtstyle import backends
from rtstyle.backends import CPU, CUDA, TRT, BackendError, OrtBackend, Plan, plan
from rtstyle.errors import ConfigError
from rtstyle.onnx_model import resolve

AZURE = "AzureExecutionProvider"

# --- two tiny exported styles, trained once per session (cached in the session's tmp folder) --


# --- plan: the pure decision -----------------------------------------------------------------

# (available providers, auto's backend, auto's chain, what auto notes as missing)
AUTO = [
    ([CPU], "ort-cpu", (CPU,), ("ort-trt", "ort-cuda")),
    ([CUDA, CPU], "ort-cuda", (CUDA, CPU), ("ort-trt",)),
    ([TRT, CUDA, CPU], "ort-trt", (TRT, CUDA, CPU), ()),
    ([TRT, CPU], "ort-trt", (TRT, CPU), ("ort-cuda",)),
    ([AZURE, CPU], "ort-cpu", (CPU,), ("ort-trt", "ort-cuda")),
    ([CPU, CUDA, TRT], "ort-trt", (TRT, CUDA, CPU), ()),  # ORT's order does not matter
]


@pytest.mark.parametrize("available, backend, chain, missing", AUTO,
                         ids=["cpu", "cuda-cpu", "trt-cuda-cpu", "trt-cpu", "azure-cpu",
                              "reversed"])
def test_auto_takes_the_best_chain_and_notes_what_is_missing(available, backend, chain,
                                                              missing):
    p = plan("auto", available)
    assert p == Plan(backend, chain, p.notes)
    assert len(p.notes) == len(missing)
    for short, note in zip(missing, p.notes):
        assert short in note and "not available" in note
    assert AZURE not in p.providers


@pytest.mark.parametrize("spec", [None, "", "AUTO", "  auto "])
def test_empty_or_oddly_written_auto(spec):
    assert plan(spec, [CUDA, CPU]).providers == (CUDA, CPU)


# (spec, available, expected chain)
EXPLICIT = [
    ("ort-trt", [TRT, CUDA, CPU], (TRT, CUDA, CPU)),
    ("ort-trt", [TRT, CPU], (TRT, CPU)),
    ("ort-trt", [AZURE, TRT, CPU], (TRT, CPU)),
    ("ort-cuda", [TRT, CUDA, CPU], (CUDA, CPU)),
    ("ort-cuda", [CUDA, CPU], (CUDA, CPU)),
    ("ort-cpu", [TRT, CUDA, CPU], (CPU,)),
    ("ort-cpu", [CPU], (CPU,)),
    ("ort-cpu", [AZURE, CPU], (CPU,)),
    (" ORT-CUDA ", [CUDA, CPU], (CUDA, CPU)),
]


@pytest.mark.parametrize("spec, available, chain", EXPLICIT)
def test_explicit_backend_chain(spec, available, chain):
    p = plan(spec, available)
    assert p.backend == spec.strip().lower()
    assert p.providers == chain
    assert p.notes == ()


# (spec, available, words in the message)
UNAVAILABLE = [
    ("ort-trt", [CPU], ["ort-trt", "available: ort-cpu", "onnxruntime-gpu"]),
    ("ort-trt", [AZURE, CPU], ["available: ort-cpu"]),
    ("ort-trt", [CUDA, CPU], ["available: ort-cpu, ort-cuda"]),
    ("ort-cuda", [CPU], ["ort-cuda", "available: ort-cpu", "rtstyle[gpu]"]),
    ("ort-cuda", [TRT, CPU], ["available: ort-cpu, ort-trt"]),
    ("ort-cuda", [AZURE, CPU], ["available: ort-cpu"]),
]


@pytest.mark.parametrize("spec, available, needles", UNAVAILABLE)
def test_unavailable_explicit_backend_is_an_error_listing_what_exists(spec, available, needles):
    with pytest.raises(BackendError) as e:
        plan(spec, available)
    msg = str(e.value)
    assert "not available" in msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    assert "\n" not in msg


@pytest.mark.parametrize("spec, suggestion", [("ort-cp", "ort-cpu"), ("cuda", "ort-cuda"),
                                              ("torch-compiled", "torch-compile"),
                                              ("tensorrt", None)])
def test_unknown_backend_is_a_config_error_with_a_suggestion(spec, suggestion):
    with pytest.raises(ConfigError) as e:
        plan(spec, [CPU])
    assert not isinstance(e.value, BackendError)
    msg = str(e.value)
    assert f"unknown backend '{spec}'" in msg
    if suggestion:
        assert f"did you mean '{suggestion}'" in msg
    assert "ort-cpu" in msg and "torch-compile" in msg  # the choices are listed


@pytest.mark.parametrize("spec", ["torch", "torch-compile"])
@pytest.mark.parametrize("available", [[CPU], [TRT, CUDA, CPU], []])
def test_torch_backends_need_no_onnx_runtime_provider(spec, available):
    assert plan(spec, available) == Plan(spec, ())


# --- provider options and the engine cache ---------------------------------------------------

def _profile(value: str) -> tuple[int, ...]:
    name, dims = value.split(":")
    assert name == "input"
    return tuple(int(d) for d in dims.split("x"))


@pytest.mark.parametrize("shape", [(256, 256), (720, 1280), (2160, 3840), (16, 16)])
@pytest.mark.parametrize("fp16", [True, False])
def test_tensorrt_options(shape, fp16, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    opts = backends.provider_options(TRT, fp16, shape)
    assert opts["trt_fp16_enable"] is fp16
    assert opts["trt_engine_cache_enable"] is True
    cache = Path(opts["trt_engine_cache_path"])
    assert cache == backends.cache_dir()
    assert cache.is_relative_to(tmp_path / "cache")
    lo, opt, hi = (_profile(opts[f"trt_profile_{k}_shapes"]) for k in ("min", "opt", "max"))
    assert opt == (1, 3, *shape)
    for a, b, c in zip(lo, opt, hi):
        assert a <= b <= c
    assert lo[2:] == (16, 16)  # the smallest frame rtstyle stylises
    assert hi[2] >= max(shape[0], 1088) and hi[3] >= max(shape[1], 1920)  # up to 1080p at least
    assert lo[0] == 1 and hi[0] == backends.TRT_MAX_BATCH >= 8  # video batches of up to 8


def test_tensorrt_options_without_a_shape_have_no_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path))
    opts = backends.provider_options(TRT, True, None)
    assert not any(k.startswith("trt_profile") for k in opts)
    assert opts["device_id"] == 0


def test_cuda_and_cpu_options():
    cuda = backends.provider_options(CUDA, False, (256, 256), device_id=1)
    assert cuda["cudnn_conv_algo_search"] == "EXHAUSTIVE"
    assert cuda["device_id"] == 1
    assert backends.provider_options(CPU, True, (256, 256)) == {}


def test_cache_dir_honours_rtstyle_cache_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert backends.cache_dir() == tmp_path / "mine" / "trt"
    monkeypatch.delenv("RTSTYLE_CACHE")
    assert backends.cache_dir() == tmp_path / "xdg" / "rtstyle" / "trt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert backends.cache_dir() == tmp_path / "home" / ".cache" / "rtstyle" / "trt"


# --- a real ONNX Runtime session (CPU) -------------------------------------------------------

@pytest.fixture(scope="module")
def onnx_file(models) -> Path:
    return resolve(models["starry"])


@pytest.mark.parametrize("spec", ["auto", "ort-cpu", "ORT-CPU"])
def test_real_session_runs_on_the_cpu(onnx_file, spec):
    b = OrtBackend(onnx_file, spec)
    assert b.provider == "ort-cpu"
    assert b.describe() == "ort-cpu (fp32)"
    assert b.info.size_multiple == 4
    assert b.info.name == "starry"
    assert b.session.get_providers()[0] == CPU
    if spec == "auto" and CUDA not in backends.available_providers():
        assert any("ort-cuda" in n for n in b.notes)


def test_ort_cuda_is_refused_on_a_cpu_only_onnxruntime(onnx_file):
    if CUDA in backends.available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(BackendError, match="available: ort-cpu"):
        OrtBackend(onnx_file, "ort-cuda")


@pytest.mark.parametrize("spec", ["torch", "torch-compile"])
def test_ort_backend_refuses_torch_specs(onnx_file, spec):
    with pytest.raises(ConfigError, match="not an ONNX Runtime backend"):
        OrtBackend(onnx_file, spec)


@pytest.mark.parametrize("threads", [0, 1, 2])
@pytest.mark.parametrize("shape", [(1, 3, 16, 16), (1, 3, 32, 48), (2, 3, 64, 36),
                                   (1, 3, 100, 132)])
def test_run_keeps_the_shape(onnx_file, threads, shape):
    b = OrtBackend(onnx_file, "ort-cpu", threads=threads)
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    y = b.run(x)
    assert y.shape == shape
    assert y.dtype == np.float32
    assert np.isfinite(y).all()
    assert not np.allclose(y, x)


def test_run_accepts_non_contiguous_float64_and_warm_up_rounds_up(onnx_file):
    b = OrtBackend(onnx_file, "ort-cpu", threads=1)
    b.warm_up((37, 53))  # rounded up to 40x56 inside
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 32, 64))
    assert b.run(x[..., ::2]).shape == (1, 3, 32, 32)


def test_a_gpu_plan_that_cannot_start_falls_back_and_says_so(onnx_file, monkeypatch, tmp_path):
    """Providers the plan asks for but ORT cannot start: the session runs on the CPU, the
    backend reports what really runs it, and the TensorRT engine cache folder is created."""
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(backends, "available_providers", lambda: [TRT, CUDA, CPU])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ORT warns about the providers it does not have
        b = OrtBackend(onnx_file, "auto", shape=(64, 64))
    if b.session.get_providers()[0] != CPU:
        pytest.skip("this onnxruntime really has TensorRT")
    assert b.provider == "ort-cpu"
    assert any("ort-trt could not start" in n and "ort-cpu" in n for n in b.notes)
    assert (tmp_path / "cache" / "trt").is_dir()
    assert b.run(np.zeros((1, 3, 64, 64), np.float32)).shape == (1, 3, 64, 64)
