"""A docs page's performance section: regenerated between the markers from a results file,
idempotent, and everything outside the markers untouched."""

from __future__ import annotations

import pytest

from rtstyle.bench import docs_page, output, targets
from rtstyle.errors import InputError
from tests.bench.fake import records
from tests.helpers import ROOT

README = """# project

Intro.

## Performance

{start}
old numbers
{end}

## After
Text after.
"""


@pytest.fixture
def results(tmp_path):
    recs = records()
    recs += targets.evaluate(recs)
    return output.write(recs, tmp_path / "bench" / "results", chart=False)["jsonl"]


def test_regenerating_is_idempotent_and_touches_only_the_section(tmp_path, results):
    path = tmp_path / "README.md"
    path.write_text(README.format(start=docs_page.START, end=docs_page.END))
    recs = output.read(results)
    assert docs_page.update(path, recs, results) is True
    first = path.read_text()
    assert "old numbers" not in first
    assert first.startswith("# project\n\nIntro.\n\n## Performance\n\n" + docs_page.START + "\n")
    assert first.endswith(docs_page.END + "\n\n## After\nText after.\n")
    assert "Measured on **Test CPU, 2 cores**" in first and "2026-11-22" in first
    assert "`rtstyle bench --quick`" in first  # the command
    assert "bench/results/test-cpu-2-cores_2026-11-22.jsonl" in first  # relative to the README
    assert "| net | size | batch | ort-cpu-fp32 | torch-eager-fp32 |" in first
    assert "| lite | 640x360 | 1 | 16.7 (40%) | 10 (40%) |" in first
    assert "| target | measured | status |" in first
    assert docs_page.update(path, recs, results) is False
    assert path.read_text() == first


@pytest.mark.parametrize("text, needle", [
    ("# no markers\n", "no performance section markers"),
    (f"{docs_page.END}\n{docs_page.START}\n", "no performance section markers"),
    (f"{docs_page.START}\n{docs_page.END}\n{docs_page.START}\n{docs_page.END}\n", "more than once"),
])
def test_bad_markers(tmp_path, results, text, needle):
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(InputError, match=needle):
        docs_page.update(path, output.read(results), results)
    assert path.read_text() == text


def test_missing_readme(tmp_path, results):
    with pytest.raises(InputError, match="README not found"):
        docs_page.update(tmp_path / "nope.md", output.read(results), results)


def test_the_performance_page_has_the_markers_once():
    text = (ROOT / "docs" / "performance.md").read_text()
    assert text.count(docs_page.START) == 1 and text.count(docs_page.END) == 1
    assert text.index(docs_page.START) < text.index(docs_page.END)
