"""bench/train_speed.py and bench/train_curve.py, run for real on tiny nets and photos."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

pytest.importorskip("torch")

from tests.helpers import ASSETS, STYLE, TINY  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_train_speed_compares_real_runs_from_one_seed(photos, tmp_path):
    out, held = tmp_path / "speed", tmp_path / "held"
    held.mkdir()
    photo = cv2.imread(str(ASSETS / "tubingen.jpg"))
    cv2.imwrite(str(held / "a.png"), cv2.resize(photo, (40, 30)))
    cv2.imwrite(str(held / "b.jpg"), cv2.resize(photo[::-1], (30, 40)))
    run("train_speed.py", "--data", photos, "--style", STYLE, "--nets", "tiny:8",
        "--recipes", "before,bf16-loss", "--image-size", "32", "--batch-size", "2",
        "--skip", "2", "--held-out", held, "--out", out)
    report = json.loads(out.with_suffix(".json").read_text())
    before, other = report["results"]
    assert before["recipe"] == "float32 (before)" and before["speedup"] == 1.0
    assert other["flags"] == "--amp bf16-loss" and other["steps"] == 8
    assert other["seconds_per_step"] > 0 and abs(other["loss_change"]) < 0.5
    assert before["held_out_change"] == 0.0 and before["held_out_loss"] > 0
    assert abs(other["held_out_change"]) < 0.5
    md = out.with_suffix(".md").read_text()
    assert "| tiny | bf16 in the loss network only | 8 |" in md and "held-out vs float32" in md


def test_train_curve_scores_every_checkpoint_against_one_gatys_curve(photos, tmp_path):
    from rtstyle.cli import main

    snaps = tmp_path / "snaps"
    snaps.mkdir()
    run_dir = tmp_path / "run"
    first = ["train", "--style", STYLE, "--data", photos, "--out", run_dir, "--steps", 2, *TINY]
    assert main([str(a) for a in first]) == 0
    shutil.copy(run_dir / "checkpoint.pt", snaps / "step2.pt")
    assert main(["train", "--out", str(run_dir), "--resume", "--steps", "4", "--quiet"]) == 0
    shutil.copy(run_dir / "checkpoint.pt", snaps / "step4.pt")
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(ASSETS / "tubingen.jpg")), (40, 30)))
    cache, out = tmp_path / "gatys.json", tmp_path / "curve"
    run("train_curve.py", "--checkpoints", snaps, "--images", photo, "--size", 40,
        "--iterations", 5, "--gatys-cache", cache, "--out", out)
    rows = json.loads(out.with_suffix(".json").read_text())["results"]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(len(r["equivalent_iterations"]) == 1 for r in rows)
    assert len(json.loads(cache.read_text())) == 1  # one photo: one cached curve
    assert out.with_suffix(".png").is_file() and (tmp_path / "curve_grid.jpg").is_file()
    again = run("train_curve.py", "--checkpoints", snaps, "--images", photo, "--size", 40,
                "--iterations", 5, "--gatys-cache", cache, "--out", out)
    assert "Gatys" not in again.stdout  # the cached curve is reused


def test_loss_sweep_fine_tunes_one_net_per_variant_and_reuses_finished_ones(tiny_model, photos,
                                                                            tmp_path):
    out = tmp_path / "sweep"
    args = ["--init", tiny_model, "--style", STYLE, "--data", photos, "--steps", 1,
            "--extra", "--image-size 32 --batch-size 2 --workers 0 --device cpu",
            "--variant", "sw10=--style-weight 10", "--variant", "sw30=--style-weight 30",
            "--out", out]
    first = run("loss_sweep.py", *args)
    for name, weight in (("sw10", 10.0), ("sw30", 30.0)):
        meta = json.loads((out / name / "model" / "model.json").read_text())
        assert meta["recipe"]["config"]["loss"]["style_weight"] == weight
        assert meta["training"]["init"]["steps"] == 3 and (out / name / "model" /
                                                           "model.onnx").is_file()
    assert "sw30: " in first.stdout
    assert meta["style"]["name"] == "starry_night_van_gogh"  # the init's painting: its name
    again = run("loss_sweep.py", *args)
    assert "sw10: done" in again.stdout and "sw30: done" in again.stdout


def test_loss_curves_reads_real_runs_and_counts_the_steps_before_an_init(tiny_model, photos,
                                                                       tmp_path):
    from rtstyle.cli import main

    fine = tmp_path / "fine"
    args = ["train", "--init", tiny_model, "--style", STYLE, "--data", photos, "--out", fine,
            "--steps", 6, *TINY]
    assert main([str(a) for a in args]) == 0
    out = tmp_path / "losses"
    run("loss_curves.py", tiny_model.parent, fine, "--window", 2, "--tail", 3, "--out", out)
    first, second = json.loads(out.with_suffix(".json").read_text())["results"]
    assert (first["from_steps"], first["steps"]) == (0, 3)
    assert (second["from_steps"], second["steps"], second["tail_steps"]) == (3, 6, 3)
    totals = [float(r["total"]) for r in csv.DictReader((fine / "losses.csv").open())]
    assert second["last_window"] == pytest.approx(sum(totals[-2:]) / 2)
    assert second["tail_change"] == pytest.approx(
        second["last_window"] / (sum(totals[1:3]) / 2) - 1)
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "| fine | 3 | 6 |" in out.with_suffix(".md").read_text()


def test_loss_curves_refuses_a_folder_without_losses(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "loss_curves.py"), str(tmp_path),
                           "--out", str(tmp_path / "x")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "has no losses.csv" in done.stderr
