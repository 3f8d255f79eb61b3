"""bench/wct_defaults.py on the bundled photo and painting, small, with the shipped decoders."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.helpers import ASSETS, STYLE  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_wct_defaults_scores_every_method_under_one_loss(tmp_path):
    out = tmp_path / "wct"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "wct_defaults.py"), "--photos",
                           str(ASSETS / "tubingen.jpg"), "--paintings", str(STYLE), "--size",
                           "96", "--gatys-iterations", "2", "--matched-iterations", "3",
                           "--alphas", "1", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    methods = [r["method"] for r in report["results"]]
    assert methods == ["wct 3,2,1 (default)", "wct 4,3,2,1 (every decoder)",
                       "wct 3,2,1 alpha 1", "gatys 2 (noise)", "the painting itself"]
    assert report["default_levels"] == [3, 2, 1]
    assert all(r["content"] > 0 and r["style"] > 0 for r in report["results"])
    for r in report["results"]:  # Gatys from the photo: matched to the WCT rows only
        m = r.get("gatys_at_same_style")
        assert ("gatys_at_same_style" in r) == r["method"].startswith("wct")
        assert m is None or (m["style"] <= r["style"] and 1 <= m["iteration"] <= 3)
    md = out.with_suffix(".md").read_text()
    assert "| tubingen.jpg | starry_night_van_gogh.jpg | wct 4,3,2,1 (every decoder) |" in md
    assert "Gatys from the photo at the same style" in md


def test_wct_defaults_refuses_an_alpha_out_of_range(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "wct_defaults.py"), "--photos",
                           str(ASSETS / "tubingen.jpg"), "--paintings", str(STYLE),
                           "--alphas", "0.5,1.5", "--out", str(tmp_path / "x")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "alphas must be between 0 and 1" in done.stderr
