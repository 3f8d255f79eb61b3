"""The int8 real-time WCT content path (rtstyle.train.wct.int8, ``rtstyle export --int8``): a
quantised copy of the ``wct_root`` fixture's level-2 graph, checked against the float32 graph
on a real photo, its contract, which graph the runtime picks, and stale files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")
pytest.importorskip("onnxruntime.quantization")

from rtstyle import assets, images, onnx_model, wct_realtime
from rtstyle.metadata import ModelError
from rtstyle.quality import psnr
from rtstyle.stylizer import Stylizer
from rtstyle.train.export import ExportError
from rtstyle.train.wct import export as wct_export
from rtstyle.train.wct import int8
from tests.helpers import assert_one_line_error, cli

SIZE = (48, 64)


@pytest.fixture(scope="module")
def level2(wct_root, tmp_path_factory):
    """A copy of the fixture's level-2 folder exported with --int8 (bundled calibration)."""
    folder = tmp_path_factory.mktemp("int8") / "wct" / "level2"
    shutil.copytree(wct_root / "wct" / "level2", folder)
    result = wct_export.export_wct(folder, sizes=(SIZE,), int8=True)
    return folder, result


def painting(side: int = 64) -> np.ndarray:
    return images.read_image(assets.path(assets.DEMO_STYLE), max_side=side)


def test_the_int8_graph_is_written_checked_and_labelled(level2):
    folder, r = level2
    assert r.bytes[wct_realtime.INT8_FILE] < r.bytes[wct_realtime.CONTENT_FILE]
    info = onnx_model.read_contract(folder / wct_realtime.INT8_FILE)
    assert info.precision == "int8" and info.size_multiple == 2
    assert info.wct == {"role": "content-path", "level": 2, "channels": 128}
    checks = info.card["checks"]
    assert checks["calibration_images"] == 2  # the bundled photo and painting
    assert checks[f"{SIZE[0]}x{SIZE[1]}"]["psnr_vs_fp32_db"] >= int8.MIN_PSNR_VS_FP32
    assert r.checks["int8"] == checks
    nodes = onnx.load(str(folder / wct_realtime.INT8_FILE)).graph.node
    made_by = {out: n.op_type for n in nodes for out in n.output}
    convs = [n for n in nodes if n.op_type == "Conv"]
    quantised = [all(made_by.get(i) == "DequantizeLinear" for i in c.input[:2]) for c in convs]
    # the first and last convolutions (3 image channels) stay float, the others take int8
    assert len(convs) > 2 and quantised == [False] + [True] * (len(convs) - 2) + [False]
    ops = {n.op_type for n in nodes}
    assert "MatMul" in ops and "MatMulInteger" not in ops  # the whitening stays float


def test_the_runtime_picks_int8_on_the_cpu_unless_told_otherwise(level2):
    folder, _ = level2
    auto = wct_realtime.WCTStyle(painting(), 2, folder, backend="ort-cpu")
    fp32 = wct_realtime.WCTStyle(painting(), 2, folder, backend="ort-cpu", precision="fp32")
    assert auto.info.precision == "int8" and auto.describe() == "WCT relu2_1, ort-cpu (int8)"
    assert fp32.info.precision == "fp32"
    with pytest.raises(Exception, match="WCT precision must be one of auto, fp32, int8"):
        wct_realtime.WCTStyle(painting(), 2, folder, backend="ort-cpu", precision="int4")


def test_int8_output_stays_within_the_check_of_the_float32_graph_on_a_photo(level2):
    """Parity of the new path on a real photo at a size the export did not check."""
    folder, _ = level2
    photo = images.resize_to(images.read_image(assets.path(assets.DEMO_CONTENT))[30:, 50:],
                             (58, 86))
    out = {p: Stylizer({"p": wct_realtime.WCTStyle(painting(), 2, folder, backend="ort-cpu",
                                                   precision=p)}, warm_up=None)(photo)
           for p in ("int8", "fp32")}
    assert out["int8"].shape == photo.shape
    assert psnr(out["int8"], out["fp32"]) >= int8.MIN_PSNR_VS_FP32
    assert np.abs(out["int8"].astype(int) - out["fp32"]).mean() > 0  # really another graph


def test_a_chain_says_which_precision_each_level_runs(level2, wct_root, tmp_path, monkeypatch):
    root = tmp_path / "models"
    shutil.copytree(wct_root / "wct", root / "wct")
    shutil.copy(level2[0] / wct_realtime.INT8_FILE, root / "wct" / "level2")
    monkeypatch.setenv("RTSTYLE_MODELS", str(root))
    chain = wct_realtime.WCTChain(painting(), [2, 1], backend="ort-cpu")
    assert chain.describe() == "WCT relu2_1 (int8) -> relu1_1 (fp32), ort-cpu"


def test_a_reexport_without_int8_removes_the_stale_int8_graph(level2, tmp_path):
    folder = tmp_path / "level2"
    shutil.copytree(level2[0], folder)
    wct_export.export_wct(folder, sizes=(SIZE,))
    assert not (folder / wct_realtime.INT8_FILE).exists()
    assert wct_realtime.WCTStyle(painting(), 2, folder, backend="ort-cpu").info.precision == "fp32"
    with pytest.raises(ModelError, match="export one with 'rtstyle export --model .* --int8'"):
        wct_realtime.WCTStyle(painting(), 2, folder, backend="ort-cpu", precision="int8")


def test_relu1_1_has_nothing_to_quantise(wct_root, tmp_path):
    folder = tmp_path / "level1"
    shutil.copytree(wct_root / "wct" / "level1", folder)
    with pytest.raises(ExportError, match="nothing to quantise"):
        wct_export.export_wct(folder, sizes=(SIZE,), int8=True)
    assert not (folder / wct_realtime.INT8_FILE).exists()


def test_calibration_pairs_each_picture_with_one_from_the_other_half(tmp_path):
    pics = [np.full((20, 30, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    seen = []
    feeds = int8.calibration_feeds(pics, lambda bgr, a: seen.append(int(bgr[0, 0, 0])) or {},
                                   size=(8, 12))
    assert seen == [30, 40, 10, 20]
    assert [f[onnx_model.INPUT_NAME].shape for f in feeds] == [(1, 3, 8, 12)] * 4
    (tmp_path / "photos").mkdir()
    for i in range(int8.MAX_CALIBRATION + 10):
        images.write_image(tmp_path / "photos" / f"p{i:03d}.png", pics[i % 4])
    picked = int8.calibration_images([tmp_path / "photos", assets.path(assets.DEMO_STYLE)])
    assert len(picked) == int8.MAX_CALIBRATION  # the file, and the rest spread over the folder
    with pytest.raises(ExportError, match="no calibration images found"):
        (tmp_path / "empty").mkdir()
        int8.calibration_images([tmp_path / "empty"])


def test_cli_export_int8_prints_its_psnr_and_bad_flags_are_one_line_errors(capsys, level2,
                                                                           tmp_path,
                                                                           monkeypatch):
    import functools

    folder = tmp_path / "level2"
    shutil.copytree(level2[0], folder)
    monkeypatch.setattr(wct_export, "export_wct",
                        functools.partial(wct_export.export_wct, sizes=(SIZE,)))
    code, out, err = cli(["export", "--model", folder, "--int8", "--calibration",
                          assets.path(assets.DEMO_CONTENT)], capsys)
    assert code == 0, err
    assert "realtime.int8.onnx" in out and "int8 vs float32: >= " in out
    card = onnx_model.read_contract(folder / wct_realtime.INT8_FILE).card
    assert card["checks"]["calibration_images"] == 1
    code, out, err = cli(["export", "--model", folder, "--calibration", "x.jpg"], capsys)
    assert code == 1 and out == ""
    assert_one_line_error(err, "--calibration is for --int8")
