"""``rtstyle bench``: a tiny run writes the JSONL, Markdown and PNG and prints the tables;
--results/--readme/--compare work from files; every bad input is a one-line error that runs
nothing and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtstyle.bench import floors, output
from rtstyle.bench.floors import Peak
from tests.bench.fake import records
from tests.helpers import assert_one_line_error, cli, make_clip


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory) -> Path:
    from rtstyle.bench.nets import export_random

    return export_random("tiny", tmp_path_factory.mktemp("bench_cli_net") / "tiny")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("bench_cli_clip") / "clip.mp4", frames=8,
                     size=(64, 48), audio=False)


@pytest.fixture
def fixed_peak(monkeypatch):
    monkeypatch.setattr(floors, "cpu_peak", lambda: Peak("cpu", {"fp32": 5e10}, 1e10, "fixed"))


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """Results files: a reference run, one 20% slower in one case, one 10% slower."""
    slow = "ort-cpu-fp32/full/640x360/b1"
    out = {}
    for name, recs in (("old", records()), ("slow20", records(slow=slow, factor=1.2)),
                       ("slow10", records(slow=slow, factor=1.1))):
        out[name] = output.write(recs, tmp_path / name, chart=False)["jsonl"]
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n\nafter\n")
    out["readme"] = readme
    (tmp_path / "a_file").write_text("not a folder\n")
    out["a_file"] = tmp_path / "a_file"
    return out


def test_a_tiny_run(capsys, tiny_net, clip, tmp_path, fixed_peak):
    out = tmp_path / "results"
    code, stdout, err = cli(["bench", "--quick", "--backends", "ort-cpu", "--nets", "lite",
                             "--sizes", "32x32,48x32", "--batch", "1,2", "--model",
                             f"lite={tiny_net}", "--repeats", "2", "--max-seconds", "0",
                             "--clip", clip, "--frames", "4", "--out", out, "--quiet"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    written = sorted(p.suffix for p in out.iterdir())
    assert written == [".jsonl", ".md", ".png"]
    (jsonl,) = out.glob("*.jsonl")
    assert jsonl.stem.endswith(json.loads(jsonl.read_text().splitlines()[0])["date"])
    recs = output.read(jsonl)
    cases = [r for r in recs if r["kind"] == "case"]
    assert len(cases) == 4 and all(r["status"] == "measured" for r in cases)
    run = recs[0]
    assert run["command"].startswith("rtstyle bench --quick --backends ort-cpu --nets lite")
    assert "--max-seconds 0" in run["command"]
    assert "| ort-cpu-fp32 | lite | 48x32 | 2 |" in stdout
    assert "## Targets" in stdout and "not measured here (needs GPU)" in stdout
    assert "**added latency" in stdout
    assert f"wrote {jsonl}" in stdout


def test_results_readme_and_a_passing_compare(capsys, files):
    code, stdout, err = cli(["bench", "--results", files["slow10"], "--compare", files["old"],
                             "--readme", files["readme"]], capsys)
    assert code == 0, err
    assert "no case slower by more than 15%" in stdout
    assert f"updated {files['readme']}" in stdout
    text = files["readme"].read_text()
    assert "old\n" not in text and "`rtstyle bench --quick`" in text and text.endswith("after\n")
    code, stdout, _ = cli(["bench", "--results", files["slow10"], "--readme", files["readme"]],
                          capsys)
    assert code == 0 and f"unchanged: {files['readme']}" in stdout
    assert files["readme"].read_text() == text


def test_a_20_percent_slowdown_fails_the_compare(capsys, files):
    code, stdout, err = cli(["bench", "--results", files["slow20"], "--compare", files["old"]],
                            capsys)
    assert code == 1
    assert_one_line_error(err, "rtstyle: error: 1 of 4 case(s) slower by more than 15%",
                          "ort-cpu-fp32/full/640x360/b1")
    assert "| ort-cpu-fp32/full/640x360/b1 | 250.00 | 300.00 | 1.200 |" in stdout


BAD = [
    ("unknown-backend", ["--backends", "ort-cpu,ort-cudaa"],
     ["unknown benchmark backend 'ort-cudaa'", "did you mean 'ort-cuda'"]),
    ("bad-size", ["--sizes", "640by360"], ["a size must look like 1280x720", "'640by360'"]),
    ("tiny-size", ["--sizes", "8x8"], ["at least 16x16"]),
    ("unknown-net", ["--nets", "ful"], ["unknown net 'ful'", "did you mean 'full'"]),
    ("bad-batch", ["--batch", "0"], ["batch size must be between 1 and 256"]),
    ("missing-compare", ["--compare", "{tmp}/old.jsonl"], ["results file not found", "old.jsonl"]),
    ("compare-not-results", ["--compare", "{readme}"], ["not JSON"]),
    ("missing-results", ["--results", "{tmp}/new.jsonl"], ["results file not found"]),
    ("missing-readme", ["--readme", "{tmp}/docs/README.md"], ["README not found"]),
    ("model-no-path", ["--model", "lite"], ["--model expects NET=PATH"]),
    ("model-missing", ["--model", "lite={tmp}/nope"], ["--model lite: not found"]),
    ("missing-clip", ["--clip", "{tmp}/nope.mp4"], ["video not found"]),
    ("out-is-a-file", ["--out", "{a_file}"], ["--out must be a folder"]),
    ("bad-e2e-size", ["--e2e-size", "big"], ["a size must look like 1280x720"]),
]


@pytest.mark.parametrize("args, needles", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_runs_nothing(capsys, files, tmp_path, args, needles,
                                                monkeypatch):
    from rtstyle.bench import runner

    def must_not_run(*a, **k):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(runner, "run", must_not_run)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["bench", "--quick", "--out", str(tmp_path / "results")] + [
        a.format(tmp=tmp_path, readme=files["readme"], a_file=files["a_file"]) for a in args]
    code, stdout, err = cli(argv, capsys)
    assert code == 1, (stdout, err)
    assert_one_line_error(err, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize("args", [["--repeats", "0"], ["--threshold", "-1"],
                                  ["--compare-mode", "median"], ["--backends", ""]])
def test_bad_flag_values_are_usage_errors(capsys, args):
    code, _, err = cli(["bench", *args], capsys)
    assert code == 2
    assert_one_line_error(err, "rtstyle bench: error:")


def test_json_prints_the_records_one_a_line(capsys, files):
    from rtstyle.bench import output

    code, stdout, err = cli(["bench", "--results", files["old"], "--json"], capsys)
    assert code == 0, err
    assert [json.loads(line) for line in stdout.splitlines()] == output.read(files["old"])
