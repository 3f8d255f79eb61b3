"""Model folders: model.safetensors + model.json + style.jpg, saved atomically, rebuilt from
the metadata alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rtstyle import metadata
from rtstyle.errors import ConfigError, ImageError, InputError, WeightsError
from rtstyle.metadata import ModelError
from rtstyle.train import model_folder
from rtstyle.train.transformer_net import NETS, TransformerNet, describe


def make_net(name: str = "tiny", seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    net = TransformerNet(NETS[name])
    # Instance-norm affine parameters start at 1/0: perturb them so the round trip is tested.
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return net.eval()


def make_meta(name: str = "tiny") -> dict:
    return {"name": "test-style", "net": {"name": name, **describe(NETS[name])},
            "style": {"name": "test-style", "file": metadata.STYLE_FILE, "size": [24, 32]},
            "recipe": {"preset": "default", "config": {"net": name}}}


_yy, _xx = np.mgrid[0:24, 0:32]
STYLE = np.stack([_xx * 7, _yy * 9, 255 - _xx * 5], axis=-1).astype(np.uint8)  # smooth BGR
X = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 255


def hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", ["tiny", "tiny-aa"])
def test_save_then_load_reproduces_the_outputs_exactly(tmp_path, name):
    net = make_net(name)
    folder = model_folder.save(tmp_path / "model", net, make_meta(name), STYLE)
    assert folder == tmp_path / "model"
    loaded, meta = model_folder.load(folder)
    assert not loaded.training
    assert loaded.config == NETS[name]
    assert meta["net"].get("antialias", False) is NETS[name].antialias
    with torch.no_grad():
        assert torch.equal(loaded(X), net(X))
    assert meta["name"] == "test-style" and meta["kind"] == "transformer"
    assert meta["io"] == metadata.IO_CONTRACT
    assert meta == metadata.read(folder)


def test_the_folder_holds_exactly_its_three_files(tmp_path):
    folder = model_folder.save(tmp_path / "model", make_net(), make_meta(), STYLE)
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors",
                                                        "style.jpg"]
    assert hidden(tmp_path) == []
    meta = json.loads((folder / "model.json").read_text())
    assert meta["format"] == metadata.FORMAT and meta["version"] == metadata.VERSION
    assert meta["weights"] == "model.safetensors"


def test_weights_are_float32_safetensors_with_the_state_dict_keys(tmp_path):
    from safetensors.torch import load_file

    net = make_net()
    folder = model_folder.save(tmp_path / "model", net, make_meta(), STYLE)
    state = load_file(str(folder / "model.safetensors"))
    assert set(state) == set(net.state_dict())
    assert all(t.dtype == torch.float32 for t in state.values())


def test_style_image_round_trip(tmp_path):
    folder = model_folder.save(tmp_path / "model", make_net(), make_meta(), STYLE)
    style = model_folder.style_image(folder)
    assert style.shape == STYLE.shape and style.dtype == np.uint8
    assert np.abs(style.astype(int) - STYLE.astype(int)).mean() < 4  # JPEG, nearly lossless
    (folder / "style.jpg").unlink()
    with pytest.raises(ModelError, match="style.jpg is missing"):
        model_folder.style_image(folder)


def test_saving_twice_replaces_the_folder(tmp_path):
    target = tmp_path / "model"
    first, second = make_net(seed=1), make_net(seed=2)
    model_folder.save(target, first, make_meta(), STYLE)
    (target / "stale.txt").write_text("from the first save")
    model_folder.save(target, second, {**make_meta(), "name": "second"}, STYLE)
    loaded, meta = model_folder.load(target)
    with torch.no_grad():
        assert torch.equal(loaded(X), second(X))
        assert not torch.equal(loaded(X), first(X))
    assert meta["name"] == "second"
    assert not (target / "stale.txt").exists()  # a whole new folder, not a merge
    assert hidden(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_failed_save_leaves_the_old_folder_and_no_temporary_folder(tmp_path):
    target = tmp_path / "model"
    model_folder.save(target, make_net(seed=1), make_meta(), STYLE)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    bad_style = np.zeros((4, 4, 3, 2), np.uint8)  # not a BGR frame: encoding it fails
    with pytest.raises(ImageError):
        model_folder.save(target, make_net(seed=2), make_meta(), bad_style)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert hidden(tmp_path) == []


def test_a_save_interrupted_between_the_renames_keeps_the_old_folder(tmp_path, monkeypatch):
    target = tmp_path / "model"
    old_net = make_net(seed=1)
    model_folder.save(target, old_net, make_meta(), STYLE)
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == target and Path(src).is_dir() and Path(src).name.endswith(".part"):
            raise KeyboardInterrupt  # Ctrl-C right before the new folder is moved in
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        model_folder.save(target, make_net(seed=2), make_meta(), STYLE)
    monkeypatch.undo()
    assert target.is_dir(), f"the model folder is gone; left: {sorted(os.listdir(tmp_path))}"
    loaded, _ = model_folder.load(target)
    with torch.no_grad():
        assert torch.equal(loaded(X), old_net(X))
    assert hidden(tmp_path) == []


def test_save_into_a_missing_parent_folder(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        model_folder.save(tmp_path / "no" / "model", make_net(), make_meta(), STYLE)
    assert not (tmp_path / "no").exists()


def test_load_through_model_json_and_of_a_training_run(tmp_path, tiny_model):
    net, meta = model_folder.load(tiny_model / "model.json")
    assert net.config == NETS["tiny"] and meta["net"]["name"] == "tiny"
    with pytest.raises(ModelError, match="'model' sub-folder"):
        model_folder.load(tiny_model.parent)
    with torch.no_grad():
        y = net(X)
    assert y.shape == X.shape and 0 <= y.min() and y.max() <= 255


# --- load errors --------------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path) -> Path:
    return model_folder.save(tmp_path / "model", make_net(), make_meta(), STYLE)


def _edit(folder: Path, **changes):
    path = folder / "model.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_load_without_weights(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="model.safetensors is missing"):
        model_folder.load(saved)


def test_load_weights_of_another_net_size(saved):
    _edit(saved, net={"name": "lite", **describe(NETS["lite"])})
    with pytest.raises(WeightsError, match="does not match the net"):
        model_folder.load(saved)


def test_load_weights_of_another_depth(saved):
    _edit(saved, net={"widths": [4, 8, 8], "blocks": 2, "outer_kernel": 3})
    with pytest.raises(WeightsError, match="does not match"):
        model_folder.load(saved)


def test_load_corrupt_weights(saved):
    (saved / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage")
    with pytest.raises(WeightsError, match="cannot read"):
        model_folder.load(saved)


def test_load_a_bad_net_description(saved):
    _edit(saved, net={"widths": [4, 8], "blocks": 1})
    with pytest.raises(ConfigError):
        model_folder.load(saved)


def test_load_refuses_bad_metadata_before_touching_the_weights(saved):
    _edit(saved, io={**metadata.IO_CONTRACT, "channels": "BGR"})
    with pytest.raises(ModelError, match="channels 'BGR'"):
        model_folder.load(saved)
    assert issubclass(ModelError, InputError)


# --- big nets are split into shards ----------------------------------------------------------

def test_split_state_keeps_order_and_the_size_limit():
    state = {f"t{i}": torch.zeros(n) for i, n in enumerate([10, 10, 30, 5, 5, 5])}
    shards = model_folder.split_state(state, max_bytes=80)  # 4 bytes per float32
    assert [list(s) for s in shards] == [["t0", "t1"], ["t2"], ["t3", "t4", "t5"]]
    assert model_folder.shard_names(1) == ["model.safetensors"]
    assert model_folder.shard_names(3)[1] == "model-00002-of-00003.safetensors"


def test_a_big_net_is_saved_in_shards_and_loads_exactly(tmp_path, monkeypatch):
    net = make_net("tiny")
    monkeypatch.setattr(model_folder, "MAX_SHARD_BYTES", 4000)
    folder = model_folder.save(tmp_path / "m", net, make_meta(), STYLE)
    meta = json.loads((folder / metadata.METADATA_FILE).read_text())
    assert isinstance(meta["weights"], list) and len(meta["weights"]) > 1
    assert sorted(meta["weights"]) == sorted(p.name for p in folder.glob("*.safetensors"))
    assert all((folder / n).stat().st_size < 4000 + 2000 for n in meta["weights"])
    loaded, _ = model_folder.load(folder)
    with torch.no_grad():
        assert torch.equal(loaded(X), net(X))


@pytest.mark.parametrize("names, needle", [
    (["../model.safetensors"], "refusing weights file"),
    (["/etc/passwd"], "refusing weights file"),
    (["model.pt"], "refusing weights file"),
    ([], "must be a file name or a list"),
    (7, "must be a file name or a list"),
    ("first+gone", "gone.safetensors is missing"),
])
def test_shard_lists_are_checked(tmp_path, monkeypatch, names, needle):
    monkeypatch.setattr(model_folder, "MAX_SHARD_BYTES", 4000)
    folder = model_folder.save(tmp_path / "m", make_net("tiny"), make_meta(), STYLE)
    meta = json.loads((folder / metadata.METADATA_FILE).read_text())
    meta["weights"] = [meta["weights"][0], "gone.safetensors"] if names == "first+gone" else names
    (folder / metadata.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=needle):
        model_folder.load(folder)


def test_a_tensor_in_two_shards_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(model_folder, "MAX_SHARD_BYTES", 4000)
    folder = model_folder.save(tmp_path / "m", make_net("tiny"), make_meta(), STYLE)
    meta = json.loads((folder / metadata.METADATA_FILE).read_text())
    meta["weights"] = [meta["weights"][0], meta["weights"][0]]
    (folder / metadata.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="repeats tensors"):
        model_folder.load(folder)
