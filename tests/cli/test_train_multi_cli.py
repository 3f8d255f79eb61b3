"""``rtstyle train --zoo RECIPE`` and ``--add-style IMAGE --init MODEL`` at the CLI boundary:
tiny real runs, resume, and one-line errors that create no run folder."""

from __future__ import annotations

import json

import cv2
import pytest

pytest.importorskip("torch")

from tests.cli.test_train_cli import train_args  # noqa: E402
from tests.helpers import STYLE, assert_one_line_error, cli  # noqa: E402

RECIPE = """
[styles.starry]
file = "starry.jpg"
credit = "The Starry Night, Vincent van Gogh (1889)"
[styles.negative]
file = "negative.png"
credit = "its negative"
style_weight = 30
style_size = 24
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    d = tmp_path_factory.mktemp("zoo")
    img = cv2.imread(str(STYLE))
    cv2.imwrite(str(d / "starry.jpg"), img)
    cv2.imwrite(str(d / "negative.png"), 255 - img[::-1])
    (d / "zoo.toml").write_text(RECIPE)
    return d / "zoo.toml"


@pytest.fixture(scope="module")
def multi_run(recipe, photos, tmp_path_factory):
    import contextlib
    import io

    from rtstyle.cli import main

    run = tmp_path_factory.mktemp("multi_cli") / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in train_args(run, "--zoo", recipe, style=None, data=photos,
                                                steps=2)])
    assert code == 0
    return run, out.getvalue()


def read_meta(run):
    return json.loads((run / "model" / "model.json").read_text())


def test_a_zoo_recipe_trains_one_net_for_its_paintings(multi_run):
    run, out = multi_run
    assert "trained 2 steps" in out and "for 2 styles (starry, negative)" in out
    meta = read_meta(run)
    assert meta["kind"] == "multi-style"
    assert [(s["name"], s["style_weight"]) for s in meta["styles"]] == [("starry", 10.0),
                                                                        ("negative", 30.0)]
    assert max(meta["styles"][1]["size"]) == 24 and max(meta["styles"][0]["size"]) == 32


def test_a_multi_style_run_resumes(multi_run, capsys, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(multi_run[0], run)
    code, out, err = cli(["train", "--out", run, "--resume", "--steps", "3", "-q"], capsys)
    assert code == 0, err
    assert "trained 3 steps" in out and read_meta(run)["training"]["steps"] == 3


def test_add_style_grows_the_net_by_one_painting(multi_run, capsys, tmp_path, photos):
    run = tmp_path / "added"
    painting = tmp_path / "grey.png"
    cv2.imwrite(str(painting), cv2.cvtColor(cv2.imread(str(STYLE)), cv2.COLOR_BGR2GRAY))
    code, out, err = cli(train_args(run, "--add-style", painting, "--init",
                                    multi_run[0] / "model", "--style-name", "grey",
                                    "--style-credit", "a grey copy", style=None, data=photos,
                                    steps=1), capsys)
    assert code == 0, err
    assert "for 3 styles (starry, negative, grey)" in out
    meta = read_meta(run)
    assert meta["styles"][2]["credit"] == "a grey copy" and meta["recipe"]["add_style"] is True


@pytest.mark.parametrize("case, needle", [
    ("both", "choose one"),
    ("no-init", "--add-style needs --init MODEL"),
    ("style", "--style is for a one-style net"),
    ("missing", "painting not found"),
    ("bad-key", "not in the zoo: mona"),
])
def test_multi_style_mistakes_are_one_line_errors(case, needle, recipe, photos, tmp_path,
                                                  capsys):
    run = tmp_path / "run"
    extra = {"both": ["--zoo", recipe, "--add-style", STYLE, "--init", STYLE],
             "no-init": ["--add-style", STYLE],
             "style": ["--zoo", recipe],
             "missing": ["--zoo", recipe, "--styles-dir", tmp_path],
             "bad-key": ["--zoo", recipe, "--zoo-styles", "mona"]}[case]
    style = STYLE if case == "style" else None
    code, _, err = cli(train_args(run, *extra, style=style, data=photos, steps=1), capsys)
    assert code != 0
    assert_one_line_error(err, needle)
    assert not run.exists()
