"""Training checkpoints: round trip, atomic replacement, and refusing what is not ours or unsafe."""

from __future__ import annotations

import io
import pickle
import resource
import signal
import zipfile

import numpy as np
import pytest
import torch

from rtstyle.train import checkpoint
from rtstyle.train.checkpoint import CheckpointError


class NotPlainData:
    """A class only this test knows: unpickling it would run code from the test module."""

    def __init__(self):
        self.value = 42


def _state() -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "step": 123, "seconds": 4.5, "preset": "default", "flag": True, "nothing": None,
        "model": {"w": torch.randn(3, 4, generator=g), "b": torch.zeros(4, dtype=torch.float16)},
        "history": torch.arange(12, dtype=torch.float64).reshape(3, 4),
        "style_image": torch.randint(0, 256, (5, 6, 3), dtype=torch.uint8, generator=g),
        "skipped": ["a.jpg", "b/c.png"], "pair": (1, "x"),
        "config": {"loss": {"style_layers": ["relu1_2", "relu2_2"], "style_weight": 1e4},
                   "lr": 1e-3, "amp": "off"},
        "rng": checkpoint.rng_state(torch.device("cpu")),
    }


def _assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert type(a) is type(b) and a == b


def test_round_trip_of_tensors_numbers_strings_lists_and_dicts(tmp_path):
    state = _state()
    path = checkpoint.save(tmp_path / "checkpoint.pt", state)
    assert path == tmp_path / "checkpoint.pt" and path.is_file()
    loaded = checkpoint.load(path)
    assert loaded.pop("format") == checkpoint.FORMAT
    assert loaded.pop("version") == checkpoint.VERSION
    _assert_same(state, loaded)
    assert loaded["model"]["w"].device.type == "cpu"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary files left


def test_load_accepts_a_string_path(tmp_path):
    checkpoint.save(str(tmp_path / "c.pt"), {"step": 1})
    assert checkpoint.load(str(tmp_path / "c.pt"))["step"] == 1


def test_rng_state_round_trip_reproduces_random_numbers(tmp_path):
    cpu = torch.device("cpu")
    torch.manual_seed(7)
    checkpoint.save(tmp_path / "c.pt", {"rng": checkpoint.rng_state(cpu)})
    expected = torch.rand(5)
    torch.rand(100)  # move the generator on
    checkpoint.set_rng_state(checkpoint.load(tmp_path / "c.pt")["rng"], cpu)
    assert torch.equal(torch.rand(5), expected)


def test_saving_again_replaces_the_file(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"step": 1})
    checkpoint.save(path, {"step": 2})
    assert checkpoint.load(path)["step"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_a_failed_serialisation_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"step": 1})
    before = path.read_bytes()
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        checkpoint.save(path, {"step": 2, "callback": lambda: None})
    assert path.read_bytes() == before
    assert checkpoint.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    """A file-size limit makes the write fail with EFBIG, as a full disk would."""
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"step": 1})
    before = path.read_bytes()
    big = {"step": 2, "weights": torch.zeros(256 * 1024)}  # 1 MiB
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 4096, hard))
        with pytest.raises(CheckpointError, match="could not write the checkpoint"):
            checkpoint.save(path, big)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert path.read_bytes() == before
    assert checkpoint.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_saving_into_a_missing_folder_is_a_checkpoint_error(tmp_path):
    try:
        checkpoint.save(tmp_path / "gone" / "c.pt", {"step": 1})
    except CheckpointError:
        pass
    except Exception as e:  # noqa: BLE001 - the point of the test is the exception's type
        raise AssertionError(f"expected CheckpointError, got {type(e).__name__}: {e}") from e
    else:
        raise AssertionError("no error")
    assert not (tmp_path / "gone").exists()


def test_what_save_accepts_load_can_read(tmp_path):
    """A numpy float sneaking into the state (e.g. a loss from .mean() of an array)."""
    path = tmp_path / "c.pt"
    try:
        checkpoint.save(path, {"step": 1, "seconds": np.float64(2.5)})
    except CheckpointError:
        return  # refusing at save time, while the previous checkpoint is intact, is fine too
    assert checkpoint.load(path)["seconds"] == 2.5


# --- refusing files -----------------------------------------------------------------------------

def test_load_refuses_a_missing_file_or_a_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoint.load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"garbage bytes, not a checkpoint" * 10,
                                     b"PK\x03\x04 truncated zip"])
def test_load_refuses_garbage(tmp_path, content):
    path = tmp_path / "c.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot read the checkpoint"):
        checkpoint.load(path)


def test_load_refuses_a_truncated_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(path, _state())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read the checkpoint"):
        checkpoint.load(path)


@pytest.mark.parametrize("obj", [{"step": 1}, {"format": "something-else", "version": 1},
                                 [1, 2, 3], torch.zeros(3)])
def test_load_refuses_torch_files_that_are_not_rtstyle_checkpoints(tmp_path, obj):
    path = tmp_path / "c.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="not an rtstyle training checkpoint"):
        checkpoint.load(path)


def test_load_refuses_a_pickled_custom_object(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"format": checkpoint.FORMAT, "version": checkpoint.VERSION,
                "payload": NotPlainData()}, path)
    with pytest.raises(CheckpointError, match="refusing|unsafe") as e:
        checkpoint.load(path)
    assert "unsafe" in str(e.value) and "refusing" in str(e.value)


def test_load_never_runs_code_from_a_malicious_pickle(tmp_path):
    """A pickle whose __reduce__ calls a function must be refused before the call happens."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buf = io.BytesIO()
    torch.save({"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "x": Evil()}, buf)
    path = tmp_path / "c.pt"
    path.write_bytes(buf.getvalue())
    assert zipfile.is_zipfile(path)
    with pytest.raises(CheckpointError, match="refusing"):
        checkpoint.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_load_refuses_other_versions(tmp_path, version):
    path = tmp_path / "c.pt"
    torch.save({"format": checkpoint.FORMAT, "version": version, "step": 1}, path)
    with pytest.raises(CheckpointError, match=f"version {version} checkpoint"):
        checkpoint.load(path)
