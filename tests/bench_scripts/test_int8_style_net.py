"""bench/experiments/int8_style_net.py on the shipped Starry Night lite net, at a tiny size:
the int8 copy is a real, different graph that stays close to float32, and both are timed."""

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime.quantization")
pytest.importorskip("onnx")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "experiments"))
import int8_style_net  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_the_probe_reports_psnr_and_both_timings(photos, capsys):
    assert int8_style_net.main(["--model", str(ROOT / "models" / "starry_night_lite"),
                                "--calibration", str(photos), "--photos", str(photos),
                                "--size", "64x48", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"int8 vs float32 PSNR on (\d+) photos: mean ([0-9.]+) dB, min ([0-9.]+) dB",
                  out)
    assert m and int(m.group(1)) >= 2
    assert 20 < float(m.group(3)) <= float(m.group(2)) < 80  # close, but not the same graph
    assert len(re.findall(r"(fp32|int8): [0-9.]+ ms per frame", out)) == 2
