"""Optional torchvision loss networks: local weights files, hub cache lookup, never a download."""

import pytest
import torch

from rtstyle.errors import ConfigError, WeightsError
from rtstyle.train import loss_networks


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


def _random_weights(tmp_path, arch):
    import torchvision.models as tvm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = getattr(tvm, arch)(weights=None)
    path = tmp_path / f"{arch}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


@pytest.mark.parametrize("name", ["vgg16-torchvision", "vgg19-torchvision", "densenet121"])
def test_missing_weights_point_to_download_flag_without_downloading(name, empty_hub):
    with pytest.raises(WeightsError, match="--download"):
        loss_networks.load_loss_network(name, "cpu")
    assert not empty_hub.exists()  # nothing was fetched or created


def test_vgg16_from_a_local_file(tmp_path):
    path = _random_weights(tmp_path, "vgg16")
    net = loss_networks.load_loss_network("vgg16-torchvision", "cpu", weights=path)
    assert {"relu1_2", "relu2_2", "relu3_3", "relu4_3", "pool5"} <= set(net.layer_names)
    assert "relu3_4" not in net.layer_names  # VGG16 has 3 convs in block 3
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        f = net(x, ["relu2_2", "relu4_3"])
    assert f["relu2_2"].shape == (1, 128, 16, 16) and f["relu4_3"].shape == (1, 512, 4, 4)


def test_hub_cache_is_used_when_present(tmp_path, empty_hub):
    import torchvision.models as tvm

    path = _random_weights(tmp_path, "vgg16")
    from safetensors.torch import load_file

    cached = empty_hub / "checkpoints" / tvm.VGG16_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    torch.save(load_file(str(path)), cached)
    loss_networks._load_cached.cache_clear()
    net = loss_networks.load_loss_network("vgg16-torchvision", "cpu")
    assert "relu4_3" in net.layer_names


def test_densenet121_from_a_local_file(tmp_path):
    path = _random_weights(tmp_path, "densenet121")
    net = loss_networks.load_loss_network("densenet121", "cpu", weights=path)
    with torch.no_grad():
        f = net(torch.rand(1, 3, 64, 64) * 255, ["relu0", "denseblock2"])
    assert f["relu0"].shape == (1, 64, 32, 32)
    assert f["denseblock2"].shape[1] == 512


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = _random_weights(tmp_path, "vgg16")
    with pytest.raises(WeightsError, match="do not fit"):
        loss_networks.load_loss_network("vgg19-torchvision", "cpu", weights=path)


def test_unknown_network_and_pooling():
    with pytest.raises(ConfigError, match="did you mean 'vgg19'"):
        loss_networks.load_loss_network("vgg91")
    with pytest.raises(ConfigError, match="pooling"):
        loss_networks.load_loss_network("vgg19", pooling="min")
