"""Evaluating a net against Gatys L-BFGS on the same loss: pure helpers and one tiny run."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from rtstyle.errors import ConfigError
from rtstyle.train import evaluate
from rtstyle.train.evaluate import (Evaluation, ImageEvaluation, check_iterations,
                                    grid_iterations)
from rtstyle.train.losses import LossConfig


# --- pure helpers -------------------------------------------------------------------------------

@pytest.mark.parametrize("its, shown", [((50, 100, 200, 300), (100, 300)), ((2, 4), (4,)),
                                        ((100,), (100,)), ((50, 200, 300), (100, 300)),
                                        ((300, 50, 100), (100, 300)), ((1,), (1,)),
                                        ((20, 150), (100, 150))])
def test_grid_iterations_are_100_and_the_last(its, shown):
    """100 and the last, or what exists of them: runs shorter than 100 show only the last."""
    assert grid_iterations(its) == shown


def test_check_iterations_sorts_and_deduplicates():
    assert check_iterations([300, 50, 100, 100, 200]) == (50, 100, 200, 300)
    assert check_iterations(["4", 2.0]) == (2, 4)


@pytest.mark.parametrize("bad", [(), [], (0,), (0, 100), (-5, 10)])
def test_check_iterations_rejects_empty_and_non_positive(bad):
    with pytest.raises(ConfigError, match="positive whole numbers"):
        check_iterations(bad)


def _result(name: str, net_total: float, curve: list[float], its=(2, 4)) -> ImageEvaluation:
    img = np.zeros((24, 32, 3), np.uint8)
    return ImageEvaluation(
        image=f"/photos/{name}.jpg", content=img, net_image=img + 10,
        net_losses={"content": 1.0, "style": net_total - 1.0, "tv": 0.0, "total": net_total},
        net_seconds=0.01, curve=curve, gatys_images={i: img + 20 for i in grid_iterations(its)},
        gatys_seconds=1.5, iterations=its)


def test_image_evaluation_places_the_net_on_the_gatys_curve():
    r = _result("a", 7.0, [10.0, 8.0, 6.0, 4.0])
    assert r.equivalent_iterations == pytest.approx(2.5)  # halfway between 8 (2 it) and 6 (3 it)
    d = r.as_dict()
    assert d["equivalent_iterations"] == 2.5 and d["net_below_gatys_curve"] is False
    assert d["gatys"] == {"2": 8.0, "4": 4.0}
    assert d["net"] == {"content": 1.0, "style": 6.0, "tv": 0.0, "total": 7.0, "seconds": 0.01}
    assert (d["height"], d["width"]) == (24, 32)
    # Flat images: no checkerboard, no edge that differs from the inside.
    assert d["artifacts"] == {"checkerboard": 0.0, "checkerboard_photo": 0.0, "edge_shift": 0.0,
                              "edge_shift_photo": 0.0}


def test_gatys_values_are_the_best_so_far():
    """L-BFGS can go up for an iteration: the curve reported is the best loss reached."""
    d = _result("a", 7.0, [10.0, 8.0, 9.0, 12.0]).as_dict()
    assert d["gatys"] == {"2": 8.0, "4": 8.0}
    assert d["gatys_curve"] == [10.0, 8.0, 8.0, 8.0]


def test_the_saved_curve_places_another_net_as_the_evaluation_did():
    from rtstyle.train.gatys import equivalent_iterations

    r = _result("a", 7.0, [10.0, 8.0, 6.0, 4.0])
    assert equivalent_iterations(7.0, r.as_dict()["gatys_curve"]) == r.equivalent_iterations


def test_a_net_below_the_curve_has_no_equivalent_iterations():
    d = _result("b", 3.0, [10.0, 8.0, 6.0, 4.0]).as_dict()
    assert d["equivalent_iterations"] is None and d["net_below_gatys_curve"] is True


def test_summary_over_several_images():
    ev = Evaluation("m", "starry", 32, "cpu", LossConfig(), (2, 4), "noise",
                    [_result("a", 7.0, [10.0, 8.0, 6.0, 4.0]),
                     _result("b", 3.0, [10.0, 8.0, 6.0, 4.0]),
                     _result("c", 9.0, [10.0, 8.0, 6.0, 4.0])])
    s = ev.as_dict()["summary"]
    assert s["images"] == 3
    assert s["images_below_gatys_curve"] == 1
    assert s["equivalent_iterations_mean"] == pytest.approx((2.5 + 1.5) / 2)
    assert s["equivalent_iterations_median"] == pytest.approx(2.5)  # of 1.5, 2.5, inf
    assert s["net_seconds_mean"] == pytest.approx(0.01)
    assert s["gatys_seconds_mean"] == pytest.approx(1.5)
    json.dumps(ev.as_dict())  # plain JSON: no numpy scalars, no inf


def test_summary_of_no_images_and_of_a_median_below_the_curve():
    empty = Evaluation("m", "s", 32, "cpu", LossConfig(), (2, 4), "noise").as_dict()["summary"]
    assert empty == {"images": 0, "equivalent_iterations_median": None,
                     "equivalent_iterations_mean": None, "images_below_gatys_curve": 0,
                     "net_seconds_mean": None, "gatys_seconds_mean": None}
    below = Evaluation("m", "s", 32, "cpu", LossConfig(), (2, 4), "noise",
                       [_result("b", 3.0, [10.0, 8.0, 6.0, 4.0])]).as_dict()["summary"]
    assert below["equivalent_iterations_median"] is None
    assert below["equivalent_iterations_mean"] is None


@pytest.mark.parametrize("its, cells", [((2, 4), 3), ((50, 100, 200, 300), 4)])
def test_grid_has_one_row_per_image_and_a_cell_per_shown_iteration(its, cells):
    curve = list(np.linspace(10, 1, max(its)))
    ev = Evaluation("m", "s", 32, "cpu", LossConfig(), its, "noise",
                    [_result("a", 5.0, curve, its), _result("b", 0.5, curve, its)])
    g = ev.grid(cell=48)
    assert g.dtype == np.uint8 and g.ndim == 3 and g.shape[2] == 3
    gap, label = 4, 22
    assert g.shape[1] == cells * 48 + (cells - 1) * gap
    assert g.shape[0] == 2 * (36 + label) + gap  # 32x24 pictures: rows 36 px tall at 48 wide


# --- argument checks (before any model is loaded) -----------------------------------------------

def test_evaluate_rejects_bad_arguments(content_path, tmp_path):
    missing_model = tmp_path / "no-model"  # never reached: the checks come first
    with pytest.raises(ConfigError, match="init must be one of"):
        evaluate.evaluate(missing_model, [content_path], size=32, init="zeros")
    with pytest.raises(ConfigError, match="at least 16 pixels"):
        evaluate.evaluate(missing_model, [content_path], size=15)
    with pytest.raises(ConfigError, match="no images"):
        evaluate.evaluate(missing_model, [], size=32)
    with pytest.raises(ConfigError, match="positive whole numbers"):
        evaluate.evaluate(missing_model, [content_path], size=32, iterations=(0,))


# --- one tiny real evaluation -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_evaluation(tiny_model, content_path):
    seen = []
    ev = evaluate.evaluate(tiny_model, [content_path], size=32, iterations=(4, 2), device="cpu",
                           on_image=lambda k, p: seen.append((k, p)))
    return ev, seen


def test_evaluation_as_dict(tiny_evaluation, tiny_model, content_path):
    ev, seen = tiny_evaluation
    assert seen == [(0, str(content_path))]
    d = ev.as_dict()
    json.dumps(d)
    assert d["model"] == str(tiny_model)
    assert d["style"] == "starry_night_van_gogh"
    assert d["size"] == 32 and d["device"] == "cpu"
    assert d["loss"]["loss_net"] == "vgg19" and d["loss"]["style_weight"] > 0
    assert d["gatys"] == {"optimizer": "lbfgs", "init": "noise", "iterations": [2, 4]}
    (image,) = d["images"]
    assert image["image"] == str(content_path)
    assert max(image["height"], image["width"]) == 32  # scaled to fit 32 px
    assert set(image["artifacts"]) == {"checkerboard", "checkerboard_photo", "edge_shift",
                                       "edge_shift_photo"}
    net = image["net"]
    assert set(net) == {"content", "style", "tv", "total", "seconds"}
    assert net["total"] == pytest.approx(net["content"] + net["style"] + net["tv"], rel=1e-5)
    assert net["total"] > 0 and net["seconds"] >= 0
    assert set(image["gatys"]) == {"2", "4"}
    assert image["gatys"]["4"] <= image["gatys"]["2"]
    eq = image["equivalent_iterations"]
    if eq is None:
        assert image["net_below_gatys_curve"] is True
    else:
        assert isinstance(eq, float) and 1.0 <= eq <= 4.0
        assert image["net_below_gatys_curve"] is False
    summary = d["summary"]
    assert summary["images"] == 1
    assert summary["images_below_gatys_curve"] == (1 if eq is None else 0)
    if eq is None:
        assert summary["equivalent_iterations_mean"] is None
    else:  # the per-image value is rounded to 0.1
        assert summary["equivalent_iterations_mean"] == pytest.approx(eq, abs=0.05)


def test_evaluation_keeps_the_images(tiny_evaluation):
    ev, _ = tiny_evaluation
    (r,) = ev.results
    assert r.content.shape == r.net_image.shape and r.net_image.dtype == np.uint8
    assert len(r.curve) == 4 and all(math.isfinite(v) for v in r.curve)
    assert set(r.gatys_images) == set(grid_iterations((2, 4))) == {4}
    assert r.gatys_images[4].shape == r.content.shape


def test_evaluation_grid(tiny_evaluation):
    ev, _ = tiny_evaluation
    g = ev.grid(cell=64)
    assert g.dtype == np.uint8
    # One row: content | net | Gatys 4 (grid_iterations((2, 4)) == (4,)), captions below; the
    # row is as tall as the photo at 64 px wide.
    h, w = ev.results[0].content.shape[:2]
    assert g.shape == (round(h * 64 / max(h, w)) + 22, 3 * 64 + 2 * 4, 3)


def test_evaluation_plot(tiny_evaluation, tmp_path):
    ev, _ = tiny_evaluation
    path = evaluate.plot(tmp_path / "evaluation.png", ev)
    assert path == tmp_path / "evaluation.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert [p.name for p in tmp_path.iterdir()] == ["evaluation.png"]


def test_score_image_gives_the_training_loss_of_any_output():
    """The photo scored against itself has no content loss; a flipped photo has some; the
    style term does not depend on where the content came from."""
    import numpy as np

    from rtstyle import assets, images
    from rtstyle.train.evaluate import score_image
    from rtstyle.train.losses import LossConfig

    photo = images.read_image(assets.path(assets.DEMO_CONTENT), max_side=48)
    style = images.read_image(assets.path(assets.DEMO_STYLE), max_side=48)
    cfg = LossConfig(content_layers=("relu2_2",), style_layers=("relu1_2", "relu2_2"))
    same = score_image(photo, photo, style, cfg)
    assert same["content"] == 0 and same["style"] > 0
    flipped = score_image(np.ascontiguousarray(photo[:, ::-1]), photo, style, cfg)
    assert flipped["content"] > 0
    assert flipped["style"] == pytest.approx(same["style"], rel=0.05)  # a mirror keeps Grams
    bigger = images.resize_to(photo, (photo.shape[0] * 2, photo.shape[1] * 2))
    assert score_image(bigger, photo, style, cfg)["content"] < flipped["content"]
