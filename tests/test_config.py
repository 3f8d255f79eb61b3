"""rtstyle.config via GatysConfig: presets, typed dotted overrides, helpful errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rtstyle import config
from rtstyle.errors import ConfigError
from rtstyle.train import gatys
from rtstyle.train.gatys import GatysConfig
from rtstyle.train.losses import LossConfig

PRESETS = sorted(gatys.presets())


def test_presets_are_the_documented_ones():
    assert {"default", "gatys2016", "adam-tv", "pytorch-tutorial"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads(name):
    cfg = gatys.preset(name)
    assert isinstance(cfg, GatysConfig) and isinstance(cfg.loss, LossConfig)
    table = gatys.presets()[name]
    assert table.get("description")  # every recipe explains itself
    for key, value in table.items():
        if key not in ("description", "loss"):
            assert getattr(cfg, key) == value
    for key, value in table.get("loss", {}).items():
        want = tuple(value) if isinstance(value, list) else value
        assert getattr(cfg.loss, key) == want


def test_default_preset_matches_dataclass_defaults():
    assert gatys.preset("default") == GatysConfig()


def test_replace_coerces_strings_from_the_command_line():
    cfg = config.replace(GatysConfig(), {
        "loss.style_weight": "1e4",
        "loss.style_layers": "relu1_1, relu2_1",
        "loss.style_layer_weights": "0.25,0.75",
        "preserve_color": "true",
        "iterations": "20",
        "style_size": "64",
        "lr": "0.5",
    })
    assert cfg.loss.style_weight == 1e4 and isinstance(cfg.loss.style_weight, float)
    assert cfg.loss.style_layers == ("relu1_1", "relu2_1")
    assert cfg.loss.style_layer_weights == (0.25, 0.75)
    assert cfg.preserve_color is True
    assert cfg.iterations == 20 and isinstance(cfg.iterations, int)
    assert cfg.style_size == 64 and cfg.lr == 0.5
    # everything else untouched, and the original is frozen and unchanged
    assert cfg.loss.content_layers == GatysConfig().loss.content_layers
    assert GatysConfig().loss.style_weight == 1e3


@pytest.mark.parametrize("text, value", [("false", False), ("0", False), ("Yes", True),
                                         ("on", True)])
def test_bool_spellings(text, value):
    assert config.replace(GatysConfig(), {"preserve_color": text}).preserve_color is value


def test_optional_field_accepts_none():
    cfg = config.replace(GatysConfig(style_size=64), {"style_size": "none"})
    assert cfg.style_size is None


@pytest.mark.parametrize("key, value, match", [
    ("iterations", "2.5", "integer"),
    ("iterations", "many", "integer"),
    ("preserve_color", "maybe", "true or false"),
    ("loss.content_weight", "heavy", "number"),
    ("loss", "5", "table"),
])
def test_bad_values_name_the_key(key, value, match):
    with pytest.raises(ConfigError, match=match) as e:
        config.replace(GatysConfig(), {key: value})
    assert key in str(e.value)


def test_unknown_nested_key_suggests_the_full_dotted_name():
    with pytest.raises(ConfigError) as e:
        config.replace(GatysConfig(), {"loss.style_wieght": "1"})
    msg = str(e.value)
    assert "'loss.style_wieght'" in msg
    assert "did you mean 'loss.style_weight'?" in msg


@pytest.mark.parametrize("key, suggestion", [("iteration", "iterations"),
                                             ("style_weight", "loss.style_weight"),
                                             ("optimiser", "optimizer")])
def test_unknown_top_level_key_suggests(key, suggestion):
    with pytest.raises(ConfigError, match=f"did you mean '{suggestion}'"):
        config.replace(GatysConfig(), {key: "1"})


def test_dotted_key_into_a_plain_field_is_unknown():
    with pytest.raises(ConfigError, match="unknown setting 'size.x'"):
        config.replace(GatysConfig(), {"size.x": "1"})


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="unknown preset 'gatys2061'.*did you mean 'gatys2016'"):
        gatys.preset("gatys2061")


def test_unknown_key_in_a_preset_table_names_it():
    presets = {"p": {"loss": {"stlye_weight": 1.0}}}
    with pytest.raises(ConfigError, match="'loss.stlye_weight'.*did you mean 'loss.style_weight'"):
        config.preset(GatysConfig, presets, "p")


@pytest.mark.parametrize("updates, match", [
    ({"loss.style_weight": "-1"}, "style-weight must be .*>= 0"),
    ({"loss.content_weight": "-0.5"}, "content-weight must be .*>= 0"),
    ({"loss.tv_weight": "nan"}, "tv-weight must be .*>= 0"),
    ({"optimizer": "sgd"}, "optimizer must be one of lbfgs, adam"),
    ({"init": "zeros"}, "init must be one of"),
    ({"size": "8"}, "size must be at least 16"),
    ({"lr": "0"}, "lr must be > 0"),
    ({"loss.pooling": "min"}, "pooling"),
    ({"loss.style_layer_weights": "1,2"}, "2 style layer weights given for 5 style layers"),
])
def test_invalid_values_raise_config_error(updates, match):
    with pytest.raises(ConfigError, match=match):
        config.replace(GatysConfig(), updates)


def test_parse_sets():
    assert config.parse_sets(["loss.pooling=avg", " iterations = 5 ", "a=b=c"]) == \
        {"loss.pooling": "avg", "iterations": "5", "a": "b=c"}
    assert config.parse_sets(None) == {}


@pytest.mark.parametrize("item", ["novalue", "=3", " =3"])
def test_parse_sets_rejects_items_without_key_or_value(item):
    with pytest.raises(ConfigError, match="key=value"):
        config.parse_sets([item])


def test_to_dict_is_json_ready_and_round_trips():
    cfg = config.replace(GatysConfig(), {"loss.style_weight": "5", "iterations": "7"})
    data = json.loads(json.dumps(config.to_dict(cfg)))
    assert data["loss"]["style_weight"] == 5.0 and data["iterations"] == 7
    assert config.from_dict(GatysConfig, data) == cfg
    assert dataclasses.is_dataclass(cfg)
