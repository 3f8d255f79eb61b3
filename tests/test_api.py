"""The Python API: a path, a PIL image or an RGB array in, the same kind out, with the same
pixels as the CLI's engine."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

import rtstyle
from rtstyle import frames, images, styles
from rtstyle.errors import InputError
from rtstyle.stylizer import Stylizer

from tests.helpers import ASSETS

pytestmark = pytest.mark.usefixtures("no_user_styles")


@pytest.fixture
def photo(tmp_path):
    img = cv2.resize(cv2.imread(str(ASSETS / "tubingen.jpg")), (64, 48),
                     interpolation=cv2.INTER_AREA)
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def library(tmp_path, monkeypatch, models):
    lib = tmp_path / "lib"
    shutil.copytree(models["starry"], lib / f"{styles.DEFAULT}_lite")
    shutil.copytree(models["bright"], lib / "bright_lite")
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    return lib


def test_an_rgb_array_gives_the_engine_s_pixels_in_rgb(library, photo):
    st = rtstyle.StyleTransfer("bright")
    rgb = frames.bgr_to_rgb(images.read_image(photo))
    out = st(rgb)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    engine = Stylizer({"main": library / "bright_lite"}, warm_up=None)
    np.testing.assert_array_equal(out, frames.bgr_to_rgb(engine(images.read_image(photo))))


def test_a_pil_image_gives_a_pil_image(library, photo):
    with Image.open(photo) as img:
        out = rtstyle.StyleTransfer("bright")(img)
    assert isinstance(out, Image.Image) and out.size == (64, 48) and out.mode == "RGB"


def test_a_path_writes_a_file_and_returns_its_path(library, photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = rtstyle.stylize(photo)  # the default style
    assert written == rtstyle.api.DEFAULT_FOLDER / f"photo_{styles.DEFAULT}_lite.jpg"
    assert images.read_image(written).shape == (48, 64, 3)
    target = tmp_path / "new" / "x.png"
    assert rtstyle.StyleTransfer("bright")(str(photo), output=target) == target
    assert target.is_file()


def test_wrong_inputs_are_clear_errors(library):
    st = rtstyle.StyleTransfer("bright")
    with pytest.raises(InputError, match="HxWx3 uint8 RGB array"):
        st(np.zeros((8, 8), np.float32))
    with pytest.raises(InputError, match="cannot stylize a dict"):
        st({})
    assert "bright_lite" in repr(st)
