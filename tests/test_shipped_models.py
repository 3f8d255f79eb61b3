"""What ships in models/: sizes a clone can carry, and every model folder readable."""

from __future__ import annotations

import pytest

from rtstyle import metadata
from tests.helpers import ROOT

MODELS = ROOT / "models"
FILE_LIMIT = 20 * 2 ** 20
TOTAL_LIMIT = 80 * 2 ** 20


def test_no_shipped_file_is_over_20_mib_and_models_stay_under_80_mib():
    files = [p for p in MODELS.rglob("*") if p.is_file()]
    big = [f"{p.relative_to(ROOT)} ({p.stat().st_size / 2 ** 20:.1f} MiB)" for p in files
           if p.stat().st_size > FILE_LIMIT]
    assert not big, big
    assert sum(p.stat().st_size for p in files) < TOTAL_LIMIT


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_every_shipped_wct_decoder_loads_with_its_psnr(level):
    pytest.importorskip("torch")
    from rtstyle.train.wct_trainer import load_decoder

    decoder, meta = load_decoder(MODELS / "wct" / f"level{level}")
    assert decoder.level == level and meta["net"]["level"] == level
    assert meta["evaluation"]["psnr_db"] > 5 and meta["evaluation"]["images"] >= 30


def test_every_shipped_model_folder_has_readable_metadata():
    folders = [p.parent for p in MODELS.rglob(metadata.METADATA_FILE)]
    assert len(folders) >= 6
    for folder in folders:
        assert metadata.read(folder)["kind"] in metadata.KINDS
