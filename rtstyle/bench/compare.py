"""The regression check: a new results file against an older (committed) one, by ratios.

``absolute``: new median latency / old median latency of each case measured in both. Use it
between runs on the same machine.

``relative``: each case's median divided by the same run's reference case (by default
``ort-cpu-fp32/lite/256x256/b1``, else the first case both runs measured), then new / old of
those. A uniformly faster or slower machine cancels out, so two machines can be compared; what
remains is a case getting slower relative to the others.

``auto`` (the default) is absolute when both runs name the same device, else relative. A ratio
over 1 + threshold (default 15%) is flagged; the CLI then exits non-zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError, RtstyleError
from .matrix import REFERENCE
from .targets import measured, run_record

MODES = ("auto", "absolute", "relative")
THRESHOLD = 0.15


class RegressionError(RtstyleError):
    """Cases got slower than the threshold allows."""


@dataclass(frozen=True)
class Row:
    key: str
    old_ms: float
    new_ms: float
    ratio: float
    flagged: bool


@dataclass(frozen=True)
class Comparison:
    mode: str
    threshold: float
    rows: tuple[Row, ...]
    reference: str | None = None
    only_old: tuple[str, ...] = field(default_factory=tuple)
    only_new: tuple[str, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> list[Row]:
        return [r for r in self.rows if r.flagged]

    def summary(self) -> str:
        how = f"relative to {self.reference}" if self.mode == "relative" else "new / old"
        if self.flagged:
            worst = max(self.flagged, key=lambda r: r.ratio)
            return (f"{len(self.flagged)} of {len(self.rows)} case(s) slower by more than "
                    f"{self.threshold:.0%} ({how}); worst {worst.key} x{worst.ratio:.2f}")
        return (f"no case slower by more than {self.threshold:.0%} ({len(self.rows)} compared, "
                f"{how})")


def compare(new: Sequence[dict], old: Sequence[dict], threshold: float = THRESHOLD,
            mode: str = "auto", reference: str | None = None) -> Comparison:
    if mode not in MODES:
        raise ConfigError(f"unknown comparison mode '{mode}'; choose from: {', '.join(MODES)}")
    if not 0 < threshold < 10:
        raise ConfigError(f"the threshold must be a fraction such as 0.15, got {threshold}")
    a, b = measured(new), measured(old)
    common = [k for k in b if k in a]
    if not common:
        raise ConfigError("the two results files have no measured case in common")
    if mode == "auto":
        same = run_record(new).get("slug") and run_record(new).get("slug") == \
            run_record(old).get("slug")
        mode = "absolute" if same else "relative"
    ref = None
    if mode == "relative":
        ref = reference or (REFERENCE if REFERENCE in common else common[0])
        if ref not in common:
            raise ConfigError(f"the reference case {ref} is not measured in both runs")
    rows = []
    for k in common:
        old_ms, new_ms = b[k]["ms_median"], a[k]["ms_median"]
        if ref is None:
            ratio = new_ms / old_ms
        else:
            ratio = (new_ms / a[ref]["ms_median"]) / (old_ms / b[ref]["ms_median"])
        rows.append(Row(k, old_ms, new_ms, ratio, ratio > 1 + threshold))
    return Comparison(mode, threshold, tuple(rows), ref,
                      tuple(k for k in b if k not in a), tuple(k for k in a if k not in b))


def table(c: Comparison) -> str:
    col = "ratio (new/old)" if c.mode == "absolute" else "ratio (relative to reference)"
    lines = [f"| case | old ms | new ms | {col} | |", "|---|---|---|---|---|"]
    for r in c.rows:
        mark = f"**slower > {c.threshold:.0%}**" if r.flagged else ""
        lines.append(f"| {r.key} | {r.old_ms:.2f} | {r.new_ms:.2f} | {r.ratio:.3f} | {mark} |")
    if c.only_old:
        lines.append(f"\nOnly in the old run: {', '.join(c.only_old)}")
    if c.only_new:
        lines.append(f"\nOnly in the new run: {', '.join(c.only_new)}")
    return "\n".join(lines)
