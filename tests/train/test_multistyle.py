"""Multi-style training (rtstyle.train.multistyle) on the tiny net, tiny crops, two paintings."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtstyle import images, metadata  # noqa: E402
from rtstyle.errors import ConfigError  # noqa: E402
from rtstyle.interrupts import StopRequest  # noqa: E402
from rtstyle.train import checkpoint, multistyle, multistyle_net, trainer  # noqa: E402
from rtstyle.train.multistyle_net import CondInstanceNorm  # noqa: E402
from tests.helpers import STYLE  # noqa: E402

CFG = replace(trainer.preset("default"), net="tiny", image_size=32, batch_size=2, steps=4,
              workers=0, device="cpu", preview_every=0, checkpoint_every=0, amp="off",
              cache_photos=False)


def paintings() -> list[multistyle.Painting]:
    starry = images.read_image(STYLE, max_side=32)
    return [multistyle.Painting(trainer.StyleInfo("starry", "Van Gogh", "public domain",
                                                  str(STYLE)), starry, 10.0),
            multistyle.Painting(trainer.StyleInfo("negative", "", "", "negative.png"),
                                255 - starry[::-1], 30.0)]


def test_every_painting_gets_the_same_steps_in_a_seeded_order():
    order = [multistyle.style_order(s, 3, seed=0) for s in range(30)]
    assert Counter(order) == {0: 10, 1: 10, 2: 10}
    assert all(sorted(order[i:i + 3]) == [0, 1, 2] for i in range(0, 30, 3))
    assert order == [multistyle.style_order(s, 3, seed=0) for s in range(30)]
    assert order != [multistyle.style_order(s, 3, seed=1) for s in range(30)]


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory, photos):
    run = tmp_path_factory.mktemp("multi") / "run"
    result = multistyle.train(CFG, run, paintings(), photos)
    return run, result


def test_a_run_writes_a_multi_style_model_folder(multi_run):
    run, result = multi_run
    assert result.steps == 4 and not result.interrupted
    meta = metadata.read(run / "model")
    assert meta["kind"] == "multi-style" and meta["net"]["styles"] == 2
    assert [s["name"] for s in meta["styles"]] == ["starry", "negative"]
    assert [s["style_weight"] for s in meta["styles"]] == [10.0, 30.0]
    assert meta["styles"][0]["credit"] == "Van Gogh"
    shown = multistyle.style_images(run / "model")
    np.testing.assert_array_equal(shown[1].shape, paintings()[1].image.shape)
    net, _ = multistyle.load(run / "model")
    assert net.n_styles == 2
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        a, b = net(x, torch.tensor([[1.0, 0.0]])), net(x, torch.tensor([[0.0, 1.0]]))
    assert a.shape == (1, 3, 32, 32) and not torch.allclose(a, b)


def test_a_stopped_run_resumes_exactly(multi_run, tmp_path, photos):
    straight, _ = multi_run
    run = tmp_path / "run"
    stop = StopRequest()

    def on_step(step, total, row):
        if step == 2:
            stop.signal_name = "SIGTERM"

    stopped = multistyle.train(CFG, run, paintings(), photos, on_step=on_step, stop=stop)
    assert stopped.interrupted and stopped.steps == 3  # the flag is read with the next step
    state = trainer.resume_state(trainer.RunFolder(run))
    again = multistyle.train(CFG, run, multistyle.paintings_from_state(state), photos,
                             state=state)
    assert again.steps == 4
    a = checkpoint.load(straight / "checkpoint.pt")["model"]
    b = checkpoint.load(run / "checkpoint.pt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_adding_a_style_trains_its_row_alone(multi_run, tmp_path, photos):
    base, _ = multi_run
    new = multistyle.Painting(trainer.StyleInfo("grey"), np.full((24, 32, 3), 128, np.uint8),
                              20.0)
    all_three = multistyle.init_paintings(str(base / "model")) + [new]
    assert [p.info.name for p in all_three] == ["starry", "negative", "grey"]
    cfg = replace(CFG, steps=3, init=str(base / "model"))
    run = tmp_path / "added"
    result = multistyle.train(cfg, run, all_three, photos, add_style=True)
    assert result.steps == 3
    old, _ = multistyle.load(base / "model")
    grown, meta = multistyle.load(run / "model")
    assert grown.n_styles == 3 and meta["recipe"]["add_style"] is True
    assert meta["training"]["total_steps"] == 4 + 3
    before, after = old.state_dict(), grown.state_dict()
    for k, v in before.items():
        owner = grown.get_submodule(k.rsplit(".", 1)[0])
        if isinstance(owner, CondInstanceNorm):
            assert torch.equal(after[k][:2], v), k  # the old styles' rows, bit for bit
        else:
            assert torch.equal(after[k], v), k  # every shared weight, bit for bit
    moved = [not torch.equal(after[k][2], before[k].mean(0)) for k in before
             if isinstance(grown.get_submodule(k.rsplit(".", 1)[0]), CondInstanceNorm)]
    assert any(moved)


def test_a_style_can_be_added_to_a_one_style_net(tiny_model, tmp_path, photos):
    paints = multistyle.init_paintings(str(tiny_model)) + paintings()[1:]
    result = multistyle.train(replace(CFG, steps=1, init=str(tiny_model)), tmp_path / "r",
                              paints, photos, add_style=True)
    net, meta = multistyle.load(result.model_dir)
    assert net.n_styles == 2 and meta["styles"][0]["name"] == "starry_night_van_gogh"


def test_a_zoo_run_can_start_every_style_from_a_one_style_net(tiny_model, tmp_path, photos):
    from rtstyle.train import model_folder

    single, _ = model_folder.load(tiny_model)
    start = multistyle.start_net(replace(CFG, init=str(tiny_model)), 2, add_style=False)
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        want = single.eval()(x)
        for k in range(2):
            got = start.eval()(x, multistyle_net.one_hot(k, 2))
            torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-5)  # 0..255 scale
    result = multistyle.train(replace(CFG, steps=1, init=str(tiny_model)), tmp_path / "z",
                              paintings(), photos)
    assert multistyle.load(result.model_dir)[0].n_styles == 2


def test_add_style_needs_a_model_and_the_same_net(tiny_model, tmp_path, photos):
    with pytest.raises(ConfigError, match="--add-style needs --init"):
        multistyle.train(CFG, tmp_path / "a", paintings(), photos, add_style=True)
    with pytest.raises(ConfigError, match="'tiny' net, but this run trains a 'lite'"):
        multistyle.train(replace(CFG, net="lite", init=str(tiny_model)), tmp_path / "b",
                         paintings(), photos, add_style=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
