"""Training end to end on a tiny net: learning, exact resume after Ctrl-C / SIGTERM / kill -9,
DDP with two gloo processes, NaN losses, and a full disk during a checkpoint."""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rtstyle import images
from rtstyle.cli import main
from rtstyle.train import checkpoint, trainer

from tests.helpers import ROOT, STYLE, TINY

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}


def losses(run: Path) -> list[list[float]]:
    with open(run / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    return [[float(r[k]) for k in ("step", "content", "style", "tv", "total")] for r in rows]


def rtstyle(*argv) -> int:
    return main([str(a) for a in argv])


def spawn(*argv, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rtstyle", *map(str, argv)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for_rows(run: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> int:
    end = time.time() + timeout
    while time.time() < end:
        if (run / "losses.csv").exists() and len(losses(run)) >= n:
            return len(losses(run))
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("training did not start in time")


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory):
    """An uninterrupted run's losses, computed once for as many steps as a test asks for."""
    cache: dict[int, list[list[float]]] = {}

    def get(steps: int) -> list[list[float]]:
        if not any(n >= steps for n in cache):
            run = tmp_path_factory.mktemp("reference") / "run"
            assert rtstyle("train", "--style", STYLE, "--data", photos, "--out", run,
                           "--steps", steps, "--checkpoint-every", 0, *TINY) == 0
            cache[steps] = losses(run)
        return next(v for n, v in sorted(cache.items()) if n >= steps)[:steps]

    return get


@pytest.mark.parametrize("net", ["tiny", "tiny-aa"])
def test_loss_decreases_on_a_fixed_image(tmp_path, net):
    data = tmp_path / "one"
    data.mkdir()
    photo = images.read_image(ROOT / "rtstyle" / "assets" / "tubingen.jpg")
    cv2.imwrite(str(data / "crop.png"), cv2.resize(photo, (32, 32), interpolation=cv2.INTER_AREA))
    cfg = trainer.TrainConfig(net=net, image_size=32, batch_size=1, steps=25, lr=1e-2,
                              workers=0, device="cpu", checkpoint_every=0, preview_every=0)
    run = tmp_path / "run"
    run.mkdir()
    result = trainer.train(cfg, run, images.read_image(STYLE), trainer.StyleInfo("starry"), data)
    totals = [r["total"] for r in result.history]
    assert len(totals) == 25 and all(np.isfinite(totals))
    assert totals[-1] < 0.5 * totals[0]
    assert np.mean(totals[-5:]) < np.mean(totals[:5])
    assert result.model_dir is not None and (result.model_dir / "model.safetensors").is_file()


def test_stop_and_resume_reproduces_the_uninterrupted_losses(photos, tmp_path, reference):
    run = tmp_path / "run"
    assert rtstyle("train", "--style", STYLE, "--data", photos, "--out", run, "--steps", 4,
                   "--checkpoint-every", 3, *TINY) == 0
    assert checkpoint.load(run / "checkpoint.pt")["step"] == 4
    assert rtstyle("train", "--out", run, "--resume", "--steps", 9, "--quiet") == 0
    np.testing.assert_allclose(losses(run), reference(9), rtol=1e-5)


def test_resume_on_the_fast_path_reproduces_a_straight_run(photos, tmp_path):
    """bf16 autocast, channels-last and the photo cache, stopped after 4 steps and resumed,
    give the losses of a straight run (whatever this CPU's 'auto' would choose)."""
    fast = [*TINY, "--amp", "bf16", "--channels-last", "--cache"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert rtstyle("train", "--style", STYLE, "--data", photos, "--out", straight, "--steps", 9,
                   "--checkpoint-every", 0, *fast) == 0
    assert rtstyle("train", "--style", STYLE, "--data", photos, "--out", resumed, "--steps", 4,
                   "--checkpoint-every", 3, *fast) == 0
    assert rtstyle("train", "--out", resumed, "--resume", "--steps", 9, "--quiet") == 0
    np.testing.assert_allclose(losses(resumed), losses(straight), rtol=1e-5)
    meta = json.loads((resumed / "model" / "model.json").read_text())
    assert meta["training"]["precision"].startswith("bf16 autocast, channels-last")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_resume_matches(photos, tmp_path, reference, sig):
    """Ctrl-C in a terminal signals the whole process group, DataLoader workers included."""
    run = tmp_path / "run"
    flags = [*TINY, "--workers", "1"]  # the last --workers wins
    proc = spawn("train", "--style", STYLE, "--data", photos, "--out", run, "--steps", 10000,
                 "--checkpoint-every", 10000, *flags, start_new_session=True)
    wait_for_rows(run, 3, proc)
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in out and "--resume" in out
    step = checkpoint.load(run / "checkpoint.pt")["step"]
    assert step == len(losses(run)) >= 3
    assert not list(run.glob(".*part*"))
    assert rtstyle("train", "--out", run, "--resume", "--steps", step + 3, "--quiet") == 0
    np.testing.assert_allclose(losses(run), reference(step + 3), rtol=1e-5)


def test_kill_9_resumes_from_the_last_checkpoint(photos, tmp_path, reference):
    run = tmp_path / "run"
    proc = spawn("train", "--style", STYLE, "--data", photos, "--out", run, "--steps", 10000,
                 "--checkpoint-every", 2, *TINY)
    wait_for_rows(run, 5, proc)
    proc.kill()
    proc.communicate()
    logged = len(losses(run))
    step = checkpoint.load(run / "checkpoint.pt")["step"]
    assert step % 2 == 0 and 2 <= step <= logged
    assert rtstyle("train", "--out", run, "--resume", "--steps", step + 3, "--quiet") == 0
    # Rows logged after the checkpoint were dropped and recomputed identically.
    np.testing.assert_allclose(losses(run), reference(step + 3), rtol=1e-5)


def test_ddp_two_gloo_processes_match_one_process_with_the_global_batch(photos, tmp_path):
    """torchrun with 2 processes x batch 2 sees the same images as 1 process x batch 4, and DDP
    averages the gradients, so the losses agree; exactly one model folder is saved. In float32:
    bf16 rounds a batch of 2 and a batch of 4 differently."""
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    flags = [*TINY, "--amp", "off"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "rtstyle", "train", "--style", STYLE, "--data", photos, "--out", ddp,
           "--steps", 4, "--checkpoint-every", 2, *flags]
    done = subprocess.run([str(c) for c in cmd], cwd=ROOT, env={**ENV, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert rtstyle("train", "--style", STYLE, "--data", photos, "--out", single, "--steps", 4,
                   "--checkpoint-every", 2, *flags, "--batch-size", 4) == 0
    np.testing.assert_allclose(losses(ddp), losses(single), rtol=1e-4)
    meta = json.loads((ddp / "model" / "model.json").read_text())
    assert meta["training"]["processes"] == 2 and meta["training"]["images_seen"] == 16
    assert sorted(p.name for p in ddp.iterdir() if p.name.startswith("model")) == ["model"]
    assert checkpoint.load(ddp / "checkpoint.pt")["world_size"] == 2


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(photos, tmp_path, capsys):
    run = tmp_path / "run"
    # Adam moves every weight by ~lr per step: at 1e6 the second step's features overflow.
    code = rtstyle("train", "--style", STYLE, "--data", photos, "--out", run, "--steps", 50,
                   "--checkpoint-every", 1, "--lr", 1e6, *TINY)
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("rtstyle: error: the loss became") and len(err.strip().splitlines()) == 1
    state = checkpoint.load(run / "checkpoint.pt")
    assert f"step {state['step']}" in err
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert torch.isfinite(state["history"]).all()
    assert not (run / "model").exists()


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_full_disk_during_a_checkpoint_keeps_the_previous_one(photos, tmp_path):
    """A file-size limit makes the next checkpoint's write fail (EFBIG) like a full disk."""
    run = tmp_path / "run"
    assert rtstyle("train", "--style", STYLE, "--data", photos, "--out", run, "--steps", 2,
                   "--checkpoint-every", 1, *TINY) == 0
    before = (run / "checkpoint.pt").read_bytes()
    limit = len(before) - 1

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = spawn("train", "--out", run, "--resume", "--steps", 5, "--quiet",
                 preexec_fn=small_files)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "could not write the checkpoint" in err and "step 2" in err and "intact" in err
    assert (run / "checkpoint.pt").read_bytes() == before
    assert checkpoint.load(run / "checkpoint.pt")["step"] == 2
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def test_a_model_folder_from_a_checkpoint_is_the_run_s_model(tiny_run, tmp_path):
    """At the end of a run the checkpoint holds the final net: the folder made from it
    stylises exactly as the run's own model folder."""
    from rtstyle.train import model_folder

    folder = trainer.model_from_checkpoint(tiny_run / "checkpoint.pt", tmp_path / "snap")
    net, meta = model_folder.load(folder)
    ref, ref_meta = model_folder.load(tiny_run / "model")
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        assert torch.equal(net(x), ref(x))
    assert meta["training"]["steps"] == ref_meta["training"]["steps"]
    assert meta["recipe"] == ref_meta["recipe"] and meta["style"] == ref_meta["style"]
    with pytest.raises(trainer.InputError, match="not a style net"):
        wct_like = tmp_path / "other.pt"
        checkpoint.save(wct_like, {"step": 1, "config": {"level": 1}})
        trainer.model_from_checkpoint(wct_like, tmp_path / "x")
