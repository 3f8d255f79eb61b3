"""bench/stabilizer_variants.py: the phase lock really makes a net follow a camera pan, the
'held' bound glues the output to the scene, and the script scores by both flows."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "experiments"))
import stabilizer_variants as sv  # noqa: E402

from rtstyle import images  # noqa: E402
from tests.helpers import make_clip  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pan():
    """Six 96x128 frames of a photo panned 1 px to the left per frame (a camera pan)."""
    photo = images.read_image(ROOT / "rtstyle" / "assets" / "tubingen.jpg")
    big = cv2.resize(photo, (200, 140), interpolation=cv2.INTER_AREA)
    return [np.ascontiguousarray(big[20:116, 10 + t:138 + t]) for t in range(6)]


@pytest.fixture(scope="module")
def net(tiny_model):
    return sv.Net(str(tiny_model))


def interior_change(outs, m=24):
    """Mean |out_{t+1}(x) - out_t(x + 1)| away from the borders (the pan moves 1 px left)."""
    return float(np.mean([np.abs(b[m:-m, m:-m - 1].astype(np.float32)
                                 - a[m:-m, m + 1:-m]).mean() for a, b in zip(outs, outs[1:])]))


@pytest.mark.parametrize("lock", ["phase-lock", "gated-lock"])
def test_phase_lock_makes_the_output_move_with_the_pan(net, pan, lock):
    plain = sv.run_variant("per-frame", net, pan)
    locked = sv.run_variant(lock, net, pan)
    assert interior_change(locked) < 0.25 * interior_change(plain)
    assert interior_change(locked) < 1.0


def test_the_gated_lock_holds_its_phase_on_a_still_scene(net, pan):
    rng = np.random.default_rng(0)
    still = [np.clip(pan[0] + rng.normal(0, 2, pan[0].shape), 0, 255).astype(np.uint8)
             for _ in range(4)]
    outs = sv.run_variant("gated-lock", net, still)
    for frame, out in zip(still, outs):
        np.testing.assert_array_equal(out, sv._shifted(net, frame, 0, 0))


@pytest.mark.parametrize("name", sv.VARIANTS)
def test_every_variant_gives_one_frame_per_frame(net, pan, name):
    outs = sv.run_variant(name, net, pan[:3])
    assert [o.shape for o in outs] == [f.shape for f in pan[:3]]
    assert all(o.dtype == np.uint8 for o in outs)


def test_an_unknown_variant_is_refused(net, pan):
    with pytest.raises(SystemExit, match="unknown variant"):
        sv.run_variant("nope", net, pan[:2])


def test_the_input_freeze_gives_a_still_noisy_scene_one_output(net, pan):
    rng = np.random.default_rng(1)
    still = [np.clip(pan[0] + rng.normal(0, 2, pan[0].shape), 0, 255).astype(np.uint8)
             for _ in range(4)]
    outs = sv.run_variant("input-freeze", net, still)
    assert not np.array_equal(sv.run_variant("per-frame", net, still)[1], outs[0])
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    moving = sv.run_variant("input-freeze", net, pan[:3])  # a pan is not frozen
    assert np.abs(moving[2].astype(np.float32) - moving[1]).mean() > 1.0


def test_held_glues_the_output_to_the_pan(net, pan):
    plain = sv.run_variant("per-frame", net, pan)
    held = sv.run_variant("held", net, pan)
    np.testing.assert_array_equal(held[0], plain[0])
    assert interior_change(held) < 0.2 * interior_change(plain)


def test_the_script_scores_by_dis_and_farneback(tmp_path, tiny_model):
    (tmp_path / "clips").mkdir()
    make_clip(tmp_path / "clips" / "clip.mp4", frames=4, size=(64, 48))
    out = tmp_path / "variants"
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "experiments" / "stabilizer_variants.py"),
                          "--model", str(tiny_model), "--videos", str(tmp_path / "clips"),
                          "--frames", "3", "--style-loss-frames", "2",
                          "--variants", "per-frame,held", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    plain, held = json.loads(out.with_suffix(".json").read_text())["results"]
    assert [plain["variant"], held["variant"]] == ["per-frame", "held"]
    for row in (plain, held):
        assert row["warping_error"] >= 0 and row["warping_error_farneback"] >= 0
        assert row["original_farneback"] > 0 and row["style_loss"] > 0
    assert plain["warp_change_farneback"] == 0
    assert held["warping_error"] < plain["warping_error"]
    table = out.with_suffix(".md").read_text()
    assert "Farneback" in table.splitlines()[0] and table.count("clip.mp4") == 2
