"""The torch-free real-time arbitrary style runtime (rtstyle.wct_realtime): exact style statistics
in numpy against the torch WCT, finding the exported graphs, and WCTStyle as a Stylizer backend
with real ONNX Runtime sessions on the untrained (seeded) graphs of the ``wct_root`` fixture."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest

from rtstyle import wct_realtime
from rtstyle.errors import ConfigError, ImageError, InputError
from rtstyle.metadata import ModelError
from rtstyle.stylizer import Stylizer

from tests.helpers import ASSETS, run_without_torch

PAINTING = ASSETS / "starry_night_van_gogh.jpg"


def photo(h: int, w: int) -> np.ndarray:
    img = cv2.imread(str(ASSETS / "tubingen.jpg"))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def painting(side: int = 64) -> np.ndarray:
    img = cv2.imread(str(PAINTING))
    s = side / max(img.shape[:2])
    return cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)),
                      interpolation=cv2.INTER_AREA)


@pytest.fixture(autouse=True)
def only_the_test_roots(tmp_path, monkeypatch):
    """No installed or shipped models leak in: an empty $RTSTYLE_MODELS and user data folder."""
    (tmp_path / "no-models").mkdir()
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def level_styles(wct_root) -> dict[int, wct_realtime.WCTStyle]:
    """The painting as a real-time style at levels 1 and 2 (explicit folders, one session each)."""
    return {level: wct_realtime.WCTStyle(painting(), level, wct_root / "wct" / f"level{level}",
                                      backend="ort-cpu")
            for level in (1, 2)}


@pytest.fixture
def styles(level_styles):
    """The module's styles, back at alpha 1."""
    for s in level_styles.values():
        s.set_alpha(1.0)
    return level_styles


# --- exact statistics: numpy float64 against torch -------------------------------------------

def features(c: int, h: int, w: int, seed: int = 0, scale: float = 3.0) -> np.ndarray:
    """Correlated ``(1, C, H, W)`` features with a non-zero mean."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((c, c))
    return (mix @ rng.standard_normal((c, h * w)) * scale + 5.0).reshape(1, c, h, w)


CASES = {
    "full rank": features(8, 12, 10, seed=1),
    "fewer pixels than channels": features(32, 2, 3, seed=2),  # 6 pixels, 32 channels
    "flat map": np.full((1, 16, 5, 7), 3.25),
    "one pixel": features(8, 1, 1, seed=3),
    "relu-like, many zero channels": np.maximum(features(24, 6, 6, seed=4), 0) * (
        np.arange(24) % 3 == 0).reshape(1, 24, 1, 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_numpy_statistics_agree_with_torch_style_stats(name):
    torch = pytest.importorskip("torch")
    from rtstyle.train.wct import transform as wct

    feat = CASES[name].astype(np.float32)
    mean, color = wct_realtime.style_statistics(feat)
    c = feat.shape[1]
    assert mean.shape == (c, 1) and color.shape == (c, c)
    assert mean.dtype == np.float32 and color.dtype == np.float32
    assert np.isfinite(mean).all() and np.isfinite(color).all()
    ref = wct.StyleStats.of(torch.from_numpy(feat))
    np.testing.assert_allclose(mean, ref.mean.numpy(), rtol=1e-6, atol=1e-6)
    scale = max(1e-3, float(np.abs(ref.color.numpy()).max()))
    np.testing.assert_allclose(color, ref.color.numpy(), rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(color, color.T, rtol=0, atol=1e-6 * scale)  # symmetric


def test_the_color_matrix_squared_is_the_covariance():
    feat = features(12, 9, 11, seed=5)
    mean, cov = wct_realtime.covariance(feat)
    flat = feat.reshape(12, -1)
    np.testing.assert_allclose(mean[:, 0], flat.mean(axis=1))
    np.testing.assert_allclose(cov, np.cov(flat) + wct_realtime.EPS * np.eye(12), rtol=1e-10)
    _, color = wct_realtime.style_statistics(feat)
    np.testing.assert_allclose(color.astype(np.float64) @ color, cov, rtol=1e-4,
                               atol=1e-4 * np.abs(cov).max())
    root, inv_root = wct_realtime.matrix_power(cov, 0.5), wct_realtime.matrix_power(cov, -0.5)
    np.testing.assert_allclose(root @ inv_root, np.eye(12), atol=1e-8)
    # (C, N) features give the same statistics as (1, C, H, W)
    m2, c2 = wct_realtime.covariance(flat)
    np.testing.assert_array_equal(m2, mean)
    np.testing.assert_array_equal(c2, cov)


def test_singular_covariances_are_floored_not_inverted_blindly():
    cov = wct_realtime.covariance(np.full((1, 8, 4, 4), 7.0))[1]  # EPS * I only
    inv = wct_realtime.matrix_power(cov, -0.5)
    assert np.isfinite(inv).all()
    np.testing.assert_allclose(inv, np.eye(8) / np.sqrt(wct_realtime.EPS), rtol=1e-9)
    rank1 = np.outer(np.arange(1.0, 9.0), np.arange(1.0, 9.0))  # one non-zero eigenvalue
    evals = np.linalg.eigvalsh(wct_realtime.matrix_power(rank1, -0.5))
    assert np.isfinite(evals).all()
    assert evals.max() <= 1 / np.sqrt(wct_realtime.EIG_FLOOR * 204.0) * (1 + 1e-6)  # 204 = |v|^2


def test_non_finite_features_are_refused():
    feat = features(4, 3, 3)
    feat[0, 1, 1, 1] = np.nan
    with pytest.raises(InputError, match="not finite"):
        wct_realtime.style_statistics(feat)


def test_arbitrary_runs_without_torch(wct_root, tmp_path):
    """Import, statistics, graph lookup and a stylised frame with torch made unimportable."""
    out = run_without_torch("""
        import numpy as np
        import rtstyle.wct_realtime as wct_realtime
        from rtstyle.stylizer import Stylizer
        mean, colour = wct_realtime.style_statistics(np.random.default_rng(0).random((1, 8, 3, 4)))
        assert mean.shape == (8, 1) and colour.shape == (8, 8)
        assert wct_realtime.find(1) == wct_realtime.search_folders(1)[0]
        style = np.random.default_rng(1).integers(0, 256, (40, 52, 3), dtype=np.uint8)
        st = Stylizer({"p": wct_realtime.WCTStyle(style, level=1, backend="ort-cpu")},
                      warm_up=None)
        frame = np.random.default_rng(2).integers(0, 256, (27, 35, 3), dtype=np.uint8)
        out = st(frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        print("ran", st.describe())
    """, tmp_path, wct_root)
    assert "ran WCT relu1_1, ort-cpu (fp32)" in out


# --- finding the graphs ----------------------------------------------------------------------

def test_find_looks_in_the_search_path(wct_root, monkeypatch, tmp_path):
    monkeypatch.setenv("RTSTYLE_MODELS", os.pathsep.join([str(tmp_path / "empty"),
                                                          str(wct_root)]))
    assert wct_realtime.search_folders(2)[:2] == [tmp_path / "empty" / "wct" / "level2",
                                               wct_root / "wct" / "level2"]
    user = tmp_path / "data" / "rtstyle" / "models"
    assert wct_realtime.search_folders(2)[-1] == user / "wct" / "level2"
    assert wct_realtime.find(1) == wct_root / "wct" / "level1"
    assert wct_realtime.find(2) == wct_root / "wct" / "level2"
    assert wct_realtime.find(2, wct_root / "wct" / "level2") == wct_root / "wct" / "level2"


def test_missing_graphs_name_rtstyle_export(wct_root, monkeypatch):
    with pytest.raises(ModelError, match="rtstyle export --model models/wct/level3"):
        wct_realtime.find(3)  # nothing on the search path
    monkeypatch.setenv("RTSTYLE_MODELS", str(wct_root))
    with pytest.raises(ModelError, match="rtstyle export") as e:
        wct_realtime.find(3)  # a decoder folder that was never exported
    assert str(wct_root / "wct" / "level3") in str(e.value)
    with pytest.raises(ModelError, match="rtstyle export"):
        wct_realtime.find(1, wct_root / "wct" / "level3")
    with pytest.raises(ModelError, match="rtstyle export"):
        wct_realtime.WCTStyle(painting(), level=3, backend="ort-cpu")
    for bad in (0, 6):
        with pytest.raises(ConfigError, match="1..5"):
            wct_realtime.find(bad)


def test_a_folder_with_only_one_of_the_two_graphs_is_not_found(wct_root, tmp_path):
    half = tmp_path / "level1"
    shutil.copytree(wct_root / "wct" / "level1", half)
    (half / wct_realtime.ENCODER_FILE).unlink()
    with pytest.raises(ModelError, match="rtstyle export"):
        wct_realtime.find(1, half)


# --- WCTStyle through the Stylizer -----------------------------------------------------------

@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("h, w", [(37, 51), (17, 23), (48, 64)])
def test_frames_keep_their_size(styles, level, h, w):
    st = Stylizer({"p": styles[level]}, warm_up=None)
    frame = photo(h, w)
    out = st(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - frame).mean() > 1  # it did something


def test_a_batch_of_mixed_sizes_equals_one_call_per_frame(styles):
    st = Stylizer({"p": styles[2]}, warm_up=None)
    batch = [photo(37, 51), photo(37, 51)[::-1].copy(), photo(20, 30)]
    together = st.many(batch)
    for frame, out in zip(batch, together):
        assert out.shape == frame.shape
        assert np.array_equal(out, st(frame))


def test_alpha_zero_and_one_differ_and_alpha_zero_ignores_the_style(styles, wct_root):
    frame = photo(40, 56)
    s1 = styles[1]
    st = Stylizer({"p": s1}, warm_up=None)
    full = st(frame)
    s1.set_alpha(0.0)
    assert s1.alpha == 0.0
    none = st(frame)
    assert np.abs(full.astype(int) - none).mean() > 3
    other = wct_realtime.WCTStyle(255 - painting(), 1, wct_root / "wct" / "level1",
                               backend="ort-cpu", alpha=0.0)
    # alpha 0: only the content's features are decoded, whatever the painting
    assert np.array_equal(Stylizer({"q": other}, warm_up=None)(frame), none)
    other.set_alpha(1.0)
    assert np.abs(Stylizer({"q": other}, warm_up=None)(frame).astype(int) - full).mean() > 3
    s1.set_alpha(0.5)
    half = st(frame).astype(int)
    assert np.abs(half - full).mean() > 1 and np.abs(half - none).mean() > 1


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_alpha_is_checked(styles, wct_root, bad):
    s = styles[1]
    with pytest.raises(ConfigError, match="alpha must be between 0 and 1"):
        s.set_alpha(bad)
    assert s.alpha == 1.0  # unchanged
    with pytest.raises(ConfigError, match="alpha"):
        wct_realtime.WCTStyle(painting(), 1, wct_root / "wct" / "level1", backend="ort-cpu",
                           alpha=bad)


def test_a_style_image_smaller_than_the_receptive_field_is_refused(wct_root):
    folder = wct_root / "wct" / "level2"
    with pytest.raises(InputError, match="too small for level 2") as e:
        wct_realtime.WCTStyle(painting()[:3, :40], 2, folder, backend="ort-cpu", name="tiny")
    assert "'tiny' is 40x3" in str(e.value) and "at least 4 px" in str(e.value)
    # style_size scales a large painting down below the limit, too
    with pytest.raises(InputError, match="too small"):
        wct_realtime.WCTStyle(painting(), 2, folder, backend="ort-cpu", style_size=3)
    # the smallest size that is enough works
    wct_realtime.WCTStyle(painting()[:4, :4], 2, folder, backend="ort-cpu")


def test_a_flat_painting_gives_finite_statistics_and_frames(wct_root):
    flat = np.full((32, 40, 3), (30, 140, 220), np.uint8)
    s = wct_realtime.WCTStyle(flat, 2, wct_root / "wct" / "level2", backend="ort-cpu")
    assert all(np.isfinite(v).all() for v in s.net.feeds.values())
    out = Stylizer({"flat": s}, warm_up=(32, 32))(photo(33, 45))
    assert out.shape == (33, 45, 3)


def test_graphs_of_another_level_are_refused(wct_root, tmp_path):
    with pytest.raises(ModelError, match="level 1 WCT graph, expected level 2"):
        wct_realtime.WCTStyle(painting(), 2, wct_root / "wct" / "level1", backend="ort-cpu")
    mixed = tmp_path / "level1"
    shutil.copytree(wct_root / "wct" / "level1", mixed)
    shutil.copy(wct_root / "wct" / "level2" / wct_realtime.ENCODER_FILE, mixed)
    with pytest.raises(ModelError, match="encoder.onnx is a level 2 WCT graph, expected level 1"):
        wct_realtime.WCTStyle(painting(), 1, mixed, backend="ort-cpu")


def test_swapped_roles_are_refused(wct_root, tmp_path):
    swapped = tmp_path / "level1"
    swapped.mkdir()
    src = wct_root / "wct" / "level1"
    shutil.copy(src / wct_realtime.ENCODER_FILE, swapped / wct_realtime.CONTENT_FILE)
    shutil.copy(src / wct_realtime.CONTENT_FILE, swapped / wct_realtime.ENCODER_FILE)
    with pytest.raises(ModelError, match="wrong roles"):
        wct_realtime.WCTStyle(painting(), 1, swapped, backend="ort-cpu")


def test_load_styles_names_paintings_by_file_and_switches(wct_root, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_MODELS", str(wct_root))
    (tmp_path / "x").mkdir()
    cv2.imwrite(str(tmp_path / "sky.png"), painting())
    cv2.imwrite(str(tmp_path / "x" / "sky.png"), 255 - painting())
    loaded = wct_realtime.load_styles([tmp_path / "sky.png", tmp_path / "x" / "sky.png"], level=1,
                                   backend="ort-cpu", alpha=0.8)
    assert list(loaded) == ["sky", "sky-2"]
    assert all(s.level == 1 and s.alpha == pytest.approx(0.8) for s in loaded.values())
    st = Stylizer(loaded, warm_up=(24, 24))
    frame = photo(30, 42)
    a = st(frame)
    st.use("sky-2")
    b = st(frame)
    assert st.describe() == "WCT relu1_1, ort-cpu (fp32)"
    assert np.abs(a.astype(int) - b).mean() > 3
    with pytest.raises(ImageError, match="image not found"):
        wct_realtime.load_styles([tmp_path / "missing.png"], level=1, backend="ort-cpu")


def test_warm_up_with_a_blank_frame_stays_finite(styles):
    """Stylizer warm-up feeds zeros: a flat content (singular covariance) through the graph."""
    s = styles[2]
    s.warm_up((20, 30))
    out = s.run(np.zeros((1, 3, 20, 30), np.float32))
    assert out.shape == (1, 3, 20, 30) and np.isfinite(out).all()


# --- a chain of levels -----------------------------------------------------------------------

def test_a_chain_runs_its_levels_deepest_first_one_after_another(styles, wct_root, monkeypatch):
    monkeypatch.setenv("RTSTYLE_MODELS", str(wct_root))
    chain = wct_realtime.WCTChain(painting(), [1, 2], backend="ort-cpu", alpha=0.7)
    assert chain.levels == (2, 1) and chain.alpha == pytest.approx(0.7)
    assert chain.info.size_multiple == styles[2].info.size_multiple
    styles[1].set_alpha(0.7)
    styles[2].set_alpha(0.7)
    x = np.ascontiguousarray(photo(36, 44).transpose(2, 0, 1)[None, ::-1], np.float32)
    np.testing.assert_array_equal(chain.run(x), styles[1].run(styles[2].run(x)))
    frame = photo(37, 51)
    out = Stylizer({"p": chain}, warm_up=(24, 24))(frame)
    assert out.shape == frame.shape
    assert chain.describe() == "WCT relu2_1 (fp32) -> relu1_1 (fp32), ort-cpu"
    chain.set_alpha(0.0)
    assert all(p.alpha == 0.0 for p in chain.parts)


def test_a_chain_matches_the_exact_multi_level_wct(wct_root, monkeypatch):
    """The chain of real-time graphs (Newton-Schulz) against rtstyle wct's PyTorch path
    (eigendecompositions) with the same levels and alpha."""
    torch = pytest.importorskip("torch")
    from rtstyle import frames
    from rtstyle.quality import psnr
    from rtstyle.train.wct.stylize import WCTConfig, stylize_wct
    from rtstyle.train.wct.trainer import encoder_for, load_decoder

    monkeypatch.setenv("RTSTYLE_MODELS", str(wct_root))
    style, frame = painting(), photo(48, 64)
    chain = wct_realtime.WCTChain(style, (2, 1), backend="ort-cpu", alpha=0.6,
                                  style_size=64)
    ours = chain.run(frames.to_model_input(frame))
    decoders = {lv: load_decoder(wct_root / "wct" / f"level{lv}")[0] for lv in (2, 1)}
    encoders = {lv: encoder_for(lv, "cpu") for lv in (2, 1)}
    with torch.no_grad():
        ref = stylize_wct(frame, [style], encoders, decoders,
                          WCTConfig(levels=(2, 1), alpha=0.6, size=64, style_size=64))
    assert psnr(frames.from_model_output(ours).astype(np.float32),
                ref.astype(np.float32)) >= 30


def test_load_styles_makes_a_chain_for_several_levels(wct_root, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_MODELS", str(wct_root))
    cv2.imwrite(str(tmp_path / "sky.png"), painting())
    (chain,) = wct_realtime.load_styles([tmp_path / "sky.png"], level=(1, 2),
                                        backend="ort-cpu").values()
    assert isinstance(chain, wct_realtime.WCTChain) and chain.levels == (2, 1)
    (one,) = wct_realtime.load_styles([tmp_path / "sky.png"], level=(1,),
                                      backend="ort-cpu").values()
    assert isinstance(one, wct_realtime.WCTStyle)
    with pytest.raises(ConfigError, match="one WCT level"):
        wct_realtime.load_styles([tmp_path / "sky.png"], level=(2, 1), backend="ort-cpu",
                                 folder=wct_root / "wct" / "level1")
    with pytest.raises(ModelError, match="level 3"):
        wct_realtime.load_styles([tmp_path / "sky.png"], level=(3, 2), backend="ort-cpu")
