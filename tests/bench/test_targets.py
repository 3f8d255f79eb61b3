"""The targets: met / NOT MET from the records, and 'not measured here' where a target does
not apply to the machine (no GPU, not an H100, a CPU-only target on a GPU machine)."""

from __future__ import annotations

from rtstyle.bench import targets
from tests.bench.fake import case, records, run_record


def by_id(recs):
    return {t["id"]: t for t in targets.evaluate(recs)}


def test_on_a_cpu_the_gpu_targets_are_not_measured_here():
    t = by_id(records())
    for gpu_target in ("h100-full-720p-fps", "h100-full-720p-vs-torch", "h100-full-720p-floor",
                       "gpu-video-1080p", "live-720p-added"):
        assert t[gpu_target]["status"].startswith("not measured here (needs GPU")
    assert t["cpu-lite-360p"]["status"] == "NOT MET"  # 60 ms = 16.7 FPS in the fake run
    assert t["cpu-lite-360p"]["measured"] == "16.7 FPS (60 ms)"


def test_the_cpu_target_met_and_missing():
    recs = records(scale=0.5)  # lite 640x360 at 30 ms
    assert by_id(recs)["cpu-lite-360p"]["status"] == "met"
    without = [r for r in recs if r.get("key") != "ort-cpu-fp32/lite/640x360/b1"]
    assert by_id(without)["cpu-lite-360p"]["status"].startswith("not measured in this run")


def test_h100_targets():
    run = run_record(gpu="NVIDIA H100 80GB HBM3")
    fast = case("ort-trt-fp16", "full", "1280x720", 1, 0.8, device="cuda", frac=0.42)
    base = case("torch-eager-fp32", "full", "1280x720", 1, 10.0, device="cuda")
    t = by_id([run, fast, base])
    assert t["h100-full-720p-fps"]["status"] == "met"
    assert t["h100-full-720p-fps"]["measured"] == "1250 FPS (ort-trt-fp16)"
    assert t["h100-full-720p-vs-torch"]["status"] == "met"  # 12.5x
    assert t["h100-full-720p-floor"]["status"] == "met"
    assert t["cpu-lite-360p"]["status"].startswith("not measured here (a CPU-only target")
    assert t["gpu-video-1080p"]["status"].startswith("not measured in this run")
    slow = case("ort-trt-fp16", "full", "1280x720", 1, 2.5, device="cuda", frac=0.2)  # 4x
    t = by_id([run, slow, base])
    assert [t[k]["status"] for k in ("h100-full-720p-fps", "h100-full-720p-vs-torch",
                                     "h100-full-720p-floor")] == ["NOT MET"] * 3


def test_another_gpu_is_not_an_h100():
    t = by_id([run_record(gpu="NVIDIA A10G")])
    assert t["h100-full-720p-fps"]["status"] == "not measured here (needs an H100 GPU)"
    assert t["gpu-video-1080p"]["status"].startswith("not measured in this run")
