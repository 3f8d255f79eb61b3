"""rtstyle.grid: labelled image grids."""

from __future__ import annotations

import numpy as np
import pytest

from rtstyle.grid import image_grid

LABEL_H = 22  # caption strip height
SIDE_W = 120  # row-title column width


def _img(h, w, value):
    return np.full((h, w, 3), value, np.uint8)


def test_grid_shape_with_titles_and_row_titles():
    cell, gap = 32, 4
    rows = [[_img(20, 20, 10 * (3 * i + j)) for j in range(3)] for i in range(2)]
    titles = [[f"r{i}c{j}" for j in range(3)] for i in range(2)]
    g = image_grid(rows, cell=cell, titles=titles, row_titles=["first", "second"], gap=gap)
    assert g.dtype == np.uint8
    assert g.shape == (2 * (cell + LABEL_H) + gap, SIDE_W + gap + 3 * cell + 2 * gap, 3)
    # captions and row titles really draw dark text on the white strips
    assert g[cell:cell + LABEL_H, SIDE_W + gap:SIDE_W + gap + cell].min() < 128
    assert g[:cell + LABEL_H, :SIDE_W].min() < 128


def test_grid_shape_without_labels():
    g = image_grid([[_img(8, 8, 0)] * 3] * 2, cell=16, gap=2)
    assert g.shape == (2 * 16 + 2, 3 * 16 + 2 * 2, 3)
    assert np.all(g[:16, :16] == 0)
    assert np.all(g[16:18] == 255)  # the gap is white


def test_none_cells_and_short_rows_are_white():
    black = _img(16, 16, 0)
    g = image_grid([[black, None], [None]], cell=16, gap=4)
    assert g.shape == (36, 36, 3)
    assert np.all(g[:16, :16] == 0)
    assert np.all(g[:16, 20:] == 255)  # None
    assert np.all(g[20:, :] == 255)  # None, and the missing cell of the short row


@pytest.mark.parametrize("h, w", [(10, 60), (60, 10), (7, 7), (200, 100)])
def test_any_aspect_ratio_fits_its_cell_centred(h, w):
    cell = 30
    g = image_grid([[_img(h, w, 0), _img(w, h, 255)]], cell=cell, gap=0)[:, :cell]
    assert g.shape == (cell, cell, 3)  # the row is as tall as its taller picture
    ys, xs = np.nonzero(g[..., 0] < 128)
    nh, nw = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert max(nh, nw) == cell  # longer side fills the cell, shorter side keeps the ratio
    assert abs(nh / nw - h / w) < 0.1 * max(h / w, 1)
    assert abs((ys.min() + ys.max()) / 2 - (cell - 1) / 2) <= 1
    assert abs((xs.min() + xs.max()) / 2 - (cell - 1) / 2) <= 1


@pytest.mark.parametrize("cell", [16, 21, 64])
def test_row_titles_with_small_cells_and_no_titles(cell):
    g = image_grid([[_img(8, 8, 0), None]], cell=cell, row_titles=["a long row title"], gap=4)
    assert g.shape == (cell, SIDE_W + 4 + 2 * cell + 4, 3)
    assert g[:, :SIDE_W].min() < 128  # the title is drawn


def test_a_row_of_landscape_pictures_is_as_tall_as_they_are():
    g = image_grid([[_img(30, 60, 0), _img(20, 60, 0)], [_img(60, 30, 0)]], cell=40, gap=2)
    assert g.shape == (20 + 2 + 40, 2 * 40 + 2, 3)
    assert np.all(g[:20, :40] == 0)  # the first picture fills its 40x20 cell
    assert np.all(g[:3, 40 + 2:] == 255) and np.all(g[4:10, 40 + 2:] == 0)  # the second is centred
