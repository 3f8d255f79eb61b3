"""An any-painting net exported (rtstyle.train.arbitrary_export) and run by the torch-free
runtime (rtstyle.arbitrary) with real ONNX Runtime sessions: parity with PyTorch, the graphs'
contracts, the engine's --style-image path, and torch-free loading."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtstyle import arbitrary as runtime  # noqa: E402
from rtstyle import frames, images, onnx_model  # noqa: E402
from rtstyle.metadata import ModelError  # noqa: E402
from rtstyle.stylizer import Stylizer  # noqa: E402
from rtstyle.train import arbitrary, export  # noqa: E402
from rtstyle.train.arbitrary_net import StatisticsEncoder  # noqa: E402
from rtstyle.train.loss_networks import load_loss_network  # noqa: E402
from tests.helpers import (ASSETS, STYLE, assert_one_line_error, cli,  # noqa: E402
                           run_without_torch)
from tests.train.test_arbitrary import SETTINGS, held_out  # noqa: E402
from tests.train.test_multistyle import CFG, paintings  # noqa: E402


@pytest.fixture(scope="module")
def models_root(tmp_path_factory, photos):
    """A models folder holding an exported tiny any-painting net as any_painting/."""
    run = tmp_path_factory.mktemp("any_export") / "run"
    arbitrary.train(CFG, run, paintings(), held_out(), photos, SETTINGS)
    result = export.export(run / "model")
    assert result.path.name == "model.onnx" and all(
        v <= 0.5 for k, v in result.parity.items() if not k.startswith("code"))
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(run / "model", root / runtime.FOLDER)
    return root


def test_both_graphs_carry_their_roles_and_basis(models_root):
    folder = models_root / runtime.FOLDER
    net = onnx_model.read_contract(folder / "model.onnx")
    pred = onnx_model.read_contract(folder / runtime.PREDICTOR_FILE)
    assert net.arbitrary == {"role": "transformer", "basis": 4}
    assert pred.arbitrary == {"role": "predictor", "basis": 4}
    assert net.card["kind"] == "arbitrary" and net.styles == []


def test_the_runtime_matches_torch(models_root):
    folder = models_root / runtime.FOLDER
    net_torch, _ = arbitrary.load(folder)
    painting = images.read_image(STYLE)
    net, predictor = runtime.open_net(folder, "ort-cpu")
    style = runtime.PaintingStyle(painting, net, predictor, "starry")
    small = images.fit_within(painting, 32)  # the tiny run's style size
    encoder = StatisticsEncoder(load_loss_network("vgg19", "cpu"))
    x = torch.from_numpy(frames.to_model_input(small))
    with torch.no_grad():
        code = net_torch.predictor(encoder(x)).numpy()
    np.testing.assert_allclose(style.code, code, rtol=1e-3, atol=1e-3 * np.abs(code).max())
    frame = images.read_image(ASSETS / "tubingen.jpg", max_side=48)
    batch = frames.to_model_input(frame[:32, :48])
    with torch.no_grad():
        ref = net_torch.transformer(torch.from_numpy(batch), torch.from_numpy(code),
                                    pad=False).numpy()
    assert np.abs(style.run(batch) - ref).max() <= 0.5


def test_paintings_of_one_net_share_its_session_and_differ(models_root, tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), images.read_image(STYLE))
    cv2.imwrite(str(tmp_path / "b.png"), 255 - images.read_image(STYLE))
    styles = runtime.load_styles([tmp_path / "a.png", tmp_path / "b.png"], "ort-cpu",
                                 folder=models_root / runtime.FOLDER)
    a, b = styles.values()
    assert a.net is b.net and not np.allclose(a.code, b.code)
    st = Stylizer(styles, warm_up=(24, 24))
    frame = images.read_image(ASSETS / "tubingen.jpg", max_side=40)
    first = st(frame)
    st.use("b")
    assert st(frame).shape == frame.shape and st.describe() == "any-painting net, ort-cpu (fp32)"
    st.use("a")
    assert np.array_equal(st(frame), first)  # the feeds follow the style, not the last use


def test_missing_or_mixed_up_graphs_are_refused(models_root, tmp_path):
    with pytest.raises(ModelError, match="rtstyle train-any"):
        runtime.find(tmp_path)
    swapped = tmp_path / "swapped"
    src = models_root / runtime.FOLDER
    swapped.mkdir()
    shutil.copy(src / "model.onnx", swapped / runtime.PREDICTOR_FILE)
    shutil.copy(src / runtime.PREDICTOR_FILE, swapped / "model.onnx")
    with pytest.raises(ModelError, match="wrong roles"):
        runtime.open_net(swapped, "ort-cpu")


def test_the_engine_uses_the_net_for_a_painting_when_one_is_installed(models_root, tmp_path,
                                                                       capsys, monkeypatch):
    monkeypatch.setenv("RTSTYLE_MODELS", str(models_root))
    photo = ASSETS / "tubingen.jpg"
    out = tmp_path / "out"
    code, stdout, err = cli(["image", photo, "--style-image", STYLE, "-o", out, "-q",
                             "--max-side", "64"], capsys)
    assert code == 0, err
    assert stdout.strip().endswith("with any-painting net, ort-cpu (fp32)")
    code, _, err = cli(["image", photo, "--style-image", STYLE, "-o", tmp_path / "o2", "-q",
                        "--any-painting", "net", "--wct-level", "1"], capsys)
    assert code == 1
    assert_one_line_error(err, "--wct-level, --wct-precision and --alpha apply to the WCT graphs")
    code, _, err = cli(["image", photo, "--style", models_root / runtime.FOLDER, "-o",
                        tmp_path / "o3", "-q"], capsys)
    assert code == 1
    assert_one_line_error(err, "is an any-painting net, not a trained style")


def test_without_a_net_auto_is_wct_and_net_says_how_to_get_one(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "empty"))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert not runtime.available()
    code, _, err = cli(["image", ASSETS / "tubingen.jpg", "--style-image", STYLE, "-o",
                        tmp_path / "o", "-q", "--any-painting", "net"], capsys)
    assert code == 1
    assert_one_line_error(err, "no any-painting net", "rtstyle train-any")


def test_the_runtime_runs_without_torch(models_root, tmp_path):
    out = run_without_torch(f"""
        from rtstyle import arbitrary, images
        from rtstyle.stylizer import Stylizer
        styles = arbitrary.load_styles([{str(STYLE)!r}], "ort-cpu")
        st = Stylizer(styles, warm_up=None)
        out = st(images.read_image({str(ASSETS / "tubingen.jpg")!r}, max_side=40))
        assert out.dtype.name == "uint8"
        print("ran", st.describe())
    """, tmp_path, models_root)
    assert "ran any-painting net, ort-cpu (fp32)" in out


def test_export_refuses_out_and_fp16(models_root, tmp_path):
    folder = models_root / runtime.FOLDER
    with pytest.raises(export.ExportError, match="drop --out"):
        export.export(folder, tmp_path / "x.onnx")
    with pytest.raises(export.ExportError, match="fp16 export of any-painting nets"):
        export.export(folder, fp16=True)
    meta = json.loads((folder / "model.json").read_text())
    assert meta["net"]["basis"] == 4


def test_a_graph_whose_signature_does_not_fit_its_role_is_refused(models_root):
    import onnx

    data = (models_root / runtime.FOLDER / runtime.PREDICTOR_FILE).read_bytes()
    model = onnx.load_from_string(data)
    props = {p.key: p.value for p in model.metadata_props}
    for bad, needle in (({"role": "transformer", "basis": 4}, "takes input, style_weights"),
                        ({"role": "predictor", "basis": 5}, "must be float32 (rows, 5)"),
                        ({"role": "painter", "basis": 4}, "invalid any-painting graph")):
        changed = export.with_metadata(data, {**props,
                                              onnx_model.KEY_ARBITRARY: json.dumps(bad)})
        with pytest.raises(ModelError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            onnx_model.read_contract_bytes(changed, "p.onnx")


def test_the_python_api_uses_an_installed_net_for_a_painting(models_root, monkeypatch):
    from rtstyle import StyleTransfer

    monkeypatch.setenv("RTSTYLE_MODELS", str(models_root))
    st = StyleTransfer(str(STYLE), backend="ort-cpu")
    frame = np.full((24, 32, 3), 90, np.uint8)
    assert st(frame).shape == frame.shape
    assert "any-painting net" in st._stylizer.describe()


def test_info_names_the_installed_net(models_root, capsys, monkeypatch):
    monkeypatch.setenv("RTSTYLE_MODELS", str(models_root))
    code, stdout, err = cli(["info", "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["any_painting_net"] == str(models_root / runtime.FOLDER)
