"""The training presets: each builds, names real layers, and the paper's recipe is the paper's."""

from __future__ import annotations

import pytest

from rtstyle import config
from rtstyle.errors import ConfigError
from rtstyle.train import trainer
from rtstyle.train.loss_networks import load_loss_network
from rtstyle.train.losses import PerceptualLoss


@pytest.mark.parametrize("name", sorted(trainer.presets()))
def test_every_preset_builds_with_layers_of_its_loss_network(name):
    cfg = trainer.preset(name)
    assert trainer.presets()[name]["description"]
    net = load_loss_network(cfg.loss.loss_net, "cpu")
    PerceptualLoss(cfg.loss, net)  # raises ConfigError on an unknown layer


def test_johnson2016_is_the_papers_recipe():
    cfg = trainer.preset("johnson2016")
    assert cfg.net == "full" and cfg.image_size == 256 and cfg.batch_size == 4
    assert cfg.steps == 40000 and cfg.lr == 1e-3
    assert cfg.loss.content_layers == ("relu2_2",)
    assert cfg.loss.style_layers == ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    # 1e10 / 1e5 in the seed report's scale, converted by 57.6^4 and 57.6^2 (see the TOML)
    ratio = cfg.loss.style_weight * sum(cfg.loss.style_layer_weights) / cfg.loss.content_weight
    assert ratio == pytest.approx(1e10 / 57.6 ** 4 * 4 / (1e5 / 57.6 ** 2), rel=0.05)


def test_default_config_is_the_default_preset():
    assert trainer.preset("default") == config.replace(trainer.TrainConfig(), {})


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(ConfigError, match="johnson2016"):
        trainer.preset("johnson")


def test_total_steps_from_epochs():
    cfg = trainer.TrainConfig(batch_size=4, epochs=2.0)
    assert cfg.total_steps(n_images=10, world_size=1) == 5
    assert cfg.total_steps(n_images=10, world_size=2) == 3
    assert trainer.TrainConfig(steps=7).total_steps(10) == 7
