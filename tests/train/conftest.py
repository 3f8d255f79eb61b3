"""Fixtures for the training tests: a small folder of real and synthetic photos, a tiny model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "rtstyle" / "assets"
STYLE = ASSETS / "starry_night_van_gogh.jpg"

#: Flags that make `rtstyle train` take a fraction of a second per step on a CPU.
TINY = ["--net", "tiny", "--image-size", "32", "--batch-size", "2", "--workers", "0",
        "--device", "cpu", "--preview-every", "0", "--quiet"]


def make_photos(folder: Path, n_synthetic: int = 6) -> Path:
    """Crops of the bundled photo (real content) plus smooth synthetic scenes, in sub-folders."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = cv2.imread(str(ASSETS / "tubingen.jpg"))
    (folder / "real").mkdir(exist_ok=True)
    h, w = photo.shape[:2]
    for i, (y, x) in enumerate([(0, 0), (h // 3, w // 3), (h // 2, w // 2)]):
        cv2.imwrite(str(folder / "real" / f"tubingen_{i}.jpg"), photo[y:y + h // 2, x:x + w // 2])
    rng = np.random.default_rng(1)
    (folder / "synthetic" / "deeper").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:72, 0:96].astype(np.float32)
    for i in range(n_synthetic):
        a, b, c = rng.uniform(0.02, 0.2, 3)
        img = np.stack([127 + 120 * np.sin(a * xx + i), 127 + 120 * np.cos(b * yy),
                        127 + 120 * np.sin(c * (xx + yy))], axis=-1)
        cv2.circle(img, (int(rng.integers(10, 86)), int(rng.integers(10, 62))), 12,
                   tuple(float(v) for v in rng.integers(0, 255, 3)), -1)
        sub = folder / "synthetic" / ("deeper" if i % 2 else "")
        cv2.imwrite(str(sub / f"scene_{i}.png"), np.clip(img, 0, 255).astype(np.uint8))
    return folder


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    return make_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, photos) -> Path:
    """A model folder from a few steps of the tiny net (trained once per test session)."""
    from rtstyle.cli import main

    run = tmp_path_factory.mktemp("tiny_run") / "run"
    code = main(["train", "--style", str(STYLE), "--data", str(photos), "--out", str(run),
                 "--steps", "3", *TINY])
    assert code == 0
    return run / "model"
