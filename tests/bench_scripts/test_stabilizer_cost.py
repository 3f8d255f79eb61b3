"""bench/stabilizer_cost.py times real Stabilizer calls on a real (tiny) clip and writes them."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import make_clip

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import stabilizer_cost as sc  # noqa: E402


def test_cost_counts_every_call_but_the_first():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (40, 60, 3), np.uint8) for _ in range(4)]
    row = sc.cost(frames, (32, 24), repeats=2)
    assert row["size"] == "32x24" and row["calls"] == 2 * 3
    assert 0 < row["median_ms"] and 0 < row["mean_ms"]
    assert row["flow_side"] == 32  # a frame smaller than FLOW_SIDE: the flow runs on all of it


@pytest.mark.parametrize("text", ["640", "axb", "8x8"])
def test_a_bad_size_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="size must be"):
        sc.parse_size(text)


def test_the_script_writes_its_report(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=5, size=(64, 48))
    out = tmp_path / "cost"
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "stabilizer_cost.py"),
                          "--video", str(clip), "--sizes", "48x32", "64x48", "--repeats", "1",
                          "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["benchmark"] == "stabilizer_cost"
    assert [r["size"] for r in report["results"]] == ["48x32", "64x48"]
    assert all(r["calls"] == 4 for r in report["results"])
    assert "| 64x48 |" in out.with_suffix(".md").read_text()
