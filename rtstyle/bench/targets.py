"""The goals results are printed against. A goal that is not met stays visible; one that does
not apply to the machine the benchmark ran on says so ("not measured here (needs GPU)")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MET, NOT_MET = "met", "NOT MET"


@dataclass(frozen=True)
class Target:
    id: str
    text: str
    #: "h100", "gpu" or "cpu": the machine it applies to.
    needs: str
    #: records -> (measured value, how it is shown, met?) or None when the run lacks the case.
    check: Callable[[Sequence[dict]], tuple[float, str, bool] | None]
    missing: str


def run_record(records: Sequence[dict]) -> dict:
    return next((r for r in records if r.get("kind") == "run"), {})


def measured(records: Sequence[dict]) -> dict[str, dict]:
    return {r["key"]: r for r in records if r.get("kind") == "case"
            and r.get("status") == "measured"}


def _best_gpu(records, net: str, size: str, batch: int = 1) -> dict | None:
    found = [r for r in measured(records).values() if r["net"] == net and r["size"] == size
             and r["batch"] == batch and r.get("device") == "cuda"]
    return max(found, key=lambda r: r["fps"]) if found else None


def _h100_fps(records):
    best = _best_gpu(records, "full", "1280x720")
    if best is None:
        return None
    return best["fps"], f"{best['fps']:.0f} FPS ({best['backend']})", best["fps"] >= 1000


def _h100_vs_torch(records):
    best = _best_gpu(records, "full", "1280x720")
    base = measured(records).get("torch-eager-fp32/full/1280x720/b1")
    if best is None or base is None or base.get("device") != "cuda":
        return None
    ratio = best["fps"] / base["fps"]
    return ratio, f"{ratio:.1f}x ({best['backend']} vs torch eager fp32)", ratio >= 5


def _h100_floor(records):
    best = _best_gpu(records, "full", "1280x720")
    if best is None or best.get("frac_compute") is None:
        return None
    f = best["frac_compute"]
    return f, f"{f:.0%} ({best['backend']})", f >= 0.35


def _e2e_1080p(records):
    found = [r for r in records if r.get("kind") == "e2e-video" and r.get("status") == "measured"
             and r.get("device") == "cuda" and (r["width"], r["height"]) == (1920, 1080)]
    if not found:
        return None
    best = max(found, key=lambda r: r["fps"])
    return best["fps"], f"{best['fps']:.0f} FPS ({best['backend']}, {best['net']})", \
        best["fps"] >= 200


def _live_720p(records):
    found = [r for r in records if r.get("kind") == "live" and r.get("status") == "measured"
             and (r["width"], r["height"]) == (1280, 720)]
    if not found:
        return None
    best = min(found, key=lambda r: r["ms_added"]["median"])
    ms = best["ms_added"]["median"]
    return ms, f"{ms:.1f} ms median ({best['backend']}, {best['net']})", ms <= 5


def _cpu_lite(records):
    r = measured(records).get("ort-cpu-fp32/lite/640x360/b1")
    if r is None:
        return None
    return r["fps"], f"{r['fps']:.1f} FPS ({r['ms_median']:.0f} ms)", r["fps"] >= 20


TARGETS = (
    Target("h100-full-720p-fps", "H100: full net, 1280x720, batch 1: >= 1000 FPS", "h100",
           _h100_fps, "a GPU backend with --nets full --sizes 1280x720 --batch 1"),
    Target("h100-full-720p-vs-torch", "H100: the same case >= 5x torch eager fp32", "h100",
           _h100_vs_torch, "torch-eager-fp32 and a GPU backend, full, 1280x720, batch 1"),
    Target("h100-full-720p-floor", "H100: the same case >= 35% of the compute floor", "h100",
           _h100_floor, "a GPU backend with --nets full --sizes 1280x720 and the peaks"),
    Target("gpu-video-1080p", "GPU: rtstyle video end to end at 1920x1080 >= 200 FPS", "gpu",
           _e2e_1080p, "the end-to-end video run at 1920x1080 on a GPU backend"),
    Target("live-720p-added", "Live loop added latency at 1280x720 <= 5 ms", "gpu",
           _live_720p, "the live-loop run at 1280x720"),
    Target("cpu-lite-360p", "2-core CPU: lite net, 640x360, ORT CPU >= 20 FPS", "cpu",
           _cpu_lite, "ort-cpu with --nets lite --sizes 640x360 --batch 1"),
)


def applies(target: Target, run: dict) -> str | None:
    """None when ``target`` applies to the machine of ``run``, else why it does not."""
    gpu = run.get("gpu") or ""
    if target.needs == "h100" and "H100" not in gpu.upper():
        return "not measured here (needs an H100 GPU)" if gpu else \
            "not measured here (needs GPU: an H100)"
    if target.needs == "gpu" and not gpu:
        return "not measured here (needs GPU)"
    if target.needs == "cpu" and gpu:
        return "not measured here (a CPU-only target: this project's 2-core CPU)"
    return None


def evaluate(records: Sequence[dict]) -> list[dict[str, Any]]:
    """One record per target: what was measured and whether the target is met."""
    run = run_record(records)
    out = []
    for t in TARGETS:
        rec: dict[str, Any] = {"kind": "target", "id": t.id, "target": t.text,
                               "measured": None, "value": None}
        reason = applies(t, run)
        result = None if reason else t.check(records)
        if reason:
            rec["status"] = reason
        elif result is None:
            rec["status"] = f"not measured in this run (needs {t.missing})"
        else:
            value, shown, ok = result
            rec.update(value=round(value, 4), measured=shown, status=MET if ok else NOT_MET)
        out.append(rec)
    return out
