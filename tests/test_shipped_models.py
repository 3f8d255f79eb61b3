"""What ships in models/: sizes a clone can carry, and every model folder readable."""

from __future__ import annotations

import pytest

from rtstyle import metadata
from tests.helpers import ROOT

MODELS = ROOT / "models"
FILE_LIMIT = 20 * 2 ** 20
#: The zoo's budget: six paintings with a lite and a full net each, and the WCT decoders.
TOTAL_LIMIT = 100 * 10 ** 6


def test_no_shipped_file_is_over_20_mib_and_models_stay_under_100_mb():
    files = [p for p in MODELS.rglob("*") if p.is_file()]
    big = [f"{p.relative_to(ROOT)} ({p.stat().st_size / 2 ** 20:.1f} MiB)" for p in files
           if p.stat().st_size > FILE_LIMIT]
    assert not big, big
    assert sum(p.stat().st_size for p in files) < TOTAL_LIMIT


def shipped_decoder_levels():
    return sorted(int(p.name[-1]) for p in (MODELS / "wct").glob("level[1-5]"))


def test_the_decoders_of_the_default_chain_ship():
    """Levels 1-3 meet their floors and make `rtstyle wct`'s default chain."""
    assert {1, 2, 3} <= set(shipped_decoder_levels())


@pytest.mark.parametrize("level", shipped_decoder_levels())
def test_every_shipped_wct_decoder_loads_with_its_psnr(level):
    pytest.importorskip("torch")
    from rtstyle.train.wct.trainer import load_decoder

    decoder, meta = load_decoder(MODELS / "wct" / f"level{level}")
    assert decoder.level == level and meta["net"]["level"] == level
    assert meta["evaluation"]["psnr_db"] > 5 and meta["evaluation"]["images"] >= 30
    assert meta["evaluation"]["floor_db"] > 5  # what `rtstyle wct` needs to use it by default


def test_every_shipped_model_folder_has_readable_metadata():
    folders = [p.parent for p in MODELS.rglob(metadata.METADATA_FILE)]
    assert len(folders) >= 6
    for folder in folders:
        assert metadata.read(folder)["kind"] in metadata.KINDS


def shipped_styles():
    return sorted(p.parent for p in MODELS.glob(f"*/{metadata.METADATA_FILE}")
                  if metadata.read(p.parent)["kind"] == "transformer")


@pytest.mark.parametrize("folder", shipped_styles(), ids=lambda p: p.name)
def test_every_shipped_style_is_credited_and_its_onnx_matches_its_weights(folder):
    """Metadata, the ONNX contract and card, and ONNX Runtime against the safetensors weights
    in torch on one real photo (fp16 against fp32 where an fp16 file ships)."""
    from rtstyle import onnx_model

    meta = metadata.read(folder)
    assert meta["style"]["license"] == "public domain" and meta["style"]["credit"]
    assert meta["training"]["steps"] > 0 and meta["training"]["device"]
    assert (folder / metadata.STYLE_FILE).is_file()
    assert not (folder / "preview.jpg").exists()  # training previews show training photos
    info = onnx_model.read_contract(folder / onnx_model.FP32_FILE)
    assert info.card["name"] == meta["name"] and info.card["net"] == meta["net"]
    assert info.card.get("evaluation") == meta.get("evaluation")
    torch = pytest.importorskip("torch")
    from rtstyle.train import export, model_folder

    net, _ = model_folder.load(folder, torch.device("cpu"))
    fp32 = (folder / onnx_model.FP32_FILE).read_bytes()
    errors = export.check_parity(fp32, net, sizes=[(96, 128)])
    assert max(errors.values()) <= export.PARITY_TOLERANCE
    if (folder / onnx_model.FP16_FILE).is_file():
        psnr = export.check_fp16((folder / onnx_model.FP16_FILE).read_bytes(), fp32,
                                 sizes=[(96, 128)])
        assert min(psnr.values()) >= export.FP16_MIN_PSNR


def test_the_starry_night_net_leaves_no_rim_on_the_frame_edges(monkeypatch):
    """Trained against VGG's zero-padded convolutions, the net paints a yellow line on the
    outer 2 px; the engine's reflected margin keeps it out of the picture."""
    from rtstyle import images, quality, stylizer
    from tests.helpers import ASSETS

    photo = images.read_image(ASSETS / "tubingen.jpg", max_side=512)
    st = stylizer.Stylizer([MODELS / "starry_night_lite"], backend="ort-cpu", warm_up=None)
    rim = quality.edge_shift(st(photo), band=2)
    monkeypatch.setattr(stylizer, "EDGE_MARGIN", 0)
    assert rim < 10 < quality.edge_shift(st(photo), band=2)


def test_every_zoo_painting_ships_its_lite_and_full_nets_with_their_evaluations():
    from rtstyle import zoo

    recipe = zoo.load(ROOT / "export" / "zoo.toml")
    for s in recipe.styles:
        folders = [MODELS / s.installed_name(net) for net in s.nets]
        missing = [f.name for f in folders if not (f / metadata.METADATA_FILE).is_file()]
        assert not missing, f"{s.key}: not in models/: {', '.join(missing)}"
        for f in folders:
            meta = metadata.read(f)
            assert meta["style"]["credit"] == s.credit and meta["zoo"]["key"] == s.key
            ev = meta["evaluation"]
            assert ev["size"] == recipe.evaluate_size and len(ev["images"]) >= 2
            assert meta["zoo"]["complete"] == (meta["training"]["steps"] >= zoo.PAPER_STEPS)
    assert (MODELS / "zoo_sheet.png").is_file() and (MODELS / "zoo_evaluation.md").is_file()


def shipped_realtime_levels():
    return sorted(int(p.parent.name[-1]) for p in MODELS.glob("wct/level*/realtime.onnx"))


@pytest.mark.parametrize("level", shipped_realtime_levels())
def test_every_shipped_real_time_wct_graph_matches_its_decoder(level):
    """The shipped graphs (ONNX Runtime, Newton-Schulz) against the shipped decoder with the
    exact eigendecomposition WCT, on the bundled photo and painting."""
    import numpy as np

    torch = pytest.importorskip("torch")
    from rtstyle import assets, frames, images, wct_realtime
    from rtstyle.quality import psnr
    from rtstyle.train.wct.stylize import WCTConfig, stylize_wct
    from rtstyle.train.wct.trainer import encoder_for, load_decoder

    photo = images.resize_to(images.read_image(assets.path(assets.DEMO_CONTENT)), (64, 96))
    painting = images.read_image(assets.path(assets.DEMO_STYLE), max_side=128)
    style = wct_realtime.WCTStyle(painting, level, MODELS / "wct" / f"level{level}",
                                  backend="ort-cpu", style_size=128)
    ours = frames.from_model_output(style.run(frames.to_model_input(photo)))
    with torch.no_grad():
        ref = stylize_wct(photo, [painting], {level: encoder_for(level)},
                          {level: load_decoder(MODELS / "wct" / f"level{level}")[0]},
                          WCTConfig(levels=(level,), alpha=1.0, size=96, style_size=128))
    assert psnr(ours.astype(np.float32), ref.astype(np.float32)) >= 30
