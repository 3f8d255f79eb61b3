"""Finding installed styles by name: $RTSTYLE_MODELS, the repository's models/ and the user's
data folder; folders without a valid model.json are skipped."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rtstyle import styles
from rtstyle.errors import ConfigError
from rtstyle.metadata import ModelError

from tests.helpers import ROOT


# --- two tiny exported styles, trained once per session (cached in the session's tmp folder) --


REPO_MODELS = ROOT / "models"


def repo_has_styles() -> bool:
    return REPO_MODELS.is_dir() and any((p / "model.json").is_file()
                                        for p in REPO_MODELS.iterdir() if p.is_dir())


@pytest.fixture
def library(tmp_path, monkeypatch, models) -> Path:
    """$RTSTYLE_MODELS = a folder with copies of the two styles; an empty user data folder."""
    lib = tmp_path / "library"
    lib.mkdir()
    for name, folder in models.items():
        shutil.copytree(folder, lib / name)
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return lib


def installed_here(lib: Path) -> dict[str, styles.Style]:
    """The installed styles that live under ``lib`` (the repository may ship others)."""
    return {s.name: s for s in styles.installed() if s.folder.parent == lib}


def test_search_path_order(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("RTSTYLE_MODELS", f"{a}{os.pathsep}{os.pathsep}{b}")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert styles.search_path() == [a, b, REPO_MODELS, tmp_path / "data" / "rtstyle" / "models"]
    monkeypatch.delenv("RTSTYLE_MODELS")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert styles.search_path() == [REPO_MODELS,
                                    tmp_path / "home" / ".local" / "share" / "rtstyle" / "models"]


def test_installed_lists_the_styles_with_their_metadata(library):
    found = installed_here(library)
    assert sorted(found) == ["bright", "starry"]
    starry = found["starry"]
    assert starry.folder == library / "starry"
    assert starry.onnx == library / "starry" / "model.onnx"
    assert starry.meta["style"]["credit"] == "The Starry Night, Vincent van Gogh (1889)"
    assert starry.meta["style"]["license"] == "public domain"
    assert found["bright"].meta["style"]["credit"] == ""
    assert found["bright"].meta["net"]["name"] == "tiny"


def test_find_a_name_returns_its_folder(library):
    assert styles.find("starry") == library / "starry"
    assert styles.find("bright") == library / "bright"


def test_a_found_style_runs(library):
    from rtstyle.stylizer import Stylizer

    st = Stylizer({"s": styles.find("starry")}, backend="ort-cpu", warm_up=None)
    assert st(np.full((20, 24, 3), 128, np.uint8)).shape == (20, 24, 3)


@pytest.mark.parametrize("name, suggestion", [("stary", "starry"), ("brite", "bright")])
def test_unknown_name_suggests_the_closest(library, name, suggestion):
    with pytest.raises(ConfigError) as e:
        styles.find(name)
    assert f"unknown style '{name}'" in str(e.value)
    assert f"did you mean '{suggestion}'" in str(e.value)
    assert "starry" in str(e.value) and "bright" in str(e.value)  # the choices


def test_unknown_name_without_any_style_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "empty").mkdir()
    assert styles.installed() == []
    with pytest.raises(ModelError, match="no style named 'starry' and no styles are installed"):
        styles.find("starry")


def test_paths_are_returned_as_they_are(library, tmp_path, monkeypatch):
    folder = library / "starry"
    assert styles.find(folder) == folder
    assert styles.find(str(folder / "model.onnx")) == folder / "model.onnx"
    # not there (yet), but clearly paths: the loader reports them, not the name lookup
    assert styles.find("missing.onnx") == Path("missing.onnx")
    assert styles.find(str(tmp_path / "nope" / "model")) == tmp_path / "nope" / "model"
    assert styles.find("runs/x/model") == Path("runs/x/model")
    # a relative path that exists wins over an installed style of the same name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "starry").mkdir()
    assert styles.find("starry") == Path("starry")


def test_folders_without_a_valid_model_json_are_skipped(library):
    bad = {
        "empty": None,
        "not-json": b"{ this is not json",
        "not-utf8": b"\xff\xfe\x00garbage",
        "a-list": json.dumps([1, 2]).encode(),
        "other-format": json.dumps({"format": "something-else", "version": 1}).encode(),
    }
    for name, content in bad.items():
        (library / name).mkdir()
        if content is not None:
            (library / name / "model.json").write_bytes(content)
    meta = json.loads((library / "starry" / "model.json").read_text())
    for name, change in {"version-2": {"version": 2}, "no-net": {"net": None},
                         "other-kind": {"kind": "diffusion"},
                         "bad-io": {"io": {**meta["io"], "channels": "BGR"}}}.items():
        shutil.copytree(library / "starry", library / name)
        (library / name / "model.json").write_text(json.dumps({**meta, **change}))
    (library / "model.json").write_text("{}")  # a stray file in the root is not a style
    (library / "readme.txt").write_text("hello")
    assert sorted(installed_here(library)) == ["bright", "starry"]
    with pytest.raises(ConfigError, match="unknown style 'version-2'"):
        styles.find("version-2")


def test_an_unexported_style_is_listed_without_onnx(library):
    (library / "bright" / "model.onnx").unlink()
    found = installed_here(library)
    assert found["bright"].onnx is None
    assert styles.find("bright") == library / "bright"


def test_the_first_root_wins_for_a_repeated_name(library, tmp_path, monkeypatch):
    second = tmp_path / "second"
    shutil.copytree(library / "bright", second / "starry")  # a different 'starry'
    monkeypatch.setenv("RTSTYLE_MODELS", f"{tmp_path / 'absent'}{os.pathsep}{library}"
                                         f"{os.pathsep}{second}")
    found = {s.name: s for s in styles.installed()}
    assert found["starry"].folder == library / "starry"
    monkeypatch.setenv("RTSTYLE_MODELS", f"{second}{os.pathsep}{library}")
    assert styles.find("starry") == second / "starry"
    assert styles.find("bright") == library / "bright"


def test_the_user_data_folder_is_searched(tmp_path, monkeypatch, models):
    monkeypatch.delenv("RTSTYLE_MODELS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    user = tmp_path / "data" / "rtstyle" / "models"
    shutil.copytree(models["starry"], user / "mine")
    assert styles.find("mine") == user / "mine"


@pytest.fixture
def zoo_names(tmp_path, monkeypatch, models) -> Path:
    """Installed copies named like the zoo: starry_night_lite, its _stable variant, a full
    starry_night, and great_wave_hokusai_lite; nothing else."""
    lib = tmp_path / "zoo"
    lib.mkdir()
    for name in ("starry_night_lite", "starry_night_lite_stable", "starry_night",
                 "great_wave_hokusai_lite"):
        shutil.copytree(models["starry"], lib / name)
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return lib


@pytest.mark.parametrize("name, prefer, found", [
    ("starry_night", "lite", "starry_night_lite"),
    ("starry_night", "full", "starry_night"),
    ("STARRY_Night_Lite", "full", "starry_night_lite"),
    ("starry_night_lite_stable", "lite", "starry_night_lite_stable"),
    ("great_wave", "lite", "great_wave_hokusai_lite"),
    ("great_wave_hokusai", "full", "great_wave_hokusai_lite"),  # no full net: the lite one
    ("Great_Wave", "lite", "great_wave_hokusai_lite"),
])
def test_names_ignore_case_and_the_net_size(zoo_names, name, prefer, found):
    assert styles.find(name, prefer) == zoo_names / found


def test_an_ambiguous_or_unknown_prefix_lists_the_installed_styles(zoo_names):
    with pytest.raises(ConfigError, match="unknown style 'wave'.*great_wave_hokusai_lite"):
        styles.find("wave")


def test_unique_name_takes_the_first_free_number():
    assert styles.unique_name("a", set()) == "a"
    assert styles.unique_name("a", {"a", "a-2"}) == "a-3"
    assert styles.unique_name("a", lambda n: n in ("a",), sep="_") == "a_2"
