"""rtstyle.video: the decode -> stylise -> encode pipeline on tiny synthetic clips made with PyAV.

Frame count, frame rate, timestamps and colours survive an identity ``process``; the audio track
is passed through; odd sizes are padded to even; ``start``/``duration`` cut; every failure (bad
input, refused output, a stop, an exception in ``process``) leaves no OUT and no temporary file.
"""

from __future__ import annotations

import os
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from rtstyle import video  # noqa: E402
from rtstyle.errors import InputError  # noqa: E402
from rtstyle.video import EncodeOptions, VideoError, stylize_video  # noqa: E402

from tests.helpers import (audio_packets, build_styles, decode, frame_image, make_audio_only, make_clip, vfr_ms)


# --- synthetic clips -------------------------------------------------------------------------


# --- reading results back --------------------------------------------------------------------


def video_info(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {"codec": v.codec_context.name, "width": v.width, "height": v.height,
                "pix_fmt": v.format.name, "rate": Fraction(v.average_rate),
                "seconds": float(v.duration * v.time_base) if v.duration else None,
                "streams": [s.type for s in c.streams]}


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def leftovers(folder: Path) -> list[str]:
    """Temporary files atomic_path leaves if it fails to clean up."""
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


def pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("rtstyle-")]


def identity(frame: np.ndarray) -> np.ndarray:
    return frame


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    c = {
        "basic": make_clip(d / "basic.mp4", frames=20),
        "stereo": make_clip(d / "stereo.mov", frames=10, rate=48000, layout="stereo"),
        "silent": make_clip(d / "silent.mkv", frames=10, audio=False),
        "vfr": make_clip(d / "vfr.mp4", frames=20, vfr=True),
        "odd": make_clip(d / "odd.mp4", frames=8, size=(65, 49), pix_fmt="yuv444p"),
        "long": make_clip(d / "long.mp4", frames=50, preset="ultrafast"),
        "ten_bit": make_clip(d / "ten_bit.mp4", frames=8, pix_fmt="yuv420p10le"),
        "yuv444": make_clip(d / "yuv444.mp4", frames=8, pix_fmt="yuv444p"),
        "mkv": make_clip(d / "long.mkv", frames=30),
        "audio_only": make_audio_only(d / "audio_only.mp4"),
    }
    (d / "notes.mp4").write_text("this is not a video\n")
    c["text"] = d / "notes.mp4"
    data = c["long"].read_bytes()
    (d / "cut_short.mp4").write_bytes(data[:int(len(data) * 0.6)])
    c["truncated_mp4"] = d / "cut_short.mp4"
    data = c["mkv"].read_bytes()
    (d / "cut_short.mkv").write_bytes(data[:int(len(data) * 0.6)])
    c["truncated_mkv"] = d / "cut_short.mkv"
    return c


@pytest.fixture
def out(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


# --- the tiny style (trained 2 steps and exported, shared with the CLI tests' cache) ----------


@pytest.fixture(scope="module")
def stylizer(tmp_path_factory):
    from rtstyle.stylizer import Stylizer

    models = build_styles(tmp_path_factory.getbasetemp() / "rtstyle_tiny_styles")
    return Stylizer({"starry": models["starry"]}, backend="ort-cpu", warm_up=None)


# --- what an identity pipeline keeps ---------------------------------------------------------

def test_the_helper_clip_has_the_colors_it_was_made_with(clips):
    frames, times = decode(clips["basic"])
    assert len(frames) == 20
    assert times == pytest.approx([i / 25 for i in range(20)], abs=1e-6)
    for i, f in enumerate(frames):
        assert mad(f, frame_image(i, 64, 48)) < 6, i


def test_identity_keeps_frames_rate_duration_and_colors(clips, out):
    src, dst = clips["basic"], out / "o.mp4"
    result = stylize_video(src, dst, identity)

    assert result.output == dst and dst.is_file()
    assert (result.frames, result.width, result.height) == (20, 64, 48)
    assert result.fps == pytest.approx(25) and not result.padded and not result.interrupted
    assert result.skipped_packets == 0
    assert set(result.timings) == {"decode", "inference", "encode"}
    assert result.seconds > 0 and result.fps_processed > 0
    info_in, info_out = video_info(src), video_info(dst)
    assert info_out["codec"] == "h264" and info_out["pix_fmt"] == "yuv420p"
    assert (info_out["width"], info_out["height"]) == (64, 48)
    assert info_out["rate"] == info_in["rate"] == 25
    assert info_out["seconds"] == pytest.approx(info_in["seconds"], abs=1 / 25)

    frames_in, times_in = decode(src)
    frames_out, times_out = decode(dst)
    assert len(frames_out) == len(frames_in) == 20
    assert times_out == pytest.approx(times_in, abs=1e-3)
    for i, (a, b) in enumerate(zip(frames_in, frames_out)):
        assert mad(a, b) < 6, i
        assert mad(b, frame_image(i, 64, 48)) < 8, i  # the known colours, after two encodes
    assert leftovers(out) == [] and pipeline_threads() == []


@pytest.mark.parametrize("name", ["basic", "stereo"])
def test_audio_is_passed_through_without_re_encoding(clips, out, name):
    src, dst = clips[name], out / "o.mp4"
    result = stylize_video(src, dst, identity)
    packets_in, params_in = audio_packets(src)
    packets_out, params_out = audio_packets(dst)
    assert params_out == params_in  # same codec, sample rate and channels
    assert result.audio_packets == len(packets_out) > 0
    # every packet at or after 0 s is copied byte for byte, at its time
    kept = packets_in  # every packet, the AAC priming packet (pts < 0) included
    assert [b for _, b in packets_out] == [b for _, b in kept]
    assert [t for t, _ in packets_out] == pytest.approx([t for t, _ in kept], abs=1e-3)


def test_audio_keeps_every_packet(clips, out):
    src, dst = clips["basic"], out / "o.mp4"
    result = stylize_video(src, dst, identity)
    packets_in, _ = audio_packets(src)
    packets_out, _ = audio_packets(dst)
    assert packets_in[0][0] < 0  # the encoder's priming packet, before the first frame
    assert result.audio_packets == len(packets_out) == len(packets_in)


def test_no_audio_option_drops_the_audio_track(clips, out):
    result = stylize_video(clips["basic"], out / "o.mp4", identity,
                           options=EncodeOptions(audio=False))
    assert result.audio_packets == 0 and result.frames == 20
    assert video_info(out / "o.mp4")["streams"] == ["video"]


def test_a_clip_without_audio(clips, out):
    result = stylize_video(clips["silent"], out / "o.mkv", identity)
    assert result.frames == 10 and result.audio_packets == 0
    assert video_info(out / "o.mkv")["streams"] == ["video"]
    assert len(decode(out / "o.mkv")[0]) == 10


def test_the_helper_vfr_clip_has_irregular_timestamps(clips):
    _, times = decode(clips["vfr"])
    assert times == pytest.approx([vfr_ms(i) / 1000 for i in range(20)], abs=1e-6)


def test_variable_frame_rate_timestamps_are_kept(clips, out):
    src, dst = clips["vfr"], out / "o.mp4"
    result = stylize_video(src, dst, identity)
    _, times_in = decode(src)
    _, times_out = decode(dst)
    assert result.frames == len(times_out) == len(times_in) == 20
    assert times_out == pytest.approx(times_in, abs=1e-3)


def test_an_inverting_process_is_applied_to_every_frame_in_order(clips, out):
    result = stylize_video(clips["basic"], out / "o.mp4", lambda f: 255 - f)
    assert result.frames == 20
    frames_in, _ = decode(clips["basic"])
    frames_out, _ = decode(out / "o.mp4")
    assert len(frames_out) == 20
    for i, (a, b) in enumerate(zip(frames_in, frames_out)):
        assert mad(255 - a, b) < 6, i


def test_progress_reports_every_frame(clips, out):
    calls = []
    stylize_video(clips["basic"], out / "o.mp4", identity,
                  on_frame=lambda done, total: calls.append((done, total)))
    assert [d for d, _ in calls] == list(range(1, 21))
    assert all(total == 20 for _, total in calls)


def test_odd_sizes_are_padded_to_even_by_repeating_the_edge(clips, out):
    src, dst = clips["odd"], out / "o.mp4"
    result = stylize_video(src, dst, identity)
    assert result.padded
    assert (result.frames, result.width, result.height) == (8, 65, 49)  # the content size
    info = video_info(dst)
    assert (info["width"], info["height"]) == (66, 50)
    frames_in, _ = decode(src)
    frames_out, _ = decode(dst)
    assert len(frames_out) == 8
    for i, (a, b) in enumerate(zip(frames_in, frames_out)):
        assert b.shape == (50, 66, 3)
        assert mad(a, b[:49, :65]) < 6, i
        assert mad(b[:49, 65], a[:, 64]) < 8, i  # the added column repeats the last one
        assert mad(b[49, :65], a[48]) < 8, i  # and the added row the last row


@pytest.mark.parametrize("name", ["ten_bit", "yuv444"])
def test_10_bit_and_444_inputs_become_8_bit_420(clips, out, name):
    assert video_info(clips[name])["pix_fmt"] in ("yuv420p10le", "yuv444p")
    result = stylize_video(clips[name], out / "o.mp4", identity)
    assert result.frames == 8
    assert video_info(out / "o.mp4")["pix_fmt"] == "yuv420p"
    frames_in, _ = decode(clips[name])
    frames_out, _ = decode(out / "o.mp4")
    assert len(frames_out) == 8
    assert all(mad(a, b) < 6 for a, b in zip(frames_in, frames_out))


def test_start_and_duration_cut(clips, out):
    src, dst = clips["long"], out / "o.mp4"
    start, duration = 0.5, 0.8
    result = stylize_video(src, dst, identity, start=start, duration=duration)
    assert abs(result.frames - duration * 25) <= 1
    frames_in, times_in = decode(src)
    frames_out, times_out = decode(dst)
    assert len(frames_out) == result.frames
    assert all(start - 1e-6 <= t < start + duration for t in times_out)
    # the frames are the ones from that stretch of the input
    first = times_in.index(min(times_in, key=lambda t: abs(t - times_out[0])))
    for k, b in enumerate(frames_out):
        assert mad(frames_in[first + k], b) < 6, k
    packets_in, _ = audio_packets(src)
    packets_out, _ = audio_packets(dst)
    assert result.audio_packets == len(packets_out) > 0
    # packets overlapping the cut are kept: one may start up to a packet's length before it
    longest = 1024 / 44100 + 1e-6
    assert all(start - longest < t < start + duration for t, _ in packets_out)
    in_range = [b for t, b in packets_in if start - longest < t < start + duration]
    assert [b for _, b in packets_out] == in_range


def test_a_cut_to_the_end(clips, out):
    result = stylize_video(clips["long"], out / "o.mp4", identity, start=1.5)
    assert abs(result.frames - 0.5 * 25) <= 1
    assert len(decode(out / "o.mp4")[0]) == result.frames


def test_a_real_stylizer_changes_the_colors_and_keeps_the_frames(clips, out, stylizer):
    src, dst = clips["basic"], out / "o.mp4"
    result = stylize_video(src, dst, stylizer)
    assert (result.frames, result.width, result.height) == (20, 64, 48)
    frames_in, times_in = decode(src)
    frames_out, times_out = decode(dst)
    assert len(frames_out) == 20 and times_out == pytest.approx(times_in, abs=1e-3)
    assert np.mean([mad(a, b) for a, b in zip(frames_in, frames_out)]) > 10
    # the encode is faithful to what the stylizer made (H.264 at crf 18 with 4:2:0 chroma
    # blurs the tiny random net's pixel noise a little), and to that frame, not another
    faithful = mad(frames_out[3], stylizer(frames_in[3]))
    assert faithful < 12 and faithful < mad(frames_out[3], stylizer(frames_in[12])) / 2
    assert audio_packets(dst)[1] is not None


# --- bad inputs and refused outputs: an error, no OUT, no temporary file ---------------------

@pytest.mark.parametrize("name, words", [
    ("missing", ["video not found"]),
    ("folder", ["got a folder"]),
    ("text", ["not a video file", "notes.mp4"]),
    ("truncated_mp4", ["cut_short.mp4"]),  # the index (moov) is at the end: nothing to read
    ("audio_only", ["no video stream"]),
])
def test_unreadable_inputs_raise_video_error_and_write_nothing(clips, out, name, words):
    src = {"missing": clips["basic"].parent / "missing.mp4",
           "folder": clips["basic"].parent}.get(name) or clips[name]
    called = []
    with pytest.raises(VideoError) as info:
        stylize_video(src, out / "o.mp4", lambda f: called.append(1) or f)
    for w in words:
        assert w in str(info.value)
    assert called == []
    assert list(out.iterdir()) == []
    assert pipeline_threads() == []


def test_a_truncated_clip_processes_what_decodes(clips, out):
    """An MKV cut at 60% still has its header: the frames before the cut are stylised."""
    dst = out / "o.mp4"
    result = stylize_video(clips["truncated_mkv"], dst, identity)
    assert 0 < result.frames < 30
    frames_out, _ = decode(dst)
    assert len(frames_out) == result.frames
    frames_in, _ = decode(clips["mkv"])
    assert all(mad(a, b) < 6 for a, b in zip(frames_in, frames_out))
    assert leftovers(out) == []


def test_the_output_must_not_be_the_input(clips, tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(clips["basic"].read_bytes())
    before = src.read_bytes()
    (tmp_path / "link.mp4").symlink_to(src)
    for dst in (src, tmp_path / "." / "clip.mp4", tmp_path / "link.mp4"):
        with pytest.raises(VideoError, match="is the input"):
            stylize_video(src, dst, identity)
    assert src.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["o.gif", "o", "o.avi", "o.MP4"])
def test_output_extensions(clips, out, name):
    if name == "o.MP4":  # case does not matter
        assert stylize_video(clips["silent"], out / name, identity).frames == 10
        return
    with pytest.raises(VideoError, match="cannot write"):
        stylize_video(clips["basic"], out / name, identity)
    assert list(out.iterdir()) == []


def failing_at(n: int, error: Exception):
    """An identity ``process`` that raises ``error`` on its ``n``-th frame (``.seen`` counts)."""
    def process(frame):
        process.seen.append(1)
        if len(process.seen) == n:
            raise error
        return frame

    process.seen = []
    return process


def test_a_missing_output_folder_is_created_and_removed_again_if_the_run_fails(clips, out):
    result = stylize_video(clips["basic"], out / "new" / "o.mp4", identity)
    assert result.output.is_file()
    with pytest.raises(Exception, match="the net failed"):
        stylize_video(clips["basic"], out / "other" / "deeper" / "o.mp4",
                      failing_at(3, RuntimeError("the net failed")))
    assert sorted(p.name for p in out.iterdir()) == ["new"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can write into a read-only folder")
def test_a_read_only_output_folder(clips, out):
    out.chmod(0o555)
    try:
        with pytest.raises(InputError, match="Permission denied"):
            stylize_video(clips["basic"], out / "o.mp4", identity)
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_an_unwritable_output_folder_is_refused_before_reading(clips, out, monkeypatch):
    """The same check as above, runnable as root: the write probe in the folder is refused."""
    from rtstyle import atomic

    def refuse(target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic, "_create_temp", refuse)
    with pytest.raises(InputError, match="Permission denied"):
        stylize_video(clips["basic"], out / "o.mp4", identity)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("start, duration", [(-1, None), (0, 0), (0, -2)])
def test_bad_cut_values(clips, out, start, duration):
    with pytest.raises(VideoError, match="--start"):
        stylize_video(clips["basic"], out / "o.mp4", identity, start=start, duration=duration)
    assert list(out.iterdir()) == []


def test_a_cut_after_the_end_has_no_frames(clips, out):
    with pytest.raises(VideoError, match="no video frames"):
        stylize_video(clips["basic"], out / "o.mp4", identity, start=30)
    assert list(out.iterdir()) == []
    assert pipeline_threads() == []


def test_an_unknown_codec(clips, out):
    with pytest.raises(VideoError, match="codec 'bogus'"):
        stylize_video(clips["basic"], out / "o.mp4", identity,
                      options=EncodeOptions(codec="bogus"))
    assert list(out.iterdir()) == []


def test_an_audio_codec_is_not_a_video_codec(clips, out):
    with pytest.raises(VideoError, match="codec 'aac'"):
        stylize_video(clips["basic"], out / "o.mp4", identity,
                      options=EncodeOptions(codec="aac"))


def test_other_codecs_and_containers(clips, out):
    result = stylize_video(clips["basic"], out / "o.mkv", identity,
                           options=EncodeOptions(codec="mpeg4"))
    assert result.frames == 20
    assert video_info(out / "o.mkv")["codec"] == "mpeg4"
    assert len(decode(out / "o.mkv")[0]) == 20


# --- stops and failures in the middle ---------------------------------------------------------

def test_should_stop_raises_keyboard_interrupt_and_leaves_nothing(clips, out):
    polls, processed = [], []

    def should_stop():
        polls.append(1)
        return len(polls) > 3

    with pytest.raises(KeyboardInterrupt):
        stylize_video(clips["long"], out / "o.mp4", lambda f: processed.append(1) or f,
                      should_stop=should_stop)
    assert len(processed) == 3
    assert list(out.iterdir()) == []
    assert pipeline_threads() == []


def test_an_exception_in_process_propagates_and_leaves_nothing(clips, out):
    class Boom(Exception):
        pass

    process = failing_at(5, Boom("frame 5"))
    with pytest.raises(Boom, match="frame 5"):
        stylize_video(clips["long"], out / "o.mp4", process)
    assert len(process.seen) == 5
    assert list(out.iterdir()) == []
    assert pipeline_threads() == []


def test_a_failure_keeps_the_previous_output(clips, out):
    dst = out / "o.mp4"
    dst.write_bytes(b"previous result")

    def process(frame):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        stylize_video(clips["basic"], dst, process)
    assert dst.read_bytes() == b"previous result"
    assert leftovers(out) == []


def test_a_process_returning_a_bad_frame_fails_cleanly(clips, out):
    with pytest.raises(Exception):  # noqa: B017 - whatever PyAV says, it must not hang
        stylize_video(clips["basic"], out / "o.mp4", lambda f: f.astype(np.float32))
    assert list(out.iterdir()) == []
    assert pipeline_threads() == []


# --- finding videos --------------------------------------------------------------------------

def test_list_videos_finds_videos_in_sub_folders(tmp_path):
    for name in ("a.mp4", "sub/b.MKV", "sub/deeper/c.mov", "notes.txt", "sub/d.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.mp4").mkdir()
    assert [p.relative_to(tmp_path).as_posix() for p in video.list_videos(tmp_path)] == \
        ["a.mp4", "sub/b.MKV", "sub/deeper/c.mov"]
    with pytest.raises(VideoError, match="not a folder"):
        video.list_videos(tmp_path / "a.mp4")


# --- FrameWriter (live recording) ------------------------------------------------------------

def test_frame_writer_publishes_on_close_and_abort_leaves_nothing(out):
    dst = out / "rec.mp4"
    writer = video.FrameWriter(dst)
    for i in range(6):
        writer.write(frame_image(i, 64, 48), when=10.0 + i / 30)
        assert not dst.exists()
    assert writer.frames == 6
    assert writer.close() == dst
    frames, times = decode(dst)
    assert len(frames) == 6
    assert times == pytest.approx([i / 30 for i in range(6)], abs=1e-3)
    assert mad(frames[2], frame_image(2, 64, 48)) < 8
    assert leftovers(out) == []

    aborted = video.FrameWriter(out / "aborted.mp4")
    aborted.write(frame_image(0, 64, 48), when=0.0)
    aborted.abort()
    assert video.FrameWriter(out / "empty.mp4").close() is None
    assert sorted(p.name for p in out.iterdir()) == ["rec.mp4"]


def test_frame_writer_keeps_irregular_wall_clock_times(out):
    dst = out / "rec.mp4"
    ms = [0, 10, 20, 50, 100, 103, 200, 250]
    writer = video.FrameWriter(dst)
    try:
        for i, t in enumerate(ms):
            writer.write(frame_image(i, 64, 48), when=t / 1000)
        writer.close()
    except BaseException:
        writer.abort()
        assert list(out.iterdir()) == []
        raise
    _, times = decode(dst)
    assert times == pytest.approx([t / 1000 for t in ms], abs=1e-3)


def test_a_rotated_phone_video_is_stylized_upright(tmp_path):
    """A display rotation (as phones write it) is applied to the pixels: the output is upright."""
    import subprocess

    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    plain = tmp_path / "plain.mp4"
    with av.open(str(plain), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        img = np.zeros((48, 64, 3), np.uint8)
        img[:12, :16] = (0, 0, 255)  # a red mark at the top left of the stored picture
        for i in range(5):
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts, f.time_base = i, Fraction(1, 10)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-display_rotation",
                    "90", "-i", str(plain), "-c", "copy", str(rotated)], check=True)
    dst = tmp_path / "out.mp4"
    result = stylize_video(rotated, dst, lambda f: f)
    assert result.rotated == 90 and (result.width, result.height) == (48, 64)
    with av.open(str(dst)) as c:
        frame = next(c.decode(video=0))
        assert (frame.rotation or 0) == 0
        shown = frame.to_ndarray(format="bgr24")
    # 90 degrees counter-clockwise: the mark is now at the bottom left
    red = (shown[..., 2] > 150) & (shown[..., 0] < 100)
    ys, xs = np.nonzero(red)
    assert ys.min() >= 44 and xs.max() <= 14


def test_batches_give_the_same_video_as_single_frames(tmp_path):
    import sys

    """Frames through the net 4 at a time (with audio interleaved) give the same output."""
    from rtstyle.stylizer import Stylizer

    sys.path.insert(0, str(Path(__file__).parent))
    from test_live import invert_model

    model = invert_model(tmp_path / "invert.onnx")
    src = make_clip(tmp_path / "in.mp4", frames=10, size=(64, 48), fps=10, audio=True)
    st = Stylizer([model], backend="ort-cpu", warm_up=None)
    one = stylize_video(src, tmp_path / "one.mp4", st, batch=1)
    four = stylize_video(src, tmp_path / "four.mp4", st, batch=4)
    assert one.frames == four.frames == 10 and one.audio_packets == four.audio_packets > 0
    with av.open(str(tmp_path / "one.mp4")) as a, av.open(str(tmp_path / "four.mp4")) as b:
        fa = [f.to_ndarray(format="bgr24") for f in a.decode(video=0)]
        fb = [f.to_ndarray(format="bgr24") for f in b.decode(video=0)]
    # the encoder may round differently between runs on a busy machine: compare closely, and
    # compare the engine's batched and single outputs exactly below
    assert all(np.abs(x.astype(int) - y).mean() < 1.0 for x, y in zip(fa, fb))
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(5)]
    assert all(np.array_equal(a, st(b)) for a, b in zip(st.many(imgs), imgs))
    with pytest.raises(VideoError):
        stylize_video(src, tmp_path / "zero.mp4", st, batch=0)
