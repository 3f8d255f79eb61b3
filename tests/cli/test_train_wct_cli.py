"""``rtstyle train-wct`` at the CLI boundary: a good tiny run writes a complete run folder and
reports the reconstruction PSNR; --resume continues exactly and keeps the evaluation photos;
every user mistake is a one-line ``rtstyle...`` message and a non-zero exit."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from rtstyle import assets, metadata
from rtstyle.cli import main
from rtstyle.train import checkpoint
from rtstyle.train.wct import trainer as wct_trainer

from tests.helpers import assert_one_line_error, cli

#: Flags that make `rtstyle train-wct --level 1` take a fraction of a second per step on a CPU.
WCT_TINY = ["--image-size", "32", "--batch-size", "2", "--workers", "0", "--device", "cpu",
            "--preview-every", "0", "--eval-size", "48", "--quiet"]
RUN_FILES = {"config.json", "losses.csv", "losses.png", "checkpoint.pt", "previews", "model"}
CSV_HEADER = ["step", "pixel", "feature", "total", "images_per_s", "seconds"]


def wct_args(out, *extra, level=1, data=None, steps=None):
    argv = ["train-wct", "--out", out, *WCT_TINY]
    if level is not None:
        argv += ["--level", level]
    if data is not None:
        argv += ["--data", data]
    if steps is not None:
        argv += ["--steps", steps]
    return [*argv, *extra]


def run_quietly(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def losses(run: Path) -> list[list[float]]:
    with open(run / "losses.csv", newline="") as f:
        return [[float(r[k]) for k in ("step", "pixel", "feature", "total")]
                for r in csv.DictReader(f)]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, photos, held_out) -> dict:
    """A good level-1 run of 4 steps with two held-out photos, trained once per module."""
    run = tmp_path_factory.mktemp("good") / "run"
    argv = wct_args(run, "--eval-images", held_out / "alpha.png", held_out / "beta.jpg",
                    data=photos, steps=4)
    code, out, err = run_quietly(argv)
    assert code == 0, err
    return {"run": run, "out": out, "err": err}


@pytest.fixture
def old_run(good_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(good_run["run"], run)
    return run


# --- a good run ----------------------------------------------------------------------------------

def test_a_good_run_reports_psnr_and_writes_the_run_folder(good_run):
    run, out = good_run["run"], good_run["out"]
    assert good_run["err"] == ""
    assert "trained relu1_1 decoder: 4 steps" in out
    meta = metadata.read(run / "model")
    psnr = meta["evaluation"]["psnr_db"]
    assert f"reconstruction PSNR {psnr:.2f} dB on 2 held-out image(s)" in out
    assert f"model: {run / 'model'}" in out
    assert RUN_FILES <= {p.name for p in run.iterdir()}
    rows = read_csv(run / "losses.csv")
    assert rows[0] == CSV_HEADER
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r)
    assert (run / "losses.png").stat().st_size > 0
    assert [p.name for p in (run / "previews").iterdir()] == ["step_000004.jpg"]
    assert checkpoint.load(run / "checkpoint.pt")["step"] == 4
    assert {"model.json", "model.safetensors", "preview.jpg"} <= {
        p.name for p in (run / "model").iterdir()}


def test_the_model_folder_records_level_and_held_out_psnr(good_run, held_out):
    meta = metadata.read(good_run["run"] / "model")
    assert meta["kind"] == "wct-decoder" and meta["net"]["level"] == 1
    ev = meta["evaluation"]
    assert isinstance(ev["psnr_db"], float) and math.isfinite(ev["psnr_db"])
    assert ev["images"] == 2 and set(ev["per_image"]) == {"alpha", "beta"}
    assert all(math.isfinite(v) for v in ev["per_image"].values())
    assert max(ev["size"]) <= 48  # --eval-size
    assert meta["recipe"]["preset"] == "li2017"
    dec, _ = wct_trainer.load_decoder(good_run["run"] / "model")
    assert dec.level == 1 and not dec.training
    state = checkpoint.load(good_run["run"] / "checkpoint.pt")
    assert state["eval_paths"] == [str((held_out / "alpha.png").resolve()),
                                   str((held_out / "beta.jpg").resolve())]
    assert state["eval_size"] == 48


def test_without_eval_images_the_bundled_photo_is_evaluated(photos, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = cli(wct_args(run, data=photos, steps=1), capsys)
    assert code == 0, err
    assert "on 1 held-out image(s)" in out
    ev = metadata.read(run / "model")["evaluation"]
    assert list(ev["per_image"]) == [Path(assets.DEMO_CONTENT).stem]


def test_steps_then_resume_reproduces_an_uninterrupted_run(old_run, photos, tmp_path, capsys):
    reference = tmp_path / "reference"
    code, _, err = cli(wct_args(reference, data=photos, steps=6), capsys)
    assert code == 0, err
    code, out, err = cli(["train-wct", "--out", old_run, "--resume", "--steps", 6, "--quiet"],
                         capsys)
    assert code == 0, err
    assert "trained relu1_1 decoder: 6 steps" in out
    np.testing.assert_allclose(losses(old_run), losses(reference), rtol=1e-5)
    assert checkpoint.load(old_run / "checkpoint.pt")["step"] == 6
    # the held-out photos (and size) of the first start are kept by --resume
    ev = metadata.read(old_run / "model")["evaluation"]
    assert set(ev["per_image"]) == {"alpha", "beta"} and max(ev["size"]) <= 48
    assert metadata.read(old_run / "model")["training"]["steps"] == 6


# --- mistakes: one line, non-zero, nothing lost ---------------------------------------------------

@pytest.mark.parametrize("case", [
    ("no-level", dict(level=None), ["--level is required"]),
    ("no-data", dict(data=None), ["--data is required"]),
    ("level-7", dict(level=7), ["1..5", "got 7"]),
    ("level-0", dict(level=0), ["1..5"]),
], ids=lambda c: c[0])
def test_missing_or_bad_level_and_data(case, photos, tmp_path, capsys):
    _, kw, needles = case
    out = tmp_path / "run"
    status, stdout, err = cli(wct_args(out, **{"data": photos, "steps": 1, **kw}), capsys)
    assert status == 1
    assert_one_line_error(err, *needles)
    assert stdout == ""
    assert not out.exists()


def test_init_continues_a_decoder_in_a_new_run_and_counts_its_steps(good_run, photos, tmp_path,
                                                                   capsys):
    """--init DECODER: the level comes from the decoder, training starts from its weights
    (the first step's loss is the decoder's, far below a random decoder's), and the model's
    training section counts the steps behind it."""
    start = good_run["run"] / "model"
    out = tmp_path / "more"
    status, stdout, err = cli(wct_args(out, "--init", start, level=None, data=photos, steps=2),
                              capsys)
    assert status == 0, err
    assert "trained relu1_1 decoder: 2 steps" in stdout
    meta = metadata.read(out / "model")
    assert meta["net"]["level"] == 1 and meta["recipe"]["config"]["init"] == str(start.resolve())
    training = meta["training"]
    assert training["steps"] == 2 and training["total_steps"] == 4 + 2
    fresh = tmp_path / "fresh"
    assert cli(wct_args(fresh, data=photos, steps=2), capsys)[0] == 0
    assert losses(out)[0][3] < losses(fresh)[0][3]


@pytest.mark.parametrize("case", [
    ("other-level", lambda start: ["--init", start, "--level", 2], ["relu1_1 decoder", "--level 1"]),
    ("not-a-decoder", lambda start: ["--init", start.parent / "checkpoint.pt"], ["model.json"]),
], ids=lambda c: c[0])
def test_a_bad_init_is_a_one_line_error(case, good_run, photos, tmp_path, capsys):
    _, extra, needles = case
    out = tmp_path / "run"
    argv = wct_args(out, *extra(good_run["run"] / "model"), level=None, data=photos, steps=1)
    status, stdout, err = cli(argv, capsys)
    assert status == 1
    assert_one_line_error(err, *needles)
    assert not out.exists()


def test_init_cannot_change_on_resume(old_run, capsys):
    before = snapshot(old_run)
    status, _, err = cli(["train-wct", "--out", old_run, "--resume", "--init",
                          old_run / "model"], capsys)
    assert status == 1
    assert_one_line_error(err, "--init cannot change on --resume")
    assert snapshot(old_run) == before


def test_image_size_must_fit_the_level(photos, tmp_path, capsys):
    out = tmp_path / "run"
    status, _, err = cli(wct_args(out, "--image-size", 36, level=4, data=photos, steps=1),
                         capsys)
    assert status == 1
    assert_one_line_error(err, "multiple of 8", "level 4")
    assert not out.exists()


def test_resume_without_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    status, _, err = cli(["train-wct", "--out", out, "--resume"], capsys)
    assert status == 1
    assert_one_line_error(err, "nothing to resume", "checkpoint.pt")
    assert list(out.iterdir()) == []


def test_resume_with_force_contradicts(old_run, capsys):
    before = snapshot(old_run)
    status, _, err = cli(["train-wct", "--out", old_run, "--resume", "--force"], capsys)
    assert status == 1
    assert_one_line_error(err, "--resume and --force")
    assert snapshot(old_run) == before


def test_resume_cannot_change_the_level(old_run, capsys):
    before = snapshot(old_run)
    status, _, err = cli(["train-wct", "--out", old_run, "--resume", "--level", 2, "--steps", 5],
                         capsys)
    assert status == 1
    assert_one_line_error(err, "cannot resume with a different recipe", "level")
    assert snapshot(old_run) == before


def test_an_existing_run_needs_force(old_run, photos, capsys):
    before = snapshot(old_run)
    status, _, err = cli(wct_args(old_run, data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "already exists", "--resume", "--force")
    assert snapshot(old_run) == before


def test_a_johnson_run_is_not_resumed_as_a_wct_run(tiny_run, tmp_path, capsys):
    run = tmp_path / "johnson"
    shutil.copytree(tiny_run, run)
    before = snapshot(run)
    status, stdout, err = cli(["train-wct", "--out", run, "--resume", "--quiet"], capsys)
    assert status == 1
    assert_one_line_error(err, "not a WCT decoder run", "rtstyle train --resume")
    assert stdout == ""
    assert snapshot(run) == before


@pytest.mark.parametrize("which", ["missing", "corrupt", "empty-folder"])
def test_bad_eval_images_are_one_line_errors(which, photos, tmp_path, capsys):
    bad = {"missing": tmp_path / "missing.jpg", "corrupt": tmp_path / "corrupt.jpg",
           "empty-folder": tmp_path / "empty"}[which]
    if which == "corrupt":
        bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    elif which == "empty-folder":
        bad.mkdir()
    out = tmp_path / "run"
    status, stdout, err = cli(wct_args(out, "--eval-images", bad, data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, bad.name)
    assert "trained" not in stdout
    assert not (out / "checkpoint.pt").exists() and not (out / "model").exists()


def test_bad_eval_images_on_resume_leave_the_run_alone(old_run, tmp_path, capsys):
    before = snapshot(old_run)
    status, _, err = cli(["train-wct", "--out", old_run, "--resume", "--steps", 6,
                          "--eval-images", tmp_path / "missing.jpg"], capsys)
    assert status == 1
    assert_one_line_error(err, "image not found", "missing.jpg")
    assert snapshot(old_run) == before


@pytest.mark.parametrize("force", [False, True], ids=["new-out", "force-over-a-run"])
def test_bad_eval_images_create_nothing_and_delete_nothing(force, old_run, photos, tmp_path,
                                                           capsys):
    out = old_run if force else tmp_path / "new_run"
    before = snapshot(old_run)
    extra = ["--force"] if force else []
    status, _, err = cli(wct_args(out, "--eval-images", tmp_path / "missing.jpg", *extra,
                                  data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "missing.jpg")
    assert snapshot(old_run) == before  # a mistyped path must not cost the previous run
    assert out.exists() == force
