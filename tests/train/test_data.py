"""Training images: discovery, random crops, the deterministic step schedule and the loader."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from rtstyle.errors import InputError
from rtstyle.train import data
from rtstyle.train.data import (BatchLoader, StepDataset, StepSchedule, find_images, load_crop)

SIZE = 32


def batches(loader: BatchLoader, first: int, n: int) -> list[tuple[int, torch.Tensor]]:
    """The first ``n`` batches from ``first`` on; the generator is closed (its workers stopped)
    at once, even if a test fails (see test_process_exits_with_an_open_loader_with_workers)."""
    gen = loader(first)
    try:
        return list(islice(gen, n))
    finally:
        gen.close()


def write(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


# --- find_images --------------------------------------------------------------------------------

def test_find_images_is_recursive_sorted_and_by_extension(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    expected = [write(tmp_path / p, img) for p in
                ["b.png", "a/z.jpg", "a/deep/er/c.JPG", "A.bmp", "m.webp"]]
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "model.json").write_text("{}")
    (tmp_path / "folder.png").mkdir()  # a folder with an image suffix is not an image
    found = find_images(tmp_path)
    assert found == sorted(expected)
    assert all(isinstance(p, Path) for p in found)


def test_find_images_on_the_fixture_photos(photos):
    found = find_images(photos)
    assert len(found) == 9
    assert found == sorted(found)
    assert {p.parent.name for p in found} == {"real", "synthetic", "deeper"}


def test_find_images_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        find_images(tmp_path / "missing")
    file = write(tmp_path / "one.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="got a file"):
        find_images(file)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no images found"):
        find_images(empty)
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "readme.md").write_text("hi")
    (other / "sub" / "data.csv").write_text("1,2")
    with pytest.raises(InputError, match="no images found"):
        find_images(other)


# --- load_crop ----------------------------------------------------------------------------------

@pytest.mark.parametrize("hw", [(20, 50), (50, 20), (24, 24), (80, 200), (200, 80), (32, 32),
                                (31, 300)])
def test_load_crop_returns_a_square_rgb_float_crop(tmp_path, hw):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    path = write(tmp_path / "img.png", img)
    crop = load_crop(path, SIZE, np.random.default_rng(1))
    assert crop.shape == (3, SIZE, SIZE)
    assert crop.dtype == np.float32
    assert crop.min() >= 0 and crop.max() <= 255
    assert crop.std() > 0


def test_load_crop_converts_bgr_files_to_rgb(tmp_path):
    path = write(tmp_path / "solid.png", np.full((40, 60, 3), (10, 20, 30), np.uint8))  # BGR
    crop = load_crop(path, SIZE, np.random.default_rng(0))
    assert crop[:, 0, 0].tolist() == [30.0, 20.0, 10.0]
    assert np.all(crop == crop[:, :1, :1])


def test_load_crop_of_an_exact_size_image_is_the_image(tmp_path):
    img = np.random.default_rng(3).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    path = write(tmp_path / "exact.png", img)
    crop = load_crop(path, SIZE, np.random.default_rng(0))
    assert np.array_equal(crop, img[..., ::-1].transpose(2, 0, 1).astype(np.float32))


def test_load_crop_is_deterministic_for_a_seed(tmp_path):
    img = np.random.default_rng(2).integers(0, 256, (40, 400, 3), dtype=np.uint8)
    path = write(tmp_path / "wide.png", img)
    crops = [load_crop(path, SIZE, np.random.default_rng(s)) for s in (5, 5, 6, 7, 8)]
    assert np.array_equal(crops[0], crops[1])
    assert any(not np.array_equal(crops[0], c) for c in crops[2:])


def test_load_crop_raises_image_error_for_garbage(tmp_path):
    from rtstyle.errors import ImageError

    path = tmp_path / "bad.jpg"
    path.write_bytes(b"this is not a jpeg")
    with pytest.raises(ImageError):
        load_crop(path, SIZE, np.random.default_rng(0))


# --- StepSchedule -------------------------------------------------------------------------------

def test_each_epoch_visits_every_file_exactly_once(photos):
    files = find_images(photos)
    n = len(files)
    schedule = StepSchedule(n, batch_size=2, seed=3)
    dataset = StepDataset(files, SIZE, schedule)
    for epoch in range(3):
        positions = [schedule.position(k) for k in range(epoch * n, (epoch + 1) * n)]
        assert all(p.epoch == epoch for p in positions)
        visited = [int(schedule.permutation(epoch)[p.index]) for p in positions]
        assert sorted(visited) == list(range(n))
    first_epoch_paths = [dataset[k][1] for k in range(n)]
    assert sorted(first_epoch_paths) == sorted(str(f) for f in files)


def test_epochs_are_different_seeded_permutations():
    a = StepSchedule(50, 4, seed=1)
    perms = [a.permutation(e).tolist() for e in range(8)]  # also evicts the cache
    assert len({tuple(p) for p in perms}) == 8
    assert StepSchedule(50, 4, seed=1).permutation(0).tolist() == perms[0]
    assert a.permutation(0).tolist() == perms[0]  # recomputed after eviction: the same
    assert StepSchedule(50, 4, seed=2).permutation(0).tolist() != perms[0]


def test_rank_slices_are_the_single_process_batch_split():
    single = StepSchedule(37, batch_size=6, seed=0, world_size=1)
    multi = StepSchedule(37, batch_size=3, seed=0, world_size=2)
    for step in range(10):
        assert multi.start(step, 0) == single.start(step)
        assert multi.start(step, 1) == single.start(step) + 3
    assert multi.epoch_of(10) == single.epoch_of(10) == pytest.approx(60 / 37)


def test_rank_batches_concatenate_to_the_single_process_batch(photos):
    files = find_images(photos)
    one = BatchLoader(files, SIZE, batch_size=4, seed=11)
    ranks = [BatchLoader(files, SIZE, batch_size=2, seed=11, rank=r, world_size=2)
             for r in (0, 1)]
    ref = batches(one, 0, 4)
    parts = [batches(r, 0, 4) for r in ranks]
    for (step, full), (s0, b0), (s1, b1) in zip(ref, *parts):
        assert step == s0 == s1
        assert b0.shape == b1.shape == (2, 3, SIZE, SIZE)
        assert torch.equal(torch.cat([b0, b1]), full)
    assert not torch.equal(parts[0][0][1], parts[1][0][1])


# --- BatchLoader --------------------------------------------------------------------------------

def test_batches_have_the_right_shape_and_range(photos):
    files = find_images(photos)
    got = batches(BatchLoader(files, SIZE, batch_size=3, seed=0), 0, 5)
    assert [s for s, _ in got] == [0, 1, 2, 3, 4]
    for _, b in got:
        assert b.shape == (3, 3, SIZE, SIZE) and b.dtype == torch.float32
        assert 0 <= b.min() and b.max() <= 255


def test_resuming_at_step_k_gives_the_same_batches(photos):
    files = find_images(photos)
    loader = BatchLoader(files, SIZE, batch_size=4, seed=5)
    from_start = batches(loader, 0, 7)
    resumed = batches(BatchLoader(files, SIZE, batch_size=4, seed=5), 4, 3)
    assert [s for s, _ in resumed] == [4, 5, 6]
    for (s, a), (t, b) in zip(from_start[4:], resumed):
        assert s == t and torch.equal(a, b)
    # And batches differ from step to step (spanning an epoch boundary: 9 files, batch 4).
    assert not torch.equal(from_start[0][1], from_start[1][1])


def test_workers_do_not_change_the_batches(photos):
    files = find_images(photos)
    inline = batches(BatchLoader(files, SIZE, batch_size=3, seed=2, workers=0), 1, 4)
    worker = batches(BatchLoader(files, SIZE, batch_size=3, seed=2, workers=1), 1, 4)
    assert [s for s, _ in inline] == [s for s, _ in worker] == [1, 2, 3, 4]
    for (_, a), (_, b) in zip(inline, worker):
        assert torch.equal(a, b)


def test_different_seeds_give_different_batches(photos):
    files = find_images(photos)
    a = batches(BatchLoader(files, SIZE, batch_size=3, seed=0), 0, 3)
    b = batches(BatchLoader(files, SIZE, batch_size=3, seed=1), 0, 3)
    assert any(not torch.equal(x, y) for (_, x), (_, y) in zip(a, b))


@pytest.fixture
def photos_with_bad_files(photos, tmp_path) -> tuple[Path, set[str]]:
    folder = tmp_path / "data"
    shutil.copytree(photos, folder)
    garbage = folder / "real" / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8 definitely not a complete JPEG " * 8)
    empty = folder / "synthetic" / "empty.png"
    empty.write_bytes(b"")
    return folder, {str(garbage), str(empty)}


def test_unreadable_images_are_skipped_and_batches_topped_up(photos_with_bad_files):
    folder, bad = photos_with_bad_files
    files = find_images(folder)
    assert len(files) == 11
    loader = BatchLoader(files, SIZE, batch_size=4, seed=0)
    got = batches(loader, 0, 6)  # 24 positions: every file is met at least twice
    assert [s for s, _ in got] == list(range(6))
    for _, b in got:
        assert b.shape == (4, 3, SIZE, SIZE)
        assert torch.isfinite(b).all()
    assert loader.skipped == bad
    # Top-ups are deterministic too: a resumed loader sees the very same batches.
    again = batches(BatchLoader(files, SIZE, batch_size=4, seed=0), 3, 3)
    for (s, a), (t, b) in zip(got[3:], again):
        assert s == t and torch.equal(a, b)


def test_unreadable_images_with_a_worker(photos_with_bad_files):
    folder, bad = photos_with_bad_files
    files = find_images(folder)
    inline = BatchLoader(files, SIZE, batch_size=4, seed=0, workers=0)
    worker = BatchLoader(files, SIZE, batch_size=4, seed=0, workers=1)
    a, b = batches(inline, 0, 3), batches(worker, 0, 3)
    for (_, x), (_, y) in zip(a, b):
        assert x.shape == (4, 3, SIZE, SIZE) and torch.equal(x, y)
    assert worker.skipped == inline.skipped == bad


def test_a_folder_of_only_unreadable_images_is_an_input_error(tmp_path):
    for i in range(3):
        (tmp_path / f"bad_{i}.jpg").write_bytes(b"garbage")
    files = find_images(tmp_path)
    loader = BatchLoader(files, SIZE, batch_size=2, seed=0)
    with pytest.raises(InputError, match="readable images"):
        next(loader(0))
    assert loader.skipped == {str(f) for f in files}


# --- loader workers and Ctrl-C ------------------------------------------------------------------

class _SignalProbe(Dataset):
    """Reports, from inside a loader worker, whether SIGINT and SIGTERM are ignored there."""

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return torch.tensor([signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
                             signal.getsignal(signal.SIGTERM) == signal.SIG_IGN])


def test_loader_workers_ignore_stop_signals():
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    loader = DataLoader(_SignalProbe(), batch_size=1, num_workers=1,
                        worker_init_fn=data._ignore_stop_signals)
    (flags,) = list(loader)
    assert flags.tolist() == [[True, True]]
    # Only the worker changed its handlers; the main process keeps its own.
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    plain = DataLoader(_SignalProbe(), batch_size=1, num_workers=1)
    (flags,) = list(plain)
    # Without the init function a worker keeps the parent's dispositions (a background job
    # started by a shell already ignores SIGINT).
    assert flags.tolist() == [[before[0] == signal.SIG_IGN, before[1] == signal.SIG_IGN]]


EXIT_SCRIPT = textwrap.dedent("""
    import sys
    from rtstyle.train.data import BatchLoader, find_images
    loader = BatchLoader(find_images(sys.argv[1]), 32, batch_size=2, seed=0, workers=1)
    batches = loader(0)  # kept open, e.g. by a traceback or a reference cycle
    step, batch = next(batches)
    print("exiting", step, tuple(batch.shape), flush=True)
""")


def test_process_exits_with_an_open_loader_with_workers(photos):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", EXIT_SCRIPT, str(photos)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()  # blocks until the script reaches its end (imports first)
        assert line.split() == ["exiting", "0", "(2,", "3,", "32,", "32)"], proc.stderr.read()
        deadline = time.monotonic() + 4
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        hung = proc.poll() is None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the workers too: they ignore SIGTERM
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert not hung, "the process hung at exit after its last line"
    assert proc.returncode == 0
