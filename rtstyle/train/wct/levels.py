"""Which WCT levels ``rtstyle wct`` runs when ``--levels`` is not given.

A level is only as good as its decoder: a relu5_1 decoder that rebuilds photos at 12 dB turns
any photo into coloured blobs, whatever the style. So the default chain is every level, coarse
to fine, whose decoder reconstructs held-out photos (mean PSNR at 512 px, measured when it was
trained and kept in its ``model.json``) at least as well as its floor. The floor travels in the
decoder's metadata (``evaluation.floor_db``); decoders from before it fall back to
:data:`FLOOR_DB`.

The floors sit below :data:`TARGET_DB`, the reconstruction each level is trained toward
(deeper levels keep less of the photo by design, so they have lower targets): 4 dB below for
relu1_1 to relu3_1, whose decoders then still keep a photo under WCT, but only 1 dB for
relu4_1 and relu5_1. A relu4_1 decoder at 20.8 dB (2.2 below its target) blurs so much that its
reconstruction alone is four times as far from the photo (content distance) as relu3_1's at
25.2 dB, and the default chain with it lost the bundled photo's content floor (the
measurements are in docs/any-painting.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ... import metadata

#: Reconstruction PSNR (dB) each decoder is trained toward.
TARGET_DB = {1: 38.0, 2: 32.0, 3: 27.0, 4: 23.0, 5: 19.0}
#: The least a decoder needs for a default run.
FLOOR_DB = {level: target - (4.0 if level <= 3 else 1.0) for level, target in TARGET_DB.items()}


@dataclass(frozen=True)
class LevelCheck:
    level: int
    psnr_db: float | None  # None: no decoder, or one without an evaluation
    floor_db: float

    @property
    def usable(self) -> bool:
        return self.psnr_db is not None and self.psnr_db >= self.floor_db

    def describe(self) -> str:
        if self.psnr_db is None:
            return f"relu{self.level}_1 (no evaluated decoder)"
        return f"relu{self.level}_1 {self.psnr_db:.1f} dB (floor {self.floor_db:.0f})"


def check(level: int, meta: dict[str, Any] | None) -> LevelCheck:
    """How a decoder's measured reconstruction compares with its floor."""
    ev = (meta or {}).get("evaluation") or {}
    psnr = ev.get("psnr_db")
    floor = float(ev.get("floor_db", FLOOR_DB[level]))
    return LevelCheck(level, float(psnr) if isinstance(psnr, (int, float)) else None, floor)


def default_levels(root: str | os.PathLike | None = None
                   ) -> tuple[tuple[int, ...], list[LevelCheck]]:
    """(the levels to run, coarse to fine; the checks of the levels left out)."""
    from .trainer import find_decoder

    chosen, left_out = [], []
    for level in sorted(TARGET_DB, reverse=True):
        try:
            meta = metadata.read(find_decoder(level, root))
        except metadata.ModelError:
            meta = None
        c = check(level, meta)
        (chosen if c.usable else left_out).append(c)
    if not chosen:
        raise metadata.ModelError(
            "no WCT decoder reconstructs photos well enough for a default run ("
            + "; ".join(c.describe() for c in left_out)
            + "); choose levels with --levels, e.g. --levels 3,2,1")
    return tuple(c.level for c in chosen), left_out
