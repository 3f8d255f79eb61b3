"""bench/multistyle_vs_single.py: a tiny multi-style net placed on a tiny per-style net's
evaluation curves, with no Gatys rerun."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.helpers import ASSETS, cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_the_multi_net_is_scored_on_the_per_style_curves(tiny_model, multi_model, tmp_path,
                                                          capsys):
    evaluation = tmp_path / "evaluation"
    code, _, err = cli(["evaluate", "--model", tiny_model, "--images", ASSETS / "tubingen.jpg",
                        "--size", "32", "--iterations", "2,4", "--device", "cpu", "--out",
                        evaluation, "-q"], capsys)
    assert code == 0, err
    out = tmp_path / "cmp"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "multistyle_vs_single.py"),
                           "--multi", str(multi_model), "--evaluations",
                           f"starry={evaluation}", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = json.loads(out.with_suffix(".json").read_text())["results"]
    ev = json.loads((evaluation / "evaluation.json").read_text())["images"][0]
    assert row["style"] == "starry" and row["photo"] == "tubingen.jpg"
    assert row["single_equivalent"] == ev["equivalent_iterations"]
    assert row["multi_loss"] > 0 and row["multi_styles"] == 2
    assert row["multi_equivalent"] is None or 1 <= row["multi_equivalent"] <= 4
    assert "| starry | tubingen.jpg |" in out.with_suffix(".md").read_text()
    wrong = subprocess.run([sys.executable, str(ROOT / "bench" / "multistyle_vs_single.py"),
                            "--multi", str(multi_model), "--evaluations",
                            f"mona={evaluation}", "--out", str(out)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, check=False)
    assert wrong.returncode != 0 and "has no style 'mona'" in wrong.stderr
