"""The live window: a real OpenCV window on a real X server (Xvfb), driven by a video-file source
and scripted keys, checked through screenshots of the X display; plus the loop's parts.

The style is an exact "invert" ONNX model (255 - x) with rtstyle's contract, so the expected
pixels on screen are known.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from rtstyle import metadata, onnx_model
from rtstyle.live import HELP, LiveLoop, LiveState, compose, draw_overlay, handle_key
from rtstyle.sources import LatestFrame, Source
from rtstyle.stabilize import DEFAULT_WEIGHT
from rtstyle.stylizer import Controls, Stylizer
from tests.helpers import assert_one_line_error, cli, decode
from tests.helpers import make_clip as make_helper_clip

ROOT = Path(__file__).resolve().parents[1]
COLOUR = (30, 60, 200)  # BGR of the clip
INVERTED = tuple(255 - c for c in COLOUR)


def invert_model(path: Path, name: str = "invert") -> Path:
    shape = ["N", 3, "H", "W"]
    node = helper.make_node("Sub", ["k", "input"], ["output"])
    k = helper.make_tensor("k", TensorProto.FLOAT, [], [255.0])
    graph = helper.make_graph([node], name,
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
                              [k])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {onnx_model.KEY_FORMAT: onnx_model.FORMAT,
                       onnx_model.KEY_IO: json.dumps({**metadata.IO_CONTRACT, "precision": "fp32"}),
                       onnx_model.KEY_CARD: json.dumps({"name": name})}.items():
        p = model.metadata_props.add()
        p.key, p.value = key, value
    onnx.save(model, str(path))
    return path


def make_clip(path: Path, frames: int = 60, size=(160, 120), fps: int = 30) -> Path:
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        s.options = {"crf": "0", "preset": "ultrafast"}
        img = np.zeros((size[1], size[0], 3), np.uint8)
        img[:] = COLOUR
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    return {"model": invert_model(d / "invert.onnx"), "clip": make_clip(d / "clip.mp4"),
            "model2": invert_model(d / "other.onnx", "other")}


@pytest.fixture(scope="module")
def display():
    """A private Xvfb server. ``-displayfd`` lets the server pick a free display number and say
    it once it accepts clients, so parallel runs on one machine never share a screen."""
    import select

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "640x480x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    number = b""
    deadline = time.time() + 30
    while not number.endswith(b"\n") and time.time() < deadline and proc.poll() is None:
        if select.select([read_end], [], [], 0.5)[0]:
            chunk = os.read(read_end, 16)
            if not chunk:
                break
            number += chunk
    os.close(read_end)
    if not number.strip().isdigit():
        proc.kill()
        raise AssertionError(f"Xvfb did not start: {proc.communicate()[1][-500:]!r}")
    name = f":{int(number)}"
    for _ in range(20):  # a client must really get through before the tests start
        try:
            grab(name)
            break
        except subprocess.SubprocessError:
            time.sleep(0.5)
    yield name
    proc.terminate()
    proc.wait(timeout=10)


GRAB = """
import sys, av, numpy as np
with av.open(sys.argv[1], format="x11grab", options={"video_size": "640x480"}) as c:
    np.save(sys.argv[2], next(c.decode(video=0)).to_ndarray(format="bgr24"))
"""


def grab(display: str) -> np.ndarray:
    """A screenshot of the whole X display, through FFmpeg's x11grab in a separate process
    (OpenCV's bundled Qt/xcb libraries and FFmpeg's must not share one process)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / "shot.npy"
        subprocess.run([sys.executable, "-c", GRAB, display, str(target)], check=True,
                       capture_output=True, timeout=30)
        return np.load(target)


def near(img: np.ndarray, color, tol: int = 6) -> np.ndarray:
    return (np.abs(img.astype(int) - np.array(color)) <= tol).all(axis=-1)


def webcam(display, media, tmp_path, *extra):
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), # Qt's chatter off, except why its X connection failed, should it.
           "QT_LOGGING_RULES": "*=false\nqt.qpa.xcb=true"}
    return subprocess.Popen(
        [sys.executable, "-m", "rtstyle", "webcam", "--source", str(media["clip"]), "--loop",
         "--style", f"{media['model']},{media['model2']}", "--backend", "ort-cpu",
         "--screenshots", str(tmp_path / "shots"), "--recordings", str(tmp_path / "rec"), *extra],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)


def wait_for_screen(display, proc, predicate, timeout=90.0) -> np.ndarray:
    end = time.time() + timeout
    shot = None
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(f"webcam exited early: {proc.communicate()}")
        shot = grab(display)
        if predicate(shot):
            return shot
        time.sleep(0.2)
    # Say what was on the screen, and what the program said, so a failure can be diagnosed.
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    seen = "nothing grabbed" if shot is None else (
        f"{int(near(shot, COLOUR).sum())} original-colour and {int(near(shot, INVERTED).sum())} "
        f"inverted pixels; distinct colours {np.unique(shot.reshape(-1, 3), axis=0)[:8].tolist()}")
    raise AssertionError(f"the expected picture never appeared on the screen ({seen}); "
                         f"webcam stdout: {out[-500:]!r} stderr: {err[-1500:]!r}")


def test_window_shows_the_stylized_frame_and_the_overlay(display, media, tmp_path):
    # the keys come late enough (10 s at 30 fps) for the screenshots to find the window even
    # on a loaded machine; the loop ends by itself at q
    proc = webcam(display, media, tmp_path, "--keys", "300:space,301:q")
    shot = wait_for_screen(display, proc, lambda s: near(s, INVERTED).sum() > 5000)
    # The overlay: white text on a box that darkens the frame to 35 %, at its top left.
    box = near(shot, tuple(int(c * 0.35) for c in INVERTED), 8)
    assert box.sum() > 500, "no overlay box"
    ys, xs = np.nonzero(box | near(shot, INVERTED))
    top, left = ys.min(), xs.min()
    corner = shot[top:top + 40, left:left + 150]
    assert box[top:top + 40, left:left + 150].mean() > 0.3
    assert (corner.min(axis=-1) > 200).sum() > 20, "no overlay text"
    assert near(shot, COLOUR).sum() < 100  # the original colour is not shown (no split)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "ended by key" in out
    shots = list((tmp_path / "shots").glob("*.png"))
    assert len(shots) == 1


def test_split_view_shows_original_and_stylized_halves(display, media, tmp_path):
    proc = webcam(display, media, tmp_path, "--keys", "2:s,3:h")
    shot = wait_for_screen(display, proc, lambda s: near(s, COLOUR).sum() > 2000
                           and near(s, INVERTED).sum() > 2000)
    left = np.nonzero(near(shot, COLOUR))[1].mean()
    right = np.nonzero(near(shot, INVERTED))[1].mean()
    assert left < right  # original | stylised
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "ended by signal" in out


def test_ctrl_c_finalises_a_recording(display, media, tmp_path):
    proc = webcam(display, media, tmp_path, "--keys", "2:r")
    deadline = time.time() + 60
    while not list((tmp_path / "rec").glob(".*part*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    recs = list((tmp_path / "rec").glob("*.mp4"))
    assert len(recs) == 1 and not list((tmp_path / "rec").glob(".*"))
    with av.open(str(recs[0])) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(frames) >= 5
    assert near(frames[-1][-20:], INVERTED, 8).mean() > 0.9  # below the overlay: stylised


def test_headless_writes_the_output_without_a_window(media, tmp_path):
    out_file = tmp_path / "live.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "rtstyle", "webcam", "--source", str(media["clip"]), "--style",
         str(media["model"]), "--headless", "--output", str(out_file), "--frames", "15"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": ""},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with av.open(str(out_file)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(frames) == 15
    assert near(frames[0], INVERTED, 8).mean() > 0.95  # no overlay when headless


@pytest.mark.parametrize("argv, needle", [
    (["--source", "7"], "cannot open camera '7'"),
    (["--source", "/nonexistent.mp4"], "not a camera index"),
    (["--size", "big"], "1280x720"),
])
def test_bad_sources_are_one_line_errors(media, tmp_path, argv, needle):
    done = subprocess.run(
        [sys.executable, "-m", "rtstyle", "webcam", "--style", str(media["model"]), "--headless",
         "--output", str(tmp_path / "o.mp4"), *argv],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error:") and needle in lines[0]
    assert "video devices" in lines[0] or needle != "cannot open camera '7'"
    assert not (tmp_path / "o.mp4").exists()


def test_headless_needs_an_output_and_a_window_needs_a_display(media, tmp_path):
    base = [sys.executable, "-m", "rtstyle", "webcam", "--source", str(media["clip"]),
            "--style", str(media["model"])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    a = subprocess.run(base + ["--headless"], env=env, capture_output=True, text=True, timeout=60)
    b = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert a.returncode == 1 and "--output" in a.stderr
    assert b.returncode == 1 and "no display" in b.stderr and "--headless" in b.stderr


# --- the loop's parts ------------------------------------------------------------------------

@pytest.fixture
def two_styles(media):
    return Stylizer({"a": media["model"], "b": media["model2"]}, backend="ort-cpu", warm_up=None)


def test_keys_switch_styles_strength_color_blend_and_split(two_styles):
    st, state = two_styles, LiveState()
    sessions = {k: id(v) for k, v in st.models.items()}
    handle_key(ord("n"), state, st)
    assert st.style == "b"
    handle_key(ord("1"), state, st)
    assert st.style == "a"
    handle_key(ord("p"), state, st)
    assert st.style == "b"
    handle_key(ord("-"), state, st)
    assert st.controls.strength == pytest.approx(0.9)
    handle_key(ord("+"), state, st)
    assert st.controls.strength == pytest.approx(1.0)
    handle_key(ord("c"), state, st)
    assert st.controls.preserve_color
    handle_key(ord("b"), state, st)
    assert st.controls.blend == "a"  # the style after 'b'
    handle_key(ord("b"), state, st)
    assert st.controls.blend is None
    assert handle_key(ord("s"), state, st) is None and state.split
    assert handle_key(ord("r"), state, st) == "record"
    assert handle_key(32, state, st) == "screenshot"
    assert handle_key(ord("f"), state, st) == "fullscreen" and state.fullscreen
    handle_key(27, state, st)
    assert state.quit
    assert {k: id(v) for k, v in st.models.items()} == sessions  # no new sessions


def test_compose_and_overlay():
    a = np.zeros((40, 60, 3), np.uint8)
    b = np.full((40, 60, 3), 200, np.uint8)
    assert np.array_equal(compose(a, b, split=False), b)
    s = compose(a, b, split=True)
    assert s[:, :20].max() == 0 and s[:, 40:].min() == 200
    o = draw_overlay(b, ["hello"])
    assert o.shape == b.shape and (o[:20, :40] < 200).any() and np.array_equal(o[30:], b[30:])


def test_a_stream_that_stops_is_reported_and_reconnect_retries(media, tmp_path):
    """A stream source (here a file:// URL, read as fast as it comes) that ends behaves like a
    camera that disconnected: exit 1 with a message, or with --reconnect a retry until Ctrl-C."""
    url = f"file://{media['clip']}"
    base = [sys.executable, "-m", "rtstyle", "webcam", "--source", url, "--style",
            str(media["model"]), "--headless", "--output"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(base + [str(tmp_path / "a.mp4")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"rtstyle: error: source {url} stopped delivering frames (disconnected?); use "
        "--reconnect to keep retrying"]
    assert (tmp_path / "a.mp4").exists()  # what was shown before is kept
    proc = subprocess.Popen(base + [str(tmp_path / "b.mp4"), "--reconnect"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "reconnecting" in line
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    with av.open(str(tmp_path / "b.mp4")) as c:  # one file across the reconnect, finalised
        assert sum(1 for _ in c.decode(video=0)) >= 1


# --- --stabilize in the live loop ----------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_helper_clip(tmp_path_factory.mktemp("live_stabilize") / "clip.mp4", frames=10,
                     audio=False)


def test_t_switches_stabilize_on_with_the_default_and_off_again(st):
    state = LiveState()
    assert handle_key(ord("t"), state, st) is None
    assert st.controls.stabilize == DEFAULT_WEIGHT
    handle_key(ord("t"), state, st)
    assert st.controls.stabilize == 0.0
    handle_key(ord("t"), state, st)
    assert st.controls.stabilize == DEFAULT_WEIGHT


def test_t_remembers_the_strength_it_switched_off(st):
    st.set_controls(Controls(stabilize=0.6))  # e.g. webcam --stabilize 0.6
    state = LiveState()
    handle_key(ord("t"), state, st)
    assert st.controls.stabilize == 0.0
    handle_key(ord("t"), state, st)
    assert st.controls.stabilize == 0.6


def test_t_leaves_the_other_controls_and_the_style_alone(st):
    st.set_controls(Controls(strength=0.7, preserve_color=True))
    st.use("bright")
    state = LiveState()
    handle_key(ord("t"), state, st)
    assert st.controls == Controls(strength=0.7, preserve_color=True, stabilize=DEFAULT_WEIGHT)
    assert st.style == "bright"
    for key in "+-c":  # other keys keep the stabilisation
        handle_key(ord(key), state, st)
    assert st.controls.stabilize == DEFAULT_WEIGHT


def test_switching_style_by_key_starts_the_stabiliser_afresh(st, clip):
    frames, _ = decode(clip)
    st.set_controls(Controls(stabilize=0.8))
    st.many(frames[:3])
    state = LiveState()
    handle_key(ord("n"), state, st)  # next style
    assert st.style == "bright"
    out = st(frames[3])
    st.set_controls(Controls())
    np.testing.assert_array_equal(out, st(frames[3]))


def test_the_overlay_says_steady_and_the_help_names_t(st, clip):
    frames = LatestFrame(Source(str(clip)))
    try:
        loop = LiveLoop(st, frames, window=False)
        assert "steady" not in loop._overlay_lines(10.0)[2]  # the line of flags
        st.set_controls(replace(st.controls, stabilize=0.6))
        lines = loop._overlay_lines(10.0)
    finally:
        frames.close()
    assert "steady 0.6" in lines[2]
    assert "t steady" in HELP and HELP in lines


def test_a_headless_run_with_stabilize(capsys, models, clip, tmp_path):
    out = tmp_path / "live.mp4"
    code, stdout, err = cli(["webcam", "--source", clip, "--style", models["starry"],
                             "--backend", "ort-cpu", "--headless", "--output", out,
                             "--frames", "6", "--stabilize", "0.7"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    written, _ = decode(out)
    assert len(written) == 6 and written[0].shape == (48, 64, 3)


def test_webcam_refuses_a_stabilize_of_1(capsys, models, clip, tmp_path):
    out = tmp_path / "live.mp4"
    code, stdout, err = cli(["webcam", "--source", clip, "--style", models["starry"],
                             "--headless", "--output", out, "--stabilize", "1"], capsys)
    assert code == 1
    assert_one_line_error(err, "stabilize must be in [0, 1)")
    assert not out.exists()
