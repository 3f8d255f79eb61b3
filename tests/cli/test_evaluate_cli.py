"""``rtstyle evaluate`` at the CLI boundary: a good run on a tiny tiny_run model writes the JSON
report, the grid and the plot; every user mistake is a one-line ``rtstyle...`` message, a
non-zero exit, and no output folder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from rtstyle.cli import main
from rtstyle.metadata import ModelError

from tests.helpers import ASSETS, assert_one_line_error, cli

CONTENT = ASSETS / "tubingen.jpg"

FAST = ["--size", "32", "--iterations", "2,4", "--device", "cpu", "--quiet"]


# --- helpers ---------------------------------------------------------------------------------

def evaluate_args(model, images, out, *extra):
    images = images if isinstance(images, (list, tuple)) else [images]
    return ["evaluate", "--model", model, "--images", *images, "--out", out, *FAST, *extra]


def garbage(path: Path, seed: int = 0, n: int = 2048) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, np.uint8).tobytes())
    return path


def edit_json(folder: Path, change) -> None:
    meta = json.loads((folder / "model.json").read_text())
    change(meta)
    (folder / "model.json").write_text(json.dumps(meta))


# --- good runs -------------------------------------------------------------------------------

def test_evaluate_one_image(capsys, tmp_path, tiny_model):
    out = tmp_path / "eval"
    status, stdout, err = cli(evaluate_args(tiny_model, CONTENT, out), capsys)
    assert status == 0, err
    assert "Traceback" not in err
    assert "equivalent iterations" in stdout
    assert "tubingen.jpg: net loss" in stdout
    assert sorted(p.name for p in out.iterdir()) == \
        ["evaluation.jpg", "evaluation.json", "evaluation.png"]

    report = json.loads((out / "evaluation.json").read_text())
    assert report["model"] == str(tiny_model)
    assert report["style"] == "starry_night_van_gogh"
    assert report["size"] == 32 and report["device"] == "cpu"
    assert report["loss"]["style_layers"] == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert report["gatys"]["iterations"] == [2, 4]
    assert report["summary"]["images"] == 1
    (row,) = report["images"]
    assert Path(row["image"]).name == "tubingen.jpg"
    assert max(row["height"], row["width"]) == 32
    assert math.isfinite(row["net"]["total"]) and row["net"]["total"] > 0
    assert set(row["gatys"]) == {"2", "4"}
    assert all(math.isfinite(v) and v > 0 for v in row["gatys"].values())
    assert row["gatys"]["4"] <= row["gatys"]["2"]  # the best loss so far never rises
    assert "equivalent_iterations" in row
    eq = row["equivalent_iterations"]
    assert (eq is None) == row["net_below_gatys_curve"]
    assert eq is None or 0 < eq <= 4

    grid = cv2.imread(str(out / "evaluation.jpg"))
    assert grid is not None and grid.shape[1] >= 3 * 32
    with Image.open(out / "evaluation.png") as plot:
        assert plot.format == "PNG" and plot.width > 100


def test_evaluate_a_folder_with_limit(capsys, tmp_path, tiny_model):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    photo = cv2.imread(str(CONTENT))
    cv2.imwrite(str(images / "a.png"), photo[:64, :96])
    cv2.imwrite(str(images / "sub" / "b.jpg"), photo[64:128, 96:192])
    out = tmp_path / "eval"
    status, stdout, err = cli(evaluate_args(tiny_model, images, out, "--iterations", "2",
                                            "--limit", "1"), capsys)
    assert status == 0, err
    report = json.loads((out / "evaluation.json").read_text())
    assert report["summary"]["images"] == 1 and len(report["images"]) == 1
    assert set(report["images"][0]["gatys"]) == {"2"}
    assert "over 1 images" in stdout
    assert cv2.imread(str(out / "evaluation.jpg")) is not None


def test_default_out_is_named_after_the_model(capsys, tmp_path, tiny_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--model", tiny_model, "--images", CONTENT, "--size", "32",
            "--iterations", "1", "--device", "cpu", "--quiet"]
    status, stdout, err = cli(argv, capsys)
    assert status == 0, err
    out = tmp_path / "out" / "evaluate" / "starry_night_van_gogh"
    assert sorted(p.name for p in out.iterdir()) == \
        ["evaluation.jpg", "evaluation.json", "evaluation.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("kind", ["absolute", "parent"])
def test_default_out_stays_inside_out_evaluate(kind, capsys, tmp_path, model_copy, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    elsewhere = tmp_path / "elsewhere"
    name = str(elsewhere) if kind == "absolute" else "../../../elsewhere"
    edit_json(model_copy, lambda m: m.update(name=name))
    monkeypatch.chdir(cwd)
    argv = ["evaluate", "--model", model_copy, "--images", CONTENT, "--size", "32",
            "--iterations", "1", "--device", "cpu", "--quiet"]
    status, _, err = cli(argv, capsys)
    assert not elsewhere.exists()
    if status == 0:  # or a clear refusal of the name
        assert list((cwd / "out" / "evaluate").rglob("evaluation.json"))


# --- bad inputs ------------------------------------------------------------------------------

def _no_io(meta):
    del meta["io"]


def _bgr(meta):
    meta["io"]["channels"] = "BGR"


def _nhwc(meta):
    meta["io"]["layout"] = "NHWC"


def _multiple(meta):
    meta["io"]["size_multiple"] = 0


def _kind(meta):
    meta["kind"] = "diffusion"


def _version(meta):
    meta["version"] = 99


# (id, edit of the model copy, words in the message)
MODEL_EDITS = [
    ("io-missing", _no_io, ["IO contract is missing"]),
    ("io-channels", _bgr, ["unsupported model IO channels 'BGR'", "'RGB'"]),
    ("io-layout", _nhwc, ["unsupported model IO layout 'NHWC'"]),
    ("io-size-multiple", _multiple, ["invalid size_multiple 0"]),
    ("unknown-kind", _kind, ["unknown model kind 'diffusion'"]),
    ("newer-version", _version, ["metadata version 99"]),
]


@pytest.mark.parametrize("case", MODEL_EDITS, ids=[c[0] for c in MODEL_EDITS])
def test_unknown_model_metadata_is_refused(case, capsys, tmp_path, model_copy):
    _, edit, needles = case
    edit_json(model_copy, edit)
    out = tmp_path / "eval"
    status, stdout, err = cli(evaluate_args(model_copy, CONTENT, out), capsys)
    assert status == 1
    assert_one_line_error(err, "model.json", *needles)
    assert stdout == ""
    assert not out.exists()


def _break(how: str, root: Path, tiny_model: Path, tiny_run: Path, model_copy: Path) -> Path:
    """The --model argument for each broken-model case."""
    if how == "missing":
        return root / "no-such-model"
    if how == "folder-without-json":
        (root / "photos").mkdir()
        return root / "photos"
    if how == "run-folder":
        return tiny_run
    if how == "a-weights-file":
        return tiny_model / "model.safetensors"
    if how == "json-corrupt":
        (model_copy / "model.json").write_text('{"format": "rtstyle-model", ')
    elif how == "json-not-rtstyle":
        (model_copy / "model.json").write_text('{"name": "something else"}')
    elif how == "json-binary":
        garbage(model_copy / "model.json")
    return model_copy


# (id, words in the message)
MODEL_CASES = [
    ("missing", ["model not found", "no-such-model"]),
    ("folder-without-json", ["is not a model folder", "no model.json"]),
    ("run-folder", ["is not a model folder", "'model' sub-folder"]),
    ("a-weights-file", ["expected a model folder", "model.safetensors"]),
    ("json-corrupt", ["cannot read", "model.json"]),
    ("json-not-rtstyle", ["model.json is not rtstyle model metadata"]),
    ("json-binary", ["cannot read", "model.json"]),
]


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_bad_model_is_one_line_and_writes_nothing(case, capsys, tmp_path, tiny_model, tiny_run,
                                                  model_copy):
    how, needles = case
    model = _break(how, tmp_path, tiny_model, tiny_run, model_copy)
    out = tmp_path / "eval"
    status, stdout, err = cli(evaluate_args(model, CONTENT, out), capsys)
    assert status == 1
    assert_one_line_error(err, *needles)
    assert stdout == ""
    assert not out.exists()


# (id, how the weights break, words in the message)
WEIGHTS_CASES = [
    ("weights-missing", "delete", ["weights file model.safetensors is missing"]),
    ("weights-corrupt", "garbage", ["cannot read", "model.safetensors"]),
    ("weights-other-net", "lite", ["does not match the net described in model.json"]),
    ("net-description-broken", "no-widths", ["invalid net description", "widths"]),
]


def _break_weights(how: str, model: Path) -> None:
    if how == "delete":
        (model / "model.safetensors").unlink()
    elif how == "no-widths":
        edit_json(model, lambda m: m["net"].pop("widths"))
    elif how == "garbage":
        garbage(model / "model.safetensors")
    else:  # the metadata claims another net than the weights hold
        edit_json(model, lambda m: m["net"].update(name="lite", widths=[12, 24, 48], blocks=3,
                                                   outer_kernel=9))


@pytest.mark.parametrize("case", WEIGHTS_CASES, ids=[c[0] for c in WEIGHTS_CASES])
def test_bad_weights_are_one_line(case, capsys, tmp_path, model_copy):
    _, how, needles = case
    _break_weights(how, model_copy)
    out = tmp_path / "eval"
    status, stdout, err = cli(evaluate_args(model_copy, CONTENT, out), capsys)
    assert status == 1
    assert_one_line_error(err, *needles)
    assert "wrote" not in stdout
    assert not out.exists() or list(out.iterdir()) == []  # no report


@pytest.mark.parametrize("how", ["delete", "garbage"])
def test_bad_weights_create_no_output_folder(how, capsys, tmp_path, model_copy):
    _break_weights(how, model_copy)
    out = tmp_path / "eval"
    status, _, _ = cli(evaluate_args(model_copy, CONTENT, out), capsys)
    assert status == 1
    assert not out.exists()


# (id, images argument, extra args, exit code, words in the message)
INPUT_CASES = [
    ("image-missing", "missing.jpg", [], 1, ["image not found", "missing.jpg"]),
    ("images-empty-folder", "empty", [], 1, ["no images found", "empty"]),
    ("image-corrupt", "corrupt.jpg", [], 1, ["cannot read image", "corrupt.jpg"]),
    ("image-text", "notes.png", [], 1, ["cannot read image", "notes.png"]),
    ("one-bad-of-two", ["good", "corrupt.jpg"], [], 1, ["cannot read image", "corrupt.jpg"]),
    ("iterations-zero", "good", ["--iterations", "0"], 1, ["--iterations must be at least 1"]),
    ("iterations-not-a-number", "good", ["--iterations", "abc"], 1,
     ["--iterations expects whole numbers", "abc"]),
    ("iterations-empty", "good", ["--iterations", ","], 2,
     ["--iterations", "comma-separated list"]),
    ("size-zero", "good", ["--size", "0"], 2, ["--size", "at least 1"]),
    ("size-not-a-number", "good", ["--size", "big"], 2, ["--size", "whole number"]),
    ("limit-zero", "good", ["--limit", "0"], 2, ["--limit", "at least 1"]),
    ("bad-init", "good", ["--init", "zeros"], 2, ["--init", "invalid choice"]),
]


@pytest.fixture
def inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty").mkdir()
    garbage(d / "corrupt.jpg")
    (d / "notes.png").write_text("this is not a picture\n")
    return d


@pytest.mark.parametrize("case", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_bad_inputs_are_one_line_and_write_nothing(case, capsys, tmp_path, tiny_model, inputs):
    _, images, extra, code, needles = case
    images = [CONTENT if i == "good" else inputs / i
              for i in (images if isinstance(images, list) else [images])]
    out = tmp_path / "eval"
    status, stdout, err = cli(evaluate_args(tiny_model, images, out, *extra), capsys)
    assert status == code
    assert_one_line_error(err, *needles)
    assert stdout == ""
    assert not out.exists()


def test_missing_required_flags(capsys, tmp_path, tiny_model):
    status, _, err = cli(["evaluate", "--images", CONTENT, "--out", tmp_path / "eval"], capsys)
    assert status == 2
    assert_one_line_error(err, "--model")
    status, _, err = cli(["evaluate", "--model", tiny_model, "--out", tmp_path / "eval"], capsys)
    assert status == 2
    assert_one_line_error(err, "--images")
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_raises_the_real_exception(where, tmp_path, tiny_run):
    argv = evaluate_args(tiny_run, CONTENT, tmp_path / "eval")  # the run, not its model
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(ModelError, match="'model' sub-folder"):
        main([str(a) for a in argv])
    assert not (tmp_path / "eval").exists()
