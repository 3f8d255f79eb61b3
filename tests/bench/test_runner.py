"""A whole (tiny) benchmark run through the runner: the tiny trained style and untrained WCT
graphs at 32 px, every case recorded once (measured, or skipped with its reason), floors and
fractions, the end-to-end video and live-loop runs on a tiny clip, the targets; and the
benchmark without torch. Nothing about speed is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from rtstyle.bench import floors, matrix, runner
from rtstyle.bench.floors import Peak
from tests.helpers import BLOCK_TORCH, make_clip


@pytest.fixture
def fixed_peak(monkeypatch):
    """The peak measurement is replaced by fixed numbers (it takes seconds and is noisy)."""
    peak = Peak("cpu", {"fp32": 50e9}, 10e9, "fixed for the test")
    monkeypatch.setattr(floors, "cpu_peak", lambda: peak)
    return peak


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("bench_clip") / "clip.mp4", frames=10,
                     size=(64, 48), audio=False)


def test_a_tiny_run_records_every_case_once(tiny_net, tiny_wct, clip, tmp_path, fixed_peak):
    cases = matrix.cases(backends=("ort-cpu-fp32", "ort-cpu-int8", "torch-eager-fp32",
                                   "ort-cuda-fp32"),
                         nets=("lite", "wct"), sizes=((32, 32), (48, 32)), batches=(1, 2))
    settings = runner.Settings(warmup=1, min_repeats=2, max_seconds=0.0, clip=clip,
                               e2e_frames=6, live_frames=4, quick=True,
                               models={"lite": tiny_net, "wct": tiny_wct})
    steps = []
    records = runner.run(cases, settings, tmp_path / "work",
                         lambda done, total, label: steps.append((done, total, label)),
                         command="rtstyle bench --test")
    run = records[0]
    assert run["kind"] == "run" and run["command"] == "rtstyle bench --test"
    assert run["peaks"]["cpu"]["how"] == "fixed for the test" and run["duration_s"] >= 0
    got = {r["key"]: r for r in records if r["kind"] == "case"}
    assert sorted(got) == sorted(c.key for c in cases)
    assert len([r for r in records if r["kind"] == "case"]) == len(cases)

    for key, r in got.items():
        if key.startswith("ort-cpu-fp32/"):
            assert r["status"] == "measured", r
            assert r["repeats"] >= 2 and r["ms_median"] > 0 and r["fps"] > 0
            assert r["ms_p90"] >= r["ms_median"] and r["device"] == "cpu"
            assert r["gflops"] > 0 and r["frac_compute"] > 0 and r["frac_memory"] > 0
            assert r["ms_upload"] is None and "no copies" in r["copies"]
    assert got["ort-cpu-fp32/wct/32x32/b2"]["runs_on"] == "WCT relu2_1, ort-cpu (fp32)"
    int8 = got["ort-cpu-int8/wct/48x32/b1"]
    assert int8["status"] == "measured" and int8["runs_on"] == "WCT relu2_1, ort-cpu (int8)"
    assert got["ort-cpu-int8/lite/32x32/b1"]["status"] == "skipped"
    assert "only the WCT real-time graph" in got["ort-cpu-int8/lite/32x32/b1"]["reason"]
    # the WCT graph runs once per frame: batch 2 costs twice batch 1
    assert got["ort-cpu-fp32/wct/32x32/b2"]["gflops"] == pytest.approx(
        2 * got["ort-cpu-fp32/wct/32x32/b1"]["gflops"], rel=1e-3)
    assert got["torch-eager-fp32/lite/48x32/b2"]["status"] == "measured"
    assert got["torch-eager-fp32/lite/48x32/b2"]["runs_on"].startswith("torch")
    assert got["torch-eager-fp32/wct/32x32/b1"]["status"] == "skipped"
    assert "ONNX Runtime only" in got["torch-eager-fp32/wct/32x32/b1"]["reason"]
    cuda = got["ort-cuda-fp32/lite/32x32/b1"]
    assert cuda["status"] == "skipped" and "CUDAExecutionProvider" in cuda["reason"]

    video = next(r for r in records if r["kind"] == "e2e-video")
    assert video["status"] == "measured", video
    assert (video["frames"], video["width"], video["height"]) == (6, 64, 48)
    assert set(video["ms_per_frame"]) == {"decode", "inference", "encode"}
    assert video["backend"] == "ort-cpu-fp32" and video["net"] == "lite"
    assert "no copies" in video["copies"]
    live = next(r for r in records if r["kind"] == "live")
    assert live["status"] == "measured", live
    assert live["frames"] == 4 and (live["width"], live["height"]) == (64, 48)
    assert live["ms_added"]["median"] is not None
    assert live["ms_capture_to_display"]["median"] >= live["ms_added"]["median"]

    assert [t["id"] for t in records if t["kind"] == "target"] == \
        [t.id for t in __import__("rtstyle.bench.targets", fromlist=["TARGETS"]).TARGETS]
    assert steps[-1][0] == steps[-1][1] and [s[0] for s in steps] == sorted(s[0] for s in steps)
    json.dumps(records)  # every record is plain JSON


def test_end_to_end_is_skipped_with_a_reason_without_an_ort_backend(tiny_net, tmp_path):
    cases = matrix.cases(backends=("torch-eager-fp32",), nets=("lite",), sizes=((32, 32),),
                         batches=(1,))
    settings = runner.Settings(warmup=0, min_repeats=1, max_seconds=0.0, peaks=False,
                               models={"lite": tiny_net})
    records = runner.run(cases, settings, tmp_path / "work")
    for kind in ("e2e-video", "live"):
        r = next(r for r in records if r["kind"] == kind)
        assert r["status"] == "skipped" and "ONNX Runtime backend" in r["reason"]


def test_the_benchmark_runs_without_torch(tiny_net, tmp_path):
    """rtstyle.bench imports without torch; torch cases and random nets are skipped, saying
    why, and the ONNX Runtime cases still run."""
    out = tmp_path / "out"
    script = BLOCK_TORCH + textwrap.dedent(f"""
        import os
        os.environ["RTSTYLE_NO_SHIPPED_STYLES"] = "1"
        os.environ["RTSTYLE_MODELS"] = {str(tmp_path / "none")!r}
        import rtstyle.bench.backends, rtstyle.bench.compare, rtstyle.bench.e2e
        import rtstyle.bench.floors, rtstyle.bench.matrix, rtstyle.bench.nets
        import rtstyle.bench.output, rtstyle.bench.docs_page, rtstyle.bench.runner
        import rtstyle.bench.targets, rtstyle.bench.timing, rtstyle.cli.bench
        assert "torch" not in sys.modules
        from rtstyle.cli import main
        code = main(["bench", "--backends", "ort-cpu,torch,torch-compile", "--nets", "lite,full",
                     "--sizes", "32x32", "--batch", "1", "--model", "lite={tiny_net}",
                     "--repeats", "1", "--max-seconds", "0", "--warmup", "0", "--no-peaks",
                     "--no-e2e", "--out", {str(out)!r}, "--quiet"])
        assert "torch" not in sys.modules, "the benchmark imported torch"
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("*.jsonl")
    got = {r["key"]: r for r in map(json.loads, path.read_text().splitlines())
           if r["kind"] == "case"}
    assert got["ort-cpu-fp32/lite/32x32/b1"]["status"] == "measured"
    assert got["torch-eager-fp32/lite/32x32/b1"]["reason"].startswith("needs torch")
    assert got["torch-compile-fp16/lite/32x32/b1"]["reason"].startswith("needs torch")
    assert "needs torch to export" in got["ort-cpu-fp32/full/32x32/b1"]["reason"]
