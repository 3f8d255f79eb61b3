"""``rtstyle train`` at the CLI boundary: a good tiny run writes a complete run folder; every
user mistake is a one-line ``rtstyle...`` message, a non-zero exit, and nothing created or
changed (no half-made run folder, no clobbered checkpoint)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rtstyle.cli import main
from rtstyle.train import trainer
from rtstyle.errors import ImageError, InputError
from rtstyle.train import checkpoint, model_folder

from tests.helpers import ASSETS, STYLE, TINY, assert_one_line_error, cli

OTHER_IMAGE = ASSETS / "tubingen.jpg"


RUN_FILES = {"config.json", "losses.csv", "losses.png", "checkpoint.pt", "previews", "model"}
MODEL_FILES = {"model.json", "model.safetensors", "style.jpg", "preview.jpg"}
CSV_HEADER = ["step", "content", "style", "tv", "total", "images_per_s", "seconds"]


# --- helpers ---------------------------------------------------------------------------------


def garbage(path: Path, seed: int = 0, n: int = 4096) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, np.uint8).tobytes())
    return path


def train_args(out, *extra, style=STYLE, data=None, steps=None, **flags):
    """``train`` argv with the TINY flags; ``flags`` replace TINY values (image_size=64)."""
    tiny = list(TINY)
    for name, value in flags.items():
        flag = "--" + name.replace("_", "-")
        tiny[tiny.index(flag) + 1] = str(value)
    argv = ["train", "--out", out, *tiny]
    if style is not None:
        argv += ["--style", style]
    if data is not None:
        argv += ["--data", data]
    if steps is not None:
        argv += ["--steps", steps]
    return [*argv, *extra]


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes: to check that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class Payload:
    """Not a tensor or plain data: ``weights_only`` loading must refuse to rebuild it."""

    def __init__(self, text: str = "hello"):
        self.text = text


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, photos) -> dict:
    """One good tiny run (3 steps) with style credit and licence, trained once per module."""
    run = tmp_path_factory.mktemp("good") / "run"
    argv = train_args(run, "--style-credit", "The Starry Night, Vincent van Gogh (1889)",
                      "--style-license", "public domain", data=photos, steps=3)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    assert code == 0, err.getvalue()
    return {"run": run, "argv": argv, "out": out.getvalue(), "err": err.getvalue()}


@pytest.fixture
def old_run(good_run, tmp_path) -> Path:
    """A private copy of the good run, to resume or to try to overwrite."""
    run = tmp_path / "run"
    shutil.copytree(good_run["run"], run)
    return run


@pytest.fixture
def bad_data(tmp_path) -> dict[str, Path]:
    d = tmp_path / "data"
    d.mkdir()
    empty = d / "empty"
    empty.mkdir()
    unreadable = d / "unreadable"
    unreadable.mkdir()
    for i in range(3):
        garbage(unreadable / f"photo_{i}.jpg", seed=i)
    (d / "notes.txt").write_text("not a folder of photos\n")
    return {"missing": d / "missing", "file": d / "notes.txt", "empty": empty,
            "unreadable": unreadable, "corrupt_style": garbage(d / "style.jpg", seed=9),
            "missing_style": d / "missing_style.jpg"}


# --- a good run ------------------------------------------------------------------------------

def test_good_run_writes_a_complete_run_folder(good_run):
    run = good_run["run"]
    assert RUN_FILES <= {p.name for p in run.iterdir()}
    assert MODEL_FILES <= {p.name for p in (run / "model").iterdir()}
    assert any((run / "previews").glob("step_*.jpg"))  # the final preview (--preview-every 0)
    for img in [run / "model" / "style.jpg", run / "model" / "preview.jpg",
                *(run / "previews").glob("*.jpg")]:
        assert cv2.imread(str(img)) is not None, img
    assert (run / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    rows = read_csv(run / "losses.csv")
    assert rows[0] == CSV_HEADER
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r)

    config = json.loads((run / "config.json").read_text())
    assert config["config"]["net"] == "tiny" and config["config"]["steps"] == 3
    assert checkpoint.load(run / "checkpoint.pt")["step"] == 3


def test_good_run_model_metadata(good_run, photos):
    text = (good_run["run"] / "model" / "model.json").read_text()
    meta = json.loads(text)
    assert meta["net"]["name"] == "tiny"
    assert meta["style"]["credit"] == "The Starry Night, Vincent van Gogh (1889)"
    assert meta["style"]["license"] == "public domain"
    assert meta["style"]["name"] == "starry_night_van_gogh"
    assert meta["style"]["source"] == "starry_night_van_gogh.jpg"  # a name, not a path
    training = meta["training"]
    assert training["steps"] == 3
    assert set(training["final_losses"]) == {"content", "style", "tv", "total"}
    assert all(math.isfinite(v) for v in training["final_losses"].values())
    assert training["seconds"] >= 0 and training["device"].startswith("cpu")
    assert training["skipped_images"] == 0
    assert meta["recipe"]["config"]["steps"] == 3
    # the shipped metadata leaks no path of the machine it was trained on
    assert str(STYLE.parent) not in text and str(photos) not in text


def test_good_run_prints_a_summary(good_run):
    assert good_run["err"] == ""
    out = good_run["out"]
    assert "trained 3 steps" in out and "unreadable" not in out
    assert f"model: {good_run['run'] / 'model'}" in out
    assert str(good_run["run"] / "losses.csv") in out


# --- bad style and data ----------------------------------------------------------------------

# (id, style key or None, data key or None, words in the message)
INPUT_CASES = [
    ("style-missing", "missing_style", None, ["image not found", "missing_style.jpg"]),
    ("style-corrupt", "corrupt_style", None, ["cannot read image", "style.jpg"]),
    ("data-missing", None, "missing", ["data folder not found", "missing"]),
    ("data-is-a-file", None, "file", ["--data must be a folder", "notes.txt"]),
    ("data-empty", None, "empty", ["no images found", "empty"]),
]


@pytest.mark.parametrize("case", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_bad_style_or_data_is_one_line_and_creates_no_run(case, capsys, tmp_path, photos,
                                                          bad_data):
    _, style, data, needles = case
    out = tmp_path / "run"
    argv = train_args(out, style=bad_data[style] if style else STYLE,
                      data=bad_data[data] if data else photos, steps=1)
    before = snapshot(bad_data["missing"].parent)

    status, stdout, err = cli(argv, capsys)

    assert status == 1
    assert_one_line_error(err, *needles)
    assert stdout == ""
    assert not out.exists()
    assert snapshot(bad_data["missing"].parent) == before


def test_data_folder_of_only_unreadable_images(capsys, tmp_path, bad_data):
    status, stdout, err = cli(train_args(tmp_path / "run", data=bad_data["unreadable"], steps=1),
                              capsys)
    assert status == 1
    assert_one_line_error(err, "unreadable", "data folder")
    assert "trained" not in stdout
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert not (tmp_path / "run" / "model").exists()


def test_a_failed_start_does_not_block_the_corrected_command(capsys, tmp_path, bad_data, photos):
    out = tmp_path / "run"
    status, _, _ = cli(train_args(out, data=bad_data["unreadable"], steps=1), capsys)
    assert status == 1
    status, _, err = cli(train_args(out, data=photos, steps=1), capsys)  # the same --out, fixed
    assert status == 0, err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads any folder; needs POSIX permissions")
def test_unreadable_data_folder(capsys, tmp_path, photos):
    data = tmp_path / "locked"
    shutil.copytree(photos, data)
    data.chmod(0)
    try:
        status, _, err = cli(train_args(tmp_path / "run", data=data, steps=1), capsys)
    finally:
        data.chmod(0o755)
    assert status == 1
    assert_one_line_error(err, "not readable", "locked")
    assert not (tmp_path / "run").exists()


def test_unreadable_data_folder_simulated(capsys, tmp_path, photos, monkeypatch):
    """The same check where the tests run as root: the folder's permission test says no."""
    data = tmp_path / "locked"
    shutil.copytree(photos, data)
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) == data:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    status, _, err = cli(train_args(tmp_path / "run", data=data, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "data folder is not readable", "locked")
    assert not (tmp_path / "run").exists()


def test_some_corrupt_images_among_good_ones_are_skipped(capsys, tmp_path, photos):
    data = tmp_path / "data"
    data.mkdir()
    for src in sorted((photos / "real").glob("*.jpg")):
        shutil.copy(src, data / src.name)
    garbage(data / "broken_a.jpg", seed=3)
    garbage(data / "broken_b.png", seed=4)
    # 5 files, batch 2, 3 steps: epoch 0 (a permutation of all files) is drawn completely
    status, out, err = cli(train_args(tmp_path / "run", data=data, steps=3), capsys)

    assert status == 0, err
    assert "Traceback" not in err
    match = re.search(r"(\d+) unreadable images skipped", out)
    assert match, out
    meta = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert meta["training"]["skipped_images"] == int(match.group(1)) >= 1
    assert meta["training"]["steps"] == 3
    rows = read_csv(tmp_path / "run" / "losses.csv")
    assert len(rows) == 4 and all(math.isfinite(float(v)) for r in rows[1:] for v in r)


# --- the output folder -----------------------------------------------------------------------

def test_existing_run_is_not_overwritten_without_resume_or_force(capsys, old_run, photos):
    before = snapshot(old_run)
    status, out, err = cli(train_args(old_run, data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "already exists", "--resume", "--force")
    assert out == ""
    assert snapshot(old_run) == before  # checkpoint bytes and everything else


def test_force_replaces_an_existing_run(capsys, old_run, photos):
    old_checkpoint = (old_run / "checkpoint.pt").read_bytes()
    (old_run / "previews" / "left_over.jpg").write_bytes(b"from the old run")
    status, out, err = cli(train_args(old_run, "--force", data=photos, steps=2), capsys)
    assert status == 0, err
    assert "trained 2 steps" in out
    assert not (old_run / "previews" / "left_over.jpg").exists()
    assert (old_run / "checkpoint.pt").read_bytes() != old_checkpoint
    assert len(read_csv(old_run / "losses.csv")) == 1 + 2
    assert json.loads((old_run / "model" / "model.json").read_text())["training"]["steps"] == 2


def test_force_refuses_a_folder_that_is_not_a_run(capsys, tmp_path, photos):
    out = tmp_path / "my-documents"
    out.mkdir()
    (out / "thesis.txt").write_text("three years of work\n")
    status, stdout, err = cli(train_args(out, "--force", data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "refusing to replace", "not an rtstyle training run")
    assert stdout == ""
    assert [p.name for p in out.iterdir()] == ["thesis.txt"]
    assert (out / "thesis.txt").read_text() == "three years of work\n"


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_out_is_an_existing_file(force, capsys, tmp_path, photos):
    out = tmp_path / "run.txt"
    out.write_text("a file\n")
    extra = ["--force"] if force else []
    status, _, err = cli(train_args(out, *extra, data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "--out must be a folder", "run.txt")
    assert out.read_text() == "a file\n"


def test_out_parent_missing(capsys, tmp_path, photos):
    out = tmp_path / "no" / "such" / "run"
    status, _, err = cli(train_args(out, data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "folder does not exist")
    assert not (tmp_path / "no").exists()


# --- resume ----------------------------------------------------------------------------------

@pytest.mark.parametrize("exists", [False, True], ids=["no-folder", "empty-folder"])
def test_resume_without_a_checkpoint(exists, capsys, tmp_path):
    out = tmp_path / "run"
    if exists:
        out.mkdir()
    status, _, err = cli(train_args(out, "--resume", style=None), capsys)
    assert status == 1
    assert_one_line_error(err, "nothing to resume", "checkpoint.pt")
    assert out.exists() == exists
    assert not exists or list(out.iterdir()) == []


# (id, extra args, words in the message)
RESUME_REFUSALS = [
    ("with-force", ["--force"], ["--resume and --force"]),
    ("with-preset", ["--preset", "default"], ["--preset cannot change on --resume"]),
    ("with-other-style", ["--style", OTHER_IMAGE],
     ["--style cannot change on --resume", "starry_night_van_gogh.jpg"]),
]


@pytest.mark.parametrize("case", RESUME_REFUSALS, ids=[c[0] for c in RESUME_REFUSALS])
def test_resume_refusals_change_nothing(case, capsys, old_run):
    _, extra, needles = case
    before = snapshot(old_run)
    status, out, err = cli(train_args(old_run, "--resume", *extra, style=None, steps=5), capsys)
    assert status == 1
    assert_one_line_error(err, *needles)
    assert out == ""
    assert snapshot(old_run) == before


DEFAULT_STYLE_WEIGHT = repr(trainer.preset("default").loss.style_weight)

# (id, changed flags, key, checkpoint value, new value)
RECIPE_CHANGES = [
    ("style-weight", {"extra": ["--style-weight", "5"]}, "loss.style_weight", DEFAULT_STYLE_WEIGHT, "5.0"),
    ("net", {"net": "lite"}, "net", "'tiny'", "'lite'"),
    ("image-size", {"image_size": 64}, "image_size", "32", "64"),
    ("batch-size", {"batch_size": 3}, "batch_size", "2", "3"),
    ("style-layers", {"extra": ["--style-layers", "relu1_2"]}, "loss.style_layers",
     "('relu1_2', 'relu2_2', 'relu3_3', 'relu4_3')", "('relu1_2',)"),
]


@pytest.mark.parametrize("case", RECIPE_CHANGES, ids=[c[0] for c in RECIPE_CHANGES])
def test_resume_refuses_a_recipe_change(case, capsys, old_run):
    """The error names the key and both values, and leaves the run untouched."""
    _, change, key, old, new = case
    change = dict(change)
    extra = change.pop("extra", [])
    before = snapshot(old_run)
    status, _, err = cli(train_args(old_run, "--resume", *extra, style=None, steps=5, **change),
                         capsys)
    assert status == 1
    assert_one_line_error(err, "cannot resume with a different recipe",
                          f"{key}: checkpoint {old}, now {new}")
    assert snapshot(old_run) == before


def test_resume_names_every_changed_key(capsys, old_run):
    status, _, err = cli(train_args(old_run, "--resume", "--style-weight", "5", style=None,
                                    net="lite", image_size=64), capsys)
    assert status == 1
    assert_one_line_error(err, f"loss.style_weight: checkpoint {DEFAULT_STYLE_WEIGHT}, now 5.0",
                          "net: checkpoint 'tiny', now 'lite'",
                          "image_size: checkpoint 32, now 64")


def test_resume_with_more_steps_continues(capsys, old_run, photos):
    # the same command line as the first run, plus --resume and a larger --steps
    argv = train_args(old_run, "--resume", "--style-credit", "The Starry Night, Vincent van Gogh "
                      "(1889)", "--style-license", "public domain", data=photos, steps=5)
    status, out, err = cli(argv, capsys)
    assert status == 0, err
    assert err == ""
    assert "trained 5 steps" in out
    rows = read_csv(old_run / "losses.csv")
    assert rows[0] == CSV_HEADER
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r)
    assert checkpoint.load(old_run / "checkpoint.pt")["step"] == 5
    meta = json.loads((old_run / "model" / "model.json").read_text())
    assert meta["training"]["steps"] == 5
    assert meta["style"]["credit"] == "The Starry Night, Vincent van Gogh (1889)"


def test_a_time_limit_writes_the_model_and_resume_goes_on_exactly(capsys, tmp_path, photos,
                                                                  good_run):
    # --minutes ends the run as if done: the model at the step reached, not a stop
    run = tmp_path / "run"
    status, out, err = cli(train_args(run, "--minutes", "1e-9", data=photos, steps=3), capsys)
    assert status == 0, err
    assert "time limit of 1e-09 min reached at step 1 of 3" in out
    assert json.loads((run / "model" / "model.json").read_text())["training"]["steps"] == 1
    assert checkpoint.load(run / "checkpoint.pt")["step"] == 1
    status, out, err = cli(["train", "--out", str(run), "--resume"], capsys)
    assert status == 0, err
    assert "trained 3 steps" in out and "time limit" not in out
    losses = [r[1:5] for r in read_csv(run / "losses.csv")]
    assert losses == [r[1:5] for r in read_csv(good_run["run"] / "losses.csv")]


def test_init_without_net_trains_the_init_models_net(capsys, tmp_path, photos, good_run):
    tiny = [a for a in TINY if a not in ("--net", "tiny")]
    run = tmp_path / "run"
    argv = ["train", "--out", run, *tiny, "--style", STYLE, "--data", photos, "--steps", "1",
            "--init", good_run["run"] / "model"]
    status, out, err = cli(argv, capsys)
    assert status == 0, err
    assert json.loads((run / "model" / "model.json").read_text())["net"]["name"] == "tiny"
    status, _, err = cli([*argv, "--force", "--net", "lite"], capsys)
    assert status != 0 and "is a 'tiny' net, which cannot grow into this run's 'lite' net" in err


def test_init_grows_a_lite_net_into_a_full_net(capsys, tmp_path, photos):
    lite, full = tmp_path / "lite", tmp_path / "full"
    status, _, err = cli(train_args(lite, data=photos, steps=1, net="lite"), capsys)
    assert status == 0, err
    status, _, err = cli(train_args(full, "--init", lite / "model", data=photos, steps=1,
                                      net="full"), capsys)
    assert status == 0, err
    meta = json.loads((full / "model" / "model.json").read_text())
    assert meta["net"]["name"] == "full"
    assert meta["training"]["init"]["net"] == "lite"
    assert meta["training"]["total_steps"] == 2


@pytest.mark.parametrize("warmup", [0, 10])
def test_warmup_shrinks_adams_first_step(capsys, tmp_path, photos, good_run, warmup):
    # Adam's first step moves every weight by about lr whatever its gradient; with a warm-up
    # of K steps the first step is lr / K
    run = tmp_path / "run"
    status, _, err = cli(train_args(run, "--init", good_run["run"] / "model", "--lr", "1e-3",
                                    "--warmup", str(warmup), "--amp", "off", data=photos,
                                    steps=1), capsys)
    assert status == 0, err
    before, _ = model_folder.load(good_run["run"] / "model")
    after, _ = model_folder.load(run / "model")
    moved = max((a - b).abs().max().item()
                for a, b in zip(after.parameters(), before.parameters()))
    assert moved == pytest.approx(1e-3 / max(warmup, 1), rel=0.01)


def test_resume_needs_neither_style_nor_data(capsys, old_run):
    status, out, err = cli(train_args(old_run, "--resume", style=None, steps=4), capsys)
    assert status == 0, err
    assert len(read_csv(old_run / "losses.csv")) == 1 + 4


def test_resume_from_another_working_directory(capsys, tmp_path, photos, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(photos, work / "photos")
    monkeypatch.chdir(work)
    status, _, err = cli(train_args("run", data="photos", steps=1), capsys)
    assert status == 0, err
    monkeypatch.chdir(tmp_path)  # e.g. a new shell, or a job script in another folder
    status, _, err = cli(train_args(work / "run", "--resume", style=None, steps=2), capsys)
    assert status == 0, err


def test_resume_from_a_truncated_checkpoint(capsys, old_run):
    ck = old_run / "checkpoint.pt"
    ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    before = snapshot(old_run)
    status, _, err = cli(train_args(old_run, "--resume", style=None, steps=5), capsys)
    assert status == 1
    assert_one_line_error(err, "cannot read the checkpoint", "checkpoint.pt")
    assert snapshot(old_run) == before


def test_resume_from_a_garbage_checkpoint_is_one_line(capsys, old_run):
    garbage(old_run / "checkpoint.pt", seed=0)
    before = snapshot(old_run)
    status, _, err = cli(train_args(old_run, "--resume", style=None, steps=5), capsys)
    assert status == 1
    assert_one_line_error(err, "checkpoint.pt")
    assert snapshot(old_run) == before


def test_garbage_checkpoint_is_not_called_unsafe(capsys, old_run):
    garbage(old_run / "checkpoint.pt", seed=0)
    status, _, err = cli(train_args(old_run, "--resume", style=None, steps=5), capsys)
    assert status == 1
    assert_one_line_error(err, "cannot read the checkpoint")
    assert "unsafe" not in err


def test_resume_refuses_a_checkpoint_with_python_objects(capsys, old_run):
    state = checkpoint.load(old_run / "checkpoint.pt")
    state["extra"] = Payload("would run code on unpickling")
    torch.save(state, old_run / "checkpoint.pt")
    assert torch.load(old_run / "checkpoint.pt", weights_only=False)["extra"].text  # it pickled
    before = snapshot(old_run)
    status, _, err = cli(train_args(old_run, "--resume", style=None, steps=5), capsys)
    assert status == 1
    assert_one_line_error(err, "refusing to load", "checkpoint.pt", "unsafe")
    assert snapshot(old_run) == before


def test_resume_refuses_a_foreign_torch_file(capsys, old_run):
    torch.save({"model": {"w": torch.zeros(2)}}, old_run / "checkpoint.pt")
    status, _, err = cli(train_args(old_run, "--resume", style=None, steps=5), capsys)
    assert status == 1
    assert_one_line_error(err, "not an rtstyle training checkpoint")


# --- settings --------------------------------------------------------------------------------

# (id, TINY values replaced, extra args, exit code, words in the message)
SETTING_CASES = [
    ("steps-zero", {}, ["--steps", "0"], 2, ["--steps", "at least 1", "--help"]),
    ("steps-not-a-number", {}, ["--steps", "abc"], 2, ["--steps", "whole number", "'abc'"]),
    ("batch-size-negative", {"batch_size": -1}, [], 2, ["--batch-size", "at least 1"]),
    ("amp-invalid", {}, ["--amp", "fp32"], 2, ["--amp", "invalid choice", "'fp32'"]),
    ("lr-zero", {}, ["--lr", "0"], 2, ["--lr", "> 0"]),
    ("unknown-net", {"net": "lit"}, [], 1, ["unknown net 'lit'", "did you mean 'lite'"]),
    ("unknown-set-key", {}, ["--set", "loss.style_wieght=1e4"], 1,
     ["unknown setting 'loss.style_wieght'", "did you mean 'loss.style_weight'"]),
    ("set-without-value", {}, ["--set", "steps"], 1, ["--set expects key=value"]),
    ("set-bad-value", {}, ["--set", "image_size=big"], 1, ["image_size", "'big'"]),
    ("image-size-too-small", {"image_size": 8}, [], 1, ["image-size must be at least 32"]),
    ("unknown-preset", {}, ["--preset", "johnson2061"], 1,
     ["unknown preset 'johnson2061'", "did you mean 'johnson2016'"]),
    ("style-not-given", {"style": None}, [], 1, ["--style is required"]),
    ("data-not-given", {"data": None}, [], 1, ["--data is required"]),
]


@pytest.mark.parametrize("case", SETTING_CASES, ids=[c[0] for c in SETTING_CASES])
def test_bad_settings_are_one_line_and_create_nothing(case, capsys, tmp_path, photos):
    _, flags, extra, code, needles = case
    out = tmp_path / "run"
    argv = train_args(out, *extra, **{"style": STYLE, "data": photos, **flags})
    status, stdout, err = cli(argv, capsys)
    assert status == code
    assert_one_line_error(err, *needles)
    assert stdout == ""
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_amp_fp16_needs_cuda(capsys, tmp_path, photos):
    status, _, err = cli(train_args(tmp_path / "run", "--amp", "fp16", data=photos, steps=1),
                         capsys)
    assert status == 1
    assert_one_line_error(err, "--amp fp16", "CUDA", "bf16")
    assert not (tmp_path / "run" / "config.json").exists()


def test_unknown_style_layer(capsys, tmp_path, photos):
    status, _, err = cli(train_args(tmp_path / "run", "--style-layers", "relu1_2,relu9_9",
                                    data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err, "'relu9_9'", "did you mean")
    assert not (tmp_path / "run" / "config.json").exists()


def _late_config_errors():
    cases = [pytest.param(["--style-layers", "relu1_2,relu9_9"], id="unknown-style-layer"),
             pytest.param(["--loss-net", "vgg91"], id="unknown-loss-net")]
    if not torch.cuda.is_available():
        cases.append(pytest.param(["--amp", "fp16"], id="amp-fp16-on-cpu"))
    return cases


@pytest.mark.parametrize("extra", _late_config_errors())
def test_late_config_errors_create_no_run_folder(extra, capsys, tmp_path, photos):
    out = tmp_path / "run"
    status, _, err = cli(train_args(out, *extra, data=photos, steps=1), capsys)
    assert status == 1
    assert_one_line_error(err)
    assert not out.exists()


# --- --debug ---------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_raises_the_real_exception(where, tmp_path, photos):
    argv = train_args(tmp_path / "run", style=tmp_path / "missing.jpg", data=photos, steps=1)
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(ImageError, match="image not found"):
        main([str(a) for a in argv])
    assert not (tmp_path / "run").exists()


def test_debug_on_an_existing_run(old_run, photos):
    before = snapshot(old_run)
    with pytest.raises(InputError, match="already exists"):
        main([str(a) for a in ["--debug", *train_args(old_run, data=photos, steps=1)]])
    assert snapshot(old_run) == before


# --- through a real process ------------------------------------------------------------------

def test_subprocess_missing_style_is_one_line(tmp_path, photos):
    argv = train_args("run", style="nope.jpg", data=photos, steps=1)
    proc = subprocess.run([sys.executable, "-m", "rtstyle", *map(str, argv)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, "image not found", "nope.jpg")
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_resume_of_a_wct_decoder_run_points_to_train_wct(tmp_path, photos, capsys):
    run = tmp_path / "wct_run"
    status, _, err = cli(["train-wct", "--level", "1", "--data", photos, "--out", run,
                          "--steps", "1", "--image-size", "32", "--batch-size", "1",
                          "--workers", "0", "--device", "cpu", "--eval-size", "32", "-q"], capsys)
    assert status == 0, err
    status, _, err = cli(["train", "--out", run, "--resume"], capsys)
    assert status == 1
    assert_one_line_error(err, "WCT decoder run", "train-wct --resume")


@pytest.mark.parametrize("flags, said", [((), None), (("--amp", "off"), "float32 ("),
                                         (("--amp", "bf16", "--no-channels-last"),
                                          "bf16 autocast (asked for)")])
def test_one_start_up_line_says_what_runs(capsys, tmp_path, photos, flags, said):
    from rtstyle.train import precision

    status, stdout, err = cli(train_args(tmp_path / "run", *flags, data=photos, steps=1), capsys)
    assert status == 0, err
    line = stdout.splitlines()[0]
    assert line.startswith("training on cpu (")
    expected = said or precision.resolve("auto", None, torch.device("cpu")).describe()
    assert expected in line
    assert ("--amp off for float32" in line) == ("float32 (" not in line)
    assert len([s for s in stdout.splitlines() if s.startswith("training on")]) == 1


def test_a_fine_tuned_net_counts_the_steps_and_seconds_behind_it(capsys, good_run, photos,
                                                                 tmp_path):
    from rtstyle import zoo

    first = json.loads((good_run["run"] / "model" / "model.json").read_text())["training"]
    run = tmp_path / "tuned"
    code, _, err = cli(train_args(run, "--init", good_run["run"] / "model", "--style-weight",
                                  "30", data=photos, steps=2), capsys)
    assert code == 0, err
    tuned = json.loads((run / "model" / "model.json").read_text())["training"]
    assert tuned["steps"] == 2 and tuned["init"]["steps"] == 3
    assert tuned["init"]["style_weight"] == 10.0 and "final_losses" not in tuned["init"]
    assert tuned["total_steps"] == 5
    assert tuned["total_seconds"] == pytest.approx(first["seconds"] + tuned["seconds"], abs=0.11)
    assert zoo.label(tuned).startswith("trained: 5 steps (")
    # a second generation counts all three runs
    again = tmp_path / "again"
    code, _, err = cli(train_args(again, "--init", run / "model", data=photos, steps=1), capsys)
    assert code == 0, err
    assert json.loads((again / "model" / "model.json").read_text())["training"][
        "total_steps"] == 6
