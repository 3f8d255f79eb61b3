"""``rtstyle image`` and ``rtstyle styles`` in-process on two tiny exported styles: output
names, formats and sizes, the control flags, the style library, and one-line errors for bad
models, flags and inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from rtstyle import metadata, onnx_model

from tests.helpers import ASSETS, assert_one_line_error, cli


# --- two tiny exported styles, trained once per session (cached in the session's tmp folder) --


def onnx_file(path: Path, channels: int = 3, rtstyle_metadata: bool = True) -> Path:
    """A hand-made Identity ONNX model with input 'input' float [N, channels, H, W]."""
    import onnx
    from onnx import TensorProto, helper

    dims = ["N", channels, "H", "W"]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "identity",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if rtstyle_metadata:
        helper.set_model_props(model, {onnx_model.KEY_FORMAT: onnx_model.FORMAT,
                                       onnx_model.KEY_IO: json.dumps(metadata.IO_CONTRACT)})
    onnx.save(model, str(path))
    return path


pytestmark = pytest.mark.usefixtures("no_user_styles")


@pytest.fixture
def library(tmp_path, monkeypatch, models) -> Path:
    lib = tmp_path / "library"
    for name, folder in models.items():
        shutil.copytree(folder, lib / name)
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    return lib


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    photo = cv2.imread(str(ASSETS / "tubingen.jpg"))
    small = cv2.resize(photo, (64, 48), interpolation=cv2.INTER_AREA)
    odd = cv2.resize(photo, (53, 37), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(d / "photo.jpg"), small)
    cv2.imwrite(str(d / "odd.png"), odd)
    rgb = cv2.cvtColor(odd, cv2.COLOR_BGR2RGB)
    Image.fromarray(rgb).convert("L").save(d / "grey.png")
    alpha = np.tile(np.linspace(0, 255, 53, dtype=np.uint8), (37, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(d / "rgba.png")
    cv2.imwrite(str(d / "tiny.png"), odd[:8, :8])
    folder = d / "folder"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.jpg"), small)
    cv2.imwrite(str(folder / "sub" / "b.png"), odd)
    (folder / "notes.txt").write_text("not an image")
    return {p.stem if p.is_file() else p.name: p for p in d.iterdir()}


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out"


def image(inp, style, out_dir, *extra):
    return ["image", inp, "--style", style, "-o", out_dir, "-q", *extra]


def read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


# --- what gets written -----------------------------------------------------------------------

@pytest.mark.parametrize("name, fmt, expected", [
    ("photo", None, "photo_starry.jpg"),
    ("odd", None, "odd_starry.png"),
    ("photo", "png", "photo_starry.png"),
    ("odd", "jpg", "odd_starry.jpg"),
    ("odd", "same", "odd_starry.png"),
])
def test_writes_stem_style_ext_at_the_input_size(capsys, models, inputs, out, name, fmt,
                                                   expected):
    extra = ["--format", fmt] if fmt else []
    code, stdout, err = cli(image(inputs[name], models["starry"], out, *extra), capsys)
    assert code == 0, err
    assert err == ""
    assert sorted(p.name for p in out.iterdir()) == [expected]
    src, dst = read(inputs[name]), read(out / expected)
    assert dst.shape == src.shape
    assert np.abs(dst.astype(int) - src).mean() > 5
    assert "wrote 1 image(s)" in stdout and "ort-cpu" in stdout


def test_a_folder_of_images(capsys, models, inputs, out):
    code, stdout, err = cli(image(inputs["folder"], models["bright"], out), capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a_bright.jpg", "b_bright.png"]
    assert read(out / "a_bright.jpg").shape == (48, 64, 3)
    assert read(out / "b_bright.png").shape == (37, 53, 3)
    assert "wrote 2 image(s)" in stdout


def test_several_inputs_and_the_onnx_file_itself(capsys, models, inputs, out):
    argv = ["image", inputs["photo"], inputs["odd"], "--style", models["starry"] / "model.onnx",
            "-o", out, "-q"]
    code, stdout, err = cli(argv, capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["odd_starry.png", "photo_starry.jpg"]


def test_inputs_with_the_same_stem_do_not_overwrite_each_other(capsys, models, inputs, tmp_path,
                                                               out):
    d = tmp_path / "in"
    (d / "day1").mkdir(parents=True)
    (d / "day2").mkdir()
    shutil.copy(inputs["photo"], d / "day1" / "img.jpg")
    shutil.copy(inputs["odd"], d / "day2" / "img.jpg")
    code, stdout, err = cli(image(d, models["starry"], out), capsys)
    written = list(out.iterdir()) if out.exists() else []
    if code == 0:
        assert len(written) == 2, (stdout, [p.name for p in written])
    else:
        assert_one_line_error(err)


def test_strength_zero_writes_the_input(capsys, models, inputs, out):
    code, _, err = cli(image(inputs["odd"], models["starry"], out, "--strength", "0"), capsys)
    assert code == 0, err
    assert np.array_equal(read(out / "odd_starry.png"), read(inputs["odd"]))


def test_the_two_styles_write_different_images(capsys, models, inputs, out):
    for style in models.values():
        assert cli(image(inputs["odd"], style, out), capsys)[0] == 0
    a, b = read(out / "odd_starry.png"), read(out / "odd_bright.png")
    assert np.abs(a.astype(int) - b).mean() > 5


@pytest.mark.parametrize("extra", [
    ["--preserve-color"],
    ["--blend", "BRIGHT", "--blend-weight", "0.3"],
    ["--blend", "BRIGHT", "--blend-weight", "1"],
    ["--scale", "0.5"],
    ["--max-side", "32"],
    ["--strength", "0.5", "--preserve-color", "--scale", "0.75"],
    ["--threads", "1", "--backend", "ort-cpu"],
    ["--backend", "auto"],
], ids=["preserve-color", "blend", "blend-1", "scale", "max-side", "combined", "threads",
        "auto"])
def test_control_flags_write_the_input_size(capsys, models, inputs, out, extra):
    extra = [str(models["bright"]) if a == "BRIGHT" else a for a in extra]
    code, stdout, err = cli(image(inputs["odd"], models["starry"], out, *extra), capsys)
    assert code == 0, err
    assert "ort-cpu" in stdout
    result = read(out / "odd_starry.png")
    assert result.shape == (37, 53, 3)
    assert np.abs(result.astype(int) - read(inputs["odd"])).mean() > 1


def test_the_torch_backend(capsys, models, inputs, out):
    pytest.importorskip("torch")
    code, stdout, err = cli(image(inputs["odd"], models["starry"], out, "--backend", "torch"),
                            capsys)
    assert code == 0, err
    assert "torch (cpu)" in stdout
    assert read(out / "odd_starry.png").shape == (37, 53, 3)


def test_fp16_picks_the_fp16_export_and_falls_back_to_fp32(capsys, models, inputs, tmp_path):
    folder = tmp_path / "starry"
    shutil.copytree(models["starry"], folder)
    code, stdout, err = cli(image(inputs["odd"], folder, tmp_path / "a", "--fp16"), capsys)
    assert code == 0, err
    assert "ort-cpu (fp32)" in stdout  # no fp16 file yet
    assert cli(["export", "--model", folder, "--fp16"], capsys)[0] == 0
    code, stdout, err = cli(image(inputs["odd"], folder, tmp_path / "b", "--fp16"), capsys)
    assert code == 0, err
    assert "ort-cpu (fp16)" in stdout
    a, b = read(tmp_path / "a" / "odd_starry.png"), read(tmp_path / "b" / "odd_starry.png")
    assert a.shape == b.shape == (37, 53, 3)
    assert np.abs(a.astype(int) - b).max() <= 3


@pytest.mark.parametrize("name", ["grey", "rgba"])
def test_grey_and_rgba_inputs_give_color_outputs(capsys, models, inputs, out, name):
    code, _, err = cli(image(inputs[name], models["starry"], out), capsys)
    assert code == 0, err
    assert read(out / f"{name}_starry.png").shape == (37, 53, 3)


# --- the style library -----------------------------------------------------------------------

def test_styles_lists_names_credit_and_licence(capsys, library):
    code, stdout, err = cli(["styles"], capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    starry = next(line for line in lines if line.startswith("starry "))
    assert "tiny" in starry
    assert "The Starry Night, Vincent van Gogh (1889)" in starry and "public domain" in starry
    bright = next(line for line in lines if line.startswith("bright "))
    assert "credit unknown" in bright and "licence unknown" in bright
    assert str(library / "starry") in stdout
    assert "not exported" not in stdout


def test_styles_marks_an_unexported_style(capsys, library):
    (library / "bright" / "model.onnx").unlink()
    code, stdout, _ = cli(["styles"], capsys)
    assert code == 0
    bright = next(line for line in stdout.splitlines() if line.startswith("bright "))
    assert "not exported" in bright and "rtstyle export" in bright


def test_styles_with_none_installed(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    code, stdout, err = cli(["styles"], capsys)
    assert code == 0, err
    assert "no styles installed" in stdout
    assert str(tmp_path / "no-styles") in stdout


def test_style_by_name(capsys, library, inputs, out):
    code, stdout, err = cli(image(inputs["photo"], "starry", out, "--blend", "bright"), capsys)
    assert code == 0, err
    assert [p.name for p in out.iterdir()] == ["photo_starry.jpg"]


def test_an_unknown_style_name_suggests_one(capsys, library, inputs, out):
    code, _, err = cli(image(inputs["photo"], "stary", out), capsys)
    assert code == 1
    assert_one_line_error(err, "unknown style 'stary'", "did you mean 'starry'")
    assert not out.exists()


def test_an_unknown_style_name_with_none_installed(capsys, inputs, out, monkeypatch):
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    code, _, err = cli(image(inputs["photo"], "starry", out), capsys)
    assert code == 1
    assert_one_line_error(err, "no style named 'starry'", "rtstyle styles")


def test_an_unexported_style_name_says_how_to_export(capsys, library, inputs, out):
    (library / "bright" / "model.onnx").unlink()
    code, _, err = cli(image(inputs["photo"], "bright", out), capsys)
    assert code == 1
    assert_one_line_error(err, "rtstyle export --model")


# --- errors ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_models(tmp_path_factory, models) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad_models")
    (d / "random.onnx").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8)
                                    .tobytes())
    data = (models["starry"] / "model.onnx").read_bytes()
    (d / "truncated.onnx").write_bytes(data[:len(data) // 2])
    (d / "empty.onnx").write_bytes(b"")
    onnx_file(d / "no_metadata.onnx", rtstyle_metadata=False)
    onnx_file(d / "one_channel.onnx", channels=1)
    (d / "run").mkdir()
    return {p.stem: p for p in d.iterdir()}


# (id, model, extra flags, input, exit code, words in the message)
ERRORS = [
    ("random-bytes", "random", [], "photo", 1, ["random.onnx", "not an ONNX model"]),
    ("truncated", "truncated", [], "photo", 1, ["truncated.onnx", "truncated"]),
    ("empty-file", "empty", [], "photo", 1, ["empty.onnx is empty"]),
    ("no-metadata", "no_metadata", [], "photo", 1, ["lacks rtstyle's contract metadata",
                                                     "rtstyle export"]),
    ("one-channel", "one_channel", [], "photo", 1, ["1 channels", "3-channel"]),
    ("folder-without-model", "run", [], "photo", 1, ["without model.onnx"]),
    ("missing-model", "nope.onnx", [], "photo", 1, ["model not found", "nope.onnx"]),
    ("ort-cuda", None, ["--backend", "ort-cuda"], "photo", 1,
     ["backend ort-cuda is not available", "available: ort-cpu"]),
    ("bogus-backend", None, ["--backend", "bogus"], "photo", 1, ["unknown backend 'bogus'"]),
    ("backend-typo", None, ["--backend", "ort-cp"], "photo", 1, ["did you mean 'ort-cpu'"]),
    ("strength", None, ["--strength", "2"], "photo", 1, ["strength", "between 0 and 1"]),
    ("negative-strength", None, ["--strength", "-0.5"], "photo", 1, ["strength"]),
    ("blend-weight", None, ["--blend-weight", "3"], "photo", 1, ["blend weight",
                                                                 "between 0 and 1"]),
    ("strength-not-a-number", None, ["--strength", "lots"], "photo", 2, ["--strength"]),
    ("scale-zero", None, ["--scale", "0"], "photo", 2, ["--scale", "> 0"]),
    ("scale-too-big", None, ["--scale", "9"], "photo", 1, ["scale"]),
    ("max-side-small", None, ["--max-side", "8"], "photo", 1, ["max-side", "16"]),
    ("max-side-zero", None, ["--max-side", "0"], "photo", 2, ["--max-side"]),
    ("negative-threads", None, ["--threads", "-1"], "photo", 2, ["--threads"]),
    ("bad-format", None, ["--format", "gif"], "photo", 2, ["--format"]),
    ("tiny-image", None, [], "tiny", 1, ["8x8", "16 px"]),
    ("missing-input", None, [], "missing.jpg", 1, ["image not found", "missing.jpg"]),
    ("unreadable-input", None, [], "notes.txt", 1, ["cannot read image", "notes.txt"]),
    ("blend-missing", None, ["--blend", "nope.onnx"], "photo", 1, ["model not found"]),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_bad_models_flags_and_inputs_are_one_line_errors(case, capsys, models, bad_models, inputs,
                                                         out, tmp_path):
    _, model, extra, inp, code, needles = case
    style = models["starry"] if model is None else bad_models.get(model, tmp_path / model)
    inp = inputs.get(inp) or (inputs["folder"] / inp if inp == "notes.txt" else tmp_path / inp)
    status, stdout, err = cli(image(inp, style, out, *extra), capsys)
    assert status == code
    assert_one_line_error(err, *needles)
    assert "wrote" not in stdout
    assert not out.exists() or list(out.iterdir()) == []


def test_out_must_be_a_folder(capsys, models, inputs, tmp_path):
    (tmp_path / "file").write_text("x")
    status, _, err = cli(image(inputs["photo"], models["starry"], tmp_path / "file"), capsys)
    assert status == 1
    assert_one_line_error(err, "-o/--output must be a folder", "existing file")


def test_a_folder_without_images(capsys, models, tmp_path, out):
    (tmp_path / "nothing").mkdir()
    status, _, err = cli(image(tmp_path / "nothing", models["starry"], out), capsys)
    assert status == 1
    assert_one_line_error(err, "no images found")


def test_an_image_larger_than_8k_is_refused_then_works_with_max_side(capsys, models, tmp_path):
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((4400, 7700, 3), np.uint8))  # 33.9 MP, above 8K UHD
    out = tmp_path / "o"
    code, _, err = cli(image(big, models["starry"], out), capsys)
    assert code == 1
    assert_one_line_error(err, "7700x4400", "8K", "--max-side")
    assert not list(out.glob("*")) if out.exists() else True
    code, _, err = cli(image(big, models["starry"], out, "--max-side", "256"), capsys)
    assert code == 0, err
    assert read(out / "big_starry.png").shape == (4400, 7700, 3)


# --- conventions: default style, -o, -, no silent overwrite, bad files -------------------------

def test_no_style_uses_the_default_and_says_which(capsys, inputs, tmp_path, monkeypatch, models):
    from rtstyle import styles

    lib = tmp_path / "lib"
    shutil.copytree(models["starry"], lib / f"{styles.DEFAULT}_lite")
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    out = tmp_path / "out"
    code, stdout, err = cli(["image", inputs["photo"], "-o", out, "-q"], capsys)
    assert code == 0, err
    assert err.strip() == (f"rtstyle: using the default style {styles.DEFAULT}_lite (pick "
                           "another with --style; 'rtstyle styles' lists them)")
    assert [p.name for p in out.iterdir()] == [f"photo_{styles.DEFAULT}_lite.jpg"]


def test_outputs_are_named_after_the_chosen_style(capsys, inputs, tmp_path, monkeypatch, models):
    lib = tmp_path / "lib"
    shutil.copytree(models["starry"], lib / "starry_night_lite")
    shutil.copytree(models["bright"], lib / "starry_night_lite_stable")
    monkeypatch.setenv("RTSTYLE_MODELS", str(lib))
    out = tmp_path / "out"
    for style in ("starry_night", "starry_night_lite_stable"):
        assert cli(image(inputs["photo"], style, out), capsys)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["photo_starry_night_lite.jpg",
                                                     "photo_starry_night_lite_stable.jpg"]


def test_an_existing_file_is_not_replaced_without_overwrite(capsys, models, inputs, out):
    assert cli(image(inputs["photo"], models["starry"], out), capsys)[0] == 0
    first = (out / "photo_starry.jpg").read_bytes()
    assert cli(image(inputs["photo"], models["bright"], out), capsys)[0] == 0
    code, stdout, _ = cli(image(inputs["photo"], models["starry"], out, "--strength", "0.5"),
                          capsys)
    assert code == 0
    assert "photo_starry.jpg exists: wrote photo_starry-2.jpg instead (--overwrite replaces)" \
        in stdout
    assert (out / "photo_starry.jpg").read_bytes() == first
    code, _, _ = cli(image(inputs["photo"], models["starry"], out, "--strength", "0.5",
                           "--overwrite"), capsys)
    assert code == 0 and (out / "photo_starry.jpg").read_bytes() != first
    assert sorted(p.name for p in out.iterdir()) == ["photo_bright.jpg", "photo_starry-2.jpg",
                                                     "photo_starry.jpg"]


def test_output_to_a_file_in_a_missing_folder(capsys, models, inputs, tmp_path):
    target = tmp_path / "new" / "deeper" / "result.png"
    code, stdout, err = cli(["image", inputs["photo"], "--style", models["starry"], "-o", target,
                             "-q"], capsys)
    assert code == 0, err
    assert read(target).shape == read(inputs["photo"]).shape
    assert "wrote 1 image(s)" in stdout


def test_standard_input_to_standard_output(models, inputs):
    import subprocess
    import sys

    from tests.helpers import ROOT

    done = subprocess.run([sys.executable, "-m", "rtstyle", "image", "-", "--style",
                           str(models["starry"]), "-o", "-", "-q"],
                          input=inputs["photo"].read_bytes(), capture_output=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    img = cv2.imdecode(np.frombuffer(done.stdout, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == read(inputs["photo"]).shape


def test_one_bad_photo_does_not_stop_the_others(capsys, models, inputs, tmp_path, out):
    d = tmp_path / "mixed"
    d.mkdir()
    shutil.copy(inputs["photo"], d / "a.jpg")
    (d / "b.jpg").write_bytes(b"not a jpeg")
    shutil.copy(inputs["odd"], d / "c.png")
    code, stdout, err = cli(image(d, models["starry"], out), capsys)
    assert code == 1
    assert_one_line_error(err, "1 of 3 images failed", "b.jpg")
    assert sorted(p.name for p in out.iterdir()) == ["a_starry.jpg", "c_starry.png"]
    assert "wrote 2 image(s)" in stdout


def test_a_run_that_fails_leaves_no_output_folder(capsys, models, tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "never"
    code, _, err = cli(image(tmp_path / "bad.jpg", models["starry"], out), capsys)
    assert code == 1
    assert_one_line_error(err, "cannot read image")
    assert not out.exists()


def test_the_old_out_flag_still_works_with_a_deprecation_line(capsys, models, inputs, out):
    code, _, err = cli(["image", inputs["photo"], "--style", models["starry"], "--out", out,
                        "-q"], capsys)
    assert code == 0
    assert err.strip() == ("rtstyle: --out is deprecated and will go in the next release; "
                           "use -o/--output")
    assert [p.name for p in out.iterdir()] == ["photo_starry.jpg"]


def test_json_is_one_record_per_input_with_errors_too(capsys, models, inputs, tmp_path, out):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    code, stdout, _ = cli(["image", inputs["photo"], bad, "--style", models["starry"], "-o", out,
                           "--json"], capsys)
    assert code == 1
    first, second = (json.loads(line) for line in stdout.splitlines())
    assert first == {"input": str(inputs["photo"]), "output": str(out / "photo_starry.jpg"),
                     "width": 64, "height": 48, "style": "starry", "backend": "ort-cpu (fp32)"}
    assert second["input"] == str(bad) and "cannot read image" in second["error"]
