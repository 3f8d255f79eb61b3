"""``rtstyle train-any`` at the CLI boundary: a tiny real run with a held-out painting, exact
resume, and one-line errors that create no run folder."""

from __future__ import annotations

import json

import cv2
import pytest

pytest.importorskip("torch")

from tests.helpers import STYLE, TINY, assert_one_line_error, cli  # noqa: E402


@pytest.fixture(scope="module")
def paintings(tmp_path_factory):
    d = tmp_path_factory.mktemp("paintings")
    img = cv2.imread(str(STYLE))
    cv2.imwrite(str(d / "starry.jpg"), img)
    cv2.imwrite(str(d / "negative.png"), 255 - img[::-1])
    cv2.imwrite(str(d / "mirror.png"), img[:, ::-1])
    return d


def argv(out, paintings, photos, *extra, steps=2):
    return ["train-any", "--out", out, *TINY, "--paintings", paintings, "--data", photos,
            "--steps", steps, "--basis", "3", *extra]


@pytest.fixture(scope="module")
def any_run(paintings, photos, tmp_path_factory):
    import contextlib
    import io

    from rtstyle.cli import main

    run = tmp_path_factory.mktemp("any_cli") / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in argv(run, paintings, photos, "--hold-out", "mirror")])
    assert code == 0
    return run, out.getvalue()


def test_a_run_trains_on_the_paintings_it_does_not_hold_out(any_run):
    run, out = any_run
    assert "trained 2 steps" in out and "on 2 paintings and the photos' crops; held out: 1" \
        in out
    meta = json.loads((run / "model" / "model.json").read_text())
    assert meta["kind"] == "arbitrary" and meta["net"]["basis"] == 3
    assert sorted(p["name"] for p in meta["paintings"]) == ["negative", "starry"]
    assert [p["name"] for p in meta["held_out"]] == ["mirror"]


def test_resume_goes_on_with_the_run_s_paintings(any_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(any_run[0], run)
    code, out, err = cli(["train-any", "--out", run, "--resume", "--steps", "3", "-q"], capsys)
    assert code == 0, err
    assert "trained 3 steps" in out and "held out: 1" in out
    code, _, err = cli(["train", "--out", run, "--resume"], capsys)
    assert code == 1
    assert_one_line_error(err, "an any-painting run", "rtstyle train-any --resume")


@pytest.mark.parametrize("extra, needle", [
    (["--hold-out", "nothing"], "--hold-out names no painting given: nothing"),
    (["--hold-out", "starry,negative,mirror"], "every painting is held out"),
    (["--photo-styles", "2"], "photo_styles must be in 0..1"),
])
def test_bad_runs_are_one_line_errors_and_create_nothing(paintings, photos, tmp_path, capsys,
                                                         extra, needle):
    code, _, err = cli(argv(tmp_path / "run", paintings, photos, *extra), capsys)
    assert code == 1
    assert_one_line_error(err, needle)
    assert not (tmp_path / "run").exists()


def test_no_paintings_is_an_error(photos, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = cli(argv(tmp_path / "run", tmp_path / "empty", photos), capsys)
    assert code == 1
    assert_one_line_error(err, "no images found in")
    assert not (tmp_path / "run").exists()
