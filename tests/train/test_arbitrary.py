"""Style prediction (rtstyle.train.arbitrary_net, rtstyle.train.arbitrary) on the tiny net, tiny
crops, two training paintings and one held out."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtstyle import images, metadata  # noqa: E402
from rtstyle.errors import ConfigError  # noqa: E402
from rtstyle.interrupts import StopRequest  # noqa: E402
from rtstyle.train import arbitrary, checkpoint, multistyle, trainer  # noqa: E402
from rtstyle.train.arbitrary_net import (STATS_DIM, STATS_LAYERS, ArbitraryStyleNet,  # noqa: E402
                                         StatisticsEncoder, StylePredictor,
                                         feature_statistics, statistics_of)
from rtstyle.train.loss_networks import load_loss_network  # noqa: E402
from rtstyle.train.multistyle_net import one_hot  # noqa: E402
from rtstyle.train.transformer_net import net_config  # noqa: E402
from tests.helpers import STYLE  # noqa: E402
from tests.train.test_multistyle import CFG, paintings  # noqa: E402

SETTINGS = arbitrary.ArbitrarySettings(n_basis=4, hidden=8)


def held_out() -> list[multistyle.Painting]:
    img = images.read_image(STYLE, max_side=40)[:, ::-1].copy()
    return [multistyle.Painting(trainer.StyleInfo("mirrored"), img, 10.0)]


# --- the nets ------------------------------------------------------------------------------

def test_statistics_are_log_means_and_stds_per_channel():
    f = torch.rand(2, 3, 4, 5) * 10
    stats = feature_statistics([f, 2 * f])
    flat = f.flatten(2)
    expected = torch.cat([flat.mean(2), flat.std(2, unbiased=False),
                          2 * flat.mean(2), 2 * flat.std(2, unbiased=False)], 1)
    torch.testing.assert_close(stats, torch.log1p(expected), atol=1e-4, rtol=1e-4)


def test_the_encoder_gives_the_loss_networks_statistics():
    vgg = load_loss_network("vgg19", "cpu")
    x = torch.rand(1, 3, 40, 36) * 255
    with torch.no_grad():
        ours = StatisticsEncoder(vgg)(x)
        ref = statistics_of(vgg(x, STATS_LAYERS))
    assert ours.shape == (1, STATS_DIM)
    torch.testing.assert_close(ours, ref)


def test_the_predictor_standardises_and_gives_convex_codes_from_a_start():
    p = StylePredictor(3, hidden=5)
    stats = torch.rand(6, STATS_DIM) * 4 + 2
    p.calibrate(stats)
    torch.testing.assert_close(((stats - p.shift) / p.scale).mean(0), torch.zeros(STATS_DIM),
                               atol=1e-5, rtol=0)
    p.start_at(torch.tensor([0.5, 0.5, 0.0]))
    code = p(stats)
    torch.testing.assert_close(code, torch.tensor([[0.5, 0.5, 0.0]]).expand(6, 3), atol=2e-4,
                               rtol=0)
    torch.testing.assert_close(code.sum(1), torch.ones(6))  # a convex mix of the rows


def test_the_net_is_its_transformer_with_the_predicted_code():
    torch.manual_seed(0)
    net = ArbitraryStyleNet(net_config("tiny"), 3, hidden=5).eval()
    stats, x = torch.rand(1, STATS_DIM), torch.rand(2, 3, 32, 32) * 255
    with torch.no_grad():
        code = net.predictor(stats)
        torch.testing.assert_close(net(x, stats), net.transformer(x, code))


# --- training --------------------------------------------------------------------------------

def test_style_samples_depend_on_seed_and_step_only():
    imgs = [p.image for p in paintings()]
    photo = lambda i: np.full((50, 60, 3), 20 * i, np.uint8)  # noqa: E731
    a = [arbitrary.style_sample(s, 0, imgs, photo, 5, SETTINGS, 24) for s in range(40)]
    b = [arbitrary.style_sample(s, 0, imgs, photo, 5, SETTINGS, 24) for s in range(40)]
    assert all(x[1] == y[1] and np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert all(img.shape == (24, 24, 3) and img.dtype == np.uint8 for img, _ in a)
    sources = [src.split()[0] for _, src in a]
    assert 10 < sources.count("photo") < 30  # photo_styles 0.5
    other = arbitrary.style_sample(3, 1, imgs, photo, 5, SETTINGS, 24)[0]
    assert not np.array_equal(other, a[3][0])
    only = arbitrary.style_sample(3, 0, imgs, None, 0, SETTINGS, 24)[1]
    assert only.startswith("painting")


def test_settings_are_checked():
    for bad in ({"n_basis": 0}, {"photo_styles": 1.5}, {"min_crop": 0.0}):
        with pytest.raises(ConfigError):
            arbitrary.ArbitrarySettings(**bad)


@pytest.fixture(scope="module")
def multi_init(tmp_path_factory, photos):
    run = tmp_path_factory.mktemp("multi") / "run"
    multistyle.train(replace(CFG, steps=2), run, paintings(), photos)
    return run / "model"


@pytest.fixture(scope="module")
def any_run(tmp_path_factory, photos, multi_init):
    run = tmp_path_factory.mktemp("any") / "run"
    cfg = replace(CFG, init=str(multi_init))
    photo = images.read_image(STYLE, max_side=32)
    preview = [("a", photo), ("b", 255 - photo), ("c", photo[::-1].copy())]
    result = arbitrary.train(cfg, run, paintings(), held_out(), photos, SETTINGS,
                             preview=preview)
    return run, result, cfg


def test_a_run_starts_from_a_multi_style_net_and_writes_a_model(any_run, multi_init):
    run, result, _ = any_run
    assert result.steps == 4 and not result.interrupted
    net, meta = arbitrary.load(run / "model")
    assert meta["kind"] == "arbitrary" and meta["net"]["basis"] == 4
    assert [p["name"] for p in meta["paintings"]] == ["starry", "negative"]
    assert [p["name"] for p in meta["held_out"]] == ["mirrored"]
    assert (run / "model" / "preview.jpg").is_file()
    sheet = images.read_image(run / "model" / "preview.jpg")
    assert sheet.shape[0] > 32
    assert np.isfinite([r["total"] for r in result.history]).all()


def test_the_start_net_is_the_multi_style_net_at_the_mean_of_its_styles(multi_init):
    torch.manual_seed(0)
    net = arbitrary.start_net(replace(CFG, init=str(multi_init)), SETTINGS).eval()
    multi, _ = multistyle.load(multi_init)
    x, stats = torch.rand(1, 3, 32, 32) * 255, torch.rand(1, STATS_DIM)
    with torch.no_grad():
        for i in range(2):  # basis rows 0 and 1 are the trained styles
            w = torch.zeros(1, 4)
            w[0, i] = 1
            torch.testing.assert_close(net.transformer(x, w), multi(x, one_hot(i, 2)))
        torch.testing.assert_close(net(x, stats), multi(x, torch.tensor([[0.5, 0.5]])),
                                   atol=1e-3, rtol=1e-4)


def test_init_with_more_styles_than_basis_rows_is_refused(multi_init):
    with pytest.raises(ConfigError, match="more than the 1 basis rows"):
        arbitrary.start_net(replace(CFG, init=str(multi_init)),
                            arbitrary.ArbitrarySettings(n_basis=1))


def test_a_stopped_run_resumes_exactly(any_run, tmp_path, photos):
    straight, _, cfg = any_run
    run = tmp_path / "run"
    stop = StopRequest()

    def on_step(step, total, row):
        if step == 2:
            stop.signal_name = "SIGTERM"

    stopped = arbitrary.train(cfg, run, paintings(), held_out(), photos, SETTINGS,
                              on_step=on_step, stop=stop)
    assert stopped.interrupted and stopped.steps == 3
    state = trainer.resume_state(trainer.RunFolder(run))
    again = arbitrary.train(cfg, run, arbitrary.paintings_from_state(state, "paintings"),
                            arbitrary.paintings_from_state(state, "held_out"), photos,
                            arbitrary.ArbitrarySettings(**state["arbitrary"]), state=state)
    assert again.steps == 4
    a = checkpoint.load(straight / "checkpoint.pt")["model"]
    b = checkpoint.load(run / "checkpoint.pt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_model_of_another_kind_is_refused(multi_init):
    with pytest.raises(metadata.ModelError, match="not an any-painting net"):
        arbitrary.load(multi_init)
