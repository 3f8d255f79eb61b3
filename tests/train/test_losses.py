"""Loss maths: known values, module == function, gradients, style loss 0 at the style image."""

import pytest
import torch

from rtstyle import frames, images
from rtstyle.errors import ConfigError
from rtstyle.train.loss_networks import load_loss_network
from rtstyle.train.losses import (ContentLoss, LossConfig, PerceptualLoss, StyleLoss, TVLoss,
                                  content_loss, gram_matrix, style_loss, tv_loss)


def seeded(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g, dtype=torch.float64)


def test_gram_known_value():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C=2, H=1, W=2
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4  # F F^T / (C*H*W)
    assert torch.allclose(gram_matrix(f)[0], expected)


def test_gram_is_symmetric_and_batched():
    g = gram_matrix(seeded(3, 5, 4, 6))
    assert g.shape == (3, 5, 5)
    assert torch.allclose(g, g.transpose(1, 2))


def test_gram_full_mask_equals_no_mask_and_half_mask_uses_its_area():
    f = seeded(1, 4, 8, 8)
    assert torch.allclose(gram_matrix(f, torch.ones(1, 1, 8, 8)), gram_matrix(f))
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    mask[..., :4] = 1  # left half only
    left = f[..., :4]
    assert torch.allclose(gram_matrix(f, mask), gram_matrix(left))


def test_gram_rejects_bad_shape():
    with pytest.raises(ValueError, match="N, C, H, W"):
        gram_matrix(torch.zeros(4, 4))


def test_tv_known_values():
    assert tv_loss(torch.full((1, 3, 5, 5), 7.0)) == 0
    ramp = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 3, 4, 6)  # dx = 1 everywhere, dy = 0
    assert tv_loss(ramp).item() == pytest.approx(1.0)
    checker = (torch.arange(4).view(4, 1) + torch.arange(4).view(1, 4)) % 2 * 10.0
    assert tv_loss(checker.view(1, 1, 4, 4).float()).item() == pytest.approx(200.0)


def test_content_loss_known_value_and_weights():
    a = {"x": torch.zeros(1, 2, 3, 3)}
    b = {"x": torch.full((1, 2, 3, 3), 2.0)}
    assert content_loss(a, b, {"x": 0.5}).item() == pytest.approx(2.0)  # 0.5 * mean(4)


def test_style_loss_zero_against_own_grams():
    f = {"a": seeded(2, 3, 4, 4), "b": seeded(2, 5, 2, 2, seed=1)}
    grams = {k: gram_matrix(v) for k, v in f.items()}
    assert style_loss(f, grams, {"a": 1.0, "b": 2.0}).item() == 0


def test_modules_equal_functions():
    feats = {"a": seeded(2, 3, 6, 6), "b": seeded(2, 4, 3, 3, seed=1)}
    target = {"a": seeded(1, 3, 6, 6, seed=2), "b": seeded(1, 4, 3, 3, seed=3)}
    weights = {"a": 0.3, "b": 0.7}
    assert torch.equal(ContentLoss(target, weights)(feats), content_loss(feats, target, weights))
    grams = {k: gram_matrix(v) for k, v in target.items()}
    assert torch.equal(StyleLoss(target, weights)(feats), style_loss(feats, grams, weights))
    img = seeded(1, 3, 7, 9)
    assert torch.equal(TVLoss()(img), tv_loss(img))


def test_gradcheck():
    f = seeded(1, 2, 3, 3).requires_grad_(True)
    assert torch.autograd.gradcheck(gram_matrix, (f,))
    assert torch.autograd.gradcheck(tv_loss, (seeded(1, 1, 4, 4).requires_grad_(True),))


@pytest.fixture(scope="module")
def vgg():
    return load_loss_network("vgg19", "cpu")


def _tensor(path, size):
    return torch.from_numpy(frames.to_model_input(images.read_image(path, max_side=size)))


def test_perceptual_style_loss_is_zero_at_the_style_image(vgg, style_path, content_path):
    style = _tensor(style_path, 64)
    loss = PerceptualLoss(LossConfig(content_weight=0.0), vgg).set_styles([style])
    terms = loss(style, loss.content_features(style))
    assert terms.style.item() == pytest.approx(0.0, abs=1e-3)
    other = _tensor(content_path, 64)
    assert loss(other, loss.content_features(other)).style.item() > 1.0


def test_perceptual_content_loss_is_zero_at_the_content_image(vgg, content_path, style_path):
    c = _tensor(content_path, 48)
    loss = PerceptualLoss(LossConfig(), vgg).set_styles([_tensor(style_path, 48)])
    terms = loss(c, loss.content_features(c))
    assert terms.content.item() == 0
    assert terms.total.item() == pytest.approx(terms.style.item() + terms.tv.item())


def test_style_mixture_weights(vgg, content_path, style_path):
    c, s = _tensor(content_path, 48), _tensor(style_path, 48)
    cfg = LossConfig(content_weight=0.0)
    single = PerceptualLoss(cfg, vgg).set_styles([s])(c, {}).style
    mixed = PerceptualLoss(cfg, vgg).set_styles([s, c], [3.0, 0.0])(c, {}).style
    assert torch.allclose(single, mixed)
    with pytest.raises(ConfigError, match="style weights"):
        PerceptualLoss(cfg, vgg).set_styles([s, c], [1.0])


@pytest.mark.parametrize("kwargs, match", [
    ({"style_weight": -1.0}, "style-weight"),
    ({"tv_weight": float("nan")}, "tv-weight"),
    ({"content_weight": float("inf")}, "content-weight"),
    ({"style_layer_weights": (1.0,)}, "style layer weights"),
    ({"pooling": "min"}, "pooling"),
    ({"content_layers": ()}, "content layer"),
])
def test_loss_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LossConfig(**kwargs)


def test_unknown_layer_in_perceptual_loss(vgg):
    with pytest.raises(ConfigError, match="unknown VGG19 layer 'relu3_l' .did you mean 'relu3_"):
        PerceptualLoss(LossConfig(style_layers=("relu3_l",)), vgg)


def test_the_loss_network_stops_at_the_deepest_layer_a_term_needs():
    """The truncated chain gives exactly the loss of the whole network's features; the content
    targets run only as deep as the content layers, and the style image is not run per step."""
    from rtstyle import assets

    net = load_loss_network("vgg19", torch.device("cpu"))
    cfg = LossConfig(content_layers=("relu2_2",),
                     style_layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3"), style_weight=10.0)
    loss = PerceptualLoss(cfg, net)
    style = images.read_image(assets.path(assets.DEMO_STYLE), max_side=40)
    loss.set_styles([torch.from_numpy(frames.to_model_input(style))])
    x = torch.from_numpy(frames.to_model_input(
        images.resize_to(images.read_image(assets.path(assets.DEMO_CONTENT)), (40, 48))))
    y = x.flip(-1)

    ran: list[str] = []  # the convolutions that ran
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: ran.append(name))
             for name, m in net.body.items() if name.startswith("conv")]
    try:
        targets = loss.content_features(x)
        assert ran == ["conv1_1", "conv1_2", "conv2_1", "conv2_2"]
        ran.clear()
        terms = loss(y, targets)
        convs = [n for n in net.layer_names if n.startswith("conv")]
        assert ran == convs[:convs.index("conv4_3") + 1]
    finally:
        for h in hooks:
            h.remove()
    everything = net(y, net.layer_names)  # the whole network, up to pool5
    whole = loss._terms(y, {k: everything[k] for k in ("relu1_2", "relu2_2", "relu3_3", "relu4_3")},
                        targets)
    assert terms.total.item() == whole.total.item()
    assert terms.style.item() == whole.style.item()


def test_asking_for_a_convolution_and_its_relu_keeps_both():
    """The loss network applies ReLU in place only where the layer before is not returned."""
    net = load_loss_network("vgg19", torch.device("cpu"))
    x = torch.rand(1, 3, 24, 24) * 255
    both = net(x, ["conv1_2", "relu1_2"])
    assert (both["conv1_2"] < 0).any()
    torch.testing.assert_close(both["relu1_2"], both["conv1_2"].clamp_min(0))
    torch.testing.assert_close(net(x, ["relu1_2"])["relu1_2"], both["relu1_2"])
