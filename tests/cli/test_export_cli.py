"""``rtstyle export`` at the CLI boundary: a good run writes a parity-checked ONNX file and says
where and how close it is; every user mistake is a one-line ``rtstyle...`` message, a non-zero
exit, and nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rtstyle import onnx_model
from rtstyle.cli import main

from tests.helpers import ASSETS, assert_one_line_error, cli

CONTENT = ASSETS / "tubingen.jpg"


# --- helpers ---------------------------------------------------------------------------------

def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


PARITY = re.compile(r"max \|onnx - torch\| 256x256: ([0-9.e+-]+), 360x640: ([0-9.e+-]+)")


# --- good runs -------------------------------------------------------------------------------

def test_export_into_the_model_folder(capsys, model_copy):
    before = listing(model_copy)
    status, out, err = cli(["export", "--model", model_copy], capsys)
    assert status == 0, err
    assert err == ""
    target = model_copy / "model.onnx"
    assert listing(model_copy) == sorted([*before, "model.onnx"])
    (line,) = out.strip().splitlines()
    assert line.startswith(f"wrote {target} (fp32, opset 17, ")
    numbers = PARITY.search(line)
    assert numbers, line
    assert all(0 <= float(v) <= 0.5 for v in numbers.groups())
    assert "PSNR" not in line
    info = onnx_model.read_contract(model_copy)
    assert info.path == target and info.precision == "fp32"
    assert info.card["net"] == json.loads((model_copy / "model.json").read_text())["net"]


def test_export_fp16_prints_psnr(capsys, model_copy):
    status, out, err = cli(["export", "--model", model_copy, "--fp16"], capsys)
    assert status == 0, err
    target = model_copy / "model.fp16.onnx"
    assert target.is_file() and not (model_copy / "model.onnx").exists()
    assert f"wrote {target} (fp16, opset 17, " in out
    assert PARITY.search(out), out  # fp32 parity is checked first
    psnr = re.search(r"fp16 PSNR vs fp32 256x256: ([0-9.]+|inf) dB, 360x640: ([0-9.]+|inf) dB",
                     out)
    assert psnr, out
    assert all(float(v) >= 40 for v in psnr.groups())
    assert onnx_model.read_contract(target).precision == "fp16"


def test_export_with_fp16_weights_says_what_the_rounding_costs(capsys, model_copy):
    status, out, err = cli(["export", "--model", model_copy, "--fp16-weights"], capsys)
    assert status == 0, err
    assert PARITY.search(out), out
    psnr = re.search(r"weights stored in float16 \(output PSNR vs float32 256x256: ([0-9.]+|inf) "
                     r"dB, 360x640: ([0-9.]+|inf) dB\)", out)
    assert psnr, out
    assert all(float(v) >= 40 for v in psnr.groups())


def test_export_to_a_chosen_file_and_opset(capsys, model_copy, tmp_path):
    before = listing(model_copy)
    out_file = tmp_path / "elsewhere" / "starry.onnx"
    out_file.parent.mkdir()
    status, out, err = cli(["export", "--model", model_copy / "model.json", "--out", out_file,
                            "--opset", "13"], capsys)
    assert status == 0, err
    assert f"wrote {out_file} (fp32, opset 13, " in out
    assert listing(out_file.parent) == ["starry.onnx"]
    assert listing(model_copy) == before  # nothing in the model folder
    info = onnx_model.read_contract(out_file)
    assert info.card["opset"] == 13 and info.name == "starry_night_van_gogh"


def test_relative_out_in_the_current_folder(capsys, model_copy, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    status, out, err = cli(["export", "--model", model_copy, "--out", "x.onnx"], capsys)
    assert status == 0, err
    assert listing(cwd) == ["x.onnx"]
    assert "wrote x.onnx" in out
    assert onnx_model.read_contract(cwd / "x.onnx").precision == "fp32"


# --- bad inputs ------------------------------------------------------------------------------

def _no_model(copy: Path) -> Path:
    return copy.parent / "missing"


def _no_json(copy: Path) -> Path:
    empty = copy.parent / "empty"
    empty.mkdir()
    return empty


def _no_weights(copy: Path) -> Path:
    (copy / "model.safetensors").unlink()
    return copy


def _bad_weights(copy: Path) -> Path:
    (copy / "model.safetensors").write_bytes(b"not safetensors")
    return copy


# (id, make model, --out relative to tmp_path or None, extra args, exit, words)
CASES = [
    ("model-missing", _no_model, None, [], 1, ["model not found", "missing"]),
    ("no-model-json", _no_json, None, [], 1, ["is not a model folder", "no model.json"]),
    ("weights-missing", _no_weights, None, [], 1, ["weights file model.safetensors is missing"]),
    ("weights-corrupt", _bad_weights, None, [], 1, ["cannot read", "model.safetensors"]),
    ("out-extension", None, "out/m.txt", [], 1, ["must end in .onnx", "m.txt"]),
    ("out-is-a-folder", None, "out", [], 1, ["must end in .onnx"]),
    ("opset-5", None, "out/m.onnx", ["--opset", "5"], 1,
     ["opset must be between 11 and 21, got 5"]),
    ("opset-99", None, "out/m.onnx", ["--opset", "99"], 1, ["between 11 and 21"]),
    ("opset-abc", None, "out/m.onnx", ["--opset", "abc"], 2, ["--opset", "whole number", "'abc'"]),
    ("opset-0", None, "out/m.onnx", ["--opset", "0"], 2, ["--opset", "at least 1"]),
    ("int8-style-net", None, "out/m.onnx", ["--int8"], 1,
     ["--ns-iterations, --int8 and --calibration are for WCT decoders"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_inputs_are_one_line_and_write_nothing(case, capsys, model_copy, tmp_path):
    _, make, out, extra, code, words = case
    model = make(model_copy) if make else model_copy
    (tmp_path / "out").mkdir()
    before_model = listing(model_copy)
    before_tmp = listing(tmp_path)
    argv = ["export", "--model", model, *extra]
    if out:
        argv += ["--out", tmp_path / out]

    status, stdout, err = cli(argv, capsys)

    assert status == code
    assert_one_line_error(err, *words)
    assert "wrote" not in stdout
    assert listing(model_copy) == before_model  # no model.onnx, no temp file
    assert listing(tmp_path) == before_tmp
    assert listing(tmp_path / "out") == []


def test_missing_model_flag(capsys):
    status, _, err = cli(["export"], capsys)
    assert status == 2
    assert_one_line_error(err, "--model")


def test_debug_raises_the_real_exception(model_copy):
    from rtstyle.train.export import ExportError

    with pytest.raises(ExportError, match="opset"):
        main(["--debug", "export", "--model", str(model_copy), "--opset", "5"])
    assert not (model_copy / "model.onnx").exists()


def test_help_describes_the_checks(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    status, out, _ = cli(["export", "--help"], capsys)
    assert status == 0
    for words in ("--model", "--out", "--opset", "--fp16", "256x256", "360x640", "40 dB"):
        assert words in out, words
