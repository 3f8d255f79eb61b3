"""Labelled image grids (experiments, training previews, evaluation sheets), numpy + OpenCV."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _label(text: str, width: int, height: int = 22) -> np.ndarray:
    strip = np.full((height, width, 3), 255, np.uint8)
    scale = 0.45
    while scale > 0.25 and cv2.getTextSize(text, _FONT, scale, 1)[0][0] > width - 4:
        scale -= 0.05
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, 1)
    org = (max(2, (width - tw) // 2), (height + th) // 2)
    cv2.putText(strip, text, org, _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def _scaled(h: int, w: int, cell: int) -> tuple[int, int]:
    s = cell / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def _fit(img: np.ndarray | None, cell: int, height: int) -> np.ndarray:
    """``img`` scaled so that its longer side is ``cell``, centred on a white cell x height."""
    canvas = np.full((height, cell, 3), 255, np.uint8)
    if img is None:
        return canvas
    h, w = img.shape[:2]
    nh, nw = _scaled(h, w, cell)
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if nw < w else cv2.INTER_CUBIC)
    y, x = (height - nh) // 2, (cell - nw) // 2
    canvas[y:y + nh, x:x + nw] = small
    return canvas


def _row_height(row: Sequence[np.ndarray | None], cell: int) -> int:
    """As tall as the row's tallest picture: a row of landscape photos has no white bands."""
    heights = [_scaled(*img.shape[:2], cell)[0] for img in row if img is not None]
    return max(heights, default=cell)


def image_grid(rows: Sequence[Sequence[np.ndarray | None]], *, cell: int = 192,
               titles: Sequence[Sequence[str]] | None = None,
               row_titles: Sequence[str] | None = None, gap: int = 4) -> np.ndarray:
    """Lay BGR frames out in a grid of cells ``cell`` wide, each with an optional caption below
    it; each row is as tall as its tallest picture (longer side = ``cell``).

    ``None`` leaves a blank cell. ``row_titles`` adds a caption column on the left.
    """
    n_cols = max(len(r) for r in rows)
    out_rows = []
    for i, row in enumerate(rows):
        cells, height = [], _row_height(row, cell)
        for j in range(n_cols):
            img = _fit(row[j] if j < len(row) else None, cell, height)
            text = titles[i][j] if titles and j < len(titles[i]) else ""
            cells.append(np.vstack([img, _label(text, cell)]) if titles else img)
        h = cells[0].shape[0]
        sep = np.full((h, gap, 3), 255, np.uint8)
        parts = []
        if row_titles:
            side = np.full((h, 120, 3), 255, np.uint8)
            lh = min(22, h)  # a row shorter than a caption strip (small cells, no titles)
            side[(h - lh) // 2:(h - lh) // 2 + lh] = _label(row_titles[i], 120, lh)
            parts += [side, sep]
        for c in cells:
            parts += [c, sep]
        out_rows.append(np.hstack(parts[:-1]))
    width = out_rows[0].shape[1]
    blocks = []
    for r in out_rows:
        blocks += [r, np.full((gap, width, 3), 255, np.uint8)]
    return np.vstack(blocks[:-1])
