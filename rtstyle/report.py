"""Loss histories as CSV, plots and JSON summaries, all written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import atomic
from .errors import DependencyError


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write dict rows (same keys in each) to a CSV file."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return atomic.write_text(path, buf.getvalue())


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic.write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def plot_losses(path: str | os.PathLike, rows: Sequence[Mapping[str, float]], x: str = "iteration",
                keys: Sequence[str] = ("content", "style", "tv", "total"),
                title: str = "", scales: Sequence[str] = ("linear", "log")) -> Path:
    """A PNG with one panel per y scale, one line per loss term (terms that stay 0 are left out)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise DependencyError("plots need matplotlib: pip install 'rtstyle[train]'") from e
    xs = [r[x] for r in rows]
    fig, axes = plt.subplots(1, len(scales), figsize=(5.5 * len(scales), 4), squeeze=False)
    for ax, scale in zip(axes[0], scales):
        for k in keys:
            ys = [r[k] for r in rows]
            if any(y > 0 for y in ys):
                ax.plot(xs, ys, label=k, lw=1.5 if k == "total" else 1)
        ax.set_yscale(scale)
        if scale == "linear" and rows:
            # L-BFGS often overshoots in its first steps; keep the rest of the curve readable.
            totals = sorted(r.get("total", 0.0) for r in rows)
            top = totals[int(0.95 * (len(totals) - 1))] * 1.2
            if top > 0 and totals[-1] > top:
                ax.set_ylim(0, top)
        ax.set_xlabel(x)
        ax.set_ylabel(f"loss ({scale})")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return atomic.write_bytes(path, buf.getvalue())
