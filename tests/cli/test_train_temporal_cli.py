"""``rtstyle train --temporal-weight W`` at the CLI boundary: a tiny run with the term logs it
and records it; bad weights and jitters are one-line errors that create nothing; --resume keeps
the term and refuses to change it (a recipe change)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from rtstyle.train import checkpoint, trainer

from tests.cli.test_train_cli import read_csv, snapshot
from tests.cli.test_train_cli import train_args as train
from tests.helpers import assert_one_line_error, cli


@pytest.fixture(scope="module")
def temporal_run(tmp_path_factory, photos) -> Path:
    """A 2-step tiny run with --temporal-weight 2 and a changed jitter, trained once."""
    import contextlib
    import io

    from rtstyle.cli import main

    run = tmp_path_factory.mktemp("temporal_cli") / "run"
    argv = train(run, "--temporal-weight", "2", "--set", "temporal.noise=0", "--set",
                 "temporal.shift=0.05", data=photos, steps=2)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    assert code == 0, err.getvalue()
    return run


@pytest.fixture
def old_temporal_run(temporal_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(temporal_run, run)
    return run


def test_a_tiny_run_with_the_temporal_term(temporal_run):
    rows = read_csv(temporal_run / "losses.csv")
    assert tuple(rows[0]) == trainer.TEMPORAL_COLUMNS
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    assert all(math.isfinite(float(v)) for r in rows[1:] for v in r)
    col = rows[0].index("temporal")
    assert all(float(r[col]) > 0 for r in rows[1:])
    cfg = json.loads((temporal_run / "config.json").read_text())["config"]
    assert cfg["temporal_weight"] == 2.0
    assert cfg["temporal"]["noise"] == 0.0 and cfg["temporal"]["shift"] == 0.05
    meta = json.loads((temporal_run / "model" / "model.json").read_text())
    assert meta["recipe"]["config"]["temporal_weight"] == 2.0
    assert "temporal" in meta["training"]["final_losses"]


def test_resume_keeps_the_temporal_term(capsys, old_temporal_run):
    status, out, err = cli(train(old_temporal_run, "--resume", style=None, steps=3), capsys)
    assert status == 0, err
    assert err == "" and "trained 3 steps" in out
    rows = read_csv(old_temporal_run / "losses.csv")
    assert tuple(rows[0]) == trainer.TEMPORAL_COLUMNS and len(rows) == 1 + 3
    assert checkpoint.load(old_temporal_run / "checkpoint.pt")["config"]["temporal_weight"] == 2.0


def test_resume_with_the_same_temporal_weight_is_not_a_change(capsys, old_temporal_run):
    status, out, err = cli(train(old_temporal_run, "--resume", "--temporal-weight", "2",
                                 style=None), capsys)
    assert status == 0, err
    assert "trained 2 steps" in out  # nothing left to train: the model folder is rewritten


# (id, extra args, changed key, checkpoint value, new value)
TEMPORAL_CHANGES = [
    ("weight", ["--temporal-weight", "3"], "temporal_weight", "2.0", "3.0"),
    ("weight-off", ["--temporal-weight", "0"], "temporal_weight", "2.0", "0.0"),
    ("jitter", ["--set", "temporal.shift=0.02"], "temporal.shift", "0.05", "0.02"),
]


@pytest.mark.parametrize("case", TEMPORAL_CHANGES, ids=[c[0] for c in TEMPORAL_CHANGES])
def test_resume_refuses_to_change_the_temporal_term(case, capsys, old_temporal_run):
    _, extra, key, old, new = case
    before = snapshot(old_temporal_run)
    status, out, err = cli(train(old_temporal_run, "--resume", *extra, style=None, steps=4),
                           capsys)
    assert status == 1
    assert_one_line_error(err, "cannot resume with a different recipe",
                          f"{key}: checkpoint {old}, now {new}")
    assert out == ""
    assert snapshot(old_temporal_run) == before


def test_resume_refuses_to_add_the_term_to_a_run_without_it(capsys, tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = snapshot(run)
    status, _, err = cli(train(run, "--resume", "--temporal-weight", "1", style=None, steps=5),
                         capsys)
    assert status == 1
    assert_one_line_error(err, "cannot resume with a different recipe",
                          "temporal_weight: checkpoint 0.0, now 1.0")
    assert snapshot(run) == before


# (id, extra args, exit code, words in the message)
BAD_TEMPORAL = [
    ("negative", ["--temporal-weight", "-1"], 2, ["--temporal-weight", ">= 0"]),
    ("not-a-number", ["--temporal-weight", "lots"], 2, ["--temporal-weight", "'lots'"]),
    ("infinite", ["--temporal-weight", "inf"], 1, ["temporal-weight must be >= 0"]),
    ("negative-set", ["--set", "temporal_weight=-2"], 1, ["temporal-weight must be >= 0"]),
    ("negative-jitter", ["--temporal-weight", "1", "--set", "temporal.rotate=-1"], 1,
     ["temporal rotate must be >= 0"]),
    ("huge-jitter", ["--temporal-weight", "1", "--set", "temporal.shift=0.5"], 1,
     ["temporal jitter is meant to be small"]),
    ("unknown-jitter", ["--set", "temporal.shfit=0.1"], 1,
     ["unknown setting 'temporal.shfit'", "did you mean 'temporal.shift'"]),
]


@pytest.mark.parametrize("case", BAD_TEMPORAL, ids=[c[0] for c in BAD_TEMPORAL])
def test_bad_temporal_settings_are_one_line_and_create_nothing(case, capsys, tmp_path, photos):
    _, extra, code, needles = case
    out = tmp_path / "run"
    status, stdout, err = cli(train(out, *extra, data=photos, steps=2), capsys)
    assert status == code
    assert_one_line_error(err, *needles)
    assert stdout == ""
    assert not out.exists()


def test_help_mentions_the_temporal_weight(capsys):
    status, out, _ = cli(["train", "--help"], capsys)
    assert status == 0
    assert "--temporal-weight" in out
