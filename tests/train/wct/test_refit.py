"""The least-squares refit of a WCT decoder's last convolution (rtstyle.train.wct.refit): it finds
the exact pixel-error minimum, improves a decoder on held-out photos, and
``rtstyle refit-wct`` writes a complete new decoder folder (or replaces one), with one-line
errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rtstyle import images
from rtstyle.quality import psnr
from rtstyle.train.wct import refit
from rtstyle.train.wct import trainer as wct_trainer
from rtstyle.train.wct.models import WCTDecoder

from tests.helpers import ROOT, assert_one_line_error, cli, make_wct_root

SHIPPED_L1 = ROOT / "models" / "wct" / "level1"


@pytest.fixture(scope="module")
def crops(photos) -> list[np.ndarray]:
    return [images.read_image(f, max_side=64) for f in sorted(photos.rglob("*.*"))]


def pixel_mse(encoder, decoder, imgs) -> float:
    """Mean squared pixel error before the clamp: the quantity the refit minimises."""
    from rtstyle import frames

    decoder.train()  # no clamp
    err, n = 0.0, 0
    with torch.no_grad():
        for img in imgs:
            x = torch.from_numpy(frames.to_model_input(img))
            y = decoder(encoder(x))
            err += float(((y - x) ** 2).sum())
            n += x.numel()
    decoder.eval()
    return err / n


@pytest.mark.parametrize("level", [1, 2])
def test_refit_is_the_least_squares_minimum(level, crops):
    torch.manual_seed(0)
    encoder = wct_trainer.encoder_for(level)
    decoder = WCTDecoder(level)
    imgs = [c[:32, :48] for c in crops]  # sizes divide by 2 (level 2), so no padding
    before = pixel_mse(encoder, decoder, imgs)
    eq = refit.refit_last(encoder, decoder, imgs, ridge=0.0)
    assert eq.rows == len(imgs) * 32 * 48
    best = pixel_mse(encoder, decoder, imgs)
    assert best < before
    conv = refit.last_conv(decoder)
    w0, b0 = conv.weight.detach().clone(), conv.bias.detach().clone()
    gen = torch.Generator().manual_seed(1)
    for scale in (1e-3, 1e-2):  # any nudge of the solved weights raises the error
        with torch.no_grad():
            conv.weight.copy_(w0 + scale * torch.randn(w0.shape, generator=gen))
            conv.bias.copy_(b0 + scale * torch.randn(b0.shape, generator=gen))
        assert pixel_mse(encoder, decoder, imgs) > best
    with torch.no_grad():  # only the last convolution changed
        conv.weight.copy_(w0)
        conv.bias.copy_(b0)
    torch.manual_seed(0)
    fresh = WCTDecoder(level)  # the same initial weights
    for (name, p), q in zip(decoder.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(p, q) != name.startswith(f"body.{len(decoder.body) - 1}."), name


def test_refit_folder_writes_a_better_decoder(tmp_path, photos, held_out):
    start = make_wct_root(tmp_path / "root", levels=(1,), export=()) / "wct" / "level1"
    out = tmp_path / "level1"
    folder, meta = refit.refit_folder(start, photos, out, count=4, size=96,
                                      eval_paths=[held_out], eval_size=64)
    assert folder == out
    fit, ev = meta["refit"], meta["evaluation"]
    assert fit["photos"] == 4 and fit["skipped"] == 0 and fit["size"] == 96
    assert ev["images"] == 2 and ev["floor_db"] == 34
    assert ev["psnr_db"] > fit["psnr_db_before"] + 1.0
    sheet = images.read_image(out / "preview.jpg")  # the photos, before and after, 3 rows
    assert sheet.shape[0] > sheet.shape[1] / 2
    on_disk = json.loads((out / "model.json").read_text())
    assert on_disk["kind"] == "wct-decoder" and on_disk["refit"] == json.loads(json.dumps(fit))
    assert on_disk["training"] == json.loads((start / "model.json").read_text())["training"]
    decoder, _ = wct_trainer.load_decoder(out)
    photo = images.read_image(held_out / "alpha.png")
    old, _ = wct_trainer.load_decoder(start)
    enc = wct_trainer.encoder_for(1)
    new_out, = wct_trainer.reconstruct(enc, decoder, [photo])
    old_out, = wct_trainer.reconstruct(enc, old, [photo])
    assert psnr(new_out, photo) > psnr(old_out, photo)


def test_only_the_photo_is_fitted_not_its_padding(crops):
    encoder = wct_trainer.encoder_for(2)
    odd = [c[:31, :47] for c in crops]  # padded to 32x48 inside
    eq = refit.accumulate(encoder, WCTDecoder(2), odd)
    assert eq.rows == len(odd) * 31 * 47


def test_the_draw_of_photos_is_seeded(photos):
    a = refit.pick_photos(photos, 4, seed=0)
    assert a == refit.pick_photos(photos, 4, seed=0)
    assert len(a) == 4 and a != refit.pick_photos(photos, 4, seed=1)


def test_cli_refits_in_place_and_drops_the_stale_graphs(tmp_path, photos, held_out, capsys):
    root = make_wct_root(tmp_path / "root", levels=(1,), export=(1,))
    level1 = root / "wct" / "level1"
    assert (level1 / "realtime.onnx").is_file()
    code, out, err = cli(["refit-wct", "--model", level1, "--data", photos, "--out", level1,
                          "--photos", "3", "--size", "64", "--eval-images", held_out,
                          "--eval-size", "48", "--quiet"], capsys)
    assert code == 0, err
    assert "refit the last convolution of the relu1_1 decoder on 3 photos" in out
    assert f"rtstyle export --model {level1}" in out
    assert not (level1 / "realtime.onnx").exists()  # exported from the old weights
    meta = json.loads((level1 / "model.json").read_text())
    assert meta["evaluation"]["psnr_db"] > meta["refit"]["psnr_db_before"]
    assert not list(level1.parent.glob(".*part"))  # nothing half-written left behind
    assert "note:" not in out
    shipped = tmp_path / "shipped_level1"  # already least squares on 100 photos: 3 do worse
    shutil.copytree(SHIPPED_L1, shipped)
    code, out, err = cli(["refit-wct", "--model", shipped, "--data", photos, "--out",
                          tmp_path / "worse", "--photos", "3", "--size", "64", "--eval-images",
                          held_out, "--quiet"], capsys)
    assert code == 0, err
    assert "note: the refit reconstructs the held-out photos worse" in out


def test_cli_bad_input_is_one_line(tmp_path, photos, capsys):
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    code, _, err = cli(["refit-wct", "--model", not_a_model, "--data", photos, "--out",
                        tmp_path / "o"], capsys)
    assert code != 0
    assert_one_line_error(err)
    code, _, err = cli(["refit-wct", "--model", SHIPPED_L1, "--data", tmp_path / "missing",
                        "--out", tmp_path / "o"], capsys)
    assert code != 0
    assert_one_line_error(err, "data folder not found")
    unreadable = tmp_path / "bad"
    unreadable.mkdir()
    (unreadable / "a.jpg").write_bytes(b"not a jpeg")
    code, _, err = cli(["refit-wct", "--model", SHIPPED_L1, "--data", unreadable, "--out",
                        tmp_path / "o", "--quiet"], capsys)
    assert code != 0
    assert_one_line_error(err, "could be read")
    assert not (tmp_path / "o").exists()
    shutil.rmtree(unreadable)
