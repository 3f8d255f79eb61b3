"""The CLI boundary: every user mistake is a one-line ``rtstyle...`` message, a non-zero exit,
and no output files; a correct run writes the image and its sidecars."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from rtstyle.cli import main
from rtstyle.errors import ImageError

from tests.helpers import ROOT, assert_one_line_error, cli

FAST = ["--size", "32", "--iterations", "2", "--device", "cpu", "--quiet"]
SIDECARS = (".losses.csv", ".losses.png", ".json")


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture
def bad_inputs(tmp_path) -> dict[str, Path]:
    d = tmp_path / "in"
    d.mkdir()
    (d / "corrupt.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 2048, np.uint8)
                                    .tobytes())
    (d / "notes.png").write_text("this is not a picture\n")
    return {"missing": d / "missing.jpg", "corrupt": d / "corrupt.jpg",
            "text": d / "notes.png", "folder": d}


def gatys(content, style, output, *extra):
    return ["gatys", "--content", content, "--style", style, "--output", output, *FAST, *extra]


# --- errors, in-process ---------------------------------------------------------------------

# (id, content, style, output name, extra args, exit code, words in the message)
CASES = [
    ("missing-content", "missing", None, "o.png", [], 1, ["image not found", "missing.jpg"]),
    ("corrupt-content", "corrupt", None, "o.png", [], 1, ["cannot read image", "corrupt.jpg"]),
    ("unreadable-style", None, "text", "o.png", [], 1, ["cannot read image", "notes.png"]),
    ("style-is-folder", None, "folder", "o.png", [], 1, ["folder"]),
    ("output-extension", None, None, "o.xyz", [], 1, ["cannot write '.xyz'"]),
    ("unknown-style-layer", None, None, "o.png", ["--style-layers", "relu1_1,relu9_9"], 1,
     ["'relu9_9'", "did you mean"]),
    ("content-layer-typo", None, None, "o.png", ["--content-layers", "relu4_22"], 1,
     ["'relu4_22'", "did you mean 'relu4_2'"]),
    ("negative-style-weight", None, None, "o.png", ["--style-weight", "-1"], 2,
     ["--style-weight", ">= 0", "--help"]),
    ("size-zero", None, None, "o.png", ["--size", "0"], 2, ["--size", "at least 1"]),
    ("size-not-a-number", None, None, "o.png", ["--size", "big"], 2, ["--size", "whole number"]),
    ("style-weights-count", None, None, "o.png", ["--style-weights", "1,2"], 1,
     ["--style-weights has 2 values for 1 --style images"]),
    ("unknown-preset", None, None, "o.png", ["--preset", "gatys2061"], 1,
     ["unknown preset 'gatys2061'", "did you mean 'gatys2016'"]),
    ("unknown-set-key", None, None, "o.png", ["--set", "loss.style_wieght=1e4"], 1,
     ["'loss.style_wieght'", "did you mean 'loss.style_weight'"]),
    ("set-without-value", None, None, "o.png", ["--set", "novalue"], 1, ["key=value"]),
    ("bad-optimizer-via-set", None, None, "o.png", ["--set", "optimizer=sgd"], 1,
     ["optimizer must be one of"]),
    ("bad-choice", None, None, "o.png", ["--optimizer", "sgd"], 2, ["--optimizer", "sgd"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_user_errors_are_one_line_and_write_nothing(case, capsys, out_dir, bad_inputs,
                                                    content_path, style_path):
    _, content, style, output, extra, code, needles = case
    content = bad_inputs[content] if content else content_path
    style = bad_inputs[style] if style else style_path
    before = sorted(p.name for p in bad_inputs["folder"].iterdir())

    status, out, err = cli(gatys(content, style, out_dir / output, *extra), capsys)

    assert status == code
    assert_one_line_error(err, *needles)
    assert "wrote" not in out
    assert list(out_dir.iterdir()) == []  # no image, no sidecar, no temp file
    assert sorted(p.name for p in bad_inputs["folder"].iterdir()) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_cpu_only_machine(capsys, out_dir, content_path, style_path):
    argv = gatys(content_path, style_path, out_dir / "o.png", "--device", "cuda")
    status, _, err = cli(argv, capsys)
    assert status == 1
    assert_one_line_error(err, "'cuda'", "CUDA is not available", "--device cpu")
    assert list(out_dir.iterdir()) == []


def test_torchvision_loss_net_without_weights_says_download_and_stays_offline(
        capsys, out_dir, tmp_path, monkeypatch, content_path, style_path):
    hub = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(hub))  # an empty hub cache, whatever this machine has

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    argv = gatys(content_path, style_path, out_dir / "o.png", "--loss-net", "vgg16-torchvision")
    status, _, err = cli(argv, capsys)
    assert status == 1
    assert_one_line_error(err, "vgg16", "weights not found", "--download", "--loss-net-weights")
    assert "AssertionError" not in err
    assert list(out_dir.iterdir()) == []
    assert not hub.exists() or not any(hub.rglob("*.pth"))


def test_unknown_loss_net(capsys, out_dir, content_path, style_path):
    argv = gatys(content_path, style_path, out_dir / "o.png", "--loss-net", "vgg91")
    status, _, err = cli(argv, capsys)
    assert status == 1
    assert_one_line_error(err, "unknown loss network 'vgg91'", "did you mean 'vgg19'")


def test_missing_required_flag(capsys, out_dir, content_path):
    status, _, err = cli(["gatys", "--content", content_path, "--output", out_dir / "o.png"],
                         capsys)
    assert status == 2
    assert_one_line_error(err, "--style")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_raises_the_real_exception(where, out_dir, bad_inputs, style_path):
    argv = gatys(bad_inputs["missing"], style_path, out_dir / "o.png")
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(ImageError, match="image not found"):
        main([str(a) for a in argv])


# --- help and usage ---------------------------------------------------------------------------

def test_help_lists_the_subcommands(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps help to the terminal width
    status, out, err = cli(["--help"], capsys)
    assert status == 0 and err == ""
    commands = {ln.split()[0]: ln.split(None, 1)[1] for ln in out.splitlines()
                if ln.startswith("    ") and len(ln.split()) > 1}
    assert commands["demo"].startswith("stylise the bundled sample clip")
    assert commands["gatys"].startswith("stylise one image by optimisation")
    assert commands["experiment"].startswith("reproduce the Gatys experiments")


def test_no_arguments_prints_help_and_exits_2(capsys):
    status, out, _ = cli([], capsys)
    assert status == 2
    assert "gatys" in out and "usage" in out.lower()


# --- errors through a real process ------------------------------------------------------------

def run_rtstyle(args, cwd):
    return subprocess.run([sys.executable, "-m", "rtstyle", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_missing_content(tmp_path, style_path):
    proc = run_rtstyle(gatys(tmp_path / "nope.jpg", style_path, "o.png"), cwd=tmp_path)
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, "image not found", "nope.jpg")
    assert list(tmp_path.iterdir()) == []


def test_subprocess_argparse_error_exits_2(tmp_path, content_path, style_path):
    proc = run_rtstyle(gatys(content_path, style_path, "o.png", "--size", "0"), cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "rtstyle gatys: error", "--size")
    assert list(tmp_path.iterdir()) == []


def test_subprocess_torchvision_loss_net_without_weights(tmp_path, content_path, style_path):
    proc = run_rtstyle(gatys(content_path, style_path, "o.png", "--loss-net", "vgg16-torchvision"),
                       cwd=tmp_path)
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, "--download")
    assert list(tmp_path.iterdir()) == []


def test_subprocess_help_and_no_args(tmp_path):
    helped = run_rtstyle(["--help"], cwd=ROOT)
    assert helped.returncode == 0
    assert all(name in helped.stdout for name in ("demo", "gatys", "experiment"))
    bare = run_rtstyle([], cwd=tmp_path)
    assert bare.returncode == 2
    assert "Traceback" not in bare.stderr


# --- unusual but valid inputs succeed end to end ------------------------------------------

def _grey_png(path: Path) -> Path:
    y, x = np.mgrid[0:40, 0:56]
    Image.fromarray(((x * 4 + y * 2) % 256).astype(np.uint8), "L").save(path)
    return path


def _rgba_png(path: Path) -> Path:
    rgba = np.zeros((48, 40, 4), np.uint8)
    rgba[..., :3] = (30, 140, 200)
    rgba[..., 3] = 255
    rgba[:, 20:, 3] = 0  # right half transparent: composited over white
    Image.fromarray(rgba, "RGBA").save(path)
    return path


@pytest.mark.parametrize("make, size", [(_grey_png, (23, 32)), (_rgba_png, (32, 27))],
                         ids=["greyscale", "rgba"])
def test_unusual_content_runs_end_to_end(make, size, capsys, tmp_path, out_dir, style_path):
    content = make(tmp_path / "content.png")
    output = out_dir / "result.png"
    status, out, err = cli(gatys(content, style_path, output), capsys)
    assert status == 0, err
    assert "Traceback" not in err and f"wrote {output}" in out

    img = cv2.imread(str(output))
    assert img is not None and img.shape[:2] == size  # longer side 32, aspect kept
    assert sorted(p.name for p in out_dir.iterdir()) == \
        sorted(["result.png"] + [f"result{s}" for s in SIDECARS])

    with open(out_dir / "result.losses.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["iteration", "content", "style", "tv", "total", "seconds"]
    assert len(rows) == 3 and [r[0] for r in rows[1:]] == ["1", "2"]
    assert all(np.isfinite(float(v)) for r in rows[1:] for v in r)

    with Image.open(out_dir / "result.losses.png") as plot:
        assert plot.format == "PNG" and plot.width > 100

    summary = json.loads((out_dir / "result.json").read_text())
    assert {"config", "final_losses", "seconds", "device"} <= set(summary)
    assert summary["device"] == "cpu" and summary["iterations"] == 2
    assert summary["config"]["size"] == 32 and summary["config"]["iterations"] == 2
    assert set(summary["final_losses"]) == {"content", "style", "tv", "total"}
    assert summary["final_losses"]["total"] == pytest.approx(float(rows[-1][4]))


def test_an_unwritable_output_fails_before_the_optimisation(capsys, out_dir, content_path,
                                                             style_path, monkeypatch):
    """The write probe is refused (as in a read-only folder, even for root): one line, and the
    optimisation never starts."""
    from rtstyle import atomic
    from rtstyle.train import gatys as gatys_module

    def refuse(target):
        raise PermissionError(13, "Permission denied")

    def must_not_run(*args, **kwargs):
        raise AssertionError("the optimisation started")

    monkeypatch.setattr(atomic, "_create_temp", refuse)
    monkeypatch.setattr(gatys_module, "stylize_gatys", must_not_run)
    status, out, err = cli(gatys(content_path, style_path, out_dir / "o.png"), capsys)
    assert status == 1
    assert_one_line_error(err, f"cannot write to {out_dir}", "Permission denied")
    assert list(out_dir.iterdir()) == []


def test_gatys_to_standard_output_and_no_silent_overwrite(capsysbinary, out_dir, content_path,
                                                          style_path):
    import cv2
    import numpy as np

    from rtstyle.cli import main

    assert main([str(a) for a in gatys(content_path, style_path, "-")]) == 0
    captured = capsysbinary.readouterr()
    img = cv2.imdecode(np.frombuffer(captured.out, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and max(img.shape[:2]) == 32
    assert b"wrote standard output" in captured.err
    assert list(out_dir.iterdir()) == []
    for _ in range(2):
        assert main([str(a) for a in gatys(content_path, style_path, out_dir / "o.png")]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert f"{out_dir / 'o.png'} exists: writing {out_dir / 'o-2.png'} instead" in out
    assert {p.name for p in out_dir.iterdir()} >= {"o.png", "o-2.png", "o-2.json", "o.json"}
