"""``Controls(stabilize=W)`` in the inference engine, with real ONNX Runtime sessions on the two
tiny exported styles: frames in order through many() equal one call per frame, a style switch
and reset() start afresh, the weight is checked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rtstyle.errors import ConfigError
from rtstyle.stabilize import Stabilizer
from rtstyle.stylizer import Controls, Stylizer

from tests.helpers import frame_image

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

