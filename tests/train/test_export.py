"""ONNX export: parity with PyTorch in real ONNX Runtime sessions, the graph's ops and dynamic
axes, the fp16 graph (float32 IO and instance norm), metadata that the torch-free reader
accepts, and failures that write nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, numpy_helper

from rtstyle import metadata, onnx_model
from rtstyle.train import export, transformer_net
from rtstyle.train.export import ExportError
from rtstyle.train.transformer_net import NETS


def random_net(name: str, seed: int) -> transformer_net.TransformerNet:
    """A randomly initialised net in eval mode; the affine instance-norm parameters are
    randomised too (their default 1/0 init would hide a norm that is exported wrongly)."""
    torch.manual_seed(seed)
    net = transformer_net.TransformerNet(NETS[name])
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def session(data: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def graph(data: bytes) -> onnx.ModelProto:
    return onnx.load_from_string(data)


def n_convs(config) -> int:
    """Convs in the graph; an anti-aliased net adds 4 blurs (two subsampling, two upsampling),
    each a fixed depthwise Conv with its own Pad."""
    return 3 + 2 * config.blocks + 2 + 1 + (4 if config.antialias else 0)


def n_norms(config) -> int:
    return 3 + 2 * config.blocks + 2


# --- module fixtures: each net is exported once -------------------------------------------------

@pytest.fixture(scope="module", params=["tiny", "full", "tiny-aa"])
def exported(request):
    """(net, fp32 ONNX bytes) of a random net of each size."""
    net = random_net(request.param, seed=0)
    return request.param, net, export.to_onnx(net)


@pytest.fixture(scope="module")
def tiny_random():
    net = random_net("tiny", seed=0)
    return net, export.to_onnx(net), export.to_onnx(net, fp16=True)


@pytest.fixture(scope="module")
def trained_net(tiny_model):
    from rtstyle.train import model_folder

    net, _ = model_folder.load(tiny_model, "cpu")
    return net


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- parity -----------------------------------------------------------------------------------

def test_parity_at_the_default_sizes(exported):
    name, net, data = exported
    errors = export.check_parity(data, net, sizes=[(256, 256), (360, 640)])
    assert set(errors) == {"256x256", "360x640"}
    assert all(0 <= e <= 0.5 for e in errors.values()), (name, errors)
    # fp32 graph vs fp32 torch: rounding-level differences only
    assert max(errors.values()) < 0.05, (name, errors)


def test_onnx_runtime_matches_torch_at_another_size_and_batch(exported):
    name, net, data = exported
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, 64, 96)).astype(np.float32)
    out = session(data).run(None, {onnx_model.INPUT_NAME: x})[0]
    assert not net.training  # torch.onnx.export left the net in eval mode
    with torch.no_grad():
        ref = net(torch.from_numpy(x), pad=False).numpy()
    assert out.shape == ref.shape == (2, 3, 64, 96)
    assert out.dtype == np.float32
    assert np.abs(out - ref).max() <= 0.05, name
    assert 0 <= out.min() and out.max() <= 255  # the eval-mode clamp is in the graph
    # the two images of the batch are styled independently (instance norm per image)
    single = session(data).run(None, {onnx_model.INPUT_NAME: x[1:]})[0]
    assert np.abs(single[0] - out[1]).max() <= 0.05
    assert np.abs(out[0] - out[1]).max() > 1  # and they differ


@pytest.mark.parametrize("h, w", [(8, 8), (8, 12), (12, 8)])
def test_onnx_runtime_matches_torch_at_the_smallest_sizes(exported, h, w):
    """MIN_SIZE: the 1/4-resolution maps are 2 px, the least reflection padding allows."""
    name, net, data = exported
    x = np.random.default_rng(2).uniform(0, 255, (1, 3, h, w)).astype(np.float32)
    out = session(data).run(None, {onnx_model.INPUT_NAME: x})[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(x), pad=False).numpy()
    assert out.shape == ref.shape == (1, 3, h, w)
    assert np.abs(out - ref).max() <= 0.05, name


def test_parity_fails_for_a_different_net(tiny_random):
    net, data, _ = tiny_random
    other = random_net("tiny", seed=1)
    with pytest.raises(ExportError, match=r"differs from torch by .* at 256x256.*not written"):
        export.check_parity(data, other)


def test_parity_tolerance_is_enforced(tiny_random):
    net, data, _ = tiny_random
    errors = export.check_parity(data, net, sizes=[(64, 64)])
    err = errors["64x64"]
    assert err > 0  # (otherwise tolerance 0 would pass and the check below means nothing)
    with pytest.raises(ExportError, match="allowed 0"):
        export.check_parity(data, net, sizes=[(64, 64)], tolerance=0.0)


# --- the graph --------------------------------------------------------------------------------

def test_graph_ops_and_dynamic_axes(exported):
    name, net, data = exported
    model = graph(data)
    onnx.checker.check_model(model)
    ops = Counter(n.op_type for n in model.graph.node)
    config = NETS[name]
    assert "ConvTranspose" not in ops
    assert ops["Conv"] == n_convs(config)
    assert ops["InstanceNormalization"] == n_norms(config)
    assert ops["Pad"] == n_convs(config) and ops["Resize"] == 2
    attrs = [(n.op_type, {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute})
             for n in model.graph.node if n.op_type in ("Pad", "Resize")]
    assert all(a["mode"] == b"reflect" for op, a in attrs if op == "Pad")
    assert all(a["mode"] == b"nearest" for op, a in attrs if op == "Resize")
    # the Resize scales are constants (1, 1, 2, 2)
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
              for n in model.graph.node if n.op_type == "Constant"}
    consts.update({i.name: numpy_helper.to_array(i) for i in model.graph.initializer})
    for n in model.graph.node:
        if n.op_type == "Resize":
            np.testing.assert_array_equal(consts[n.input[2]], [1, 1, 2, 2])
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]

    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("input", "output")
    for value in (inp, out):
        t = value.type.tensor_type
        assert t.elem_type == TensorProto.FLOAT
        dims = t.shape.dim
        assert len(dims) == 4
        assert dims[1].HasField("dim_value") and dims[1].dim_value == 3
        for i in (0, 2, 3):
            assert dims[i].HasField("dim_param") and dims[i].dim_param, (i, dims[i])
            assert not dims[i].HasField("dim_value")


def test_export_of_a_net_in_train_mode_is_the_eval_graph():
    """The exported graph clamps to 0..255 (eval behaviour) even if the net was training."""
    net = random_net("tiny", seed=2).train()
    data = export.to_onnx(net)
    assert "Clip" in {n.op_type for n in graph(data).graph.node}
    errors = export.check_parity(data, net, sizes=[(64, 64)])
    assert errors["64x64"] <= 0.05


# --- fp16 -------------------------------------------------------------------------------------

def test_fp16_graph_keeps_float32_io_and_float32_norm(tiny_random):
    _, _, data16 = tiny_random
    model = graph(data16)
    onnx.checker.check_model(model)
    for value in (*model.graph.input, *model.graph.output):
        assert value.type.tensor_type.elem_type == TensorProto.FLOAT, value.name
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    # the convolutions are half precision...
    conv_weights = [inits[n.input[1]] for n in model.graph.node if n.op_type == "Conv"]
    assert conv_weights and all(w.data_type == TensorProto.FLOAT16 for w in conv_weights)
    # ...but every instance norm reads a Cast to float32 and has float32 scale and bias
    norms = [n for n in model.graph.node if n.op_type == "InstanceNormalization"]
    assert len(norms) == n_norms(NETS["tiny"])
    for n in norms:
        cast = producers[n.input[0]]
        assert cast.op_type == "Cast"
        assert onnx.helper.get_attribute_value(cast.attribute[0]) == TensorProto.FLOAT
        for name in n.input[1:]:
            source = inits.get(name)
            while source is None:  # deduplicated initializers come through Identity nodes
                name = producers[name].input[0]
                source = inits.get(name)
            assert source.data_type == TensorProto.FLOAT, name


def test_fp16_runs_with_float32_io_in_onnx_runtime(tiny_random):
    net, data32, data16 = tiny_random
    s = session(data16)
    assert [i.type for i in s.get_inputs()] == ["tensor(float)"]
    assert [o.type for o in s.get_outputs()] == ["tensor(float)"]
    x = np.random.default_rng(3).uniform(0, 255, (2, 3, 32, 48)).astype(np.float32)
    out16 = s.run(None, {"input": x})[0]
    out32 = session(data32).run(None, {"input": x})[0]
    assert out16.dtype == np.float32 and out16.shape == (2, 3, 32, 48)
    assert np.isfinite(out16).all()
    assert export.psnr(out32, out16) >= 40


def test_fp16_of_the_trained_model_reaches_40_db(trained_net):
    data32 = export.to_onnx(trained_net)
    data16 = export.to_onnx(trained_net, fp16=True)
    psnrs = export.check_fp16(data16, data32)
    assert set(psnrs) == {"256x256", "360x640"}
    assert all(v >= 40 for v in psnrs.values()), psnrs
    # the fp16 export works on a copy: the caller's net stays float32
    assert all(p.dtype == torch.float32 for p in trained_net.parameters())


def test_fp16_check_refuses_a_broken_graph(tiny_random):
    _, data32, _ = tiny_random
    wrong = export.to_onnx(random_net("tiny", seed=5))
    with pytest.raises(ExportError, match=r"PSNR.*needs 40.0 dB.*use fp32"):
        export.check_fp16(wrong, data32)


# --- float16 storage ---------------------------------------------------------------------------

def test_weights_that_float16_holds_are_stored_half_and_compute_the_same():
    net = random_net("lite", seed=4)
    rounded, psnrs = export.halve_weights(net)
    assert set(psnrs) == {"256x256", "360x640"} and min(psnrs.values()) >= 40
    plain = export.to_onnx(rounded)
    halved = export.store_exact_halves(plain)
    assert len(halved) < 0.6 * len(plain)
    model = graph(halved)
    onnx.checker.check_model(model)
    big = [i for i in model.graph.initializer if i.data_type == TensorProto.FLOAT16]
    casts = {n.input[0] for n in model.graph.node if n.op_type == "Cast"}
    assert big and {i.name for i in big} <= casts
    assert all(numpy_helper.to_array(i).size >= export.HALF_STORAGE_MIN_ELEMENTS for i in big)
    x = np.random.default_rng(5).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    np.testing.assert_array_equal(session(halved).run(None, {"input": x})[0],
                                  session(plain).run(None, {"input": x})[0])
    assert max(export.check_parity(halved, rounded).values()) <= 0.01
    # ordinary float32 weights are not representable in float16: nothing changes
    unrounded = export.to_onnx(net)
    assert export.store_exact_halves(unrounded) == unrounded


def test_rounding_that_costs_too_much_is_refused():
    with pytest.raises(ExportError, match=r"float16 weights reach only .* stay float32"):
        export.halve_weights(random_net("tiny", seed=0), min_psnr=500)


def test_an_fp16_weights_export_halves_the_folder_and_keeps_parity(model_copy):
    from safetensors import safe_open

    from rtstyle.train import model_folder

    weights = model_copy / "model.safetensors"
    before = weights.stat().st_size
    r = export.export(model_copy, fp16_weights=True)
    assert min(r.weights_psnr.values()) >= 40
    with safe_open(str(weights), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert weights.stat().st_size < 0.6 * before
    net, _ = model_folder.load(model_copy, "cpu")  # float32 again when loaded
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert max(export.check_parity(r.path.read_bytes(), net).values()) <= 0.01
    again = export.export(model_copy, fp16_weights=True)  # idempotent
    assert all(v == float("inf") for v in again.weights_psnr.values())


def test_a_refused_fp16_weights_export_changes_nothing(model_copy, tmp_path):
    before = (model_copy / "model.safetensors").read_bytes()
    with pytest.raises(ExportError, match="must end in .onnx"):
        export.export(model_copy, out=tmp_path / "m.txt", fp16_weights=True)
    assert (model_copy / "model.safetensors").read_bytes() == before


def test_psnr():
    a = np.zeros((1, 3, 4, 4), np.float32)
    assert export.psnr(a, a) == float("inf")
    assert export.psnr(a, a + 255) == pytest.approx(0.0)
    assert export.psnr(a, a + 2.55) == pytest.approx(40.0)


# --- export(): metadata and files -------------------------------------------------------------

@pytest.fixture(scope="module")
def exported_file(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "m.onnx"
    result = export.export(tiny_model, out=out)
    return result, out


def test_export_writes_the_contract_and_the_card(exported_file, tiny_model):
    result, out = exported_file
    meta = json.loads((tiny_model / "model.json").read_text())
    assert result.path == out and out.is_file()
    assert result.precision == "fp32" and result.opset == 17
    assert result.bytes == out.stat().st_size
    assert set(result.parity) == {"256x256", "360x640"}
    assert all(v <= 0.5 for v in result.parity.values())
    assert result.fp16_psnr == {}
    assert listing(out.parent) == ["m.onnx"]  # no temp files beside it

    info = onnx_model.read_contract(out)
    assert info.path == out
    assert info.name == meta["name"] == "starry_night_van_gogh"
    assert info.io == {"layout": "NCHW", "channels": "RGB", "range": [0, 255],
                       "dtype": "float32", "size_multiple": 4, "precision": "fp32"}
    assert info.size_multiple == 4 and info.precision == "fp32"
    for key in ("style", "net", "recipe", "training", "kind", "name"):
        assert info.card[key] == meta[key], key
    assert info.card["opset"] == 17
    assert info.style == meta["style"]

    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert model.producer_name == "rtstyle"
    assert "starry_night_van_gogh" in model.doc_string


def test_exported_metadata_is_visible_to_onnx_runtime(exported_file, tiny_model):
    _, out = exported_file
    s = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    props = s.get_modelmeta().custom_metadata_map
    assert set(props) == {"rtstyle.format", "rtstyle.io", "rtstyle.card"}
    assert props["rtstyle.format"] == "rtstyle-onnx/1"
    assert json.loads(props["rtstyle.io"]) == {**metadata.IO_CONTRACT, "precision": "fp32"}
    assert json.loads(props["rtstyle.card"])["net"] == \
        json.loads((tiny_model / "model.json").read_text())["net"]
    # and the file runs
    x = np.full((1, 3, 32, 32), 128, np.float32)
    y = s.run(None, {"input": x})[0]
    assert y.shape == (1, 3, 32, 32) and np.isfinite(y).all()


def test_default_outputs_go_into_the_model_folder(model_copy):
    before = listing(model_copy)
    r32 = export.export(model_copy)
    assert r32.path == model_copy / "model.onnx"
    assert listing(model_copy) == sorted([*before, "model.onnx"])
    r16 = export.export(model_copy / "model.json", fp16=True)  # model.json also names the folder
    assert r16.path == model_copy / "model.fp16.onnx"
    assert listing(model_copy) == sorted([*before, "model.onnx", "model.fp16.onnx"])
    assert r16.precision == "fp16" and set(r16.fp16_psnr) == {"256x256", "360x640"}
    assert all(v >= 40 for v in r16.fp16_psnr.values())

    info16 = onnx_model.read_contract(r16.path)
    assert info16.precision == "fp16" and info16.io["dtype"] == "float32"
    assert onnx_model.read_contract(model_copy).path == model_copy / "model.onnx"
    assert onnx_model.resolve(model_copy, fp16=True) == model_copy / "model.fp16.onnx"
    # the fp16 file is smaller (half-precision weights)
    assert r16.bytes < r32.bytes


@pytest.mark.parametrize("kwargs, words", [
    ({"out": "m.txt"}, ["must end in .onnx", "m.txt"]),
    ({"out": "m.onnx", "opset": 5}, ["opset must be between 11 and 21", "5"]),
    ({"out": "m.onnx", "opset": 22}, ["opset must be between 11 and 21", "22"]),
], ids=["txt", "opset-5", "opset-22"])
def test_export_failures_write_nothing(kwargs, words, model_copy, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = listing(model_copy)
    kwargs = {**kwargs, "out": out_dir / kwargs["out"]}
    with pytest.raises(ExportError) as info:
        export.export(model_copy, **kwargs)
    for word in words:
        assert word in str(info.value)
    assert listing(out_dir) == []
    assert listing(model_copy) == before


def test_export_into_a_missing_folder_creates_it(model_copy, tmp_path):
    before = listing(model_copy)
    export.export(model_copy, out=tmp_path / "new" / "m.onnx")
    assert (tmp_path / "new" / "m.onnx").is_file()
    assert listing(model_copy) == before


def test_export_under_a_file_writes_nothing(model_copy, tmp_path):
    from rtstyle.errors import InputError

    before = listing(model_copy)
    (tmp_path / "taken").write_text("x")
    with pytest.raises(InputError, match="taken is a file"):
        export.export(model_copy, out=tmp_path / "taken" / "m.onnx")
    assert listing(model_copy) == before


def test_export_of_a_folder_without_model_json(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(metadata.ModelError, match="no model.json"):
        export.export(tmp_path / "empty")
    assert listing(tmp_path / "empty") == []


def test_export_replaces_an_existing_file_atomically(model_copy):
    target = model_copy / "model.onnx"
    target.write_bytes(b"old")
    export.export(model_copy)
    assert onnx_model.read_contract(target).precision == "fp32"
    assert not [p for p in model_copy.iterdir() if p.name.startswith(".")]


# --- errors are one line ----------------------------------------------------------------------

def test_exporter_failure_is_an_export_error(capsys):
    """Below export()'s range check the TorchScript exporter itself fails: one ExportError line
    (the exporter's IR dump goes to stdout, not into the message)."""
    net = random_net("tiny", seed=0)
    with pytest.raises(ExportError, match=r"ONNX export failed \(opset 5\)") as info:
        export.to_onnx(net, opset=5)
    assert len(str(info.value).splitlines()) == 1
    capsys.readouterr()
