"""Result files: named by device and date, JSON lines that read back, a Markdown report with
every section, a PNG chart; bad results files are refused with a clear message."""

from __future__ import annotations

import json

import cv2
import pytest

from rtstyle.bench import output
from rtstyle.bench.output import ResultsError
from tests.bench.fake import records


def test_files_are_written_named_by_device_and_date_and_read_back(tmp_path):
    recs = records()
    paths = output.write(recs, tmp_path / "results")
    assert paths["jsonl"].name == "test-cpu-2-cores_2026-11-22.jsonl"
    assert paths["md"].name == "test-cpu-2-cores_2026-11-22.md"
    assert output.read(paths["jsonl"]) == recs
    lines = paths["jsonl"].read_text().splitlines()
    assert len(lines) == len(recs) and all(json.loads(line)["kind"] for line in lines)
    pytest.importorskip("matplotlib")
    image = cv2.imread(str(paths["png"]))
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 300
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == sorted(
        p.name for p in paths.values())  # no temporary files left


def test_markdown_has_cases_skips_and_the_run():
    text = output.markdown(records())
    assert text.startswith("# rtstyle bench: Test CPU, 2 cores, 2026-11-22")
    assert "`rtstyle bench --quick`" in text
    assert "| ort-cpu-fp32 | lite | 640x360 | 1 | ort-cpu-fp32 test | 60.0 | 66.0 | 72.0 | " \
           "16.7 | 40% | 1.0% |" in text
    assert "| ort-cuda-fp16 | lite | 640x360 | 1 | skipped | no CUDAExecutionProvider |" in text
    assert "cpu: 0.1 TFLOP/s fp32, 20 GB/s copy" in text


def test_targets_that_are_not_met_stay_visible():
    from rtstyle.bench import targets

    recs = records()
    recs[2] = {**recs[2], "ms_median": 80.0, "fps": 12.5}  # lite 640x360: below 20 FPS
    text = output.markdown(recs + targets.evaluate(recs))
    assert "| 2-core CPU: lite net, 640x360, ORT CPU >= 20 FPS | 12.5 FPS (80 ms) | " \
           "**NOT MET** |" in text
    assert "not measured here (needs GPU)" in text


def test_end_to_end_lines():
    video = {"kind": "e2e-video", "status": "measured", "backend": "ort-cpu-fp32", "net": "lite",
             "runs_on": "ort-cpu (fp32)", "width": 320, "height": 240, "batch": 1, "frames": 120,
             "fps": 24.5, "ms_per_frame": {"decode": 1.5, "inference": 38.0, "encode": 4.0},
             "encoder": "libx264 crf 18 preset medium", "ms_upload": None,
             "copies": "on the CPU there are no copies"}
    live = {"kind": "live", "status": "measured", "backend": "ort-cpu-fp32", "net": "lite",
            "runs_on": "ort-cpu (fp32)", "width": 320, "height": 240, "frames": 60,
            "source_fps": 30.0, "fps": 22.0, "dropped": 20,
            "ms_capture_to_display": {"median": 45.0, "p90": 60.0, "p99": 70.0},
            "ms_inference": {"median": 38.0, "p90": 40.0, "p99": 41.0},
            "ms_added": {"median": 7.0, "p90": 20.0, "p99": 30.0}}
    text = output.markdown(records() + [video, live])
    assert "**24.5 FPS**" in text and "inference 38.00" in text
    assert "on the CPU there are no copies" in text
    assert "**added latency 7.0 ms** median (p90 20.0 ms)" in text


@pytest.mark.parametrize("content, needle", [
    (None, "results file not found"),
    ("not json\n", "line 1: not JSON"),
    ('{"kind": "case"}\n', "no run record"),
    ('[1, 2]\n', "not an rtstyle bench record"),
])
def test_bad_results_files(tmp_path, content, needle):
    path = tmp_path / "r.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ResultsError, match=needle):
        output.read(path)


def test_out_must_be_a_folder(tmp_path):
    from rtstyle.errors import InputError

    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="must be a folder"):
        output.write(records(), tmp_path / "file")
