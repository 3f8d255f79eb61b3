"""bench/flicker_table.py: real `rtstyle flicker` runs on a tiny clip, the target verdicts and
the table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_clip

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import flicker_table as ft  # noqa: E402


def row(variant, warp, style, farneback=None, **extra):
    r = {"clip": "c.mp4", "size": "64x48", "style": "s", "variant": variant,
         "warping_error": 1.0, "original": 0.5, "style_loss": 1.0, "warp_change": warp,
         "style_change": style, **extra}
    if farneback is not None:
        r.update(warping_error_farneback=1.0, original_farneback=0.5,
                 warp_change_farneback=farneback)
    return r


@pytest.mark.parametrize("dis, fb, verdict", [(True, True, "yes"), (True, False, "DIS only"),
                                             (False, False, "no")])
def test_the_verdict_needs_both_flows(dis, fb, verdict):
    assert ft.met({"meets_targets": dis and fb, "meets_targets_dis": dis}) == verdict


def test_the_markdown_table_has_a_row_per_run():
    rows = [row("per-frame", 0.0, 0.0, 0.0, meets_targets=False, meets_targets_dis=False),
            row("--stabilize", -0.5, 0.05, -0.3, meets_targets=False, meets_targets_dis=True)]
    lines = ft.markdown(rows).splitlines()
    assert lines[0].count("|") == 11 and len(lines) == 4
    assert "-50%" in lines[3] and "-30%" in lines[3] and "DIS only" in lines[3]


def test_the_script_measures_every_variant(tmp_path, model_copy):
    from rtstyle.train import export

    export.export(model_copy)
    (tmp_path / "clips").mkdir()
    make_clip(tmp_path / "clips" / "clip.mp4", frames=4, size=(64, 48))
    out = tmp_path / "table"
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "flicker_table.py"), "--videos",
                          str(tmp_path / "clips"), "--frames", "3", "--style", str(model_copy),
                          "--variant", f"again={model_copy}", "--style-loss-frames", "2",
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    rows = report["results"]
    assert [r["variant"] for r in rows] == ["per-frame", "--stabilize", "again",
                                            "again + --stabilize"]
    per_frame, _, again, _ = rows
    assert per_frame["warping_error"] > 0 and per_frame["style_loss"] > 0
    # the same net measured again gives the same numbers (deterministic net and flows)
    assert again["warping_error"] == pytest.approx(per_frame["warping_error"], rel=1e-6)
    assert again["warp_change"] == pytest.approx(0.0, abs=1e-6)
    assert again["warping_error_farneback"] == pytest.approx(
        per_frame["warping_error_farneback"], rel=1e-6)
    assert not again["meets_targets"]
    assert all("rtstyle flicker" in r["command"] for r in rows)
    assert out.with_suffix(".md").read_text().count("clip.mp4") == 4
