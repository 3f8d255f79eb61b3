"""The real-time WCT export (rtstyle.train.wct.export): the two ONNX graphs of the ``wct_root``
fixture against PyTorch and against the exact eigendecomposition WCT on a real photo at a
non-square size, their contract metadata (and tampered copies), argument checks, and
``rtstyle export --model <decoder folder>`` at the CLI."""

from __future__ import annotations

import functools
import json
import re
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rtstyle import wct_realtime, assets, frames, images, onnx_model  # noqa: E402
from rtstyle.metadata import ModelError  # noqa: E402
from rtstyle.quality import psnr  # noqa: E402
from rtstyle.stylizer import Stylizer  # noqa: E402
from rtstyle.train.wct import export as wct_export  # noqa: E402
from rtstyle.train.wct import transform as wct  # noqa: E402
from rtstyle.train.export import ExportError  # noqa: E402
from rtstyle.train.wct.models import CHANNELS  # noqa: E402
from rtstyle.train.wct.stylize import WCTConfig, stylize_wct  # noqa: E402
from rtstyle.train.wct.trainer import encoder_for, load_decoder  # noqa: E402

from tests.helpers import assert_one_line_error, cli  # noqa: E402

#: A real photo at a non-square size (both sides divide by 2, the level-2 multiple).
H, W = 44, 62


@pytest.fixture(scope="module")
def content() -> np.ndarray:
    img = images.read_image(assets.path(assets.DEMO_CONTENT))
    return images.resize_to(img[40:, 60:], (H, W))


@pytest.fixture(scope="module")
def style() -> np.ndarray:
    return images.read_image(assets.path(assets.DEMO_STYLE), max_side=72)


@pytest.fixture(scope="module")
def nets(wct_root):
    """{level: (encoder, decoder, encoder session, content-path session)} for levels 1 and 2."""
    out = {}
    for level in (1, 2):
        folder = wct_root / "wct" / f"level{level}"
        decoder, _ = load_decoder(folder)
        sessions = [ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
                    for name in (wct_realtime.ENCODER_FILE, wct_realtime.CONTENT_FILE)]
        out[level] = (encoder_for(level), decoder, *sessions)
    return out


# --- parity on a real photo ------------------------------------------------------------------

@pytest.mark.parametrize("level", [1, 2])
def test_the_encoder_graph_matches_torch(nets, content, level):
    encoder, _, enc_s, _ = nets[level]
    x = frames.to_model_input(content)
    got = enc_s.run(None, {onnx_model.INPUT_NAME: x})[0]
    with torch.no_grad():
        want = encoder(torch.from_numpy(x)).numpy()
    m = 2 ** (level - 1)
    assert got.shape == (1, CHANNELS[level], H // m, W // m)
    assert np.abs(got - want).max() <= wct_export.ENCODER_TOLERANCE * np.abs(want).max()


@pytest.mark.parametrize("level, alpha", [(1, 1.0), (2, 0.7)])
def test_the_content_path_matches_torch_and_the_eigendecomposition(nets, content, style, level,
                                                                   alpha):
    encoder, decoder, _, path_s = nets[level]
    feeds, stats = wct_export.style_feeds(encoder, style, alpha)
    x = frames.to_model_input(content)
    out = path_s.run(None, {onnx_model.INPUT_NAME: x, **feeds})[0]
    assert out.shape == (1, 3, H, W) and np.isfinite(out).all()
    tensors = [torch.from_numpy(feeds[k]) for k in onnx_model.WCT_INPUTS[1:]]
    with torch.no_grad():
        torch_out = wct_export.ContentPath(encoder, decoder).eval()(torch.from_numpy(x),
                                                                    *tensors).numpy()
    exact = wct_export.eigh_reference(encoder, decoder, x, stats, alpha)
    assert psnr(out, torch_out) >= wct_export.MIN_PSNR_VS_TORCH
    assert psnr(out, exact) >= wct_export.MIN_PSNR_VS_EIGH
    # the Newton-Schulz features themselves, not only the decoded image
    err = wct_export._feature_error(encoder, x, stats, feeds, wct_export.ITERATIONS, alpha)
    assert err < 1e-2
    # and the path really stylises: another painting gives another image
    other, _ = wct_export.style_feeds(encoder, 255 - style, alpha)
    assert psnr(out, path_s.run(None, {onnx_model.INPUT_NAME: x, **other})[0]) < 30


def test_style_feeds_match_the_exact_torch_statistics(nets, style):
    encoder = nets[2][0]
    feeds, stats = wct_export.style_feeds(encoder, style, 0.3)
    assert feeds["alpha"].tolist() == [pytest.approx(0.3)] and feeds["alpha"].dtype == np.float32
    np.testing.assert_allclose(feeds["style_mean"], stats.mean.numpy(), rtol=1e-5, atol=1e-5)
    scale = np.abs(stats.color.numpy()).max()
    np.testing.assert_allclose(feeds["style_colour"], stats.color.numpy(), atol=1e-5 * scale)


def test_the_runtime_statistics_come_from_the_onnx_encoder(nets, style, wct_root):
    """WCTStyle (torch-free: the ONNX encoder + numpy) feeds what torch's StyleStats computes."""
    s = wct_realtime.WCTStyle(style, 2, wct_root / "wct" / "level2", backend="ort-cpu")
    x, _ = frames.pad_to_multiple(frames.to_model_input(style), 2)
    with torch.no_grad():
        stats = wct.StyleStats.of(nets[2][0](torch.from_numpy(x)))
    np.testing.assert_allclose(s.net.feeds["style_mean"], stats.mean.numpy(), rtol=1e-4,
                               atol=1e-4)
    scale = np.abs(stats.color.numpy()).max()
    np.testing.assert_allclose(s.net.feeds["style_colour"], stats.color.numpy(),
                               atol=1e-4 * scale)


def test_the_runtime_agrees_with_the_exact_rtstyle_wct_path(nets, content, style, wct_root):
    """Stylizer + WCTStyle at level 1 against stylize_wct (torch, eigendecomposition)."""
    encoder, decoder, _, _ = nets[1]
    for alpha in (1.0, 0.4):
        s = wct_realtime.WCTStyle(style, 1, wct_root / "wct" / "level1", backend="ort-cpu",
                               alpha=alpha)
        fast = Stylizer({"p": s}, warm_up=None)(content)
        exact = stylize_wct(content, [style], {1: encoder}, {1: decoder},
                            WCTConfig(levels=(1,), alpha=alpha, size=max(H, W)))
        assert fast.shape == exact.shape == content.shape
        assert psnr(fast.astype(np.float32), exact.astype(np.float32)) >= 30


# --- argument checks and the written files ---------------------------------------------------

@pytest.mark.parametrize("kwargs, needle", [
    ({"opset": 10}, "opset must be between 11 and 21"),
    ({"opset": 22}, "opset must be between 11 and 21"),
    ({"iterations": 0}, "iterations must be 1..100"),
    ({"iterations": 101}, "iterations must be 1..100"),
])
def test_export_refuses_bad_opset_and_iterations(wct_root, tmp_path, kwargs, needle):
    folder = tmp_path / "level1"
    shutil.copytree(wct_root / "wct" / "level1", folder)
    for f in folder.glob("*.onnx"):
        f.unlink()
    with pytest.raises(ExportError, match=needle):
        wct_export.export_wct(folder, **kwargs)
    assert not list(folder.glob("*.onnx"))


def test_export_refuses_a_folder_that_is_not_a_wct_decoder(tmp_path):
    with pytest.raises(ModelError):
        wct_export.export_wct(tmp_path / "nowhere")


@pytest.mark.parametrize("level", [1, 2])
def test_the_written_files_pass_the_contract(wct_root, level):
    folder = wct_root / "wct" / f"level{level}"
    enc = onnx_model.read_contract(folder / wct_realtime.ENCODER_FILE)
    path = onnx_model.read_contract(folder / wct_realtime.CONTENT_FILE)
    assert enc.wct == {"role": "encoder", "level": level, "channels": CHANNELS[level]}
    assert path.wct == {"role": "content-path", "level": level, "channels": CHANNELS[level]}
    for info in (enc, path):
        assert info.size_multiple == 2 ** (level - 1) and info.precision == "fp32"
        assert info.card["opset"] == 17
    assert enc.card["kind"] == "wct-encoder" and path.card["kind"] == "wct-content-path"
    checks = path.card["checks"]
    assert checks["iterations"] == wct_export.ITERATIONS
    (size,) = [v for v in checks.values() if isinstance(v, dict)]  # make_wct_root: one size
    assert size["psnr_vs_eigh_db"] >= wct_export.MIN_PSNR_VS_EIGH
    assert size["psnr_vs_torch_db"] >= wct_export.MIN_PSNR_VS_TORCH
    assert size["encoder_rel_err"] <= wct_export.ENCODER_TOLERANCE
    ops = {n.op_type for n in onnx.load(str(folder / wct_realtime.CONTENT_FILE)).graph.node}
    assert "MatMul" in ops and not ops & {"Eig", "Eigh", "Svd", "Inverse"}


def tampered(src, dst, **changes):
    """A copy of ``src`` with its rtstyle.wct metadata changed (None deletes the key)."""
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    info = json.loads(props[onnx_model.KEY_WCT])
    info.update(changes)
    del model.metadata_props[:]
    for k, v in props.items():
        if k == onnx_model.KEY_WCT:
            if "drop" in changes:
                continue
            v = json.dumps(info)
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(dst))
    return dst


@pytest.mark.parametrize("which, changes, needle", [
    (wct_realtime.CONTENT_FILE, {"role": "encoder"}, "a WCT encoder takes input and gives features"),
    (wct_realtime.ENCODER_FILE, {"role": "content-path"},
     "a WCT content path takes input, style_mean"),
    (wct_realtime.CONTENT_FILE, {"role": "painter"}, "unknown WCT graph role"),
    (wct_realtime.CONTENT_FILE, {"level": 7}, "invalid WCT level/channels"),
    (wct_realtime.CONTENT_FILE, {"channels": "many"}, "invalid WCT level/channels"),
    (wct_realtime.CONTENT_FILE, {"drop": True}, "expected one image input"),
])
def test_read_contract_rejects_tampered_wct_metadata(wct_root, tmp_path, which, changes, needle):
    src = wct_root / "wct" / "level1" / which
    onnx_model.read_contract(src)  # the original is fine
    bad = tampered(src, tmp_path / which, **changes)
    with pytest.raises(ModelError, match=re.escape(needle)):
        onnx_model.read_contract(bad)


def test_a_tampered_role_is_refused_by_the_runtime(wct_root, tmp_path):
    folder = tmp_path / "level1"
    shutil.copytree(wct_root / "wct" / "level1", folder)
    tampered(wct_root / "wct" / "level1" / wct_realtime.ENCODER_FILE, folder / wct_realtime.ENCODER_FILE,
             level=2)
    with pytest.raises(ModelError, match="level 2 WCT graph, expected level 1"):
        wct_realtime.WCTStyle(np.zeros((8, 8, 3), np.uint8), 1, folder, backend="ort-cpu")


# --- rtstyle export --model <decoder folder> -------------------------------------------------

LINE = re.compile(r"^wrote encoder\.onnx [0-9.]+ MB, realtime\.onnx [0-9.]+ MB to (.+) in "
                  r"[0-9.]+ s; real-time WCT relu1_1 \((\d+) Newton-Schulz iterations\) vs "
                  r"eigendecomposition: >= ([0-9.]+|inf) dB PSNR$")


@pytest.fixture
def decoder_copy(wct_root, tmp_path):
    """A private copy of the level-1 decoder folder without its graphs."""
    folder = tmp_path / "wct" / "level1"
    shutil.copytree(wct_root / "wct" / "level1", folder)
    for f in folder.glob("*.onnx"):
        f.unlink()
    return folder


def test_cli_export_of_a_decoder_folder_prints_the_psnr(capsys, decoder_copy, monkeypatch):
    # the real export, checked at one small non-square size instead of 256x256 and 360x640
    monkeypatch.setattr(wct_export, "export_wct",
                        functools.partial(wct_export.export_wct, sizes=((40, 58),)))
    code, out, err = cli(["export", "--model", decoder_copy, "--ns-iterations", "12"], capsys)
    assert code == 0, err
    (line,) = out.strip().splitlines()
    m = LINE.match(line)
    assert m, line
    assert m.group(1) == str(decoder_copy) and m.group(2) == "12"
    assert float(m.group(3)) >= wct_export.MIN_PSNR_VS_EIGH
    assert sorted(p.name for p in decoder_copy.glob("*.onnx")) == ["encoder.onnx", "realtime.onnx"]
    card = onnx_model.read_contract(decoder_copy / wct_realtime.CONTENT_FILE).card
    assert card["checks"]["iterations"] == 12 and "40x58" in card["checks"]
    assert not list(decoder_copy.parent.rglob("*.part*"))
    # and the runtime uses what was written
    s = wct_realtime.WCTStyle(images.read_image(assets.path(assets.DEMO_STYLE), max_side=48), 1,
                           decoder_copy, backend="ort-cpu")
    assert Stylizer({"p": s}, warm_up=None)(np.full((20, 30, 3), 90, np.uint8)).shape == (20, 30, 3)


@pytest.mark.parametrize("extra, needle", [
    (["--fp16"], "--out, --fp16 and --fp16-weights are for style nets"),
    (["--out", "x.onnx"], "--out, --fp16 and --fp16-weights are for style nets"),
    (["--opset", "5"], "opset must be between 11 and 21"),
    (["--ns-iterations", "101"], "iterations must be 1..100"),
])
def test_cli_export_bad_flags_for_a_decoder_folder(capsys, decoder_copy, tmp_path, extra,
                                                    needle):
    before = sorted(p.name for p in decoder_copy.iterdir())
    argv = ["export", "--model", decoder_copy, *[str(tmp_path / a) if a == "x.onnx" else a
                                                 for a in extra]]
    code, out, err = cli(argv, capsys)
    assert code == 1 and out == ""
    assert_one_line_error(err, needle)
    assert sorted(p.name for p in decoder_copy.iterdir()) == before
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("level", [1, 2])
def test_alpha_zero_makes_the_content_path_the_autoencoder(nets, content, style, level):
    """At alpha 0 the graph is decoder(encoder(x)): the decoder's own ONNX parity."""
    encoder, decoder, _, path = nets[level]
    x = frames.to_model_input(content)
    feeds, _ = wct_export.style_feeds(encoder, style, alpha=0.0)
    got = path.run(None, {onnx_model.INPUT_NAME: x, **feeds})[0]
    with torch.no_grad():
        want = decoder(encoder(torch.from_numpy(x))).numpy()
    assert np.abs(got - want).max() <= 0.5
