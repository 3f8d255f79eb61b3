"""Result files: JSON lines (one record a line), a Markdown report and a PNG chart, named by
device and date (``bench/results/<device-slug>_<YYYY-MM-DD>.jsonl/.md/.png``), all written
atomically."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import InputError
from .targets import run_record

log = logging.getLogger(__name__)

DEFAULT_FOLDER = Path("bench") / "results"


class ResultsError(InputError):
    """A results file is missing or is not one ``rtstyle bench`` wrote."""


def stem(records: Sequence[dict]) -> str:
    run = run_record(records)
    return f"{run.get('slug', 'device')}_{run.get('date', 'undated')}"


def to_jsonl(records: Sequence[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=False, default=str) + "\n" for r in records)


def read(path: str | os.PathLike) -> list[dict]:
    """The records of a results file (``.jsonl``) written by ``rtstyle bench``."""
    p = Path(path)
    if not p.is_file():
        raise ResultsError(f"results file not found: {p}" if not p.exists() else
                           f"expected a results file, got a folder: {p}")
    records = []
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"cannot read {p}: {e}") from e
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ResultsError(f"{p}, line {n}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict) or "kind" not in rec:
            raise ResultsError(f"{p}, line {n}: not an rtstyle bench record")
        records.append(rec)
    if not any(r["kind"] == "run" for r in records):
        raise ResultsError(f"{p} is not an rtstyle bench results file (no run record)")
    return records


def write(records: Sequence[dict], folder: str | os.PathLike, name: str | None = None,
          chart: bool = True) -> dict[str, Path]:
    """Write ``<name>.jsonl``, ``.md`` and (with matplotlib) ``.png`` into ``folder``."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out must be a folder, got a file: {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / (name or stem(records))
    paths = {"jsonl": atomic.write_text(base.with_suffix(".jsonl"), to_jsonl(records)),
             "md": atomic.write_text(base.with_suffix(".md"), markdown(records))}
    if chart:
        png = draw_chart(records)
        if png is None:
            log.warning("no chart: matplotlib is missing (pip install 'rtstyle[train]' or "
                        "matplotlib)")
        else:
            paths["png"] = atomic.write_bytes(base.with_suffix(".png"), png)
    return paths


# --- Markdown --------------------------------------------------------------------------------

def _f(value: Any, fmt: str = ".1f", none: str = "–") -> str:
    return none if value is None else format(value, fmt)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}%" if value < 0.1 else f"{100 * value:.0f}%"


def cases_table(records: Sequence[dict]) -> list[str]:
    rows = [r for r in records if r.get("kind") == "case" and r.get("status") == "measured"]
    if not rows:
        return ["No case was measured."]
    out = ["| backend | net | size | batch | runs on | median ms | p90 ms | p99 ms | FPS | "
           "% compute floor | % memory floor |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['backend']} | {r['net']} | {r['size']} | {r['batch']} | "
                   f"{r.get('runs_on', '')} | {_f(r['ms_median'])} | {_f(r['ms_p90'])} | "
                   f"{_f(r['ms_p99'])} | {_f(r['fps'])} | {_pct(r.get('frac_compute'))} | "
                   f"{_pct(r.get('frac_memory'))} |")
    return out


def pivot_table(records: Sequence[dict]) -> list[str]:
    """FPS at a glance: one row per net, size and batch, one column per backend; each cell is
    FPS at the median latency and, in brackets, the share of the compute floor reached."""
    rows = [r for r in records if r.get("kind") == "case" and r.get("status") == "measured"]
    if not rows:
        return ["No case was measured."]
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    cells: dict[tuple, dict[str, str]] = {}
    for r in rows:
        frac = r.get("frac_compute")
        cell = f"{r['fps']:.3g}" + (f" ({_pct(frac)})" if frac is not None else "")
        cells.setdefault((r["net"], r["size"], r["batch"]), {})[r["backend"]] = cell
    out = ["| net | size | batch | " + " | ".join(backends) + " |",
           "|---|---|---|" + "---|" * len(backends)]
    for (net, size, batch), by in cells.items():
        out.append(f"| {net} | {size} | {batch} | "
                   + " | ".join(by.get(b, "–") for b in backends) + " |")
    return out


def not_run_table(records: Sequence[dict]) -> list[str]:
    """Skipped and failed cases, grouped by backend, net, status and reason."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if r.get("kind") == "case" and r.get("status") != "measured":
            groups.setdefault((r["backend"], r["net"], r["status"], r.get("reason", "")),
                              []).append(r)
    if not groups:
        return []
    out = ["| backend | net | sizes | batches | status | reason |", "|---|---|---|---|---|---|"]
    for (backend, net, status, reason), rs in groups.items():
        sizes = ", ".join(dict.fromkeys(r["size"] for r in rs))
        batches = ", ".join(dict.fromkeys(str(r["batch"]) for r in rs))
        out.append(f"| {backend} | {net} | {sizes} | {batches} | {status} | {reason} |")
    return out


def e2e_tables(records: Sequence[dict]) -> list[str]:
    out: list[str] = []
    for r in records:
        if r.get("kind") not in ("e2e-video", "live"):
            continue
        what = "`rtstyle video`" if r["kind"] == "e2e-video" else "live loop"
        if r.get("status") != "measured":
            out.append(f"- {what}: {r.get('status')} ({r.get('reason', '')})")
            continue
        size = f"{r['width']}x{r['height']}"
        if r["kind"] == "e2e-video":
            ms = r["ms_per_frame"]
            copies = (f"upload {_f(r.get('ms_upload'), '.2f')} ms, download "
                      f"{_f(r.get('ms_download'), '.2f')} ms" if r.get("ms_upload") is not None
                      else r.get("copies", ""))
            out.append(f"- {what}: {r['net']} net on {r.get('runs_on')}, {size}, batch "
                       f"{r['batch']}, {r['frames']} frames: **{_f(r['fps'])} FPS**. Busy ms per "
                       f"frame: decode {_f(ms['decode'], '.2f')}, inference "
                       f"{_f(ms['inference'], '.2f')}, encode {_f(ms['encode'], '.2f')} "
                       f"({r.get('encoder', '')}); the stages overlap. Copies: {copies}.")
        else:
            tot, inf, add = r["ms_capture_to_display"], r["ms_inference"], r["ms_added"]
            out.append(f"- {what} (headless, file source at {r['source_fps']:g} fps): "
                       f"{r['net']} net on {r.get('runs_on')}, {size}, {r['frames']} frames, "
                       f"{_f(r['fps'])} FPS, {r['dropped']} dropped. Capture to display "
                       f"{_f(tot['median'])} ms median, inference {_f(inf['median'])} ms: "
                       f"**added latency {_f(add['median'])} ms** median "
                       f"(p90 {_f(add['p90'])} ms).")
    return out


def targets_table(records: Sequence[dict]) -> list[str]:
    rows = [r for r in records if r.get("kind") == "target"]
    if not rows:
        return []
    out = ["| target | measured | status |", "|---|---|---|"]
    for r in rows:
        status = f"**{r['status']}**" if r["status"] == "NOT MET" else r["status"]
        out.append(f"| {r['target']} | {r.get('measured') or '–'} | {status} |")
    return out


def peaks_line(run: dict) -> str:
    parts = []
    for dev, p in (run.get("peaks") or {}).items():
        if "error" in p:
            parts.append(f"{dev}: not measured ({p['error']})")
            continue
        tf = ", ".join(f"{v:.3g} TFLOP/s {k}" for k, v in p["tflops"].items())
        parts.append(f"{dev}: {tf}, {p['gbytes_per_s']:.3g} GB/s copy ({p['how']})")
    return "; ".join(parts) if parts else "not measured (no floors)"


def markdown(records: Sequence[dict]) -> str:
    run = run_record(records)
    versions = ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items())
    lines = [f"# rtstyle bench: {run.get('device', '?')}, {run.get('date', '?')}", "",
             f"Command: `{run.get('command') or 'rtstyle bench'}`. CPU: {run.get('cpu', '?')} "
             f"({run.get('cpus_usable', '?')} usable); GPU: {run.get('gpu') or 'none'}; "
             f"{versions}. The run took {_f(run.get('duration_s'), '.0f')} s.", "",
             f"Device peaks measured in this run: {peaks_line(run)}. The floors are the time "
             "the net's FLOPs need at the compute peak (fp16 cases against the fp16 peak) and "
             "its minimum bytes (weights, input, output) at the copy bandwidth; a percentage "
             "is floor / measured time.", "",
             "## FPS at a glance", "",
             "Frames per second at the median latency (in brackets: the share of the compute "
             "floor reached).", "", *pivot_table(records), "",
             "## Latency per case", "",
             "One call = one batch of real frames, rotating buffers; on a GPU the input and "
             "output stay on the device (copies timed apart, see the JSONL).", "",
             *cases_table(records), ""]
    skipped = not_run_table(records)
    if skipped:
        lines += ["## Cases not run here", "", *skipped, ""]
    e2e = e2e_tables(records)
    if e2e:
        lines += ["## End to end", "", *e2e, ""]
    goals = targets_table(records)
    if goals:
        lines += ["## Targets", "", *goals, ""]
    return "\n".join(lines)


# --- the chart -------------------------------------------------------------------------------

def draw_chart(records: Sequence[dict]) -> bytes | None:
    """PNG bytes: FPS per measured case (log scale), one colour per backend; None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in records if r.get("kind") == "case" and r.get("status") == "measured"]
    run = run_record(records)
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    colors = {b: plt.get_cmap("tab10")(i % 10) for i, b in enumerate(backends)}
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.32 * max(1, len(rows))))
    labels = [f"{r['net']} {r['size']} b{r['batch']}  {r['backend']}" for r in rows]
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [r["fps"] for r in rows], color=[colors[r["backend"]] for r in rows])
    for y, r in zip(ys, rows):
        ax.text(r["fps"], y, f" {r['fps']:.3g}", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    if rows:
        ax.set_xscale("log")
    ax.set_xlabel("frames per second (median latency; log scale)")
    ax.set_title(f"rtstyle bench: {run.get('device', '?')}, {run.get('date', '?')}", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    if not rows:
        ax.text(0.5, 0.5, "no measured case", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
