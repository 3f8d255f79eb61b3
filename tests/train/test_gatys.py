"""The Gatys optimisation and the quality yardstick, on tiny images."""

import math

import numpy as np
import pytest

from rtstyle import color, images
from rtstyle.errors import ConfigError
from rtstyle.train import gatys
from rtstyle.train.gatys import GatysConfig, equivalent_iterations, loss_curve, stylize_gatys
from rtstyle.train.losses import LossConfig


@pytest.fixture(scope="module")
def pair(content_path, style_path):
    return images.read_image(content_path, 64), images.read_image(style_path, 64)


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 10.0)])
def test_loss_decreases_on_a_64px_run(pair, optimizer, lr):
    content, style = pair
    cfg = GatysConfig(size=64, iterations=15, optimizer=optimizer, lr=lr, device="cpu",
                      init="noise")
    result = stylize_gatys(content, [style], cfg)
    totals = [r["total"] for r in result.history]
    assert len(totals) == 15
    assert totals[-1] < 0.5 * totals[0]
    assert result.image.shape == content.shape and result.image.dtype == np.uint8
    assert set(result.history[0]) == {"iteration", "content", "style", "tv", "total", "seconds"}


def test_same_seed_same_result(pair):
    content, style = pair
    cfg = GatysConfig(size=32, iterations=3, device="cpu", init="noise", seed=3)
    a = stylize_gatys(content, [style], cfg).image
    b = stylize_gatys(content, [style], cfg).image
    assert np.array_equal(a, b)


def test_preserve_color_keeps_the_content_chroma(pair):
    content, style = pair
    cfg = GatysConfig(size=48, iterations=5, device="cpu", preserve_color=True)
    out = stylize_gatys(content, [style], cfg).image
    small = images.fit_within(content, 48)
    import cv2

    chroma_out = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(int)
    chroma_in = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(int)
    assert np.abs(chroma_out - chroma_in).mean() < 2.0
    assert np.abs(color.luminance(out).astype(int) - color.luminance(small)).mean() > 1.0


def test_checkpoints_every_k(pair):
    content, style = pair
    seen = []
    stylize_gatys(content, [style], GatysConfig(size=32, iterations=5, device="cpu"),
                  checkpoint_every=2, on_checkpoint=lambda i, img: seen.append((i, img.shape)))
    assert [i for i, _ in seen] == [2, 4]


def test_two_styles_with_zero_weight_on_the_second_equal_one_style(pair):
    content, style = pair
    cfg = GatysConfig(size=32, iterations=4, device="cpu")
    one = stylize_gatys(content, [style], cfg).image
    two = stylize_gatys(content, [style, content], cfg, style_blend=[1.0, 0.0]).image
    assert np.abs(one.astype(int) - two).max() <= 1


def test_every_preset_builds():
    names = set(gatys.presets())
    assert {"default", "gatys2016", "adam-tv", "pytorch-tutorial"} <= names
    for name in names:
        assert isinstance(gatys.preset(name), GatysConfig)
    assert gatys.preset("adam-tv").optimizer == "adam"
    assert gatys.preset("gatys2016").init == "noise"


@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "sgd"}, "optimizer"), ({"init": "zeros"}, "init"), ({"size": 8}, "size"),
    ({"iterations": 0}, "iterations"), ({"lr": 0.0}, "lr"),
])
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GatysConfig(**kwargs)


def test_loss_curve_is_the_yardstick(pair):
    content, style = pair
    loss = LossConfig(content_layers=("relu2_2",), style_weight=1e3)
    curve = loss_curve(content, style, loss, iterations=8, size=32, device="cpu")
    assert len(curve) == 8 and all(math.isfinite(v) for v in curve)
    assert min(curve) < curve[0]
    # the curve's own values read back as their iteration numbers
    best = np.minimum.accumulate(curve)
    k = int(np.argmin(best))
    if best[k] < best[0]:
        assert equivalent_iterations(float(best[k]), curve) <= k + 1


def test_equivalent_iterations_known_values():
    curve = [10.0, 8.0, 6.0, 4.0]
    assert equivalent_iterations(7.0, curve) == pytest.approx(2.5)
    assert equivalent_iterations(4.0, curve) == pytest.approx(4.0)
    assert equivalent_iterations(12.0, curve) == 1.0
    assert equivalent_iterations(3.0, curve) == math.inf
    assert equivalent_iterations(7.0, [10.0, 6.0, 9.0, 5.0]) == pytest.approx(1.75)


def test_wct_start_is_closer_to_the_painting_and_stays_ahead(pair):
    """init 'wct' starts from rtstyle wct's default output (the shipped decoders): its first
    iteration is already closer to the painting than the content start, and after as many
    iterations its total loss is lower."""
    content, style = pair
    runs = {init: stylize_gatys(content, [style], GatysConfig(size=64, iterations=10,
                                                              init=init, device="cpu"))
            for init in ("content", "wct")}
    first = {k: r.history[0] for k, r in runs.items()}
    assert first["wct"]["style"] < first["content"]["style"]
    assert first["wct"]["content"] > first["content"]["content"]  # it gave up some photo
    assert runs["wct"].history[-1]["total"] < runs["content"].history[-1]["total"]
    assert runs["wct"].image.shape == content.shape


def test_wct_start_needs_a_style(pair):
    content, _ = pair
    cfg = GatysConfig(size=32, iterations=1, init="wct", device="cpu",
                      loss=LossConfig(style_weight=0.0))
    with pytest.raises(ConfigError, match="init 'wct' needs a style image"):
        stylize_gatys(content, [], cfg)


def test_cli_init_wct_writes_the_image(tmp_path, content_path, style_path, capsys):
    from tests.helpers import cli

    out = tmp_path / "g.png"
    code, stdout, err = cli(["gatys", "--content", content_path, "--style", style_path,
                             "--init", "wct", "--iterations", "2", "--size", "48", "-o", out,
                             "-q"], capsys)
    assert code == 0, err
    assert images.read_image(out).shape[1] == 48 and "2 iterations" in stdout
