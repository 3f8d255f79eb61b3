"""``rtstyle wct`` (universal style transfer with the untrained, seeded decoders of the
``wct_root`` fixture) and the real-time ``--style-image`` runtime in ``rtstyle image``,
``rtstyle video`` and ``rtstyle webcam --headless``: good runs on tiny real images and clips,
and one-line errors that write nothing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstyle import images

from tests.helpers import ASSETS, assert_one_line_error, cli, decode, make_clip

pytest.importorskip("torch")
av = pytest.importorskip("av")

PAINTING = ASSETS / "starry_night_van_gogh.jpg"


@pytest.fixture(autouse=True)
def models_root(wct_root, tmp_path, monkeypatch):
    """The fixture's WCT models are the only ones on the search path."""
    monkeypatch.setenv("RTSTYLE_MODELS", str(wct_root))
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def pics(tmp_path_factory) -> dict[str, Path]:
    """A photo crop of an odd size, paintings, a flat colour, a tiny image and masks."""
    d = tmp_path_factory.mktemp("wct_pics")
    photo = cv2.imread(str(ASSETS / "tubingen.jpg"))
    paint = cv2.imread(str(PAINTING))
    paint = cv2.resize(paint, (90, 71), interpolation=cv2.INTER_AREA)
    out = {"content": (d / "content.png", photo[100:253, 40:261]),  # 221x153
           "small": (d / "small.png", cv2.resize(photo, (57, 41), interpolation=cv2.INTER_AREA)),
           "style": (d / "style.png", paint),
           "inverted": (d / "inverted.png", 255 - paint[::-1]),
           "flat": (d / "flat.png", np.full((40, 48, 3), (40, 150, 210), np.uint8)),
           "tiny": (d / "tiny.png", paint[:3, :5])}
    mask = np.zeros((100, 160), np.uint8)  # another size and aspect than the content
    mask[:, 80:] = 255
    out["mask"] = (d / "mask.png", mask)
    out["dark"] = (d / "dark.png", np.full((30, 30), 20, np.uint8))
    out["a"], out["b"] = (d / "a.jpg", paint), (d / "b.jpg", 255 - paint[::-1])  # JPEG paintings
    for path, img in out.values():
        cv2.imwrite(str(path), img)
    return {k: p for k, (p, _) in out.items()}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("wct_clip") / "clip.mp4", frames=8, size=(48, 32))


def wct(capsys, wct_root, *argv):
    return cli(["wct", "--decoders", wct_root / "wct", "--device", "cpu", *argv], capsys)


def read(path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None, path
    return img


def diff(a, b) -> float:
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


# --- rtstyle wct -----------------------------------------------------------------------------

@pytest.mark.parametrize("levels", ["1", "3,2,1"])
def test_wct_output_has_the_scaled_content_size(capsys, wct_root, pics, tmp_path, levels):
    out = tmp_path / "out.png"
    code, stdout, err = wct(capsys, wct_root, "--content", pics["content"], "--style",
                            pics["style"], "--levels", levels, "--size", "64", "-o", out)
    assert code == 0, err
    expected = images.fit_within(read(pics["content"]), 64).shape  # 221x153 -> 64x44
    assert read(out).shape == expected == (44, 64, 3)
    line = stdout.strip()
    assert line.startswith(f"wrote {out} (64x44) in ")
    assert f" on cpu; levels {levels}: decoders " in line
    assert all(f"relu{lv}_1" in line for lv in levels.split(","))
    assert diff(read(out), images.fit_within(read(pics["content"]), 64)) > 1


def test_wct_without_levels_runs_the_decoders_that_meet_their_floor(capsys, wct_root, pics,
                                                                    tmp_path):
    import json
    import shutil

    root = tmp_path / "models"
    shutil.copytree(wct_root, root)
    for level, psnr in ((1, 40.0), (2, 20.0), (3, 25.0)):
        file = root / "wct" / f"level{level}" / "model.json"
        meta = json.loads(file.read_text())
        meta["evaluation"]["psnr_db"] = psnr
        file.write_text(json.dumps(meta))
    out = tmp_path / "out.png"
    code, stdout, err = wct(capsys, root, "--content", pics["content"], "--style", pics["style"],
                            "--size", "64", "-o", out)
    assert code == 0, err
    line = stdout.strip()
    assert " on cpu; levels 3,1: decoders relu3_1 25.0 dB, relu1_1 40.0 dB (left out, below " \
           "their floors: relu5_1 (no evaluated decoder), relu4_1 (no evaluated decoder), " \
           "relu2_1 20.0 dB (floor 28); --levels to use them)" in line, line
    assert read(out).shape == (44, 64, 3)


def test_wct_without_levels_and_no_good_decoder_is_a_one_line_error(capsys, wct_root, pics,
                                                                     tmp_path):
    out = tmp_path / "out.png"  # the fixture's untrained decoders record 1 dB
    code, _, err = wct(capsys, wct_root, "--content", pics["content"], "--style", pics["style"],
                       "--size", "64", "-o", out)
    assert code != 0
    assert_one_line_error(err, "no WCT decoder reconstructs photos well enough", "--levels 3,2,1")
    assert not out.exists()


def test_wct_never_enlarges_the_content(capsys, wct_root, pics, tmp_path):
    out = tmp_path / "out.png"
    code, _, err = wct(capsys, wct_root, "--content", pics["small"], "--style", pics["style"],
                       "--levels", "2,1", "--size", "512", "-o", out)
    assert code == 0, err
    assert read(out).shape == (41, 57, 3)


def test_texture_synthesis_is_size_by_size_and_refuses_a_content(capsys, wct_root, pics,
                                                                 tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    base = ["--texture", "--style", pics["style"], "--levels", "2,1", "--size", "40"]
    assert wct(capsys, wct_root, *base, "-o", a)[0] == 0
    assert wct(capsys, wct_root, *base, "-o", b)[0] == 0
    assert wct(capsys, wct_root, *base, "--seed", "5", "-o", c)[0] == 0
    assert read(a).shape == (40, 40, 3)
    assert np.array_equal(read(a), read(b))  # same seed, same texture
    assert diff(read(a), read(c)) > 1  # another seed, another texture
    out = tmp_path / "d.png"
    code, stdout, err = wct(capsys, wct_root, *base, "--content", pics["content"], "-o", out)
    assert code == 1 and stdout == ""
    assert_one_line_error(err, "--texture", "drop --content")
    assert not out.exists()


def stylized(capsys, wct_root, content, out, levels, *argv):
    """``rtstyle wct`` at alpha 1 and 64 px into ``out``, which must succeed; the image."""
    code, _, err = wct(capsys, wct_root, "--content", content, "--levels", levels,
                       "--alpha", "1", "--size", "64", "-o", out, *argv)
    assert code == 0, err
    return read(out)


def test_style_mixtures_follow_the_weights(capsys, wct_root, pics, tmp_path):
    def run(name, *styles_and_weights):
        return stylized(capsys, wct_root, pics["content"], tmp_path / f"{name}.png", "1",
                        *styles_and_weights)

    s1, s2 = ["--style", pics["style"]], ["--style", pics["inverted"]]
    one, two = run("one", *s1), run("two", *s2)
    assert np.array_equal(run("w10", *s1, *s2, "--style-weights", "1,0"), one)
    assert np.array_equal(run("w01", *s1, *s2, "--style-weights", "0,2"), two)
    even = run("even", *s1, *s2, "--style-weights", "1,1")
    assert diff(even, one) > 2 and diff(even, two) > 2
    assert np.array_equal(run("default", *s1, *s2), even)  # default: equal weights
    out = tmp_path / "bad.png"
    code, stdout, err = wct(capsys, wct_root, "--content", pics["content"], *s1, *s2,
                            "--style-weights", "1,2,3", "-o", out)
    assert code == 1 and stdout == ""
    assert_one_line_error(err, "3 --style-weights for 2 --style images")
    code, _, err = wct(capsys, wct_root, "--content", pics["content"], *s1, *s2,
                       "--style-weights", "0,0", "--levels", "1", "-o", out)
    assert code == 1
    assert_one_line_error(err, "style weights must be >= 0, not all 0")
    assert not out.exists()


def test_a_mask_paints_each_style_into_its_region(capsys, wct_root, pics, tmp_path):
    def run(name, *argv):
        return stylized(capsys, wct_root, pics["content"], tmp_path / f"{name}.png", "2,1",
                        *argv)

    s1, s2 = ["--style", pics["style"]], ["--style", pics["flat"]]
    both = run("both", *s1, *s2, "--mask", pics["mask"])  # 160x100 mask on a 64x44 content
    only1, only2 = run("only1", *s1), run("only2", *s2)
    assert both.shape == only1.shape == (44, 64, 3)
    left, right = both[:, 4:28], both[:, 36:60]  # away from the border between the regions
    assert diff(left, only1[:, 4:28]) < diff(left, only2[:, 4:28])
    assert diff(right, only2[:, 36:60]) < diff(right, only1[:, 36:60])
    assert diff(left, only2[:, 4:28]) > 5 and diff(right, only1[:, 36:60]) > 5
    # the flat style's region is much smoother than the painting's
    assert right.std(axis=(0, 1)).mean() < left.std(axis=(0, 1)).mean()


@pytest.mark.parametrize("argv, needle", [
    (["--mask", "dark"], "the mask has no pixels for style 2 of 2"),
    (["--mask", "mask", "--style-weights", "1,1"], "use either --mask"),
])
def test_mask_errors(capsys, wct_root, pics, tmp_path, argv, needle):
    out = tmp_path / "out.png"
    argv = [pics.get(a, a) for a in argv]
    code, stdout, err = wct(capsys, wct_root, "--content", pics["content"], "--style",
                            pics["style"], "--style", pics["inverted"], "--levels", "1",
                            "--size", "64", "-o", out, *argv)
    assert code == 1 and stdout == ""
    assert_one_line_error(err, needle)
    assert not out.exists()


def test_a_mask_needs_two_styles(capsys, wct_root, pics, tmp_path):
    code, _, err = wct(capsys, wct_root, "--content", pics["content"], "--style", pics["style"],
                       "--mask", pics["mask"], "-o", tmp_path / "o.png")
    assert code == 1
    assert_one_line_error(err, "--mask needs two or more --style images")


def test_a_flat_style_image_works_and_flattens_the_result(capsys, wct_root, pics, tmp_path):
    flat, painted = tmp_path / "flat.png", tmp_path / "painted.png"
    for style, out in ((pics["flat"], flat), (pics["style"], painted)):
        code, _, err = wct(capsys, wct_root, "--content", pics["content"], "--style", style,
                           "--levels", "1", "--alpha", "1", "--size", "64", "-o", out)
        assert code == 0, err  # a single colour: a singular covariance, floored
    img = read(flat)
    assert img.shape == (44, 64, 3)
    assert img.std(axis=(0, 1)).mean() < 0.5 * read(painted).std(axis=(0, 1)).mean()


@pytest.mark.parametrize("argv, needle", [
    (["--style", "tiny", "--levels", "3"], "style image 1 is 5x3: too small for level 3"),
    (["--style", "style", "--style-size", "6", "--levels", "3,1"],
     "raise --style-size or leave level 3 out with --levels"),
    (["--style", "style", "--levels", "6"], "WCT level must be one of 1..5"),
    (["--style", "style", "--levels", "0"], "WCT level must be one of 1..5"),
    (["--style", "style", "--levels", "a,b"], "levels must be numbers 1..5"),
    (["--style", "style", "--levels", ","], "at least one WCT level"),
    (["--style", "style", "--alpha", "1.5"], "alpha must be between 0 and 1, got 1.5"),
    (["--style", "style", "--alpha", "-0.1"], "alpha must be between 0 and 1, got -0.1"),
    (["--style", "style", "--levels", "4"], "no WCT decoder for level 4"),
    (["--style", "style", "--decoders", "missing"], "no WCT decoder for level 1"),
    (["--style", "missing.png"], "image not found"),
    (["--style", "style", "--size", "8"], "size must be at least 16"),
])
def test_bad_wct_inputs_are_one_line_errors(capsys, wct_root, pics, tmp_path, argv, needle):
    out = tmp_path / "out.png"
    argv = [pics.get(a, tmp_path / a if a in ("missing", "missing.png") else a) for a in argv]
    if "--levels" not in argv:
        argv += ["--levels", "1"]
    code, stdout, err = wct(capsys, wct_root, "--content", pics["content"], "--size", "64",
                            "-o", out, *argv)
    assert code == 1 and stdout == ""
    assert_one_line_error(err, needle)
    assert not out.exists()


def test_wct_without_content_or_texture_is_an_error(capsys, wct_root, pics, tmp_path):
    code, _, err = wct(capsys, wct_root, "--style", pics["style"], "-o", tmp_path / "o.png")
    assert code == 1
    assert_one_line_error(err, "--content is required")


# --- --style-image: the real-time runtime ----------------------------------------------------

@pytest.mark.parametrize("level", [1, 2])
def test_image_with_a_painting_writes_a_png(capsys, pics, tmp_path, level):
    out_dir = tmp_path / "styled"
    code, stdout, err = cli(["image", pics["small"], "--style-image", pics["style"],
                             "--wct-level", level, "-o", out_dir, "-q"], capsys)
    assert code == 0, err
    target = out_dir / "small_style.png"
    assert sorted(p.name for p in out_dir.iterdir()) == [target.name]
    img = read(target)
    assert img.shape == (41, 57, 3) and diff(img, read(pics["small"])) > 1
    assert stdout.strip() == f"wrote 1 image(s) to {out_dir} with WCT relu{level}_1, ort-cpu (fp32)"


def test_image_with_a_chain_of_levels(capsys, pics, tmp_path):
    outs = {}
    for levels in ("2,1", "1,2", "2"):
        out_dir = tmp_path / levels
        code, stdout, err = cli(["image", pics["small"], "--style-image", pics["style"],
                                 "--wct-level", levels, "-o", out_dir, "-q"], capsys)
        assert code == 0, err
        (f,) = out_dir.iterdir()
        outs[levels] = read(f)
        if levels != "2":
            assert stdout.strip().endswith("with WCT relu2_1 (fp32) -> relu1_1 (fp32), ort-cpu")
    assert np.array_equal(outs["2,1"], outs["1,2"])  # always run coarse to fine
    assert diff(outs["2,1"], outs["2"]) > 1


def test_image_alpha_zero_is_the_same_for_any_painting(capsys, pics, tmp_path):
    def run(style, alpha):
        out = tmp_path / f"{Path(style).stem}_{alpha}"
        code, _, err = cli(["image", pics["small"], "--style-image", style, "--wct-level", "1",
                            "--alpha", alpha, "-o", out, "-q"], capsys)
        assert code == 0, err
        (f,) = out.iterdir()
        return read(f)

    assert np.array_equal(run(pics["style"], "0"), run(pics["inverted"], "0"))
    assert diff(run(pics["style"], "1"), run(pics["inverted"], "1")) > 3


def test_video_with_a_painting_keeps_every_frame(capsys, clip, pics, tmp_path):
    dst = tmp_path / "styled.mp4"
    code, stdout, err = cli(["video", clip, "-o", dst, "--style-image", pics["style"], "--wct-level",
                             "1", "-q"], capsys)
    assert code == 0, err
    assert stdout.startswith(f"wrote {dst}: 8 frames 48x32 at 25 fps")
    assert "WCT relu1_1, ort-cpu (fp32)" in stdout
    styled, times = decode(dst)
    source, source_times = decode(clip)
    assert len(styled) == len(source) == 8
    assert times == pytest.approx(source_times)
    assert all(f.shape == (32, 48, 3) for f in styled)
    assert np.mean([diff(a, b) for a, b in zip(styled, source)]) > 5


def test_webcam_headless_with_two_paintings(capsys, clip, pics, tmp_path, wct_root):
    from rtstyle.wct_realtime import WCTStyle
    from rtstyle.stylizer import Stylizer

    out = tmp_path / "live.mp4"
    code, stdout, err = cli(["webcam", "--source", clip, "--loop", "--headless", "--output", out,
                             "--frames", "6", "--style-image", pics["a"], "--style-image",
                             pics["b"], "--wct-level", "1"], capsys)
    assert code == 0, err
    assert "styles: a, b on WCT relu1_1, ort-cpu (fp32)" in stdout
    assert "6 frames in " in stdout and "ended by frame limit" in stdout
    assert f"recording {out}" in stdout
    shown, _ = decode(out)
    assert len(shown) == 6 and all(f.shape == (32, 48, 3) for f in shown)
    # what was shown is the first painting's style (the active one), not the second's: each
    # shown frame is nearest to some clip frame stylised with 'a'
    source, _ = decode(clip)
    level1 = wct_root / "wct" / "level1"
    expected = {name: Stylizer({name: WCTStyle(images.read_image(pics[name]), 1, level1,
                                               backend="ort-cpu")}, warm_up=None).many(source)
                for name in ("a", "b")}
    for f in shown:
        near = {name: min(diff(f, e) for e in frames) for name, frames in expected.items()}
        assert near["a"] < 0.5 * near["b"], near  # (H.264 4:2:0 of noisy frames: not exact)


def test_webcam_with_a_painting_and_the_wct_level_of_a_missing_graph(capsys, clip, pics,
                                                                      tmp_path):
    out = tmp_path / "live.mp4"
    code, _, err = cli(["webcam", "--source", clip, "--headless", "--output", out, "--frames",
                        "2", "--style-image", pics["style"], "--wct-level", "3"], capsys)
    assert code == 1
    assert_one_line_error(err, "no real-time WCT model for level 3", "rtstyle export")
    assert not out.exists()


@pytest.mark.parametrize("argv, needle", [
    (["--style", "x", "--style-image", "style"], "one of them"),
    (["--style-image", "style", "--alpha", "2"], "alpha must be between 0 and 1, got 2.0"),
    (["--style-image", "style", "--wct-level", "4"], "rtstyle export --model models/wct/level4"),
    (["--style-image", "style", "--wct-level", "6"], "WCT level must be one of 1..5"),
    (["--style-image", "style", "--wct-level", "2,0"], "WCT level must be one of 1..5"),
    (["--style-image", "style", "--style-image", "inverted"], "one --style-image here"),
    (["--style-image", "style", "--wct-level", "1", "--fp16"], "--fp16 is for trained styles"),
    (["--style-image", "style", "--wct-level", "1", "--wct-precision", "int8"],
     "no int8 real-time WCT graph for level 1"),
    (["--style-image", "tiny", "--wct-level", "2"], "a larger painting or a lower --wct-level"),
    (["--style-image", "missing.png", "--wct-level", "1"], "image not found"),
])
def test_bad_style_image_runs_are_one_line_errors(capsys, pics, tmp_path, argv, needle):
    out_dir = tmp_path / "styled"
    argv = [pics.get(a, tmp_path / a if a == "missing.png" else a) for a in argv]
    code, stdout, err = cli(["image", pics["small"], "-o", out_dir, "-q", *argv], capsys)
    assert code == 1 and stdout == ""
    assert_one_line_error(err, needle)
    assert not out_dir.exists()


def test_a_level_list_that_is_not_numbers_is_a_usage_error(capsys, pics, tmp_path):
    code, _, err = cli(["image", pics["small"], "-o", tmp_path / "o", "--style-image",
                        pics["style"], "--wct-level", "3,x"], capsys)
    assert code == 2
    assert_one_line_error(err, "expected levels like 3 or 3,2,1, got '3,x'")


def test_wct_flags_without_a_painting_are_errors(capsys, pics, tmp_path, clip):
    code, _, err = cli(["video", clip, "-o", tmp_path / "o.mp4", "--style", "x", "--alpha", "0.5"],
                       capsys)
    assert code == 1
    assert_one_line_error(err, "--wct-level, --wct-precision and --alpha apply to --style-image")
    assert not (tmp_path / "o.mp4").exists()


# --- a WCT model used as a trained style, or with a torch backend ----------------------------

def test_a_wct_folder_as_style_points_at_style_image(capsys, wct_root, pics, tmp_path):
    folder = wct_root / "wct" / "level1"  # already exported
    code, _, err = cli(["image", pics["small"], "--style", folder, "-o", tmp_path / "o",
                        "-q"], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "--style-image" in err and "export it first" not in err


def test_a_wct_graph_as_style_is_refused_with_a_model_error(capsys, wct_root, pics, tmp_path):
    graph = wct_root / "wct" / "level1" / "realtime.onnx"
    code, _, err = cli(["image", pics["small"], "--style", graph, "-o", tmp_path / "o",
                        "-q"], capsys)
    assert code == 1
    assert_one_line_error(err)
    assert "ValueError" not in err and "--style-image" in err


def test_a_torch_backend_with_a_painting_names_the_backend(capsys, pics, tmp_path):
    code, _, err = cli(["image", pics["small"], "--style-image", pics["style"], "--wct-level",
                        "1", "--backend", "torch", "-o", tmp_path / "o", "-q"], capsys)
    assert code == 1
    assert_one_line_error(err, "backend")
    assert "not a style net" not in err


def test_a_painting_given_to_style_takes_the_any_painting_path(capsys, pics, tmp_path):
    out_dir = tmp_path / "styled"
    code, stdout, err = cli(["image", pics["small"], "--style", pics["style"], "--wct-level", 1,
                             "-o", out_dir, "-q"], capsys)
    assert code == 0, err
    assert err.strip() == (f"rtstyle: {pics['style']} is a painting: stylising with the "
                           "any-painting path (train a net for it with 'rtstyle train')")
    assert [p.name for p in out_dir.iterdir()] == ["small_style.png"]
    assert "WCT relu1_1" in stdout


def test_wct_numbers_an_existing_output_and_writes_png_to_standard_output(capsysbinary, wct_root,
                                                                          pics, tmp_path):
    from rtstyle.cli import main

    out = tmp_path / "o.png"
    argv = ["wct", "--decoders", wct_root / "wct", "--device", "cpu", "--content", pics["small"],
            "--style", pics["style"], "--levels", "1", "--size", "64"]

    def run(*extra):
        code = main([str(a) for a in [*argv, *extra]])
        captured = capsysbinary.readouterr()
        return code, captured.out, captured.err.decode()

    assert run("-o", out)[0] == 0
    code, stdout, _ = run("-o", out)
    assert code == 0 and f"wrote {tmp_path / 'o-2.png'} ({out} exists" in stdout.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o-2.png", "o.png"]
    code, stdout, _ = run("-o", out, "--overwrite")
    assert code == 0 and f"wrote {out} (" in stdout.decode()
    code, stdout, err = run("-o", "-")
    assert code == 0 and "wrote standard output" in err
    assert cv2.imdecode(np.frombuffer(stdout, np.uint8), cv2.IMREAD_COLOR).shape[2] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o-2.png", "o.png"]


def test_webcam_takes_a_painting_in_style_and_writes_with_o(capsys, clip, pics, tmp_path,
                                                           wct_root):
    out = tmp_path / "new" / "live.mp4"
    code, stdout, err = cli(["webcam", "--source", clip, "--loop", "--headless", "-o", out,
                             "--frames", "3", "--style", pics["a"], "--wct-level", "1"], capsys)
    assert code == 0, err
    assert err.strip() == (f"rtstyle: {pics['a']} is a painting: stylising with the any-painting "
                           "path (train a net for it with 'rtstyle train')")
    assert "styles: a on WCT relu1_1" in stdout
    assert len(decode(out)[0]) == 3
