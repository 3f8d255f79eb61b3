"""bench/edge_margin.py on the bundled photo with the shipped starry night lite net."""

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import ASSETS

ROOT = Path(__file__).resolve().parents[2]


def test_edge_margin_measures_the_rim_at_each_margin(tmp_path):
    out = tmp_path / "edges"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "edge_margin.py"), "--models",
                           str(ROOT / "models" / "starry_night_lite"), "--photos",
                           str(ASSETS / "tubingen.jpg"), "--margins", "0,4", "--size", "256",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = json.loads(out.with_suffix(".json").read_text())["results"]
    assert row["model"] == "starry_night_lite" and row["photo"] == "tubingen.jpg"
    assert row["margin 4"] < row["margin 0"]  # the margin takes the rim out of the picture
    assert "| starry_night_lite | tubingen.jpg |" in out.with_suffix(".md").read_text()
