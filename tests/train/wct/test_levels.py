"""rtstyle.train.wct.levels: the default WCT chain is the levels whose decoder meets its floor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")

from rtstyle import metadata  # noqa: E402
from rtstyle.train.wct import levels  # noqa: E402


def test_floors_sit_below_the_targets_and_come_from_the_metadata_first():
    assert all(levels.FLOOR_DB[lv] < levels.TARGET_DB[lv] for lv in range(1, 6))
    assert levels.check(3, {"evaluation": {"psnr_db": 23.5}}).usable  # floor 23
    assert not levels.check(3, {"evaluation": {"psnr_db": 22.9}}).usable
    own = levels.check(3, {"evaluation": {"psnr_db": 22.9, "floor_db": 20}})
    assert own.usable and own.floor_db == 20
    for meta in (None, {}, {"evaluation": {}}, {"evaluation": {"psnr_db": "high"}}):
        c = levels.check(2, meta)
        assert not c.usable and c.describe() == "relu2_1 (no evaluated decoder)"
    assert levels.check(4, {"evaluation": {"psnr_db": 20.83}}).describe() == \
        "relu4_1 20.8 dB (floor 22)"  # the deep levels' floors sit 1 dB below their targets
    assert levels.FLOOR_DB == {1: 34.0, 2: 28.0, 3: 23.0, 4: 22.0, 5: 18.0}


def with_psnr(root: Path, tmp_path: Path, psnr: dict[int, float]) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(root, copy)
    for level, value in psnr.items():
        file = copy / "wct" / f"level{level}" / metadata.METADATA_FILE
        meta = json.loads(file.read_text())
        meta["evaluation"]["psnr_db"] = value
        file.write_text(json.dumps(meta))
    return copy / "wct"


def test_the_default_chain_is_every_good_level_coarse_to_fine(wct_root, tmp_path):
    # levels 1..3 exist in the fixture; 4 and 5 do not
    chosen, left_out = levels.default_levels(with_psnr(wct_root, tmp_path,
                                                       {1: 40.0, 2: 20.0, 3: 25.0}))
    assert chosen == (3, 1)
    assert [c.level for c in left_out] == [5, 4, 2]
    assert left_out[2].psnr_db == 20.0 and left_out[0].psnr_db is None


def test_no_good_level_is_a_model_error_that_names_the_way_out(wct_root, tmp_path):
    with pytest.raises(metadata.ModelError, match="--levels"):
        levels.default_levels(with_psnr(wct_root, tmp_path, {1: 3.0, 2: 3.0, 3: 3.0}))


def test_the_shipped_decoders_default_to_levels_whose_psnr_meets_the_floor():
    from tests.helpers import ROOT

    root = ROOT / "models" / "wct"
    chosen, left_out = levels.default_levels(root)
    shipped = sorted(int(p.name[-1]) for p in root.glob("level[1-5]"))
    assert len(shipped) >= 3
    for level in shipped:
        ev = metadata.read(root / f"level{level}")["evaluation"]
        assert (level in chosen) == (ev["psnr_db"] >= ev["floor_db"])
    assert chosen and list(chosen) == sorted(chosen, reverse=True)


def test_the_default_chain_keeps_the_photo_where_all_five_levels_lose_it():
    """The floor: an output must keep at least twice as much of the photo as the painting itself
    would (content distance under the training loss; the painting scores ~87k here). With the
    shipped decoders the default chain (3, 2, 1) scores ~24k; every shipped level, relu4_1's
    decoder (20.8 dB, below its floor of 22) included, scores ~55k: it loses the photo."""
    from rtstyle import assets, images
    from rtstyle.train.evaluate import score_image
    from rtstyle.train.trainer import TrainConfig
    from rtstyle.train.wct.stylize import WCTConfig, stylize_wct
    from rtstyle.train.wct.trainer import encoder_for, find_decoder, load_decoder
    from tests.helpers import ROOT, STYLE

    root = ROOT / "models" / "wct"
    photo = images.read_image(assets.path(assets.DEMO_CONTENT), max_side=256)
    painting = images.read_image(STYLE, max_side=256)
    loss = TrainConfig().loss
    floor = score_image(images.resize_to(painting, photo.shape[:2]), photo, painting,
                        loss)["content"] / 2

    def content(chain):
        decoders = {lv: load_decoder(find_decoder(lv, root))[0] for lv in chain}
        encoders = {lv: encoder_for(lv, "cpu") for lv in chain}
        out = stylize_wct(photo, [painting], encoders, decoders,
                          WCTConfig(levels=chain, size=256))
        return score_image(out, photo, painting, loss)["content"]

    chosen, _ = levels.default_levels(root)
    assert content(chosen) < floor
    every = tuple(sorted((int(p.name[-1]) for p in root.glob("level[1-5]")), reverse=True))
    assert content(every) > floor  # what the old default did: the floor has teeth


def test_the_default_decoders_clear_their_floors_on_the_bundled_photo():
    """Each decoder of the default chain, as stored (float16), rebuilds the photo that ships
    (not one of the held-out photos its metadata scores) above its floor at 512 px; relu1_1,
    refit by least squares, above its target."""
    from rtstyle import assets, images
    from rtstyle.quality import psnr
    from rtstyle.train.wct.trainer import encoder_for, find_decoder, load_decoder, reconstruct
    from tests.helpers import ROOT

    root = ROOT / "models" / "wct"
    photo = images.read_image(assets.path(assets.DEMO_CONTENT), max_side=512)
    chosen, _ = levels.default_levels(root)
    scores = {}
    for level in chosen:
        decoder, meta = load_decoder(find_decoder(level, root))
        out, = reconstruct(encoder_for(level), decoder, [photo])
        scores[level] = psnr(out, photo)
        assert scores[level] >= meta["evaluation"]["floor_db"], (level, scores[level])
    assert scores[1] >= levels.TARGET_DB[1]
