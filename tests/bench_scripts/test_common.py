"""bench/common.py: every report names its command, date, machine and commit."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import common  # noqa: E402


def test_a_report_names_its_command_date_machine_and_commit(tmp_path):
    out = tmp_path / "r" / "report.json"
    report = common.write_report(out, "demo", [{"x": 1}], extra="fact")
    assert json.loads(out.read_text()) == report
    assert report["benchmark"] == "demo" and report["results"] == [{"x": 1}]
    assert report["command"].startswith("python ") and report["date"][:2] == "20"
    assert report["machine"] and report["extra"] == "fact"
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert report["commit"].removesuffix("+dirty") == head


def test_outside_a_git_checkout_the_commit_is_none(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "ROOT", tmp_path)
    assert common.commit() is None


@pytest.mark.parametrize("stem, ext, name", [
    ("results/table", ".json", "table.json"),
    ("results/great_wave_w0.95_2026-11-23", ".md", "great_wave_w0.95_2026-11-23.md"),
    ("results/table.json", ".md", "table.md"),
    ("results/table.md", ".json", "table.json"),
])
def test_output_keeps_dots_inside_the_stem(stem, ext, name):
    assert common.output(Path(stem), ext) == Path("results") / name
