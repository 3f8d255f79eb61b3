"""The seed reports' experiments produce labelled grids (tiny sizes; the real runs are slow)."""

import numpy as np
import pytest

from rtstyle import images
from rtstyle.cli import main
from rtstyle.train import experiments as ex


@pytest.fixture(scope="module")
def small(content_path, style_path):
    return images.read_image(content_path, 32), images.read_image(style_path, 32)


def test_content_reconstruction_grid(small):
    steps = []
    grid = ex.content_reconstructions(small[0], ("conv1_2", "conv4_2"), size=32, iterations=2,
                                      device="cpu", on_step=steps.append)
    assert steps == ["conv1_2", "conv4_2"]
    assert grid.dtype == np.uint8 and grid.shape[1] >= 3 * 32


def test_style_reconstruction_and_weight_grid_via_cli(tmp_path, content_path, style_path):
    out = tmp_path / "style.png"
    assert main(["experiment", "style", "--style", str(style_path), "--output", str(out),
                 "--size", "32", "--iterations", "2", "--device", "cpu",
                 "--layer-sets", "relu1_1;relu1_1,relu2_1"]) == 0
    assert images.read_image(out).shape[1] >= 3 * 32
    out = tmp_path / "weights.png"
    assert main(["experiment", "weights", "--content", str(content_path), "--style",
                 str(style_path), "--output", str(out), "--size", "32", "--iterations", "1",
                 "--device", "cpu", "--style-weights", "1,1000", "--layer-sets",
                 "relu1_1;relu1_1,relu2_1"]) == 0
    grid = images.read_image(out)
    assert grid.shape[0] >= 2 * 32 and grid.shape[1] >= 2 * 32


@pytest.mark.slow
def test_full_size_experiments(tmp_path, content_path, style_path):
    """The default experiment sizes (minutes on 2 CPU cores): make test-slow."""
    for kind, extra in [("content", ["--content", str(content_path)]),
                        ("style", ["--style", str(style_path)]),
                        ("weights", ["--content", str(content_path), "--style", str(style_path)])]:
        out = tmp_path / f"{kind}.png"
        assert main(["experiment", kind, *extra, "--output", str(out)]) == 0
        assert out.stat().st_size > 10_000
