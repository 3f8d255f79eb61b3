"""rtstyle.multistyle (torch-free runtime of multi-style nets) and what uses it: blends named on
the command line, one session for every style of a net, `rtstyle styles` and `rtstyle sheet`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtstyle import multistyle, onnx_model, styles
from rtstyle.errors import ConfigError
from rtstyle.metadata import ModelError
from tests.helpers import ASSETS, cli


@pytest.mark.parametrize("spec, parsed", [
    ("starry:0.7,wave:0.3", [("starry", 0.7), ("wave", 0.3)]),
    ("a:1", [("a", 1.0)]),
    (" a : 2 , b:0 ", [("a", 2.0), ("b", 0.0)]),
    ("starry_night", None),
])
def test_parse(spec, parsed):
    assert multistyle.parse(spec) == parsed


@pytest.mark.parametrize("spec, needle", [
    ("a:x", "is not a number"), ("a:-1", ">= 0"), ("a:0,b:0", "all 0"), (":1", "NAME:WEIGHT"),
    ("a:nan", ">= 0"),
])
def test_bad_blends(spec, needle):
    with pytest.raises(ConfigError, match=needle):
        multistyle.parse(spec)


def test_a_mix_is_normalised_and_labelled(tmp_path):
    m = multistyle.mix_of(tmp_path, ["Starry", "wave", "scream"], [("starry", 3), ("WAVE", 1)])
    assert m.weights == (0.75, 0.25, 0.0)
    assert m.label == "Starry75+wave25"
    assert multistyle.mix_of(tmp_path, ["a", "b"], [("b", 5)]).label == "b"


@pytest.fixture
def installed(multi_model, monkeypatch, tmp_path):
    monkeypatch.setenv("RTSTYLE_MODELS", str(multi_model.parent))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return multi_model


def test_names_of_a_multi_style_net_locate_a_mix(installed):
    m = styles.locate("negative")
    assert isinstance(m, multistyle.Mix) and m.folder == installed and m.weights == (0.0, 1.0)
    blend = styles.locate("starry:1,negative:1")
    assert blend.weights == (0.5, 0.5)
    with pytest.raises(ModelError, match="no installed multi-style net has the styles"):
        styles.locate("starry:1,mona:1")
    with pytest.raises(ModelError):
        styles.locate("mona")
    assert styles.installed()[0].members == ["starry", "negative"]


def test_every_mix_of_a_net_shares_one_session_and_matches_its_weights(installed):
    import onnxruntime as ort

    from rtstyle.stylizer import Stylizer

    mixes = {"a": styles.locate("starry"), "b": styles.locate("starry:0.25,negative:0.75")}
    made = multistyle.load(mixes, "ort-cpu")
    assert made["a"].backend is made["b"].backend
    st = Stylizer(made, backend="ort-cpu", warm_up=(32, 32))
    frame = np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    session = ort.InferenceSession(str(installed / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    from rtstyle import frames, stylizer

    x, where = frames.pad_to_multiple(frames.to_model_input(frame), 4, stylizer.EDGE_MARGIN)
    for name, w in (("a", [1.0, 0.0]), ("b", [0.25, 0.75]), ("a", [1.0, 0.0])):
        st.use(name)
        ref = session.run(None, {"input": x, onnx_model.STYLE_WEIGHTS_NAME:
                                 np.array([w], np.float32)})[0]
        np.testing.assert_array_equal(st(frame), frames.from_model_output(frames.crop_to(ref, where)))


def test_image_with_a_blend_on_the_command_line(installed, capsys, tmp_path):
    out = tmp_path / "out"
    code, _, err = cli(["image", ASSETS / "tubingen.jpg", "--style", "starry:0.7,negative:0.3",
                        "--backend", "ort-cpu", "--max-side", "64", "-o", out, "-q"], capsys)
    assert code == 0, err
    assert [p.name for p in out.iterdir()] == ["tubingen_starry70_negative30.jpg"]


def test_styles_lists_the_styles_of_a_multi_style_net(installed, capsys):
    code, out, _ = cli(["styles"], capsys)
    assert code == 0
    assert "one net for 2 styles" in out and "    starry: Van Gogh" in out
    code, out, _ = cli(["styles", "--json"], capsys)
    record = json.loads(out.splitlines()[0])
    assert [s["name"] for s in record["styles"]] == ["starry", "negative"]


def test_sheet_draws_each_style_of_a_multi_style_net(installed, capsys, tmp_path):
    out = tmp_path / "sheet.jpg"
    code, stdout, err = cli(["sheet", ASSETS / "tubingen.jpg", "-o", out, "--cell", "64",
                             "--backend", "ort-cpu"], capsys)
    assert code == 0, err
    assert "in 2 styles" in stdout and out.is_file()


def test_a_blend_strip_of_a_multi_style_net_mixes_the_weights(installed, capsys, tmp_path):
    from rtstyle.cli.sheet import _blend_strip
    from rtstyle.stylizer import Stylizer

    photo = np.random.default_rng(2).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    strip = _blend_strip(photo, "starry,negative", 5, "ort-cpu")
    assert list(strip) == ["starry", "starry 0.75 + negative 0.25", "starry 0.50 + negative 0.50",
                           "starry 0.25 + negative 0.75", "negative"]
    made = multistyle.load({"half": styles.locate("starry:1,negative:1")}, "ort-cpu")
    half = Stylizer(made, backend="ort-cpu", warm_up=None)(photo)
    np.testing.assert_array_equal(strip["starry 0.50 + negative 0.50"], half)
    out = tmp_path / "blend.png"
    code, stdout, err = cli(["sheet", ASSETS / "tubingen.jpg", "--blend", "starry,negative",
                             "--steps", "3", "-o", out, "--cell", "64"], capsys)
    assert code == 0, err
    assert "in 3 blends" in stdout and out.is_file()


def test_the_live_keys_morph_between_styles_of_one_net_without_a_new_session(installed):
    from rtstyle import live
    from rtstyle.stylizer import Stylizer

    made = multistyle.load({n: styles.locate(n) for n in ("starry", "negative")}, "ort-cpu")
    st = Stylizer(made, backend="ort-cpu", warm_up=None)
    state = live.LiveState(morph_frames=4)
    frame = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    before = st(frame)
    live.handle_key(ord("n"), state, st)
    assert st.style == "negative" and state.morph is not None
    seen = []
    for _ in range(4):
        done = state.morph.step()
        seen.append(made["negative"].weights[0].tolist())
        st(frame)
    assert done and seen == [[0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0.0, 1.0]]
    assert made["starry"].backend is made["negative"].backend  # one session throughout
    live.handle_key(ord("p"), state, st)  # and back: from where "negative" is, to "starry"
    for _ in range(4):
        state.morph.step()
    np.testing.assert_array_equal(st(frame), before)


def test_a_switch_during_a_morph_leaves_the_abandoned_style_at_its_own_weights(installed):
    from rtstyle import live
    from rtstyle.stylizer import Stylizer

    made = multistyle.load({n: styles.locate(n) for n in ("starry", "negative")}, "ort-cpu")
    st = Stylizer(made, backend="ort-cpu", warm_up=None)
    state = live.LiveState(morph_frames=4)
    live.handle_key(ord("n"), state, st)
    state.morph.step()
    live.handle_key(ord("n"), state, st)  # back to starry before the morph ended
    assert made["negative"].weights.tolist() == made["negative"].home.tolist()
    assert state.morph.target is made["starry"]


def test_webcam_preloads_every_style_of_a_multi_style_net(installed, capsys, tmp_path):
    from tests.helpers import make_clip

    clip = make_clip(tmp_path / "clip.mp4", frames=4, size=(48, 32), audio=False)
    out = tmp_path / "live.mp4"
    code, stdout, err = cli(["webcam", "--source", clip, "--headless", "--output", out,
                             "--backend", "ort-cpu", "--frames", "4"], capsys)
    assert code == 0, err
    assert "styles: starry, negative on ort-cpu" in stdout and out.is_file()
    code, stdout, err = cli(["webcam", "--source", clip, "--headless", "--output",
                             tmp_path / "one.mp4", "--backend", "ort-cpu", "--frames", "2",
                             "--style", "negative,starry"], capsys)
    assert code == 0, err
    assert "styles: negative, starry on" in stdout
