"""Stabilisation in the live filter: 't' switches it on and off and remembers the strength, the
overlay says 'steady', and a headless run with --stabilize writes its frames. Real ONNX Runtime
sessions (the tiny exported styles) and a real video-file source."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rtstyle.live import HELP, LiveLoop, LiveState, handle_key
from rtstyle.sources import LatestFrame, Source
from rtstyle.stabilize import DEFAULT_WEIGHT
from rtstyle.stylizer import Controls

from tests.helpers import assert_one_line_error, cli, decode, make_clip



@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("live_stabilize") / "clip.mp4", frames=10,
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
