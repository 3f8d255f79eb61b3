"""The inference engine with real ONNX Runtime sessions on two tiny exported styles: frame
shapes and dtypes, the run-time controls (strength, preserve colour, blend, style switch,
scale/max-side), refused frames, and the torch backend's agreement with ONNX Runtime."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstyle import metadata, onnx_model
from rtstyle.errors import ConfigError
from rtstyle.backends import make_backend
from rtstyle.stabilize import Stabilizer
from rtstyle.stylizer import Controls, FrameError, Stylizer, working_size

from tests.helpers import ASSETS, frame_image


# --- two tiny exported styles, trained once per session (cached in the session's tmp folder) --


def identity_onnx(path: Path, name: str = "identity") -> Path:
    """A hand-made rtstyle ONNX file whose graph returns its input unchanged."""
    import onnx
    from onnx import TensorProto, helper

    dims = ["N", 3, "H", "W"]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "identity",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {onnx_model.KEY_FORMAT: onnx_model.FORMAT,
                                   onnx_model.KEY_IO: json.dumps(metadata.IO_CONTRACT),
                                   onnx_model.KEY_CARD: json.dumps({"name": name})})
    onnx.save(model, str(path))
    return path


def photo(h: int, w: int, k: int = 0) -> np.ndarray:
    """A real photo (the bundled one, cropped by ``k``) resized to h x w, BGR uint8."""
    img = cv2.imread(str(ASSETS / "tubingen.jpg"))
    img = img[k * 30:, k * 40:]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


# --- shapes and the styles -------------------------------------------------------------------

@pytest.mark.parametrize("h, w", [(37, 53), (100, 31), (16, 16), (17, 99), (64, 96)])
def test_output_has_the_input_shape_and_dtype(st, h, w):
    frame = photo(h, w)
    out = st(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert diff(out, frame).mean() > 5  # it did something


def test_two_styles_give_different_outputs(st):
    frame = photo(48, 64)
    a = st(frame)
    st.use("bright")
    b = st(frame)
    assert diff(a, b).mean() > 5
    assert st.names == ["starry", "bright"]
    assert st.describe() == "ort-cpu (fp32)"


def test_same_frame_same_output(st):
    frame = photo(40, 60)
    assert np.array_equal(st(frame), st(frame.copy()))


def test_input_frame_is_not_modified(st):
    frame = photo(40, 60)
    before = frame.copy()
    st.set_controls(Controls(strength=0.7, preserve_color=True, blend="bright"))
    st(frame)
    assert np.array_equal(frame, before)


# --- strength --------------------------------------------------------------------------------

def test_strength_zero_returns_the_input_exactly(st):
    frame = photo(37, 53)
    st.set_controls(Controls(strength=0.0, preserve_color=True, blend="bright"))
    out = st(frame)
    assert np.array_equal(out, frame)
    assert out is not frame
    out[:] = 0  # a copy, not a view
    assert frame.any()


def test_strength_one_is_the_plain_output_and_a_half_lies_between(st):
    frame = photo(37, 53)
    plain = st(frame)
    st.set_controls(Controls(strength=1.0))
    assert np.array_equal(st(frame), plain)
    st.set_controls(Controls(strength=0.5))
    half = st(frame)
    mid = (frame.astype(np.float64) + plain) / 2
    assert np.abs(half - mid).max() <= 1
    distances = []
    for s in (0.25, 0.5, 0.75, 1.0):
        st.set_controls(Controls(strength=s))
        distances.append(diff(st(frame), frame).mean())
    assert distances == sorted(distances) and distances[0] < distances[-1]


# --- preserve colour ------------------------------------------------------------------------

def test_preserve_color_keeps_the_chroma_and_takes_the_stylized_luminance(st):
    frame = photo(60, 80)
    plain = st(frame)
    st.set_controls(Controls(preserve_color=True))
    out = st(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    yo = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb).astype(np.int16)
    yi = cv2.cvtColor(frame, cv2.COLOR_BGR2YCrCb).astype(np.int16)
    yp = cv2.cvtColor(plain, cv2.COLOR_BGR2YCrCb).astype(np.int16)
    assert np.abs(yo[..., 0] - yi[..., 0]).mean() > 5  # the luminance is stylised ...
    assert np.abs(yo[..., 0] - yp[..., 0]).mean() < 2  # ... and is the stylised one
    chroma = np.abs(yo[..., 1:] - yi[..., 1:]).max(axis=2)
    # Where converting back to BGR did not clip to 0/255 (out of gamut), the chroma is kept
    # within rounding; the few clipped pixels are a property of luminance-only transfer.
    inside = ((out > 0) & (out < 255)).all(axis=2)
    assert inside.mean() > 0.8
    assert chroma[inside].max() <= 2
    assert (chroma <= 2).mean() > 0.95
    assert diff(out, plain).mean() > 5  # the colours are not the stylised ones


# --- blending a second style ----------------------------------------------------------------

def test_blend_weight_zero_is_style_a_one_is_style_b_and_a_half_between(st):
    frame = photo(45, 70)
    a = st(frame)
    st.use("bright")
    b = st(frame)
    st.use("starry")
    st.set_controls(Controls(blend="bright", blend_weight=0.0))
    assert np.array_equal(st(frame), a)
    st.set_controls(Controls(blend="bright", blend_weight=1.0))
    assert diff(st(frame), b).max() <= 1
    st.set_controls(Controls(blend="bright", blend_weight=0.5))
    half = st(frame)
    assert np.abs(half - (a.astype(np.float64) + b) / 2).max() <= 1
    assert diff(half, a).mean() > 2 and diff(half, b).mean() > 2


def test_blending_a_style_with_itself_changes_nothing(st):
    frame = photo(45, 70)
    a = st(frame)
    st.set_controls(Controls(blend="starry", blend_weight=0.3))
    assert diff(st(frame), a).max() <= 1


def test_set_controls_with_an_unknown_blend_style_raises_and_keeps_the_controls(st):
    before = Controls(strength=0.5)
    st.set_controls(before)
    with pytest.raises(ConfigError,
                       match=r"unknown style to blend 'brigth'.*did you mean 'bright'"):
        st.set_controls(Controls(blend="brigth"))
    assert st.controls == before


def test_a_stylizer_refuses_an_unknown_blend_style_up_front(models):
    with pytest.raises(ConfigError, match="unknown style to blend 'other'"):
        Stylizer({"starry": models["starry"]}, backend="ort-cpu", warm_up=None,
                 controls=Controls(blend="other"))


# --- switching styles -----------------------------------------------------------------------

def test_use_switches_styles_without_creating_a_session(st, monkeypatch):
    import onnxruntime

    frame = photo(40, 56)
    a = st(frame)
    before = dict(st.models)
    sessions = {k: m.session for k, m in st.models.items()}

    def no_new_sessions(*args, **kwargs):
        raise AssertionError("a session was created while switching styles")

    monkeypatch.setattr(onnxruntime, "InferenceSession", no_new_sessions)
    st.use("bright")
    assert st.style == "bright"
    b = st(frame)
    st.use("starry")
    again = st(frame)
    assert diff(a, b).mean() > 5
    assert np.array_equal(a, again)
    assert st.models.keys() == before.keys()
    assert all(st.models[k] is before[k] for k in before)
    assert all(st.models[k].session is sessions[k] for k in sessions)


def test_use_an_unknown_style_raises_with_a_suggestion(st):
    with pytest.raises(ConfigError, match="unknown style 'stary'.*did you mean 'starry'"):
        st.use("stary")
    assert st.style == "starry"


def test_a_list_of_two_model_folders_gives_two_styles(models):
    st = Stylizer([models["starry"], models["bright"]], backend="ort-cpu", warm_up=None)
    assert len(st.names) == 2


# --- frame kinds -----------------------------------------------------------------------------

def test_grey_frames_are_accepted(st):
    grey = cv2.cvtColor(photo(37, 53), cv2.COLOR_BGR2GRAY)
    out = st(grey)
    assert out.shape == (37, 53, 3) and out.dtype == np.uint8
    assert np.array_equal(out, st(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)))
    assert np.array_equal(st(grey[..., None]), out)


def test_bgra_frames_are_accepted_and_the_alpha_is_dropped(st):
    bgr = photo(37, 53)
    bgra = np.dstack([bgr, np.full(bgr.shape[:2], 7, np.uint8)])
    out = st(bgra)
    assert out.shape == (37, 53, 3)
    assert np.array_equal(out, st(bgr))
    st.set_controls(Controls(strength=0.0))
    assert np.array_equal(st(bgra), bgr)


@pytest.mark.parametrize("view", ["rgb-slice", "mirror", "every-other", "fortran"])
def test_non_contiguous_views_give_the_same_output_as_a_copy(st, view):
    frame = photo(64, 96)
    f = {"rgb-slice": frame[..., ::-1], "mirror": frame[:, ::-1], "every-other": frame[::2, ::2],
         "fortran": np.asfortranarray(frame)}[view]
    st.set_controls(Controls(strength=0.6, preserve_color=True, blend="bright"))
    assert np.array_equal(st(f), st(np.ascontiguousarray(f)))


@pytest.mark.parametrize("frame", [np.zeros((32, 32, 3), np.float32),
                                   np.zeros((32, 32, 3), np.float64),
                                   np.zeros((32, 32, 3), np.uint16),
                                   np.zeros((32, 32, 3), np.int64),
                                   [[[0, 0, 0]] * 32] * 32],
                         ids=["float32", "float64", "uint16", "int64", "list"])
def test_frames_that_are_not_uint8_arrays_are_refused(st, frame):
    with pytest.raises(FrameError, match="uint8"):
        st(frame)


@pytest.mark.parametrize("shape", [(32, 32, 2), (32, 32, 5), (32,), (2, 32, 32, 3)])
def test_frames_of_other_shapes_are_refused(st, shape):
    with pytest.raises(FrameError, match="shape"):
        st(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("h, w", [(8, 8), (15, 100), (100, 15), (1, 1)])
def test_frames_below_16_px_are_refused(st, h, w):
    with pytest.raises(FrameError, match="16 px"):
        st(np.zeros((h, w, 3), np.uint8))


def test_a_scale_that_makes_the_frame_too_small_says_so(models):
    st = Stylizer({"starry": models["starry"]}, backend="ort-cpu", scale=0.25, warm_up=None)
    with pytest.raises(FrameError, match=r"40x40 scaled to 10x10.*16 px"):
        st(np.zeros((40, 40, 3), np.uint8))


def test_a_scale_that_makes_the_frame_too_large_says_so():
    with pytest.raises(FrameError, match="--max-side") as e:
        working_size(2160, 3840, scale=2.5)  # a 4K frame is fine; 2.5x of it is not
    assert "9600x5400" in str(e.value)


def test_frames_above_8k_are_refused_but_work_with_max_side(models):
    big = np.zeros((4321, 7681, 3), np.uint8)
    big[::7, ::5] = 200  # some content
    plain = Stylizer({"starry": models["starry"]}, backend="ort-cpu", warm_up=None)
    with pytest.raises(FrameError, match="--max-side"):
        plain(big)
    small = Stylizer({"starry": models["starry"]}, backend="ort-cpu", max_side=256,
                     warm_up=None)
    out = small(big)
    assert out.shape == big.shape and out.dtype == np.uint8


def test_working_size_limits():
    assert working_size(4320, 7680) == (4320, 7680)  # exactly 8K is allowed
    assert working_size(7680, 4320) == (7680, 4320)
    with pytest.raises(FrameError, match="larger than 8K"):
        working_size(4320, 7681)
    assert working_size(4321, 7681, max_side=3840) == (2160, 3840)
    assert working_size(100, 200, scale=0.5) == (50, 100)
    assert working_size(100, 200, scale=0.5, max_side=50) == (25, 50)
    assert working_size(100, 200, max_side=400) == (100, 200)  # max_side never enlarges
    assert working_size(16, 16) == (16, 16)


# --- scale / max-side ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"scale": 0.5}, {"max_side": 32},
                                    {"scale": 0.5, "max_side": 48}, {"scale": 1.5}])
def test_scale_and_max_side_return_the_input_size(models, st, kwargs):
    frame = photo(61, 90)
    small = Stylizer({"starry": models["starry"]}, backend="ort-cpu", warm_up=None, **kwargs)
    out = small(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert diff(out, frame).mean() > 5
    assert not np.array_equal(out, st(frame))  # it ran at another size


@pytest.mark.parametrize("kwargs, needle", [({"scale": 0}, "scale"), ({"scale": 5}, "scale"),
                                            ({"scale": -1}, "scale"),
                                            ({"max_side": 8}, "max-side")])
def test_stylizer_settings_are_checked(models, kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        Stylizer({"starry": models["starry"]}, backend="ort-cpu", warm_up=None, **kwargs)


def test_no_style_is_an_error():
    with pytest.raises(ConfigError, match="no style"):
        Stylizer({}, backend="ort-cpu")


# --- controls --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, needle", [({"strength": 1.5}, "strength"),
                                            ({"strength": -0.01}, "strength"),
                                            ({"strength": float("nan")}, "strength"),
                                            ({"blend_weight": -0.1}, "blend weight"),
                                            ({"blend_weight": 1.01}, "blend weight")])
def test_controls_are_validated(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        Controls(**kwargs)


def test_controls_at_the_limits_are_fine():
    Controls(strength=0.0, blend_weight=0.0)
    Controls(strength=1.0, blend_weight=1.0, preserve_color=True, blend="x")


# --- the plumbing, with a model that returns its input -----------------------------------------

@pytest.mark.parametrize("h, w", [(37, 53), (100, 31), (16, 17)])
def test_an_identity_model_returns_the_frame_exactly(tmp_path, h, w):
    """Colour order, dtype, padding and cropping round-trip without a shift or a swap."""
    st = Stylizer([identity_onnx(tmp_path / "identity.onnx")], backend="ort-cpu", warm_up=None)
    assert st.names == ["identity"]
    frame = np.random.default_rng(h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert np.array_equal(st(frame), frame)
    st.set_controls(Controls(preserve_color=True, strength=0.5))
    assert diff(st(frame), frame).max() <= 2


def test_fp16_falls_back_to_the_fp32_file(models):
    st = Stylizer({"s": models["starry"]}, backend="ort-cpu", warm_up=None, fp16=True)
    assert st.describe() == "ort-cpu (fp32)"


def test_unknown_backend_spec(models):
    with pytest.raises(ConfigError, match="did you mean 'ort-cpu'"):
        make_backend(models["starry"], "ort-cp")


# --- the torch backend agrees with ONNX Runtime ----------------------------------------------

def test_torch_backend_matches_onnx_runtime(models, st):
    pytest.importorskip("torch")
    b = make_backend(models["starry"], "torch")
    assert b.describe() == "torch (cpu) (fp32)"
    torch_st = Stylizer({"starry": models["starry"], "bright": models["bright"]},
                        backend="torch", warm_up=(32, 32))
    for h, w in [(37, 53), (64, 64)]:
        frame = photo(h, w, k=1)
        for name in ("starry", "bright"):
            st.use(name)
            torch_st.use(name)
            assert diff(torch_st(frame), st(frame)).max() <= 2
    # a path to the .onnx file inside the model folder works too
    b = make_backend(models["bright"] / "model.onnx", "torch")
    assert b.info.name == "bright"


# --- --stabilize through the Stylizer ------------------------------------------------------------

H, W = 48, 64
STEADY = Controls(stabilize=0.8)


def clip(n: int = 6, seed: int = 0) -> list[np.ndarray]:
    """The helpers' moving square on a gradient, with a little sensor noise per frame (so the
    net's output changes from frame to frame, as on a real camera)."""
    rng = np.random.default_rng(seed)
    return [np.clip(frame_image(i, W, H) + rng.normal(0, 6, (H, W, 3)), 0, 255).astype(np.uint8)
            for i in range(n)]


@pytest.fixture(scope="module")
def reference(models) -> Stylizer:
    """A second engine with stabilisation off: what the net alone makes of a frame."""
    return Stylizer(models, backend="ort-cpu", warm_up=None)


@pytest.fixture
def st(st) -> Stylizer:
    """The shared Stylizer (tests/conftest.py) on 'starry', stabilising, nothing remembered."""
    st.set_controls(STEADY)
    return st


@pytest.fixture
def plain(reference):
    def run(frames, style: str = "starry") -> list[np.ndarray]:
        reference.use(style)
        return reference.many(frames)

    return run


def test_stabilize_changes_the_output_after_the_first_frame(st, plain):
    frames = clip()
    raw = plain(frames)
    out = st.many(frames)
    assert all(o.shape == (H, W, 3) and o.dtype == np.uint8 for o in out)
    np.testing.assert_array_equal(out[0], raw[0])  # nothing to lean on yet
    assert all(not np.array_equal(o, r) for o, r in zip(out[1:], raw[1:]))
    assert isinstance(st.stabilizer, Stabilizer) and st.stabilizer.kept > 0.2


def test_many_equals_one_call_per_frame_in_order(st):
    frames = clip()
    batched = st.many(frames)
    st.reset()
    one_by_one = [st(f) for f in frames]
    for a, b in zip(batched, one_by_one):
        np.testing.assert_array_equal(a, b)
    st.reset()
    chunks = st.many(frames[:4]) + st.many(frames[4:])  # how video and flicker feed it
    for a, b in zip(batched, chunks):
        np.testing.assert_array_equal(a, b)


def test_frames_of_two_sizes_in_one_batch_are_stabilised_in_frame_order(st):
    """The net groups frames by size; the stabiliser still sees them in the order given."""
    small = clip(3)
    big = [np.ascontiguousarray(np.repeat(np.repeat(f, 2, 0), 2, 1)) for f in clip(3, seed=1)]
    mixed = [small[0], big[0], small[1], big[1], small[2]]
    together = st.many(mixed)
    st.reset()
    apart = [st(f) for f in mixed]
    for a, b in zip(together, apart):
        np.testing.assert_array_equal(a, b)


def test_the_same_frame_again_comes_out_the_same(st):
    frame = clip(1)[0]
    first = st(frame)
    for _ in range(3):
        np.testing.assert_array_equal(st(frame), first)  # the net is deterministic


def test_use_of_another_style_starts_afresh(st, plain):
    frames = clip(4)
    st.many(frames[:3])
    st.use("bright")
    out = st(frames[3])
    np.testing.assert_array_equal(out, plain([frames[3]], "bright")[0])
    assert st.stabilizer.kept == 0.0


def test_use_of_the_same_style_keeps_the_previous_frame(st, plain):
    frames = clip(4)
    st.many(frames[:3])
    st.use("starry")
    assert not np.array_equal(st(frames[3]), plain([frames[3]])[0])


def test_reset_starts_afresh(st, plain):
    frames = clip(3)
    st.many(frames[:2])
    st.reset()
    np.testing.assert_array_equal(st(frames[2]), plain([frames[2]])[0])


def test_turning_stabilize_off_forgets_the_previous_frame(st, plain):
    frames = clip(4)
    st.many(frames[:2])
    st.set_controls(replace(STEADY, stabilize=0.0))
    np.testing.assert_array_equal(st(frames[2]), plain([frames[2]])[0])
    st.set_controls(STEADY)
    np.testing.assert_array_equal(st(frames[3]), plain([frames[3]])[0])


def test_stabilize_works_with_the_other_controls(st):
    st.set_controls(Controls(strength=0.7, preserve_color=True, blend="bright",
                             blend_weight=0.3, stabilize=0.6))
    out = st.many(clip(4))
    assert len(out) == 4 and all(o.shape == (H, W, 3) for o in out)
    assert st.stabilizer.kept > 0


def test_a_reset_before_the_first_frame_is_harmless(models, plain):
    st = Stylizer({"starry": models["starry"]}, backend="ort-cpu", warm_up=None,
                  controls=STEADY)
    st.reset()
    frame = clip(1)[0]
    np.testing.assert_array_equal(st(frame), plain([frame])[0])


@pytest.mark.parametrize("weight", [1.0, 1.2, -0.5])
def test_controls_refuse_a_stabilize_outside_0_1(weight):
    with pytest.raises(ConfigError, match=r"stabilize must be in \[0, 1\)"):
        Controls(stabilize=weight)

