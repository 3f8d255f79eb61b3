"""WCT maths with known values: whitening gives the identity covariance, colouring the style's;
Newton-Schulz agrees with the eigendecomposition; masks, mixtures and singular inputs."""

from __future__ import annotations

import pytest
import torch

from rtstyle.errors import ConfigError
from rtstyle.train.wct import transform as wct


def features(c=8, h=12, w=10, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(c, c, generator=g, dtype=torch.float64)
    f = mix @ torch.randn(c, h * w, generator=g, dtype=torch.float64) * scale + 5.0
    return f.reshape(1, c, h, w)


def cov(f):
    return wct.covariance(wct.flatten(f) if f.ndim > 2 else f)[1]


def test_whitening_gives_the_identity_covariance():
    f_hat, mean = wct.whiten(wct.flatten(features()))
    _, c = wct.covariance(f_hat)
    torch.testing.assert_close(c, torch.eye(8, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(f_hat.mean(dim=1), torch.zeros(8, dtype=torch.float64), atol=1e-9, rtol=0)


def test_coloring_gives_the_style_mean_and_covariance():
    content, style = features(seed=1), features(seed=2, scale=7.0)
    stats = wct.StyleStats.of(style)
    out = wct.transform(content, stats, alpha=1.0)
    mean_o, cov_o = wct.covariance(wct.flatten(out))
    mean_s, cov_s = wct.covariance(wct.flatten(style))
    torch.testing.assert_close(mean_o, mean_s, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(cov_o, cov_s, atol=1e-3, rtol=1e-4)


def test_alpha_blends_with_the_content():
    content, style = features(seed=1), features(seed=2)
    stats = wct.StyleStats.of(style)
    assert torch.equal(wct.transform(content, stats, alpha=0.0), content)
    full = wct.transform(content, stats, alpha=1.0)
    half = wct.transform(content, stats, alpha=0.5)
    torch.testing.assert_close(half, 0.5 * full + 0.5 * content)
    with pytest.raises(ConfigError):
        wct.transform(content, stats, alpha=1.5)


def test_newton_schulz_agrees_with_the_eigendecomposition():
    c = cov(features(c=16, h=20, w=20, seed=3))
    root, inv_root = wct.newton_schulz_sqrt(c.float(), iterations=30)
    torch.testing.assert_close(root.double(), wct.eigh_sqrt(c, 0.5), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(inv_root.double(), wct.eigh_sqrt(c, -0.5), rtol=1e-3, atol=1e-3)
    f = wct.flatten(features(c=16, h=20, w=20, seed=3)).float()
    torch.testing.assert_close(wct.whiten_ns(f, 30).double(), wct.whiten(f)[0], rtol=1e-3,
                               atol=2e-3)


def test_flat_images_and_fewer_pixels_than_channels_stay_finite():
    flat = torch.full((1, 8, 5, 5), 3.0, dtype=torch.float64)
    tiny = features(c=32, h=2, w=3)  # 6 pixels, 32 channels: a singular covariance
    stats = wct.StyleStats.of(features(seed=4))
    for content in (flat, tiny):
        out = wct.transform(content, wct.StyleStats.of(content) if content is tiny else stats)
        assert torch.isfinite(out).all()
    assert torch.isfinite(wct.StyleStats.of(flat).color).all()


def test_mixture_of_one_style_is_that_style_and_weights_are_checked():
    s1, s2 = features(seed=5), features(seed=6, scale=9.0)
    one = wct.StyleStats.mixture([s1])
    torch.testing.assert_close(one.color, wct.StyleStats.of(s1).color)
    mix = wct.StyleStats.mixture([s1, s2], [1.0, 3.0])
    expected = 0.25 * cov(s1) + 0.75 * cov(s2)
    torch.testing.assert_close(mix.color @ mix.color, expected, rtol=1e-4, atol=1e-4)
    for bad in ([1.0], [-1.0, 2.0], [0.0, 0.0]):
        with pytest.raises(ConfigError):
            wct.StyleStats.mixture([s1, s2], bad)


def test_a_mask_limits_the_transform_to_its_region():
    content, style = features(seed=7), features(seed=8, scale=10.0)
    mask = torch.zeros(12, 10, dtype=torch.bool)
    mask[:, :5] = True
    out = wct.transform(content, wct.StyleStats.of(style), mask=mask)
    assert torch.equal(out[..., ~mask], content[..., ~mask])  # outside: untouched
    inside = out[0][:, mask]
    torch.testing.assert_close(inside.mean(dim=1, keepdim=True),
                               wct.StyleStats.of(style).mean, atol=1e-6, rtol=1e-6)
    empty = torch.zeros(12, 10, dtype=torch.bool)
    assert torch.equal(wct.transform(content, wct.StyleStats.of(style), mask=empty), content)


def test_regions_get_their_own_styles():
    content = features(seed=9)
    a, b = wct.StyleStats.of(features(seed=10, scale=1.0)), wct.StyleStats.of(features(seed=11, scale=20.0))
    left = torch.zeros(12, 10, dtype=torch.bool)
    left[:, :5] = True
    out = wct.transform_regions(content, [a, b], [left, ~left])
    torch.testing.assert_close(out[0][:, left].mean(dim=1, keepdim=True), a.mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out[0][:, ~left].mean(dim=1, keepdim=True), b.mean, atol=1e-6, rtol=1e-6)
    with pytest.raises(ConfigError):
        wct.transform_regions(content, [a, b], [left])


def test_the_exportable_whitening_matches_the_eigendecomposition_in_onnx(tmp_path):
    import numpy as np
    import onnxruntime as ort

    content = features(c=16, h=12, w=10, seed=12).float()
    stats = wct.StyleStats.of(features(c=16, h=9, w=14, seed=13, scale=5.0))
    mean, col = stats.mean.float(), stats.color.float()
    alpha = torch.tensor([0.8])
    module = wct.WhitenColour(iterations=30).eval()
    ref = wct.transform(content.double(), stats, alpha=0.8)
    torch.testing.assert_close(module(content, mean, col, alpha).double(), ref, rtol=2e-3, atol=2e-2)
    path = tmp_path / "wct.onnx"
    torch.onnx.export(module, (content, mean, col, alpha), str(path), dynamo=False,
                      opset_version=17, input_names=["feat", "mean", "colour", "alpha"],
                      output_names=["out"], dynamic_axes={"feat": {2: "h", 3: "w"},
                                                          "out": {2: "h", 3: "w"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert "Eig" not in {n.op_type for n in __import__("onnx").load(str(path)).graph.node}
    other = features(c=16, h=7, w=20, seed=14).float()  # another size through the same graph
    for x in (content, other):
        got = session.run(None, {"feat": x.numpy(), "mean": mean.numpy(), "colour": col.numpy(),
                                 "alpha": alpha.numpy()})[0]
        want = wct.transform(x.double(), stats, alpha=0.8).numpy()
        assert np.abs(got - want).max() < 0.01 * np.abs(want).max()
