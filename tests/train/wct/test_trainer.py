"""Training WCT decoders (rtstyle.train.wct.trainer) on tiny data: the recipe's checks, learning,
exact resume after a stop request, the model folder (kind, float16 weights, evaluation), loading
it back, finding it, and reconstructing images of any size."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from rtstyle import assets, images, metadata, styles
from rtstyle.errors import ConfigError, ImageError, InputError
from rtstyle.interrupts import StopRequest
from rtstyle.metadata import ModelError
from rtstyle.quality import psnr
from rtstyle.train import trainer
from rtstyle.train.wct import trainer as wct_trainer
from rtstyle.train.wct.models import CHANNELS, WCTDecoder

from tests.helpers import cli

#: A level-1 run that takes well under a second per step on two CPU cores.
SMALL = dict(level=1, image_size=32, batch_size=2, lr=1e-3, workers=0, device="cpu",
             checkpoint_every=0, preview_every=0)
TERMS = ("step", "pixel", "feature", "total")


def rows(history) -> list[list[float]]:
    return [[r[k] for k in TERMS] for r in history]


def csv_rows(run: Path) -> list[list[float]]:
    with open(run / "losses.csv", newline="") as f:
        return [[float(r[k]) for k in TERMS] for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, photos, held_out) -> dict:
    """A level-2 decoder trained 3 steps through train_wct, with held-out evaluation photos."""
    run = tmp_path_factory.mktemp("wct2") / "run"
    run.mkdir()
    cfg = wct_trainer.WCTTrainConfig(**{**SMALL, "level": 2, "steps": 3})
    result = wct_trainer.train_wct(cfg, run, photos, eval_paths=[held_out], eval_size=48)
    return {"run": run, "result": result, "cfg": cfg}


# --- the recipe --------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, needles", [
    ({"level": 0}, ["1..5", "got 0"]),
    ({"level": 6}, ["1..5", "got 6"]),
    ({"level": -1}, ["1..5"]),
    ({"level": 3, "image_size": 34}, ["multiple of 4", "level 3", "34"]),
    ({"level": 4, "image_size": 36}, ["multiple of 8", "level 4"]),
    ({"level": 5, "image_size": 40}, ["multiple of 16", "level 5"]),
    ({"feature_weight": -0.5}, ["feature-weight", ">= 0"]),
    ({"feature_weight": float("inf")}, ["feature-weight"]),
    ({"feature_weight": float("nan")}, ["feature-weight"]),
    ({"image_size": 16}, ["at least 32"]),
], ids=["level-0", "level-6", "level-neg", "size-l3", "size-l4", "size-l5", "neg-lambda",
        "inf-lambda", "nan-lambda", "too-small"])
def test_config_validation_raises_config_error(fields, needles):
    with pytest.raises(ConfigError) as e:
        wct_trainer.WCTTrainConfig(**fields)
    for needle in needles:
        assert needle in str(e.value)


def test_valid_configs_and_defaults():
    cfg = wct_trainer.WCTTrainConfig()
    assert (cfg.level, cfg.feature_weight, cfg.lr, cfg.batch_size) == (4, 1.0, 1e-4, 8)
    assert cfg.image_size % 8 == 0
    for level, size in [(1, 33), (2, 34), (3, 36), (5, 48)]:
        assert wct_trainer.WCTTrainConfig(level=level, image_size=size).image_size == size
    assert wct_trainer.WCTTrainConfig(feature_weight=0.0).feature_weight == 0.0


def test_describe_matches_the_decoder():
    for level in (1, 3):
        d = wct_trainer.describe(level)
        assert d["name"] == wct_trainer.KIND == "wct-decoder"
        assert (d["level"], d["features"], d["channels"]) == (level, f"relu{level}_1",
                                                              CHANNELS[level])
        assert d["params"] == sum(p.numel() for p in WCTDecoder(level).parameters())


# --- training ------------------------------------------------------------------------------------

def test_decoder_loss_decreases_on_tiny_data(photos, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    cfg = wct_trainer.WCTTrainConfig(**{**SMALL, "steps": 25})
    result = wct_trainer.train_wct(cfg, run, photos)
    totals = [r["total"] for r in result.history]
    assert len(totals) == 25 and all(math.isfinite(t) for t in totals)
    assert np.mean(totals[-5:]) < 0.5 * np.mean(totals[:5])
    # the logged total is Li et al.'s pixel + lambda * feature
    for r in result.history:
        assert r["total"] == pytest.approx(r["pixel"] + cfg.feature_weight * r["feature"],
                                           rel=1e-5)
    np.testing.assert_allclose(csv_rows(run), rows(result.history), rtol=1e-12)
    assert not result.interrupted and result.steps == 25
    assert (result.model_dir / "model.json").is_file()
    # no --eval-images at the library level: the evaluation is left empty, not invented
    assert metadata.read(result.model_dir)["evaluation"] == {}


def test_zero_feature_weight_trains_on_pixels_only(photos, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    cfg = wct_trainer.WCTTrainConfig(**{**SMALL, "steps": 2, "feature_weight": 0.0})
    result = wct_trainer.train_wct(cfg, run, photos)
    for r in result.history:
        assert r["feature"] == 0.0 and r["total"] == pytest.approx(r["pixel"], rel=1e-6)


def test_stop_request_then_resume_reproduces_the_uninterrupted_losses(photos, tmp_path,
                                                                      held_out):
    cfg = wct_trainer.WCTTrainConfig(**{**SMALL, "steps": 6})
    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    reference = wct_trainer.train_wct(cfg, ref_dir, photos)

    run = tmp_path / "run"
    run.mkdir()
    stop = StopRequest()

    def on_step(step, total, row):
        if step == 2:
            stop.signal_name = "SIGINT"

    first = wct_trainer.train_wct(cfg, run, photos, eval_paths=[held_out], eval_size=40,
                                  on_step=on_step, stop=stop)
    assert first.interrupted and first.model_dir is None
    assert 2 <= first.steps < 6
    assert not (run / "model").exists()
    state = trainer.resume_state(trainer.RunFolder(run))
    assert state["step"] == first.steps == len(csv_rows(run))
    assert state["config"]["level"] == 1
    assert state["eval_paths"] == [str(held_out)] and state["eval_size"] == 40

    resumed = wct_trainer.train_wct(cfg, run, photos, state=state,
                                    eval_paths=state["eval_paths"],
                                    eval_size=state["eval_size"])
    assert not resumed.interrupted and resumed.steps == 6
    np.testing.assert_allclose(rows(resumed.history), rows(reference.history), rtol=1e-5)
    np.testing.assert_allclose(csv_rows(run), rows(reference.history), rtol=1e-5)
    # the resumed model is the uninterrupted one
    a = wct_trainer.load_decoder(run / "model")[0].state_dict()
    b = wct_trainer.load_decoder(reference.model_dir)[0].state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-4)
    assert set(metadata.read(run / "model")["evaluation"]["per_image"]) == {"alpha", "beta"}


# --- the model folder ----------------------------------------------------------------------------

def test_model_folder_metadata_and_evaluation(trained, held_out):
    meta = metadata.read(trained["result"].model_dir)
    assert meta["kind"] == "wct-decoder"
    assert meta["net"]["level"] == 2 and meta["net"]["features"] == "relu2_1"
    assert meta["io"]["size_multiple"] == 2
    assert meta["recipe"]["config"]["level"] == 2
    assert meta["training"]["steps"] == 3 and meta["training"]["images_seen"] == 6
    ev = meta["evaluation"]
    assert isinstance(ev["psnr_db"], float) and math.isfinite(ev["psnr_db"])
    assert set(ev["per_image"]) == {"alpha", "beta"} and ev["images"] == 2
    assert ev["psnr_db"] == pytest.approx(np.mean(list(ev["per_image"].values())), abs=0.01)
    assert max(ev["size"]) <= 48
    # the stored numbers are what the stored (float16) weights give on those photos
    dec, _ = wct_trainer.load_decoder(trained["result"].model_dir)
    again = wct_trainer.evaluate(wct_trainer.encoder_for(2), dec,
                                 wct_trainer.eval_images_from([held_out], 48))
    assert again["per_image"] == ev["per_image"] and again["psnr_db"] == ev["psnr_db"]


def test_weights_are_float16_and_load_back_as_float32(trained):
    folder = trained["result"].model_dir
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        stored = {k: f.get_tensor(k) for k in f.keys()}
    assert stored and all(v.dtype == torch.float16 for v in stored.values())
    dec, meta = wct_trainer.load_decoder(folder)
    assert isinstance(dec, WCTDecoder) and dec.level == 2 and not dec.training
    assert meta["kind"] == "wct-decoder"
    state = dec.state_dict()
    assert set(state) == set(stored)
    for k, v in state.items():
        assert v.dtype == torch.float32
        torch.testing.assert_close(v, stored[k].float(), rtol=0, atol=0)


def test_load_decoder_accepts_model_json_and_refuses_other_kinds(trained, tiny_model, tmp_path):
    dec, _ = wct_trainer.load_decoder(trained["result"].model_dir / "model.json")
    assert dec.level == 2
    with pytest.raises(ModelError, match="transformer model, not a WCT decoder"):
        wct_trainer.load_decoder(tiny_model)
    broken = tmp_path / "broken"
    shutil.copytree(trained["result"].model_dir, broken)
    meta = json.loads((broken / "model.json").read_text())
    meta["net"]["level"] = 7
    (broken / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="invalid WCT level 7"):
        wct_trainer.load_decoder(broken)
    with pytest.raises(ModelError, match="model not found"):
        wct_trainer.load_decoder(tmp_path / "nothing")


def test_style_listing_leaves_out_wct_decoders(trained, tiny_model, tmp_path, monkeypatch,
                                               capsys):
    root = tmp_path / "models"
    shutil.copytree(tiny_model, root / "tiny")
    shutil.copytree(trained["result"].model_dir, root / "wct" / "level2")
    shutil.copytree(trained["result"].model_dir, root / "decoder")  # a decoder at the top
    monkeypatch.setenv("RTSTYLE_MODELS", str(root))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert [s.name for s in styles.installed()] == ["tiny"]
    with pytest.raises(InputError, match="unknown style 'decoder'; choose from: tiny"):
        styles.find("decoder")
    code, out, err = cli(["styles"], capsys)
    assert code == 0, err
    assert str(root / "tiny") in out
    assert str(root / "decoder") not in out and str(root / "wct") not in out


# --- finding decoders -----------------------------------------------------------------------

def test_find_decoder_in_a_root_and_on_the_search_path(trained, tmp_path, monkeypatch):
    root = tmp_path / "wct"
    shutil.copytree(trained["result"].model_dir, root / "level2")
    assert wct_trainer.find_decoder(2, root) == root / "level2"
    assert wct_trainer.find_decoder(2, str(root)) == root / "level2"

    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path))  # tmp_path/wct/level2
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert wct_trainer.find_decoder(2) == root / "level2"


def test_find_decoder_missing_names_train_wct(tmp_path, monkeypatch):
    root = tmp_path / "wct"
    root.mkdir()
    (root / "level3").mkdir()  # a folder without model.json is not a decoder
    with pytest.raises(ModelError) as e:
        wct_trainer.find_decoder(3, root)
    msg = str(e.value)
    assert "no WCT decoder for level 3" in msg and str(root / "level3") in msg
    assert "rtstyle train-wct --level 3" in msg

    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "empty"))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with pytest.raises(ModelError, match="rtstyle train-wct --level 1") as e:
        wct_trainer.find_decoder(1)
    assert str(tmp_path / "empty" / "wct" / "level1") in str(e.value)
    with pytest.raises(ConfigError, match="1..5"):
        wct_trainer.find_decoder(7, root)


# --- reconstruction and evaluation ---------------------------------------------------------------

def test_reconstruct_keeps_odd_sizes_and_evaluate_reports_per_image_psnr():
    torch.manual_seed(0)
    enc, dec = wct_trainer.encoder_for(3), WCTDecoder(3)
    dec.train()
    photo = images.read_image(assets.path(assets.DEMO_CONTENT))
    odd, small, even = photo[:37, :51], photo[100:109, 10:23], photo[:40, :52]
    outs = wct_trainer.reconstruct(enc, dec, [odd, small, even])
    assert [o.shape for o in outs] == [(37, 51, 3), (9, 13, 3), (40, 52, 3)]
    assert all(o.dtype == np.uint8 for o in outs)
    assert dec.training  # the caller's mode is restored

    # an image that needs no padding goes straight through the decoder
    from rtstyle import frames
    with torch.no_grad():
        direct = dec.eval()(enc(torch.from_numpy(frames.to_model_input(even))))
    dec.train()
    np.testing.assert_array_equal(outs[2], frames.from_model_output(direct.numpy()))

    ev = wct_trainer.evaluate(enc, dec, [("odd", odd), ("even", even)])
    assert set(ev["per_image"]) == {"odd", "even"} and ev["images"] == 2
    assert ev["per_image"]["odd"] == round(psnr(odd, outs[0]), 2)
    assert ev["per_image"]["even"] == round(psnr(even, outs[2]), 2)
    assert ev["psnr_db"] == pytest.approx(np.mean(list(ev["per_image"].values())), abs=0.01)
    assert ev["size"] == [37, 51]


def test_eval_images_from_files_and_folders(held_out, tmp_path):
    named = wct_trainer.eval_images_from([held_out], 32)
    assert [n for n, _ in named] == ["alpha", "beta"]
    assert all(max(img.shape[:2]) <= 32 for _, img in named)
    one = wct_trainer.eval_images_from([held_out / "beta.jpg"])
    assert [n for n, _ in one] == ["beta"] and one[0][1].shape[:2] == (53, 39)
    with pytest.raises(ImageError, match="image not found"):
        wct_trainer.eval_images_from([tmp_path / "missing.jpg"])
