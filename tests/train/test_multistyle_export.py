"""ONNX export of a multi-style model (rtstyle.train.multistyle_export), checked in ONNX
Runtime against PyTorch with one-hot and mixed style weights at two sizes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtstyle import onnx_model  # noqa: E402
from rtstyle.metadata import ModelError  # noqa: E402
from rtstyle.train import export, multistyle, multistyle_export  # noqa: E402
from tests.train.test_multistyle import CFG, paintings  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory, photos):
    run = tmp_path_factory.mktemp("multi_export") / "run"
    multistyle.train(replace(CFG, steps=2), run, paintings(), photos)
    result = export.export(run / "model")
    return run / "model", result


def test_the_graph_takes_style_weights_and_names_its_styles(exported):
    model, result = exported
    assert result.path == model / "model.onnx" and result.precision == "fp32"
    assert set(result.parity) == {"256x256", "360x640"}
    assert max(result.parity.values()) <= export.PARITY_TOLERANCE
    info = onnx_model.read_contract(model)
    assert [s["name"] for s in info.styles] == ["starry", "negative"]
    assert info.styles[1]["style_weight"] == 30.0


@pytest.mark.parametrize("weights", [[1.0, 0.0], [0.0, 1.0], [0.7, 0.3]])
def test_onnx_runtime_matches_torch_for_one_hot_and_mixed_weights(exported, weights):
    import onnxruntime as ort

    model, _ = exported
    net, _ = multistyle.load(model)
    session = ort.InferenceSession(str(model / "model.onnx"), providers=["CPUExecutionProvider"])
    x = (np.random.default_rng(0).random((2, 3, 48, 64)) * 255).astype(np.float32)
    w = np.array([weights], np.float32)
    out = session.run(None, {"input": x, "style_weights": w})[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(x), torch.from_numpy(w), pad=False).numpy()
    assert np.abs(out - ref).max() <= export.PARITY_TOLERANCE


def test_parity_weights_mix_every_style_differently_per_size():
    a, b = multistyle_export.parity_weights(3, 0), multistyle_export.parity_weights(3, 1)
    assert a.shape == (1, 3) and np.isclose(a.sum(), 1) and (a > 0).all()
    assert not np.allclose(a, b)


def test_fp16_is_refused_for_now(exported, tmp_path):
    with pytest.raises(export.ExportError, match="fp16 export of multi-style nets"):
        export.export(exported[0], tmp_path / "x.onnx", fp16=True)


def test_a_card_that_lists_other_styles_than_the_graph_takes_is_refused(exported, tmp_path):
    import onnx

    model = onnx.load(str(exported[0] / "model.onnx"))
    props = {p.key: p for p in model.metadata_props}
    card = json.loads(props[onnx_model.KEY_CARD].value)
    card["styles"] = card["styles"][:1]
    props[onnx_model.KEY_CARD].value = json.dumps(card)
    with pytest.raises(ModelError, match=r"\(rows, 1\), one weight per listed style"):
        onnx_model.read_contract_bytes(model.SerializeToString(), "bad.onnx")
    card["styles"] = []
    props[onnx_model.KEY_CARD].value = json.dumps(card)
    with pytest.raises(ModelError, match="must list its styles by name"):
        onnx_model.read_contract_bytes(model.SerializeToString(), "bad.onnx")
