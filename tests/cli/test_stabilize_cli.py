"""``--stabilize [W]`` on ``rtstyle video`` and ``rtstyle flicker``, and flicker's style loss
(``--style-loss-frames N``, ``--device``), on tiny synthetic clips with the tiny exported styles:
good runs write what they should, bad values are one-line errors that write nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rtstyle import flicker
from rtstyle.stabilize import DEFAULT_WEIGHT
from rtstyle.stylizer import Stylizer

from tests.helpers import BLOCK_TORCH, ROOT, assert_one_line_error, cli, decode, make_clip

av = pytest.importorskip("av")


pytestmark = pytest.mark.usefixtures("only_named_styles")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("stabilize_clips") / "clip.mp4", frames=8,
                     size=(64, 48))


def video(inp, outp, style, *extra):
    return ["video", inp, "-o", outp, "--style", style, "--backend", "ort-cpu", "-q", *extra]


def flicker_argv(model, video_, out, *extra):
    return ["flicker", "--model", model, "--video", video_, "--backend", "ort-cpu",
            "--frames", "4", "--out", out, *extra]


# --- rtstyle video ---------------------------------------------------------------------------

def test_video_with_stabilize(capsys, models, clip, tmp_path):
    steady, plain = tmp_path / "steady.mp4", tmp_path / "plain.mp4"
    code, out, err = cli(video(clip, steady, models["starry"], "--stabilize"), capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert out.strip().startswith(f"wrote {steady}: 8 frames 64x48")
    code, _, err = cli(video(clip, plain, models["starry"]), capsys)
    assert code == 0, err
    a, _ = decode(steady)
    b, _ = decode(plain)
    assert len(a) == len(b) == 8 and a[0].shape == (48, 64, 3)
    assert any(np.abs(x.astype(int) - y).mean() > 0.5 for x, y in zip(a[1:], b[1:]))


def test_video_with_a_stabilize_value_and_a_batch(capsys, models, clip, tmp_path):
    dst = tmp_path / "steady.mp4"
    code, _, err = cli(video(clip, dst, models["starry"], "--stabilize", "0.5", "--batch", "3"),
                       capsys)
    assert code == 0, err
    assert len(decode(dst)[0]) == 8


def test_video_folder_with_stabilize_starts_each_video_afresh(capsys, models, clip, tmp_path):
    """Two copies of one clip: nothing of the first may carry over into the second."""
    src, dst = tmp_path / "videos", tmp_path / "styled"
    src.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (src / name).write_bytes(clip.read_bytes())
    # lossless (--crf 0): the lossy encoder is not bit-reproducible from run to run
    code, _, err = cli(video(src, dst, models["starry"], "--stabilize", "--no-audio", "--crf", "0",
                             "--preset", "ultrafast"), capsys)
    assert code == 0, err
    a, _ = decode(dst / "a_starry.mp4")  # outputs are named after the style
    b, _ = decode(dst / "b_starry.mp4")
    assert len(a) == len(b) == 8
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("value", ["1.5", "1", "-0.2", "nan"])
def test_video_refuses_a_stabilize_outside_0_1(capsys, models, clip, tmp_path, value):
    dst = tmp_path / "out.mp4"
    code, out, err = cli(video(clip, dst, models["starry"], "--stabilize", value), capsys)
    assert code == 1
    assert_one_line_error(err, "stabilize must be in [0, 1)")
    assert not dst.exists() and not list(tmp_path.glob("*.mp4*"))


def test_video_refuses_a_stabilize_that_is_not_a_number(capsys, models, clip, tmp_path):
    dst = tmp_path / "out.mp4"
    code, _, err = cli(video(clip, dst, models["starry"], "--stabilize", "strong"), capsys)
    assert code == 2
    assert_one_line_error(err, "--stabilize", "'strong'")
    assert not dst.exists()


def test_help_of_video_webcam_and_flicker_lists_stabilize(capsys):
    for command in ("video", "webcam", "flicker"):
        code, out, _ = cli([command, "--help"], capsys)
        assert code == 0 and "--stabilize" in out, command


# --- rtstyle flicker -------------------------------------------------------------------------

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
    frames = flicker.read_frames(clip, 4, 0.0, 640)
    styled = Stylizer({"main": models["starry"]}, backend="ort-cpu", warm_up=None).many(frames)
    expected = style_loss_of_frames(models["starry"], [styled[0], styled[3]], device="cpu")
    assert data["style_loss"] == pytest.approx(expected, rel=1e-4)


def test_the_style_loss_of_the_style_image_itself_is_zero(models, clip):
    """style_loss_of_frames scores against the model's own style image and loss."""
    from rtstyle.errors import ConfigError
    from rtstyle.train.evaluate import style_loss_of_frames
    from rtstyle.train.model_folder import style_image

    style = style_image(models["starry"])
    photo = flicker.read_frames(clip, 1, 0.0, 640)[0]
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
