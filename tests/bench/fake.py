"""Synthetic result records (what ``rtstyle bench`` writes) for the output, compare, targets
and README tests: no benchmark has to run."""

from __future__ import annotations


def run_record(device: str = "Test CPU, 2 cores", gpu: str | None = None,
               date: str = "2026-11-22") -> dict:
    from rtstyle.bench.runner import slug

    return {"kind": "run", "device": gpu or device, "slug": slug(gpu or device), "gpu": gpu,
            "cpu": device, "cpus_usable": 2, "date": date, "time": f"{date}T12:00:00+00:00",
            "command": "rtstyle bench --quick", "quick": True, "versions": {"onnxruntime": "1"},
            "peaks": {"cpu": {"device": "cpu", "tflops": {"fp32": 0.1}, "gbytes_per_s": 20.0,
                              "how": "test"}},
            "duration_s": 12.0}


def case(backend: str, net: str, size: str, batch: int, ms: float, device: str = "cpu",
         frac: float | None = 0.4) -> dict:
    w, h = (int(v) for v in size.split("x"))
    return {"kind": "case", "key": f"{backend}/{net}/{size}/b{batch}", "backend": backend,
            "net": net, "size": size, "width": w, "height": h, "batch": batch,
            "precision": backend.rsplit("-", 1)[1], "status": "measured",
            "runs_on": f"{backend} test", "device": device, "repeats": 5, "warmup": 1,
            "ms_median": ms, "ms_p90": ms * 1.1, "ms_p99": ms * 1.2, "ms_mean": ms,
            "ms_min": ms * 0.9, "fps": round(batch * 1000 / ms, 2), "frac_compute": frac,
            "frac_memory": 0.01}


def skipped(backend: str, net: str, size: str, batch: int, reason: str) -> dict:
    w, h = (int(v) for v in size.split("x"))
    return {"kind": "case", "key": f"{backend}/{net}/{size}/b{batch}", "backend": backend,
            "net": net, "size": size, "width": w, "height": h, "batch": batch,
            "precision": backend.rsplit("-", 1)[1], "status": "skipped", "reason": reason}


def records(scale: float = 1.0, slow: str | None = None, factor: float = 1.0, **run) -> list:
    """A quick-looking run; every latency times ``scale``, the ``slow`` case also by ``factor``."""
    base = [("ort-cpu-fp32", "lite", "256x256", 1, 20.0), ("ort-cpu-fp32", "lite", "640x360", 1, 60.0),
            ("ort-cpu-fp32", "full", "640x360", 1, 250.0), ("torch-eager-fp32", "lite", "640x360", 1, 100.0)]
    out = [run_record(**run)]
    for backend, net, size, batch, ms in base:
        key = f"{backend}/{net}/{size}/b{batch}"
        out.append(case(backend, net, size, batch, ms * scale * (factor if key == slow else 1)))
    out.append(skipped("ort-cuda-fp16", "lite", "640x360", 1, "no CUDAExecutionProvider"))
    return out
