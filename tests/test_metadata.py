"""Model metadata (model.json): the IO contract and every way a model folder can be wrong.

These tests write model.json by hand: rtstyle.metadata is torch-free and so are they.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rtstyle import metadata
from rtstyle.errors import InputError
from rtstyle.metadata import IO_CONTRACT, ModelError, check_io, model_dir, read

from tests.helpers import BLOCK_TORCH

ROOT = Path(__file__).resolve().parents[1]


def valid_meta() -> dict:
    return {
        "format": metadata.FORMAT, "version": metadata.VERSION, "kind": "transformer",
        "io": dict(IO_CONTRACT), "weights": metadata.WEIGHTS_FILE, "name": "starry",
        "net": {"name": "tiny", "widths": [4, 8, 8], "blocks": 1, "outer_kernel": 3},
        "style": {"name": "starry", "file": metadata.STYLE_FILE, "size": [26, 32]},
        "recipe": {"preset": "default", "config": {"net": "tiny"}},
    }


def write_model(folder: Path, meta: dict | None = None, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = text if text is not None else json.dumps(valid_meta() if meta is None else meta)
    (folder / metadata.METADATA_FILE).write_text(body, encoding="utf-8")
    return folder


def test_model_error_is_an_input_error():
    assert issubclass(ModelError, InputError)


def test_io_contract_is_rgb_0_255_float32_nchw():
    assert IO_CONTRACT == {"layout": "NCHW", "channels": "RGB", "dtype": "float32",
                           "range": [0, 255], "size_multiple": 4}
    assert check_io(dict(IO_CONTRACT), "x") == IO_CONTRACT


def test_read_a_valid_folder_and_its_model_json(tmp_path):
    folder = write_model(tmp_path / "m")
    assert read(folder) == valid_meta()
    assert read(str(folder)) == valid_meta()
    assert read(folder / "model.json") == valid_meta()
    assert model_dir(folder / "model.json") == folder
    assert model_dir(folder) == folder


def test_missing_path(tmp_path):
    with pytest.raises(ModelError, match="model not found"):
        read(tmp_path / "nope")


def test_a_file_that_is_not_model_json(tmp_path):
    other = tmp_path / "weights.safetensors"
    other.write_bytes(b"x")
    with pytest.raises(ModelError, match="got a file"):
        read(other)


def test_a_folder_without_model_json(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(ModelError, match="not a model folder") as e:
        read(tmp_path / "run")
    assert "sub-folder" not in str(e.value)


def test_a_training_run_folder_gets_a_hint(tmp_path):
    write_model(tmp_path / "run" / "model")
    with pytest.raises(ModelError, match="'model' sub-folder"):
        read(tmp_path / "run")
    assert read(tmp_path / "run" / "model")["name"] == "starry"


@pytest.mark.parametrize("text", ["{not json", "", "\ufeff{}x"])
def test_invalid_json(tmp_path, text):
    folder = write_model(tmp_path / "m", text=text)
    with pytest.raises(ModelError, match="cannot read"):
        read(folder)


def test_undecodable_bytes(tmp_path):
    folder = write_model(tmp_path / "m")
    (folder / "model.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelError, match="cannot read"):
        read(folder)


def _broken(**changes) -> dict:
    meta = copy.deepcopy(valid_meta())
    for key, value in changes.items():
        if value is ...:
            del meta[key]
        else:
            meta[key] = value
    return meta


@pytest.mark.parametrize("meta, message", [
    ([1, 2], "not rtstyle model metadata"),
    (_broken(format="onnx"), "not rtstyle model metadata"),
    (_broken(format=...), "not rtstyle model metadata"),
    (_broken(version=2), "metadata version 2"),
    (_broken(version="1"), "metadata version 1"),
    (_broken(version=...), "metadata version None"),
    (_broken(kind="diffusion"), "unknown model kind 'diffusion'"),
    (_broken(kind=...), "unknown model kind None"),
    (_broken(io=...), "IO contract is missing"),
    (_broken(io="RGB"), "IO contract is missing"),
    (_broken(io={**IO_CONTRACT, "channels": "BGR"}), "unsupported model IO channels 'BGR'"),
    (_broken(io={**IO_CONTRACT, "range": [0, 1]}), "unsupported model IO range"),
    (_broken(io={**IO_CONTRACT, "layout": "NHWC"}), "unsupported model IO layout"),
    (_broken(io={**IO_CONTRACT, "dtype": "float16"}), "unsupported model IO dtype"),
    (_broken(io={k: v for k, v in IO_CONTRACT.items() if k != "dtype"}), "IO dtype None"),
    (_broken(io={**IO_CONTRACT, "size_multiple": 0}), "invalid size_multiple"),
    (_broken(io={**IO_CONTRACT, "size_multiple": 4.0}), "invalid size_multiple"),
    (_broken(io={**IO_CONTRACT, "size_multiple": 128}), "invalid size_multiple"),
    (_broken(net=...), "'net' is missing"),
    (_broken(net="tiny"), "'net' is missing"),
    (_broken(style=...), "'style' is missing"),
    (_broken(recipe=None), "'recipe' is missing"),
])
def test_bad_metadata_is_refused(tmp_path, meta, message):
    folder = write_model(tmp_path / "m", meta)
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace("[", r"\[")) as e:
        read(folder)
    assert str(folder / "model.json") in str(e.value)


def test_other_size_multiples_are_accepted(tmp_path):
    meta = _broken(io={**IO_CONTRACT, "size_multiple": 8})
    assert read(write_model(tmp_path / "m", meta))["io"]["size_multiple"] == 8


def test_unknown_extra_keys_are_kept(tmp_path):
    meta = {**valid_meta(), "training": {"steps": 3}, "future": [1]}
    assert read(write_model(tmp_path / "m", meta))["future"] == [1]


SCRIPT = BLOCK_TORCH + textwrap.dedent("""
    from rtstyle import metadata
    meta = metadata.read(sys.argv[1])
    assert metadata.check_io(meta["io"], "x") == metadata.IO_CONTRACT
    try:
        metadata.read(sys.argv[1] + "-missing")
    except metadata.ModelError as e:
        print("refused:", e)
    assert "torch" not in sys.modules, "rtstyle.metadata imported torch"
    print("ok", meta["name"])
""")


def test_metadata_is_torch_free(tmp_path):
    folder = write_model(tmp_path / "m")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(folder)], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "refused: model not found" in out.stdout
    assert out.stdout.strip().endswith("ok starry")


def test_read_kind_refuses_a_folder_of_another_kind_by_name(tiny_model):
    from rtstyle.metadata import ModelError, read_kind

    assert read_kind(tiny_model, "transformer", "a style net")["kind"] == "transformer"
    with pytest.raises(ModelError, match="is a transformer model, not a WCT decoder"):
        read_kind(tiny_model, "wct-decoder", "a WCT decoder")
