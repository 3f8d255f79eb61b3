"""``rtstyle flicker`` on a tiny synthetic clip with the tiny trained style (exported once):
a good run writes flicker.json and heatmaps.png and prints the one-line summary; bad input is a
one-line error that writes nothing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest

from rtstyle import flicker as flicker_lib
from rtstyle.cli import main
from rtstyle.stabilize import DEFAULT_WEIGHT
from rtstyle.stylizer import Stylizer
from tests.helpers import BLOCK_TORCH, ROOT, assert_one_line_error, cli, make_audio_only, make_clip

SUMMARY = re.compile(r"^warping error (\d+\.\d\d) \(original (\d+\.\d\d)\) over (\d+) frame "
                     r"pairs, (\d+)% pixels non-occluded(?:; style loss [^;]+)?; wrote "
                     r".*flicker\.json and heatmaps\.png$")


pytestmark = pytest.mark.usefixtures("only_named_styles")


@pytest.fixture(scope="module")
def model(tiny_model, tmp_path_factory) -> Path:
    """An exported copy of the tiny trained model folder."""
    copy = tmp_path_factory.mktemp("flicker_model") / "tiny"
    shutil.copytree(tiny_model, copy)
    assert main(["export", "--model", str(copy)]) == 0
    return copy


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("flicker_clips")
    (d / "notes.mp4").write_text("this is not a video\n")
    return {"clip": make_clip(d / "clip.mp4", frames=8, size=(64, 48), audio=False),
            "one": make_clip(d / "one.mp4", frames=1, size=(64, 48), audio=False),
            "audio_only": make_audio_only(d / "audio_only.mp4"), "notes": d / "notes.mp4"}


def flicker(model, video, *extra):
    return ["flicker", "--model", model, "--video", video, "--backend", "ort-cpu", *extra]


def test_a_good_run(capsys, model, clips, tmp_path):
    out = tmp_path / "report"
    code, stdout, err = cli(flicker(model, clips["clip"], "--frames", "6", "--out", out), capsys)
    assert code == 0, err
    assert "Traceback" not in err
    line = stdout.strip()
    assert len(line.splitlines()) == 1, stdout
    m = SUMMARY.match(line)
    assert m, line
    styled, original, pairs, kept = float(m[1]), float(m[2]), int(m[3]), int(m[4])
    assert pairs == 5 and 50 <= kept <= 100
    data = json.loads((out / "flicker.json").read_text())
    assert data["command"].startswith("rtstyle flicker --model ")
    assert "--frames 6" in data["command"] and "--backend ort-cpu" in data["command"]
    assert data["frames"] == 6 and data["pairs"] == 5 and len(data["per_pair"]) == 5
    assert (data["width"], data["height"]) == (64, 48)
    assert data["warping_error"] == pytest.approx(styled, abs=0.006)
    assert data["original_warping_error"] == pytest.approx(original, abs=0.006)
    assert data["flow"] == "dis"
    if "style_loss_note" in data:  # measured when the model folder has what the loss needs
        assert data["style_loss"] is None
    else:
        assert data["style_loss"] > 0 and f"style loss {data['style_loss']:.4g}"[:14] in line
    assert "ort-cpu" in data["backend"] and data["style"]
    assert "forward-backward consistency" in data["formula"]
    assert data["units"] == "mean absolute difference, 0..255 RGB"
    picture = cv2.imread(str(out / "heatmaps.png"))
    assert picture is not None and picture.shape[0] > 4 * 100 and picture.shape[1] > 4 * 100
    assert sorted(p.name for p in out.iterdir()) == ["flicker.json", "heatmaps.png"]


def test_default_out_folder_farneback_and_a_start(capsys, model, clips, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = cli(flicker(model, clips["clip"], "--start", "0.12", "--max-side", "32",
                                    "--flow", "farneback"), capsys)
    assert code == 0, err
    found = list((tmp_path / "out" / "flicker").glob("clip_*/flicker.json"))
    assert len(found) == 1, list(tmp_path.rglob("*"))
    data = json.loads(found[0].read_text())
    assert data["frames"] == 5  # 8 frames at 25 fps, from 0.12 s: frames 3..7
    assert (data["width"], data["height"]) == (32, 24) and data["flow"] == "farneback"
    assert SUMMARY.match(stdout.strip())


@pytest.mark.parametrize("case, needles", [
    ("missing", ("video not found",)),
    ("notes", ("not a video file",)),
    ("folder", ("expected a video file, got a folder",)),
    ("audio_only", ("has no video stream",)),
    ("one", ("1 decodable frame(s)", "at least 2")),
])
def test_bad_videos_are_one_line_errors(capsys, model, clips, tmp_path, case, needles):
    video = {"missing": tmp_path / "nope.mp4", "folder": tmp_path}.get(case) or clips[case]
    out = tmp_path / "report"
    code, stdout, err = cli(flicker(model, video, "--out", out), capsys)
    assert code == 1
    assert_one_line_error(err, *needles)
    assert not out.exists()


def test_bad_models_are_one_line_errors(capsys, tiny_model, clips, tmp_path):
    out = tmp_path / "report"
    code, _, err = cli(flicker(tmp_path / "nope.onnx", clips["clip"], "--out", out), capsys)
    assert code == 1
    assert_one_line_error(err, "model not found")
    code, _, err = cli(flicker("starry", clips["clip"], "--out", out), capsys)
    assert code == 1
    assert_one_line_error(err, "no style named 'starry'")
    code, _, err = cli(flicker(tiny_model, clips["clip"], "--out", out), capsys)  # not exported
    assert code == 1
    assert_one_line_error(err, "rtstyle export --model")
    assert not out.exists()


def test_bad_flags_are_one_line_errors(capsys, model, clips, tmp_path):
    code, _, err = cli(flicker(model, clips["clip"], "--frames", "0"), capsys)
    assert code == 2
    assert_one_line_error(err, "--frames", "must be at least 1")
    code, _, err = cli(["flicker", "--video", clips["clip"]], capsys)
    assert code == 2
    assert_one_line_error(err, "--model")
    (tmp_path / "file").write_text("x")
    code, _, err = cli(flicker(model, clips["clip"], "--out", tmp_path / "file"), capsys)
    assert code == 1
    assert_one_line_error(err, "--out must be a folder")
    code, _, err = cli(flicker(model, clips["clip"], "--frames", "1"), capsys)
    assert code == 1
    assert_one_line_error(err, "--frames must be at least 2")
    code, _, err = cli(flicker(model, clips["clip"], "--max-side", "8"), capsys)
    assert code == 1
    assert_one_line_error(err, "--max-side must be at least 16")


def test_runs_without_torch(model, clips, tmp_path):
    out = tmp_path / "report"
    script = BLOCK_TORCH + textwrap.dedent(f"""
        from rtstyle.cli import main
        code = main(["flicker", "--model", {str(model)!r}, "--video", {str(clips['clip'])!r},
                     "--frames", "3", "--out", {str(out)!r}])
        assert "torch" not in sys.modules, "flicker imported torch"
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert SUMMARY.match(done.stdout.strip()), done.stdout
    assert (out / "flicker.json").is_file() and (out / "heatmaps.png").is_file()


# --- --stabilize [W] and the style loss (--style-loss-frames N, --device) --------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("stabilize_clips") / "clip.mp4", frames=8,
                     size=(64, 48))


def flicker_argv(model, video_, out, *extra):
    return ["flicker", "--model", model, "--video", video_, "--backend", "ort-cpu",
            "--frames", "4", "--out", out, *extra]


def read_report(out: Path) -> dict:
    return json.loads((out / "flicker.json").read_text())


def test_flicker_records_stabilize_and_it_lowers_the_warping_error(capsys, models, clip,
                                                                   tmp_path):
    reports = {}
    for name, extra in (("plain", []), ("steady", ["--stabilize"])):
        out = tmp_path / name
        code, stdout, err = cli(flicker_argv(models["starry"], clip, out,
                                             "--style-loss-frames", "0", *extra), capsys)
        assert code == 0, err
        assert len(stdout.strip().splitlines()) == 1, stdout
        reports[name] = read_report(out)
    plain, steady = reports["plain"], reports["steady"]
    assert plain["stabilize"] == 0.0 and "--stabilize" not in plain["command"]
    assert steady["stabilize"] == DEFAULT_WEIGHT
    assert f"--stabilize {DEFAULT_WEIGHT:g}" in steady["command"]
    assert steady["style"].endswith("_stabilized") and not plain["style"].endswith("_stabilized")
    assert steady["original_warping_error"] == plain["original_warping_error"]
    assert steady["warping_error"] < plain["warping_error"]
    assert (tmp_path / "steady" / "heatmaps.png").is_file()


def test_flicker_with_a_stabilize_value(capsys, models, clip, tmp_path):
    out = tmp_path / "r"
    code, _, err = cli(flicker_argv(models["starry"], clip, out, "--stabilize", "0.5",
                                    "--style-loss-frames", "0"), capsys)
    assert code == 0, err
    data = read_report(out)
    assert data["stabilize"] == 0.5 and "--stabilize 0.5" in data["command"]


def test_flicker_refuses_a_stabilize_of_1(capsys, models, clip, tmp_path):
    out = tmp_path / "r"
    code, _, err = cli(flicker_argv(models["starry"], clip, out, "--stabilize", "1"), capsys)
    assert code == 1
    assert_one_line_error(err, "stabilize must be in [0, 1)")
    assert not out.exists()


def test_flicker_style_loss_of_a_model_folder(capsys, models, clip, tmp_path):
    """The number is the model's training style loss of the picked stylised frames."""
    from rtstyle.train.evaluate import style_loss_of_frames

    out = tmp_path / "r"
    code, stdout, err = cli(flicker_argv(models["starry"], clip, out, "--style-loss-frames", "2",
                                         "--device", "cpu"), capsys)
    assert code == 0, err
    assert "; style loss " in stdout and len(stdout.strip().splitlines()) == 1
    data = read_report(out)
    assert isinstance(data["style_loss"], float) and data["style_loss"] > 0
    assert data["style_loss_frames"] == 2 and "style_loss_note" not in data
    assert "--style-loss-frames 2" in data["command"]
    # the same frames (the first and the last of 4), scored directly
    frames = flicker_lib.read_frames(clip, 4, 0.0, 640)
    styled = Stylizer({"main": models["starry"]}, backend="ort-cpu", warm_up=None).many(frames)
    expected = style_loss_of_frames(models["starry"], [styled[0], styled[3]], device="cpu")
    assert data["style_loss"] == pytest.approx(expected, rel=1e-4)


def test_the_style_loss_of_the_style_image_itself_is_zero(models, clip):
    """style_loss_of_frames scores against the model's own style image and loss."""
    from rtstyle.errors import ConfigError
    from rtstyle.train.evaluate import style_loss_of_frames
    from rtstyle.train.model_folder import style_image

    style = style_image(models["starry"])
    photo = flicker_lib.read_frames(clip, 1, 0.0, 640)[0]
    assert style_loss_of_frames(models["starry"], [style], device="cpu") < 1e-3
    assert style_loss_of_frames(models["starry"], [photo], device="cpu") > 1.0
    both = style_loss_of_frames(models["starry"], [style, photo], device="cpu")
    assert both == pytest.approx(style_loss_of_frames(models["starry"], [photo],
                                                      device="cpu") / 2, rel=1e-4)
    with pytest.raises(ConfigError, match="no frames"):
        style_loss_of_frames(models["starry"], [], device="cpu")


def test_flicker_style_loss_frames_0_skips_it(capsys, models, clip, tmp_path):
    out = tmp_path / "r"
    code, _, err = cli(flicker_argv(models["starry"], clip, out, "--style-loss-frames", "0"),
                       capsys)
    assert code == 0, err
    data = read_report(out)
    assert data["style_loss"] is None
    assert "style_loss_note" not in data and "style_loss_frames" not in data


def test_flicker_style_loss_of_a_bare_onnx_file_says_why_not(capsys, models, clip, tmp_path):
    out = tmp_path / "r"
    code, stdout, err = cli(flicker_argv(models["starry"] / "model.onnx", clip, out,
                                         "--style-loss-frames", "2"), capsys)
    assert code == 0, err
    data = read_report(out)
    assert data["style_loss"] is None
    assert "not a model folder" in data["style_loss_note"]
    assert "style loss not measured" in stdout


def test_flicker_style_loss_on_a_device_that_is_not_there(capsys, models, clip, tmp_path):
    out = tmp_path / "r"
    code, _, err = cli(flicker_argv(models["starry"], clip, out, "--style-loss-frames", "2",
                                    "--device", "tpu"), capsys)
    assert code == 1
    assert_one_line_error(err, "unknown device 'tpu'")
    assert not out.exists()


def test_flicker_style_loss_without_torch_writes_a_note(models, clip, tmp_path):
    out = tmp_path / "r"
    script = BLOCK_TORCH + textwrap.dedent(f"""
        from rtstyle.cli import main
        code = main(["flicker", "--model", {str(models["starry"])!r}, "--video", {str(clip)!r},
                     "--backend", "ort-cpu", "--frames", "3", "--style-loss-frames", "2",
                     "--out", {str(out)!r}])
        assert "torch" not in sys.modules, "flicker imported torch"
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    data = read_report(out)
    assert data["style_loss"] is None and "train extra" in data["style_loss_note"]
    assert "style loss not measured" in done.stdout
