"""``rtstyle video`` on tiny synthetic clips and a tiny exported style: a good run, OUT as a
folder, folders of videos, Ctrl-C through a real process, and one-line errors that write
nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT, assert_one_line_error, cli, decode, make_audio_only, make_clip

av = pytest.importorskip("av")


# --- two tiny exported styles, trained once per session (cached in the session's tmp folder) --


pytestmark = pytest.mark.usefixtures("no_user_styles")


# --- synthetic clips -------------------------------------------------------------------------


def count(path: Path) -> tuple[int, int, tuple[int, int]]:
    """(decoded video frames, audio packets, (width, height)) of ``path``."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        size = (v.width, v.height)
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        audio = sum(1 for p in c.demux(c.streams.audio[0]) if p.dts is not None) \
            if c.streams.audio else 0
    return frames, audio, size


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".part" in p.name)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("video_inputs")
    c = {"clip": make_clip(d / "clip.mp4", frames=20),
         "audio_only": make_audio_only(d / "audio_only.mp4")}
    (d / "notes.mp4").write_text("this is not a video\n")
    c["notes"] = d / "notes.mp4"
    return c


def video(inp, outp, style, *extra):
    return ["video", inp, "-o", outp, "--style", style, "-q", *extra]


SUMMARY = ("wrote ", " frames ", " audio packets", " frames/s ", "decode ", "inference ",
           "encode ")


# --- good runs -------------------------------------------------------------------------------

def test_a_good_run(capsys, models, clips, tmp_path):
    dst = tmp_path / "styled.mp4"
    code, out, err = cli(video(clips["clip"], dst, models["starry"]), capsys)
    assert code == 0, err
    assert "Traceback" not in err
    line = out.strip()
    assert len(line.splitlines()) == 1, out
    assert line.startswith(f"wrote {dst}: 20 frames 64x48 at 25 fps")
    assert all(word in line for word in SUMMARY), line
    assert "ort-cpu" in line and "padded" not in line
    frames, audio, size = count(dst)
    assert (frames, size) == (20, (64, 48))
    assert audio > 0 and f"{audio} audio packets" in line
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["styled.mp4"]


def test_engine_flags_and_no_audio(capsys, models, clips, tmp_path):
    dst = tmp_path / "styled.mkv"
    argv = video(clips["clip"], dst, models["starry"], "--strength", "0.5", "--preserve-color",
                 "--blend", models["bright"], "--scale", "0.75", "--max-side", "48",
                 "--no-audio", "--crf", "30", "--preset", "ultrafast", "--start", "0.2",
                 "--duration", "0.4")
    code, out, err = cli(argv, capsys)
    assert code == 0, err
    frames, audio, size = count(dst)
    assert abs(frames - 10) <= 1 and audio == 0 and size == (64, 48)
    assert f"{frames} frames" in out and "0 audio packets" in out


def test_out_as_an_existing_folder(capsys, models, clips, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    code, out, err = cli(video(clips["clip"], folder, models["starry"]), capsys)
    assert code == 0, err
    assert [p.name for p in folder.iterdir()] == ["clip_starry.mp4"]  # after the style
    assert f"wrote {folder / 'clip_starry.mp4'}" in out
    assert count(folder / "clip_starry.mp4")[0] == 20


@pytest.fixture
def video_folder(tmp_path, clips) -> Path:
    d = tmp_path / "videos"
    (d / "sub").mkdir(parents=True)
    make_clip(d / "a.mp4", frames=6)
    make_clip(d / "sub" / "b.mkv", frames=4, audio=False)
    (d / "broken.mov").write_text("not a video")
    (d / "notes.txt").write_text("ignored")
    return d


def test_a_folder_of_videos(capsys, models, video_folder, tmp_path):
    dst = tmp_path / "styled"
    code, out, err = cli(video(video_folder, dst, models["bright"]), capsys)
    assert code == 1  # the good ones are written, the run is not a success
    assert_one_line_error(err, "1 of 3 videos could not be read")
    written = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert written == ["a_bright.mp4", "sub/b_bright.mp4"]
    frames, audio, _ = count(dst / "a_bright.mp4")
    assert frames == 6 and audio > 0
    assert count(dst / "sub" / "b_bright.mp4")[:2] == (4, 0)
    assert out.count("wrote ") == 2
    assert "skipped 1 video(s) that could not be read" in out
    assert str(video_folder / "broken.mov") in out
    assert "notes.txt" not in out


def test_a_folder_with_only_unreadable_videos_exits_1(capsys, models, clips, tmp_path):
    d = tmp_path / "videos"
    d.mkdir()
    (d / "x.mp4").write_text("not a video")
    (d / "y.mkv").write_bytes(clips["audio_only"].read_bytes())
    dst = tmp_path / "styled"
    code, out, err = cli(video(d, dst, models["starry"]), capsys)
    assert code == 1
    assert "Traceback" not in err
    assert "skipped 2 video(s)" in out and "x.mp4" in out and "no video stream" in out
    assert not dst.exists() or not any(p.is_file() for p in dst.rglob("*"))


def test_a_folder_with_one_video_into_a_new_folder(capsys, models, tmp_path):
    d = tmp_path / "videos"
    d.mkdir()
    make_clip(d / "only.mp4", frames=4, audio=False)
    code, out, err = cli(video(d, tmp_path / "new", models["starry"]), capsys)
    assert code == 0, err
    assert count(tmp_path / "new" / "only_starry.mp4")[0] == 4


def test_a_folder_with_two_videos_of_the_same_name(capsys, models, tmp_path):
    d = tmp_path / "videos"
    d.mkdir()
    make_clip(d / "clip.mp4", frames=4, audio=False)
    make_clip(d / "clip.mkv", frames=6, audio=False)
    dst = tmp_path / "styled"
    code, out, err = cli(video(d, dst, models["starry"]), capsys)
    written = sorted(p for p in dst.rglob("*") if p.is_file()) if dst.exists() else []
    if code == 0:
        assert sorted(count(p)[0] for p in written) == [4, 6], out
    else:
        assert_one_line_error(err)


# --- Ctrl-C through a real process -----------------------------------------------------------

def test_ctrl_c_exits_130_and_leaves_nothing(models, tmp_path):
    src = make_clip(tmp_path / "long.mp4", frames=300, size=(320, 240), audio=False,
                    preset="ultrafast")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dst = out_dir / "out.mp4"
    env = {**os.environ, "RTSTYLE_MODELS": str(tmp_path / "no-styles")}
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "video", str(src), "-o", str(dst),
                             "--style", str(models["starry"]), "-q"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(out_dir.glob(".out.mp4.*.part.mp4")):  # stylize_video has started
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no temporary output appeared"
            time.sleep(0.02)
        time.sleep(0.3)  # a few frames in
        assert proc.poll() is None, "the clip was stylised before the signal: make it longer"
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["rtstyle: interrupted"]
    assert "wrote" not in stdout
    assert list(out_dir.iterdir()) == []


# --- errors: one line, non-zero exit, nothing written ----------------------------------------

# (id, input, output, extra flags, exit code, words in the message)
ERRORS = [
    ("missing-input", "missing.mp4", "o.mp4", [], 1, ["video not found", "missing.mp4"]),
    ("not-a-video", "notes", "o.mp4", [], 1, ["not a video file", "notes.mp4"]),
    ("no-video-stream", "audio_only", "o.mp4", [], 1, ["no video stream"]),
    ("out-is-in", "clip", "IN", [], 1, ["is the input"]),
    ("out-extension", "clip", "o.gif", [], 1, ["cannot write '.gif'"]),
    ("bogus-codec", "clip", "o.mp4", ["--codec", "bogus"], 1, ["codec 'bogus'"]),
    ("negative-start", "clip", "o.mp4", ["--start", "-1"], 2, ["--start", ">= 0"]),
    ("zero-duration", "clip", "o.mp4", ["--duration", "0"], 2, ["--duration", "> 0"]),
    ("start-past-the-end", "clip", "o.mp4", ["--start", "60"], 1, ["no video frames"]),
    ("strength", "clip", "o.mp4", ["--strength", "5"], 1, ["strength", "between 0 and 1"]),
    ("unknown-style", "clip", "o.mp4", ["--style", "nostyle"], 1, ["style", "'nostyle'"]),
    ("empty-folder", "EMPTY", "o", [], 1, ["no videos found"]),
    ("folder-into-a-file", "FOLDER", "existing.mp4", [], 1, ["OUT must be a folder"]),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_user_errors_are_one_line_and_write_nothing(case, capsys, models, clips, tmp_path):
    _, inp, outp, extra, code, needles = case
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "folder").mkdir()
    make_clip(tmp_path / "folder" / "v.mp4", frames=3, audio=False)
    existing = out_dir / "existing.mp4"
    if outp == "existing.mp4":
        existing.write_bytes(b"keep me")
    src = {"EMPTY": tmp_path / "empty", "FOLDER": tmp_path / "folder"}.get(inp) or \
        clips.get(inp) or tmp_path / inp
    dst = src if outp == "IN" else out_dir / outp
    before = src.read_bytes() if src.is_file() else None
    argv = video(src, dst, models["starry"], *extra)

    status, stdout, err = cli(argv, capsys)

    assert status == code
    assert_one_line_error(err, *needles)
    assert "wrote" not in stdout
    expected = ["existing.mp4"] if outp == "existing.mp4" else []
    assert sorted(p.name for p in out_dir.iterdir()) == expected
    if outp == "existing.mp4":
        assert existing.read_bytes() == b"keep me"
    if before is not None:
        assert src.read_bytes() == before
    assert leftovers(tmp_path) == [] and leftovers(clips["clip"].parent) == []


def test_an_audio_codec_is_a_one_line_error_naming_it(capsys, models, clips, tmp_path):
    status, _, err = cli(video(clips["clip"], tmp_path / "o.mp4", models["starry"],
                               "--codec", "aac"), capsys)
    assert status == 1
    assert_one_line_error(err, "codec 'aac'")


def test_a_truncated_video_writes_what_decodes_warns_and_exits_3(capsys, models, tmp_path):
    whole = make_clip(tmp_path / "whole.mkv", frames=40, audio=False)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:int(len(data) * 0.6)])  # MKV keeps its header: the start decodes
    dst = tmp_path / "out.mp4"
    code, out, err = cli(video(cut, dst, models["starry"]), capsys)
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rtstyle: warning: {cut} is truncated")
    decoded = count(dst)[0]
    assert 0 < decoded < 40
    assert f"decoded {decoded} of 40 declared frames ({decoded / 25:.2f} s of 1.60 s)" in lines[0]


def test_a_still_image_is_refused(capsys, models, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes((ROOT / "rtstyle" / "assets" / "tubingen.jpg").read_bytes())
    code, _, err = cli(video(photo, tmp_path / "out.mp4", models["starry"]), capsys)
    assert code == 1
    assert_one_line_error(err, "is a still image", "rtstyle image")
    assert not (tmp_path / "out.mp4").exists()


def test_the_output_goes_into_a_new_folder(capsys, models, clips, tmp_path):
    dst = tmp_path / "new" / "deeper" / "o.mp4"
    code, _, err = cli(video(clips["clip"], dst, models["starry"]), capsys)
    assert code == 0, err
    assert count(dst)[0] > 0


def test_json_is_one_record_per_video(capsys, models, clips, tmp_path):
    dst = tmp_path / "o.mp4"
    code, out, err = cli(video(clips["clip"], dst, models["starry"], "--json"), capsys)
    assert code == 0, err
    (line,) = out.splitlines()
    record = json.loads(line)
    assert record["output"] == str(dst) and record["frames"] == count(dst)[0]
    assert record["incomplete"] is False and record["declared_frames"] == record["frames"]


def test_no_overwrite_without_the_flag_and_the_old_positional_out(capsys, models, clips,
                                                                   tmp_path):
    dst = tmp_path / "o.mp4"
    assert cli(video(clips["clip"], dst, models["starry"]), capsys)[0] == 0
    before = dst.read_bytes()
    code, out, _ = cli(video(clips["clip"], dst, models["bright"]), capsys)
    assert code == 0
    assert "o.mp4 exists: writing o-2.mp4 instead (--overwrite replaces)" in out
    assert dst.read_bytes() == before and (tmp_path / "o-2.mp4").is_file()
    code, _, err = cli(["video", clips["clip"], tmp_path / "old.mp4", "--style", models["starry"],
                        "-q"], capsys)
    assert code == 0
    assert err.strip() == ("rtstyle: OUT after IN is deprecated and will go in the next "
                           "release; use -o/--output")
    code, _, _ = cli(video(clips["clip"], dst, models["bright"], "--overwrite"), capsys)
    assert code == 0 and dst.read_bytes() != before


# --- --stabilize [W] ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("stabilize_clips") / "clip.mp4", frames=8,
                     size=(64, 48))


def video_ort(inp, outp, style, *extra):
    return ["video", inp, "-o", outp, "--style", style, "--backend", "ort-cpu", "-q", *extra]


@pytest.mark.usefixtures("only_named_styles")
def test_video_with_stabilize(capsys, models, clip, tmp_path):
    steady, plain = tmp_path / "steady.mp4", tmp_path / "plain.mp4"
    code, out, err = cli(video_ort(clip, steady, models["starry"], "--stabilize"), capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert out.strip().startswith(f"wrote {steady}: 8 frames 64x48")
    code, _, err = cli(video_ort(clip, plain, models["starry"]), capsys)
    assert code == 0, err
    a, _ = decode(steady)
    b, _ = decode(plain)
    assert len(a) == len(b) == 8 and a[0].shape == (48, 64, 3)
    assert any(np.abs(x.astype(int) - y).mean() > 0.5 for x, y in zip(a[1:], b[1:]))


@pytest.mark.usefixtures("only_named_styles")
def test_video_with_a_stabilize_value_and_a_batch(capsys, models, clip, tmp_path):
    dst = tmp_path / "steady.mp4"
    code, _, err = cli(video_ort(clip, dst, models["starry"], "--stabilize", "0.5", "--batch", "3"),
                       capsys)
    assert code == 0, err
    assert len(decode(dst)[0]) == 8


@pytest.mark.usefixtures("only_named_styles")
def test_video_folder_with_stabilize_starts_each_video_afresh(capsys, models, clip, tmp_path):
    """Two copies of one clip: nothing of the first may carry over into the second."""
    src, dst = tmp_path / "videos", tmp_path / "styled"
    src.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (src / name).write_bytes(clip.read_bytes())
    # lossless (--crf 0): the lossy encoder is not bit-reproducible from run to run
    code, _, err = cli(video_ort(src, dst, models["starry"], "--stabilize", "--no-audio",
                                 "--crf", "0", "--preset", "ultrafast"), capsys)
    assert code == 0, err
    a, _ = decode(dst / "a_starry.mp4")  # outputs are named after the style
    b, _ = decode(dst / "b_starry.mp4")
    assert len(a) == len(b) == 8
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.usefixtures("only_named_styles")
@pytest.mark.parametrize("value", ["1.5", "1", "-0.2", "nan"])
def test_video_refuses_a_stabilize_outside_0_1(capsys, models, clip, tmp_path, value):
    dst = tmp_path / "out.mp4"
    code, out, err = cli(video_ort(clip, dst, models["starry"], "--stabilize", value), capsys)
    assert code == 1
    assert_one_line_error(err, "stabilize must be in [0, 1)")
    assert not dst.exists() and not list(tmp_path.glob("*.mp4*"))


@pytest.mark.usefixtures("only_named_styles")
def test_video_refuses_a_stabilize_that_is_not_a_number(capsys, models, clip, tmp_path):
    dst = tmp_path / "out.mp4"
    code, _, err = cli(video_ort(clip, dst, models["starry"], "--stabilize", "strong"), capsys)
    assert code == 2
    assert_one_line_error(err, "--stabilize", "'strong'")
    assert not dst.exists()


@pytest.mark.usefixtures("only_named_styles")
def test_help_of_video_webcam_and_flicker_lists_stabilize(capsys):
    for command in ("video", "webcam", "flicker"):
        code, out, _ = cli([command, "--help"], capsys)
        assert code == 0 and "--stabilize" in out, command
