"""bench/add_style_vs_single.py: a painting added to a tiny multi-style net and a tiny one-style
net fine-tuned for the same minutes, the added style scored on the one-style net's curves."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.helpers import ASSETS, TINY  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_both_runs_train_for_the_same_minutes_and_are_compared(multi_model, tiny_model, photos,
                                                                tmp_path):
    out, runs = tmp_path / "cmp", tmp_path / "runs"
    tiny = [a for a in TINY if a not in ("--net", "tiny", "--quiet")]
    argv = [sys.executable, str(ROOT / "bench" / "add_style_vs_single.py"), "--multi",
            str(multi_model), "--painting", str(ASSETS / "starry_night_van_gogh.jpg"), "--name",
            "starry2", "--single-init", str(tiny_model), "--minutes", "0.01", "--data",
            str(photos), "--runs", str(runs), "--images", str(ASSETS / "tubingen.jpg"),
            "--size", "32", "--iterations", "2,4", "--train-args", " ".join(tiny),
            "--out", str(out)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = json.loads(out.with_suffix(".json").read_text())["results"]
    assert row["style"] == "starry2" and row["photo"] == "tubingen.jpg"
    assert row["multi_styles"] == 3  # the two styles of the multi net and the added one
    for run in ("added", "single"):
        meta = json.loads((runs / run / "model" / "model.json").read_text())["training"]
        assert meta["steps"] >= 1 and meta["seconds"] < 60
        assert row[f"{run}_steps"] == meta["steps"]
    ev = json.loads((runs / "single" / "evaluation" / "evaluation.json").read_text())
    assert row["single_equivalent"] == ev["images"][0]["equivalent_iterations"]
    assert "| tubingen.jpg |" in out.with_suffix(".md").read_text()
    assert out.with_suffix(".jpg").stat().st_size > 1000
    # --reuse keeps both runs: same steps, same wall times
    again = subprocess.run([*argv, "--reuse"], cwd=ROOT, capture_output=True, text=True,
                           timeout=600, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    (row2,) = json.loads(out.with_suffix(".json").read_text())["results"]
    assert {k: row2[k] for k in ("added_steps", "single_steps", "added_wall_s")} == \
        {k: row[k] for k in ("added_steps", "single_steps", "added_wall_s")}
