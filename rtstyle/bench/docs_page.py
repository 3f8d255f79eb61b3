"""A docs page's measured section (docs/performance.md by default), regenerated from a
results file between two markers.

Everything between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` is replaced; the text
depends only on the results file, so running it twice changes nothing the second time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .. import atomic
from ..errors import InputError
from . import output
from .targets import run_record

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def section(records: Sequence[dict], results: str) -> str:
    """The Markdown between the markers (without them)."""
    run = run_record(records)
    machine = f"with {run.get('cpu', '?')}" if run.get("gpu") else "no GPU"
    lines = [f"Measured on **{run.get('device', '?')}** ({machine}) on {run.get('date', '?')} "
             f"with `{run.get('command') or 'rtstyle bench'}`. Full results, with p90/p99 "
             f"latency and the memory floor: `{results}` (and the `.md` and `.png` beside it). "
             f"Regenerate this section with `rtstyle bench --readme --results {results}`.", "",
             "Frames per second at the median latency (in brackets: the share of the compute "
             "floor reached):", "", *output.pivot_table(records), ""]
    skipped = [r for r in records if r.get("kind") == "case" and r.get("status") != "measured"]
    if skipped:
        reasons = sorted({r.get("reason", "") for r in skipped})
        lines += [f"{len(skipped)} case{'s' if len(skipped) > 1 else ''} of the matrix did not "
                  "run here: "
                  + "; ".join(r.rstrip(".") for r in reasons) + ".", ""]
    e2e = output.e2e_tables(records)
    if e2e:
        lines += [*e2e, ""]
    goals = output.targets_table(records)
    if goals:
        lines += ["Targets:", "", *goals, ""]
    return "\n".join(lines).rstrip() + "\n"


def replace(text: str, body: str, where: str = "README") -> str:
    """``text`` with the part between the markers replaced by ``body``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < 0 or end < start:
        raise InputError(f"{where} has no performance section markers: add a line "
                         f"'{START}' and, below it, a line '{END}'")
    if text.count(START) > 1 or text.count(END) > 1:
        raise InputError(f"{where} has the performance section markers more than once")
    return text[:start + len(START)] + "\n" + body + text[end:]


def update(readme: str | os.PathLike, records: Sequence[dict],
           results: str | os.PathLike) -> bool:
    """Rewrite ``readme``'s performance section from ``records``; True if the file changed."""
    path = Path(readme)
    if not path.is_file():
        raise InputError(f"README not found: {path}")
    shown = os.path.relpath(Path(results).resolve(), path.resolve().parent)
    text = path.read_text(encoding="utf-8")
    new = replace(text, section(records, Path(shown).as_posix()), str(path))
    if new == text:
        return False
    atomic.write_text(path, new)
    return True
