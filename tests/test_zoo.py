"""The style zoo's recipe (export/zoo.toml) and builder: a real tiny build from recipe to
installed, listed, exported and evaluated model folder, and the contact sheet."""

from __future__ import annotations

import contextlib
import re
import io
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstyle import images, metadata, onnx_model, styles
from rtstyle.cli import main
from rtstyle.errors import ConfigError, InputError
from rtstyle import zoo
from tests.helpers import ASSETS, ROOT, STYLE, make_clip

RECIPE = ROOT / "export" / "zoo.toml"
SHARED_STYLES = ROOT.parent / "shared" / "data" / "styles"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "zoo.toml"
    p.write_text(text)
    return p


def in_process(cmd: list[str]) -> None:
    """Runs ``python -m rtstyle ...`` in this process (the same code, without a new torch
    import per step); a failure raises like subprocess.run(check=True)."""
    assert cmd[1:3] == ["-m", "rtstyle"], cmd
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(cmd[3:])
    if code != 0:
        print(err.getvalue())  # shown by pytest when a test fails
        raise subprocess.CalledProcessError(code, cmd, stderr=err.getvalue())


def test_the_shipped_recipe_has_six_public_domain_paintings_with_credits():
    z = zoo.load(RECIPE)
    assert len(z.styles) >= 6
    assert len({s.key for s in z.styles}) == len(z.styles)
    for s in z.styles:
        assert s.license == "public domain" and s.credit and s.style_weight > 0
        assert set(s.nets) == {"full", "lite"}
    assert z.steps == zoo.PAPER_STEPS and z.evaluate_size == 512
    assert 50 in z.evaluate_iterations and 100 in z.evaluate_iterations
    if SHARED_STYLES.is_dir():  # the paintings are in the data folder, not in the repository
        assert all((SHARED_STYLES / s.file).is_file() for s in z.styles)


@pytest.mark.parametrize("text, needle", [
    ("[styles.a]\ncredit = 'x'\n", "'file' is missing"),
    ("[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\nnets = ['huge']\n", "nets must be among"),
    ("[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\nstyle_weight = -1\n", "must be positive"),
    ("[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\ncolour = 1\n", "unknown settings colour"),
    ("[defaults]\nstep = 3\n[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\n", "unknown settings"),
    ("[defaults]\nsteps = 'many'\n[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\n", "must be a int"),
    ("[defaults]\nsteps = 1\n", "lists no styles"),
    ("[styles.a\n", "not valid TOML"),
    ("[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\nstyle_size = 8\n", "at least 16"),
    ("[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\ninit = 'b'\n", "init must name a zoo style"),
    ("[defaults.finish]\nimage_size = 512\n[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\n",
     r"needs exactly image_size, batch_size, steps .*missing: batch_size, steps"),
    ("[defaults.finish]\nimage_size = 8\nbatch_size = 1\nsteps = 1\n[styles.a]\nfile = 'a.jpg'\n"
     "credit = 'x'\n", "image_size must be at least 16"),
    ("[defaults]\nfinish = 512\n[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\n", "must be a table"),
])
def test_a_bad_recipe_is_refused_with_the_reason(tmp_path, text, needle):
    with pytest.raises(ConfigError, match=needle):
        zoo.load(write(tmp_path, text))


def test_a_missing_recipe_and_an_unknown_style_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="cannot read the zoo recipe"):
        zoo.load(tmp_path / "nope.toml")
    z = zoo.load(RECIPE)
    with pytest.raises(InputError, match="not in the zoo: mona_lisa"):
        z.select(["mona_lisa"])
    assert [s.key for s in z.select(["great_wave_hokusai"])] == ["great_wave_hokusai"]


def test_a_style_can_start_from_another_installed_net_at_its_own_stroke_scale(tmp_path, photos):
    z = zoo.load(write(tmp_path, TINY_ZOO + """
[styles.wave]
file = "starry.jpg"
credit = "x"
style_size = 384
init = "starry"
nets = ["tiny"]
"""))
    wave, opts = z.styles[1], options(tmp_path, photos)
    assert (wave.style_size, wave.init) == (384, "starry")
    with pytest.raises(InputError, match="build starry first"):
        zoo.train_command(z, wave, "tiny", opts)
    start = opts.install / "starry_tiny"
    start.mkdir(parents=True)
    (start / "model.json").write_text("{}")
    cmd = zoo.train_command(z, wave, "tiny", opts)
    assert cmd[cmd.index("--init") + 1] == str(start)
    assert cmd[cmd.index("--style-size") + 1] == "384"
    assert "--init" not in zoo.train_command(z, z.styles[0], "tiny", opts)


def options(tmp_path: Path, photos: Path, **kw) -> zoo.BuildOptions:
    styles_dir = tmp_path / "paintings"
    styles_dir.mkdir(exist_ok=True)
    cv2.imwrite(str(styles_dir / "starry.jpg"), cv2.imread(str(STYLE)))
    held = tmp_path / "held_out"
    held.mkdir(exist_ok=True)
    photo = images.read_image(ASSETS / "tubingen.jpg")
    cv2.imwrite(str(held / "a.png"), photo[:60, :80])
    cv2.imwrite(str(held / "b.png"), photo[-48:, -64:])
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    if not (videos / "clip.mp4").is_file():
        make_clip(videos / "clip.mp4", frames=6, size=(64, 48))
    base = dict(styles_dir=styles_dir, data=photos, photos_dir=held, videos_dir=videos,
                runs=tmp_path / "runs",
                install=tmp_path / "models", steps=2, device="cpu", workers=0,
                evaluate_size=32, evaluate_iterations=(1, 2), quiet=True, checkpoint_every=1,
                extra_train_args=("--image-size", "32", "--batch-size", "2",
                                  "--preview-every", "0"))
    return zoo.BuildOptions(**{**base, **kw})


TINY_ZOO = """
[defaults]
steps = 2
evaluate_images = ["a.png", "b.png"]
sheet_images = ["a.png", "b.png"]
flicker_video = "clip.mp4"
flicker_frames = 5
[styles.starry]
file = "starry.jpg"
style_name = "starry_night_van_gogh"
credit = "The Starry Night, Vincent van Gogh (1889)"
style_weight = 20
nets = ["tiny"]
"""


def test_train_commands_start_resume_or_skip_a_run(tmp_path, photos):
    z = zoo.load(write(tmp_path, TINY_ZOO))
    s, opts = z.styles[0], options(tmp_path, photos)
    cmd = zoo.train_command(z, s, "tiny", opts)
    assert cmd[:4] == [opts.python, "-m", "rtstyle", "train"]
    assert "--resume" not in cmd and cmd[cmd.index("--style-weight") + 1] == "20.0"
    assert cmd[cmd.index("--style-credit") + 1] == s.credit
    run = zoo.run_folder(opts, s, "tiny")
    run.mkdir(parents=True)
    (run / "checkpoint.pt").write_bytes(b"")
    resumed = zoo.train_command(z, s, "tiny", opts)
    assert "--resume" in resumed and "--style" not in resumed and "--steps" in resumed
    missing = options(tmp_path, photos, styles_dir=tmp_path / "nowhere")
    (run / "checkpoint.pt").unlink()
    with pytest.raises(InputError, match="style image not found"):
        zoo.train_command(z, s, "tiny", missing)


def test_a_tiny_zoo_is_built_installed_listed_and_drawn(tmp_path, photos, only_named_styles,
                                                        monkeypatch):
    z = zoo.load(write(tmp_path, TINY_ZOO))
    s, opts = z.styles[0], options(tmp_path, photos)
    built = zoo.build(z, s, "tiny", opts, run=in_process)
    folder = tmp_path / "models" / "starry_tiny"
    assert built.folder == folder and built.steps == 2 and built.fp16
    for name in ("model.json", "model.safetensors", "model.onnx", "model.fp16.onnx", "style.jpg"):
        assert (folder / name).is_file(), name
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "np") as f:  # stored in float16
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"float16"}
    assert not (folder / "preview.jpg").exists()  # it shows training photos
    meta = metadata.read(folder)
    assert meta["zoo"] == {"key": "starry", "label": zoo.label(meta["training"]),
                           "complete": False, "style_weight": 20.0}
    assert meta["recipe"]["config"]["loss"]["style_weight"] == 20.0
    assert re.match(r"trained: 2 steps \(\d+ min\) on cpu", meta["zoo"]["label"]), meta["zoo"]
    assert meta["zoo"]["label"].endswith("; the paper's schedule is 40,000 steps")
    ev = meta["evaluation"]
    assert [r["image"] for r in ev["images"]] == ["a.png", "b.png"]
    assert ev["size"] == 32 and set(ev["images"][0]["gatys_loss"]) == {"1", "2"}
    assert ev["bar"]["gatys_iterations"] == 50 and ev["bar"]["met"] is None  # 50 never reached
    assert ev["command"].startswith("rtstyle evaluate --model ")
    assert set(ev["images"][0]["artifacts"]) == {"checkerboard", "checkerboard_photo",
                                                 "edge_shift", "edge_shift_photo"}
    fl = ev["stability"]
    assert fl["video"] == "clip.mp4" and fl["frames"] == 5
    assert fl["warping_error"] >= 0 and fl["original_warping_error"] >= 0
    assert fl["command"].startswith("rtstyle flicker --model ")
    # The ONNX model card carries the same evaluation (the export comes after it).
    card = onnx_model.read_contract(folder / "model.onnx").card
    assert card["evaluation"]["images"] == ev["images"]

    # Installed: `rtstyle styles` lists it with its label; a rebuild reuses the finished run.
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "models"))
    assert [x.name for x in styles.installed()] == ["starry_tiny"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["styles"]) == 0
    assert "starry_tiny" in out.getvalue() and re.search(r"trained: 2 steps \(\d+ min\)",
                                                      out.getvalue()), out.getvalue()
    seen = []
    zoo.build(z, s, "tiny", opts, run=lambda c: (seen.append(c[3]), in_process(c)))
    # no training; the float16 weights are not rewritten, so the evaluation is reused
    assert seen == ["export", "export", "flicker", "export", "export"]
    assert metadata.read(folder)["evaluation"]["images"] == ev["images"]
    (zoo.run_folder(opts, s, "tiny") / "model" / "model.safetensors").touch()  # new weights
    seen.clear()
    zoo.build(z, s, "tiny", opts, run=lambda c: (seen.append(c[3]), in_process(c)))
    assert seen == ["export", "evaluate", "export", "flicker", "export", "export"]

    sheet = zoo.contact_sheet([folder], [opts.photos_dir / "a.png", opts.photos_dir / "b.png"],
                              tmp_path / "sheet.png", cell=64)
    img = images.read_image(sheet)
    eq = ev["images"][0]["equivalent_iterations"]
    assert zoo._caption(meta, "a.png") == ("tiny net" if eq is None else
                                           f"tiny net = Gatys {eq:.0f} it")
    assert zoo._caption(meta, "elsewhere.png") == "tiny net"
    ph, pw = images.read_image(folder / "style.jpg").shape[:2]
    painting_row = round(ph * 64 / max(ph, pw))
    photo_row = 48  # both photos are 3:4 landscape: 64 wide, 48 tall
    assert img.shape[1] == 2 * 64 + 4
    assert img.shape[0] == painting_row + 2 * photo_row + 3 * 22 + 2 * 4
    # The builder script redraws the sheet and the table from what is installed.
    code = build_zoo().main(["--recipe", str(tmp_path / "zoo.toml"), "--install",
                             str(tmp_path / "models"), "--photos-dir", str(opts.photos_dir),
                             "--sheet-only"])
    assert code == 0
    assert images.read_image(tmp_path / "models" / "zoo_sheet.png").shape[1] > 2 * 128
    assert "| starry_tiny | tiny |" in (tmp_path / "models" / "zoo_evaluation.md").read_text()
    trained = zoo.training_table([folder])
    assert "| starry_tiny | tiny | 20 | 2 | 0.00 | cpu" in trained
    tuned = {"steps": 5, "total_steps": 8, "seconds": 3600.0, "total_seconds": 7200.0}
    assert zoo._steps(tuned) == "8 (5 in its last run)"
    table = zoo.table([folder])
    assert table.count("| starry_tiny | tiny |") == 2 and "n/a" in table
    assert f"{fl['warping_error']:.2f} ({fl['original_warping_error']:.2f})" in table


def test_a_finishing_phase_trains_on_larger_crops_from_the_main_run_and_ships(
        tmp_path, photos, only_named_styles):
    z = zoo.load(write(tmp_path, TINY_ZOO + "[defaults.finish]\nimage_size = 48\n"
                       "batch_size = 1\nsteps = 1\n"))
    s, opts = z.styles[0], options(tmp_path, photos)
    assert z.finish == zoo.Finish(image_size=48, batch_size=1, steps=1)
    assert zoo.load(RECIPE).finish is None or zoo.load(RECIPE).finish.image_size == 512
    seen = []
    built = zoo.build(z, s, "tiny", opts, run=lambda c: (seen.append(c), in_process(c)))
    main_run, finish = [c for c in seen if c[3] == "train"]
    assert "--init" not in main_run
    assert finish[finish.index("--init") + 1] == str(zoo.run_folder(opts, s, "tiny") / "model")
    # the painting keeps the main run's size (its crops: 32 px here), the crops grow
    assert finish[finish.index("--style-size") + 1] == "32"
    assert finish[-4:] == ["--image-size", "48", "--batch-size", "1"]
    assert finish[finish.index("--style-weight") + 1] == "20.0"
    meta = metadata.read(built.folder)
    assert meta["recipe"]["config"]["image_size"] == 48
    assert meta["training"]["steps"] == 1 and meta["training"]["total_steps"] == 3
    assert "tiny-finish" in meta["evaluation"]["command"]
    assert "tiny-finish" in meta["evaluation"]["stability"]["command"]
    seen.clear()  # a rebuild trains nothing
    zoo.build(z, s, "tiny", opts, run=lambda c: (seen.append(c), in_process(c)))
    assert [c[3] for c in seen if c[3] == "train"] == []


def test_a_grown_net_starts_from_the_paintings_installed_smaller_net_in_the_finish_phase(
        tmp_path, photos, only_named_styles):
    z = zoo.load(write(tmp_path, TINY_ZOO.replace('nets = ["tiny"]', 'nets = ["full", "lite"]')
                       + "[defaults.grow.full]\nfrom = 'lite'\nsteps = 2\nlr = 2e-4\nwarmup = 3\n"
                       "[defaults.finish]\nimage_size = 48\nbatch_size = 1\nsteps = 1\n"))
    s, opts = z.styles[0], options(tmp_path, photos, evaluate=False)
    assert z.grow == {"full": zoo.Grow("lite", steps=2, lr=2e-4, warmup=3)}
    assert z.build_order(["full", "lite"]) == ["lite", "full"]
    assert zoo.train_command(z, s, "full", opts) is None  # no main run of its own
    with pytest.raises(InputError, match="grows from its lite net, which is not installed"):
        zoo.finish_command(z, s, "full", opts)
    seen = []
    for net in z.build_order(s.nets):
        zoo.build(z, s, net, opts, run=lambda c: (seen.append(c), in_process(c)))
    trains = [c for c in seen if c[3] == "train"]
    assert [c[c.index("--net") + 1] for c in trains] == ["lite", "lite", "full"]
    grown = trains[-1]
    assert grown[grown.index("--init") + 1] == str(opts.install / "starry_lite")
    assert grown[grown.index("--warmup") + 1] == "3"
    assert grown[grown.index("--lr") + 1] == "0.0002"
    assert grown[grown.index("--steps") + 1] == "2"
    lite_finish = trains[1]
    assert "--warmup" not in lite_finish and "--lr" not in lite_finish
    meta = metadata.read(opts.install / "starry")
    assert meta["net"]["name"] == "full" and meta["training"]["init"]["net"] == "lite"
    assert meta["training"]["total_steps"] == 2 + 1 + 2
    assert ", the last 2 as a full net grown from the lite net" in meta["zoo"]["label"]
    assert "grown" not in metadata.read(opts.install / "starry_lite")["zoo"]["label"]


@pytest.mark.parametrize("text, needle", [
    ("[defaults.grow.full]\nfrom = 'huge'\nsteps = 1\n", "must name a net other than"),
    ("[defaults.grow.full]\nfrom = 'full'\nsteps = 1\n", "must name a net other than"),
    ("[defaults.grow.full]\nfrom = 'lite'\n", "needs from and steps"),
    ("[defaults.grow.full]\nfrom = 'lite'\nsteps = 1\nrate = 1\n", "unknown: rate"),
    ("[defaults.grow.full]\nfrom = 'lite'\nsteps = 1\nlr = -1.0\n", "lr positive"),
    ("[defaults]\ngrow = 'lite'\n", "must hold one table per grown net"),
    ("[defaults.grow]\nfull = 'lite'\n", "must be a table"),
    ("[defaults.grow.full]\nfrom = 'lite'\nsteps = 1\n", "add \\[defaults.finish\\]"),
])
def test_a_bad_grow_table_is_refused(tmp_path, text, needle):
    with pytest.raises(ConfigError, match=needle):
        zoo.load(write(tmp_path, text + "[styles.a]\nfile = 'a.jpg'\ncredit = 'x'\n"))


def build_zoo():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_zoo", ROOT / "export" / "build_zoo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, needle", [
    (["--styles", "mona_lisa"], "not in the zoo: mona_lisa"),
    (["--recipe", "/nowhere/zoo.toml"], "cannot read the zoo recipe"),
])
def test_the_builder_script_gives_one_line_errors(argv, needle, capsys):
    assert build_zoo().main([*argv, "--install", "/nonexistent/models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("build_zoo: ") and needle in err and len(err.strip().splitlines()) == 1


def test_commands_are_recorded_as_a_person_types_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(b"")
    shown = zoo._shown(["/usr/bin/python3", "-m", "rtstyle", "evaluate", "--images",
                        str(tmp_path / "photo.jpg"), "--style-credit", "The Scream, Munch"])
    assert shown == ["rtstyle", "evaluate", "--images", "photo.jpg", "--style-credit",
                     '"The Scream, Munch"']


def test_summary_says_whether_the_bar_is_met():
    ev = {"size": 512, "device": "cpu", "gatys": {"optimizer": "lbfgs"},
          "summary": {"equivalent_iterations_median": 80.0},
          "images": [{"image": "/x/a.jpg", "net": {"total": 90.0}, "gatys": {"50": 120.0,
                                                                             "100": 95.0},
                      "equivalent_iterations": 80.0},
                     {"image": "/x/b.jpg", "net": {"total": 50.0}, "gatys": {"50": 70.0,
                                                                             "100": 60.0},
                      "equivalent_iterations": None}]}
    full = zoo.summarise(ev, "full", ["python", "-m", "rtstyle", "evaluate", "--size", "512"])
    assert full["bar"] == {"gatys_iterations": 100, "met": True}
    assert full["command"] == "rtstyle evaluate --size 512"
    assert [r["image"] for r in full["images"]] == ["a.jpg", "b.jpg"]
    ev["images"][0]["net"]["total"] = 100.0
    assert zoo.summarise(ev, "full", [])["bar"]["met"] is False
    assert zoo.summarise(ev, "lite", [])["bar"] == {"gatys_iterations": 50, "met": True}


def test_install_replaces_the_whole_folder_and_refuses_an_unexported_run(tmp_path, tiny_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    with pytest.raises(InputError, match="export it first"):
        zoo.install(run, tmp_path / "models" / "x")
    assert main(["export", "--model", str(run / "model")]) == 0
    target = tmp_path / "models" / "x"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("old")
    zoo.install(run, target)
    assert not (target / "stale.txt").exists() and (target / "model.onnx").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["x"]  # no staging left
    assert json.loads((target / "model.json").read_text())["kind"] == "transformer"
    assert np.isfinite(onnx_model.read_contract(target / "model.onnx").io["range"]).all()
