"""``rtstyle info``, ``rtstyle sheet`` and ``rtstyle styles --json`` from the real entry point."""

from __future__ import annotations

import json
import shutil

import cv2
import pytest

from tests.helpers import ASSETS, assert_one_line_error, cli

pytestmark = pytest.mark.usefixtures("no_user_styles")


@pytest.fixture
def library(tmp_path, monkeypatch, models):
    lib = tmp_path / "lib"
    for name, folder in models.items():
        shutil.copytree(folder, lib / name)
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    return lib


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.resize(cv2.imread(str(ASSETS / "tubingen.jpg")), (80, 60)))
    return path


def test_info_names_the_working_cpu_provider_and_the_styles(capsys, library):
    code, stdout, err = cli(["info", "--json"], capsys)
    assert code == 0, err
    info = json.loads(stdout)
    assert info["providers"]["CPUExecutionProvider"] == "ok"
    assert info["styles"] == ["bright", "starry"]
    assert str(library) in info["model_search_path"]
    assert info["any_painting_net"] is None
    code, stdout, _ = cli(["info"], capsys)
    assert code == 0 and "CPU ok" in stdout and "styles (2): bright, starry" in stdout
    assert "any painting: net none installed" in stdout


def test_styles_json_is_one_record_per_style(capsys, library):
    code, stdout, _ = cli(["styles", "--json"], capsys)
    assert code == 0
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [r["name"] for r in records] == ["bright", "starry"]
    assert all(r["exported"] and r["net"] == "tiny" and r["steps"] == 2 for r in records)
    # trained outside the zoo: the label still says how, from the training facts
    assert all(r["label"].startswith("trained: 2 steps (") and " on cpu" in r["label"]
               for r in records)


def test_sheet_shows_the_photo_in_every_style(capsys, library, photo, tmp_path):
    target = tmp_path / "sheets" / "s.png"
    code, stdout, err = cli(["sheet", photo, "-o", target, "--cell", "64"], capsys)
    assert code == 0, err
    sheet = cv2.imread(str(target))
    assert sheet is not None and sheet.shape[1] > 3 * 64  # original + 2 styles side by side
    assert f"wrote {target}: photo.png in 2 styles" in stdout
    code, stdout, _ = cli(["sheet", photo, "-o", target, "--cell", "64"], capsys)
    assert code == 0 and "s.png exists: wrote s-2.png instead" in stdout


def test_a_blend_strip_of_two_nets_cross_fades_their_outputs(library):
    import numpy as np

    from rtstyle.cli.sheet import _blend_strip
    from rtstyle.stylizer import Stylizer

    photo = cv2.resize(cv2.imread(str(ASSETS / "tubingen.jpg")), (48, 40))
    strip = _blend_strip(photo, "starry,bright", 3, "ort-cpu")
    assert list(strip) == ["starry", "starry 0.50 + bright 0.50", "bright"]
    alone = {n: Stylizer([library / n], backend="ort-cpu", warm_up=None)(photo)
             for n in ("starry", "bright")}
    np.testing.assert_array_equal(strip["starry"], alone["starry"])
    np.testing.assert_array_equal(strip["bright"], alone["bright"])
    mean = (alone["starry"].astype(float) + alone["bright"]) / 2
    assert np.abs(strip["starry 0.50 + bright 0.50"] - mean).max() <= 1


@pytest.mark.parametrize("spec, needle", [("starry", "two style names"),
                                          ("starry:1,bright:1", "two style names"),
                                          ("starry,nope", "nope")])
def test_a_bad_blend_strip_is_one_line(capsys, library, photo, spec, needle):
    code, _, err = cli(["sheet", photo, "--blend", spec, "-o", photo.with_name("b.png")], capsys)
    assert code != 0
    assert_one_line_error(err, needle)


def test_sheet_without_styles_is_one_line(capsys, photo, monkeypatch):
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    code, _, err = cli(["sheet", photo], capsys)
    assert code == 1
    assert_one_line_error(err, "no exported styles installed")


def test_styles_columns_line_up_for_names_of_any_length(capsys, tmp_path, monkeypatch, models):
    lib = tmp_path / "zoo"
    for name in ("a", "a_rather_long_style_name_lite"):
        shutil.copytree(models["starry"], lib / name)
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    code, stdout, _ = cli(["styles"], capsys)
    assert code == 0
    lines = stdout.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]
    assert len(heads) == 2
    assert len({line.index("tiny") for line in heads}) == 1  # the net column
    assert len({line.index(str(lib)) for line in lines if str(lib) in line}) == 1
