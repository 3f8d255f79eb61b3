"""The temporal training term (rtstyle.train.temporal): 0 for nets that move with the scene and
for instance-normalised nets under a brightness change, positive otherwise; the drawn changes
(deterministic per (seed, step), within the jitter bounds), the valid mask, the checks; and a
tiny training run with the term on: the 'temporal' column, the metadata, exact resume."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rtstyle import config, images
from rtstyle.cli import main
from rtstyle.errors import ConfigError
from rtstyle.interrupts import StopRequest
from rtstyle.train import checkpoint, temporal, trainer
from rtstyle.train.temporal import Jitter
from rtstyle.train.transformer_net import build, net_config

from tests.helpers import STYLE, TINY

#: Shifts, rotations and zooms only: no noise or brightness change (nothing a net must ignore).
MOTION = Jitter(shift=0.1, rotate=10.0, zoom=0.1, noise=0.0, brightness=0.0)
SHAPE = (3, 3, 24, 32)


def batch(shape=SHAPE, seed: int = 0) -> torch.Tensor:
    """Smooth-ish random images in 0..255 (N, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g) * 255
    return torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def term(net, x: torch.Tensor, change: temporal.Change) -> float:
    with torch.no_grad():
        return float(temporal.temporal_loss(net(x), net(temporal.changed_input(x, change)), change))


def color_map() -> torch.nn.Conv2d:
    """A fixed per-pixel affine colour map (1x1 convolution) that mixes the channels."""
    conv = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[0.5, 0.3, 0.2], [-0.4, 1.2, 0.1], [0.1, 0.1, 0.9]])
                          .view(3, 3, 1, 1))
        conv.bias.copy_(torch.tensor([10.0, -20.0, 5.0]))
    return conv


def with_pattern(x: torch.Tensor) -> torch.Tensor:
    """Not equivariant: adds a pattern fixed to the frame, not to the scene."""
    cols = torch.arange(x.shape[-1], dtype=x.dtype)
    rows = torch.arange(x.shape[-2], dtype=x.dtype).view(-1, 1)
    return x + 40 * torch.sin(cols / 2.0) * torch.cos(rows / 3.0)


def tiny_net(seed: int = 0):
    with torch.random.fork_rng():  # leave the global RNG as it was
        torch.manual_seed(seed)
        return build(net_config("tiny"))


# --- the term on known nets ------------------------------------------------------------------

@pytest.mark.parametrize("name, net", [("identity", lambda x: x), ("colour map", color_map())])
@pytest.mark.parametrize("step", range(4))
def test_an_equivariant_net_scores_zero_under_real_motion(name, net, step):
    x = batch()
    change = temporal.draw(MOTION, SHAPE, temporal.generator_for(0, step))
    assert not torch.allclose(change.theta, temporal.identity(3).theta, atol=1e-3)  # real motion
    with torch.no_grad():
        scale = float(net(x).pow(2).mean())
    assert term(net, x, change) <= 1e-6 * scale


@pytest.mark.parametrize("step", range(3))
def test_a_net_that_is_not_equivariant_scores_above_zero(step):
    x = batch()
    change = temporal.draw(MOTION, SHAPE, temporal.generator_for(0, step))
    assert term(with_pattern, x, change) > 10.0  # 0..255 units squared
    assert term(with_pattern, x, temporal.identity(3)) < 1e-6  # no motion: no flicker


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_instance_norm_makes_the_tiny_net_blind_to_brightness(mode):
    """x' = g x: the first convolution gives g conv(x) + const, instance norm removes both."""
    net = tiny_net()
    getattr(net, mode)()
    x = batch()
    light = temporal.draw(Jitter(shift=0, rotate=0, zoom=0, noise=0, brightness=0.2), SHAPE,
                          temporal.generator_for(0, 1))
    gains = light.gain.flatten()
    assert (gains - 1).abs().min() > 0.01  # the brightness really changed
    assert torch.equal(light.theta, temporal.identity(3).theta) and light.noise is None
    with torch.no_grad():
        spread = float(net(x).var())
    assert term(net, x, light) <= 1e-6 * spread
    # ... but it is not blind to motion or to noise: the term measures something
    assert term(net, x, temporal.draw(MOTION, SHAPE, temporal.generator_for(0, 1))) > 1.0
    noisy = Jitter(shift=0, rotate=0, zoom=0, noise=4.0, brightness=0)
    assert term(net, x, temporal.draw(noisy, SHAPE, temporal.generator_for(0, 1))) > 0.1


def test_the_term_is_differentiable_through_both_outputs():
    net = tiny_net()
    x = batch(shape=(2, 3, 16, 16))
    change = temporal.draw(Jitter(), (2, 3, 16, 16), temporal.generator_for(0, 0))
    loss = temporal.temporal_loss(net(x), net(temporal.changed_input(x, change)), change)
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_the_identity_change_leaves_the_input_as_it_is():
    x = batch()
    same = temporal.identity(3)
    assert same.theta.shape == (3, 2, 3) and same.noise is None
    assert torch.equal(same.gain, torch.ones(3, 1, 1, 1))
    assert bool(temporal.valid(same.theta, SHAPE).all())
    # bilinear resampling at the pixel centres: equal up to float rounding (not bit-exact)
    torch.testing.assert_close(temporal.changed_input(x, same), x, rtol=0, atol=1e-3)
    net = tiny_net()
    with torch.no_grad():
        spread = float(net(x).var())
    assert term(net, x, same) <= 1e-6 * spread


def test_a_jitter_of_zeros_draws_the_identity():
    change = temporal.draw(Jitter(0, 0, 0, 0, 0), SHAPE, temporal.generator_for(3, 7))
    assert torch.equal(change.theta, temporal.identity(3).theta)
    assert torch.equal(change.gain, torch.ones(3, 1, 1, 1)) and change.noise is None


# --- draw ------------------------------------------------------------------------------------

def test_draw_is_deterministic_per_seed_and_step():
    j = Jitter()
    a = temporal.draw(j, SHAPE, temporal.generator_for(5, 11))
    b = temporal.draw(j, SHAPE, temporal.generator_for(5, 11))
    assert torch.equal(a.theta, b.theta) and torch.equal(a.gain, b.gain)
    assert torch.equal(a.noise, b.noise)
    for other in (temporal.generator_for(5, 12), temporal.generator_for(6, 11)):
        c = temporal.draw(j, SHAPE, other)
        assert not torch.equal(a.theta, c.theta) and not torch.equal(a.gain, c.gain)
        assert not torch.equal(a.noise, c.noise)


def test_draw_gives_each_image_of_a_batch_its_own_change():
    change = temporal.draw(Jitter(), (4, 3, 16, 16), temporal.generator_for(0, 0))
    assert len({tuple(t.flatten().tolist()) for t in change.theta}) == 4
    assert len(set(change.gain.flatten().tolist())) == 4


def decompose(theta: torch.Tensor, h: int, w: int):
    """(angle in degrees, zoom, tx, ty) of draw()'s matrices (rotation in pixel space)."""
    aspect = h / w
    cos_z, sin_z = theta[:, 0, 0].double(), theta[:, 1, 0].double() * aspect
    zoom = 1 / torch.sqrt(cos_z ** 2 + sin_z ** 2)
    angle = torch.rad2deg(torch.atan2(sin_z, cos_z))
    return angle, zoom, theta[:, 0, 2].double(), theta[:, 1, 2].double()


@pytest.mark.parametrize("jitter", [Jitter(), Jitter(shift=0.05, rotate=3, zoom=0.04, noise=5,
                                                     brightness=0.1)])
@pytest.mark.parametrize("h, w", [(32, 32), (24, 40)])
def test_draw_stays_within_the_jitter(jitter, h, w):
    n = 256
    change = temporal.draw(jitter, (n, 3, h, w), temporal.generator_for(1, 2))
    assert change.theta.shape == (n, 2, 3) and change.theta.dtype == torch.float32
    angle, zoom, tx, ty = decompose(change.theta, h, w)
    eps = 1e-5
    assert angle.abs().max() <= jitter.rotate + eps
    assert (zoom - 1).abs().max() <= jitter.zoom + eps
    assert max(tx.abs().max(), ty.abs().max()) <= 2 * jitter.shift + eps  # normalised: side 2
    # uniform draws: the bounds are used, not just respected
    assert angle.abs().max() > 0.8 * jitter.rotate
    assert (zoom - 1).abs().max() > 0.8 * jitter.zoom
    assert tx.abs().max() > 1.6 * jitter.shift
    # a rotation and a zoom in pixel space: the two rows are orthogonal once the aspect is undone
    t, a = change.theta, h / w
    first = torch.stack([t[:, 0, 0], t[:, 0, 1] / a], 1)
    second = torch.stack([t[:, 1, 0] * a, t[:, 1, 1]], 1)
    assert (first * second).sum(1).abs().max() < 1e-5
    gain = change.gain.flatten()
    assert change.gain.shape == (n, 1, 1, 1)
    assert (gain - 1).abs().max() <= jitter.brightness + eps
    assert change.noise.shape == (n, 3, h, w)
    assert float(change.noise.std()) == pytest.approx(jitter.noise, rel=0.05)
    assert abs(float(change.noise.mean())) < 0.05 * jitter.noise


def test_draw_puts_the_change_on_the_device_asked_for():
    change = temporal.draw(Jitter(), SHAPE, temporal.generator_for(0, 0), device="cpu")
    assert change.theta.device.type == change.gain.device.type == change.noise.device.type == "cpu"
    assert change.noise.dtype == torch.float32 and change.gain.dtype == torch.float32


# --- warp and valid --------------------------------------------------------------------------

def shift_right(k: int, n: int, w: int) -> torch.Tensor:
    """theta moving the content k pixels to the right (output x samples input x - k)."""
    return torch.tensor([[1.0, 0.0, -2.0 * k / w], [0.0, 1.0, 0.0]]).expand(n, 2, 3).contiguous()


def shift_down(k: int, n: int, h: int) -> torch.Tensor:
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -2.0 * k / h]]).expand(n, 2, 3).contiguous()


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_a_whole_pixel_shift_moves_the_content(k):
    x = batch()
    moved = temporal.warp(x, shift_right(k, 3, 32))
    torch.testing.assert_close(moved[..., k:], x[..., :-k], rtol=0, atol=1e-3)
    # reflected borders: the band that came in mirrors the frame, no black band
    torch.testing.assert_close(moved[..., :k], x[..., :k].flip(-1), rtol=0, atol=1e-3)
    zeros = temporal.warp(x, shift_right(k, 3, 32), padding="zeros")
    assert float(zeros[..., :k].abs().max()) < 1e-3


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("h, w", [(32, 32), (16, 64), (64, 16)])
def test_valid_masks_the_band_a_shift_moves_in(k, h, w):
    m = temporal.valid(shift_right(k, 2, w), (2, 3, h, w))
    assert m.shape == (2, 1, h, w) and m.dtype == torch.bool
    assert not m[..., :k].any()
    assert m[..., k:].all()
    down = temporal.valid(shift_down(k, 1, h), (1, 3, h, w))
    assert not down[..., :k, :].any() and down[..., k:, :].all()
    left = temporal.valid(shift_right(-k, 1, w), (1, 3, h, w))
    assert not left[..., w - k:].any() and left[..., :w - k].all()


@pytest.mark.parametrize("direction", ["right", "down"])
def test_valid_masks_exactly_k_columns_for_any_size(direction):
    h, w, k = 24, 36, 1
    if direction == "right":
        m = temporal.valid(shift_right(k, 1, w), (1, 3, h, w))
        assert not m[..., :k].any() and m[..., k:].all()
    else:
        m = temporal.valid(shift_down(2, 1, h), (1, 3, h, w))
        assert not m[..., :2, :].any() and m[..., 2:, :].all()


def test_valid_masks_the_corners_a_rotation_brings_in():
    h = w = 32
    a = math.radians(10)
    theta = torch.tensor([[[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]])
    m = temporal.valid(theta, (1, 3, h, w))[0, 0]
    assert not m[0, 0] and not m[0, -1] and not m[-1, 0] and not m[-1, -1]
    assert m[h // 2 - 4:h // 2 + 4, w // 2 - 4:w // 2 + 4].all()
    assert 0.6 < float(m.float().mean()) < 0.95


def test_the_border_a_shift_moves_in_is_not_scored():
    """A net that differs only in the band the shift brings in scores 0: the band is masked."""
    x = batch()
    k = 3
    change = temporal.Change(shift_right(k, 3, 32), torch.ones(3, 1, 1, 1), None)
    y = x
    y2 = temporal.warp(x, change.theta, padding="zeros")
    y2[..., :k] = 1000.0  # anything at all in the masked band
    assert float(temporal.temporal_loss(y, y2, change)) < 1e-6
    y2[..., k] += 10.0  # the first column that is scored
    loss = float(temporal.temporal_loss(y, y2, change))
    assert loss == pytest.approx(100.0 / (32 - k), rel=1e-3)  # mean over valid pixels


# --- checks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, needle", [
    ({"shift": -0.01}, "temporal shift must be >= 0"),
    ({"rotate": -1.0}, "temporal rotate must be >= 0"),
    ({"zoom": -0.1}, "temporal zoom must be >= 0"),
    ({"noise": -2.0}, "temporal noise must be >= 0"),
    ({"brightness": -0.05}, "temporal brightness must be >= 0"),
    ({"noise": float("inf")}, "temporal noise must be >= 0"),
    ({"shift": float("nan")}, "temporal shift must be >= 0"),
    ({"shift": 0.3}, "meant to be small"),
    ({"zoom": 0.5}, "meant to be small"),
    ({"rotate": 20.0}, "meant to be small"),
    ({"brightness": 0.6}, "meant to be small"),
])
def test_jitter_rejects_negative_or_huge_values(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        Jitter(**kwargs)


def test_jitter_at_its_limits_is_fine():
    Jitter(shift=0.25, rotate=15, zoom=0.25, noise=50, brightness=0.5)
    Jitter(0, 0, 0, 0, 0)


@pytest.mark.parametrize("weight", [-1.0, -1e-9, float("inf"), float("nan")])
def test_train_config_rejects_a_bad_temporal_weight(weight):
    with pytest.raises(ConfigError, match="temporal-weight must be >= 0"):
        trainer.TrainConfig(net="tiny", temporal_weight=weight)


def test_train_config_round_trips_the_temporal_settings():
    cfg = trainer.TrainConfig(net="tiny", temporal_weight=3.5, temporal=Jitter(shift=0.01))
    d = config.to_dict(cfg)
    assert d["temporal_weight"] == 3.5 and d["temporal"]["shift"] == 0.01
    assert config.from_dict(trainer.TrainConfig, d) == cfg
    assert config.replace(cfg, {"temporal.rotate": "2"}).temporal.rotate == 2.0
    with pytest.raises(ConfigError, match="meant to be small"):
        config.replace(cfg, {"temporal.shift": "0.5"})
    # a config written before the temporal term existed reads with the term off
    old = {k: v for k, v in d.items() if k not in ("temporal_weight", "temporal")}
    back = config.from_dict(trainer.TrainConfig, old)
    assert back.temporal_weight == 0.0 and back.temporal == Jitter()


# --- a tiny training run with the term on ----------------------------------------------------

LOSS_KEYS = ("step", "content", "style", "tv", "temporal", "total")
WEIGHT = 5.0
STEPS = 4


def read_rows(run: Path) -> tuple[list[str], list[dict[str, float]]]:
    with open(run / "losses.csv", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), [{k: float(v) for k, v in r.items()} for r in reader]


def loss_values(run: Path) -> list[list[float]]:
    return [[r[k] for k in LOSS_KEYS] for r in read_rows(run)[1]]


def rtstyle(*argv) -> int:
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory) -> Path:
    """An uninterrupted 4-step tiny run with the temporal term on."""
    run = tmp_path_factory.mktemp("temporal_reference") / "run"
    assert rtstyle("train", "--style", STYLE, "--data", photos, "--out", run, "--steps", STEPS,
                   "--checkpoint-every", 0, "--temporal-weight", WEIGHT, *TINY) == 0
    return run


def test_a_temporal_run_logs_the_temporal_column(reference):
    header, rows = read_rows(reference)
    assert tuple(header) == trainer.TEMPORAL_COLUMNS
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    assert all(math.isfinite(v) for r in rows for v in r.values())
    assert all(r["temporal"] > 0 for r in rows)
    for r in rows:  # the minimised total includes the weighted term
        assert r["total"] == pytest.approx(r["content"] + r["style"] + r["tv"] + r["temporal"],
                                           rel=1e-5)
    state = checkpoint.load(reference / "checkpoint.pt")
    assert tuple(state["history"].shape) == (STEPS, len(trainer.TEMPORAL_COLUMNS))


def test_a_temporal_run_records_the_term_in_the_model_metadata(reference):
    meta = json.loads((reference / "model" / "model.json").read_text())
    final = meta["training"]["final_losses"]
    assert set(final) == {"content", "style", "tv", "temporal", "total"}
    rows = read_rows(reference)[1]
    assert final["temporal"] == pytest.approx(np.mean([r["temporal"] for r in rows]), rel=1e-6)
    recipe = meta["recipe"]["config"]
    assert recipe["temporal_weight"] == WEIGHT
    assert recipe["temporal"] == config.to_dict(Jitter())
    run_config = json.loads((reference / "config.json").read_text())["config"]
    assert run_config["temporal_weight"] == WEIGHT


def test_stop_and_resume_of_a_temporal_run_reproduces_the_uninterrupted_losses(
        reference, photos, tmp_path):
    """Stopped through the trainer's StopRequest (as Ctrl-C does), resumed with the CLI."""
    saved = json.loads((reference / "config.json").read_text())
    cfg = config.from_dict(trainer.TrainConfig, saved["config"])
    style = images.read_image(STYLE, max_side=cfg.image_size)
    run = tmp_path / "run"
    run.mkdir()
    stop = StopRequest()

    def on_step(step, total, row):
        assert "temporal" in row
        if step == 1:
            stop.signal_name = "SIGINT"  # seen before the next step's update

    result = trainer.train(cfg, run, style, trainer.StyleInfo("starry", source=str(STYLE)),
                           saved["data"], stop=stop, on_step=on_step)
    assert result.interrupted and result.model_dir is None
    step = checkpoint.load(run / "checkpoint.pt")["step"]
    assert 1 <= step < STEPS and step == len(loss_values(run))
    assert rtstyle("train", "--out", run, "--resume", "--quiet") == 0
    assert checkpoint.load(run / "checkpoint.pt")["step"] == STEPS
    np.testing.assert_allclose(loss_values(run), loss_values(reference), rtol=1e-5)
    header, _ = read_rows(run)
    assert tuple(header) == trainer.TEMPORAL_COLUMNS


def test_a_run_without_the_term_keeps_the_old_columns(tiny_run):
    header, rows = read_rows(tiny_run)
    assert tuple(header) == trainer.HISTORY_COLUMNS and "temporal" not in header
    meta = json.loads((tiny_run / "model" / "model.json").read_text())
    assert "temporal" not in meta["training"]["final_losses"]
    assert meta["recipe"]["config"]["temporal_weight"] == 0.0
    assert tuple(checkpoint.load(tiny_run / "checkpoint.pt")["history"].shape) == \
        (len(rows), len(trainer.HISTORY_COLUMNS))
