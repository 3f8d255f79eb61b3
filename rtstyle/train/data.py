"""Training images: any folder of photos, read deterministically by step.

Which images make up step ``s`` depends only on the seed, ``s`` and the process's rank: each
epoch is a seeded permutation of the files, and each random crop is seeded by (seed, epoch,
position). So a resumed run sees exactly the batches the uninterrupted run would have seen, with
any number of loader workers, and without saving any loader state in the checkpoint.

Unreadable files are skipped (the batch is topped up from the next positions) and counted.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .. import frames, images
from ..errors import ImageError, InputError
from .photo_cache import PhotoCache, scale_short_side

log = logging.getLogger(__name__)

#: How many replacement images a batch may try for unreadable ones before giving up.
MAX_REPLACEMENTS = 64


def find_images(folder: str | os.PathLike) -> list[Path]:
    """All image files below ``folder`` (recursive, sorted); a clear error if there are none."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"data folder not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"--data must be a folder of images, got a file: {folder}")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise InputError(f"data folder is not readable: {folder}")
    try:
        files = images.list_images(folder)
    except PermissionError as e:
        raise InputError(f"cannot read the data folder {folder}: {e.strerror}") from e
    if not files:
        raise InputError(f"no images found in {folder} (searched sub-folders for "
                         f"{', '.join(images.READ_SUFFIXES)})")
    return files


def load_crop(path: Path, size: int, rng: np.random.Generator) -> np.ndarray:
    """Read ``path``, scale its shorter side to ``size`` and take a random ``size`` square crop.

    Returns RGB float32 ``(3, size, size)`` in 0..255. Raises ImageError for unreadable files.
    """
    return crop(scale_short_side(images.read_image(path), size), size, rng)


def crop(bgr: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size`` square of a scaled photo, as RGB float32 ``(3, size, size)``."""
    nh, nw = bgr.shape[:2]
    y = int(rng.integers(0, nh - size + 1))
    x = int(rng.integers(0, nw - size + 1))
    return frames.to_model_input(np.ascontiguousarray(bgr[y:y + size, x:x + size]))[0]


@dataclass(frozen=True)
class Position:
    epoch: int
    index: int  # position within the epoch's permutation


class StepSchedule:
    """Maps (step, rank) to the positions of the images in that process's batch.

    The global batch of step ``s`` is positions ``s * B * W`` .. ``(s + 1) * B * W - 1`` of the
    endless sequence of seeded per-epoch permutations, where B is the per-process batch size
    and W the number of processes; rank r takes its contiguous slice of B.
    """

    def __init__(self, n_files: int, batch_size: int, seed: int, world_size: int = 1):
        self.n, self.batch, self.seed, self.world = n_files, batch_size, seed, world_size
        self._perms: dict[int, np.ndarray] = {}

    def permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.clear()
            self._perms[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._perms[epoch]

    def position(self, k: int) -> Position:
        return Position(k // self.n, k % self.n)

    def start(self, step: int, rank: int = 0) -> int:
        return (step * self.world + rank) * self.batch

    def epoch_of(self, step: int) -> float:
        """Epochs seen after ``step`` steps (all processes together)."""
        return step * self.batch * self.world / self.n


class StepDataset(Dataset):
    """Item ``k`` is the ``k``-th position of the endless seeded sequence; None if unreadable."""

    def __init__(self, files: list[Path], size: int, schedule: StepSchedule,
                 cache: PhotoCache | None = None):
        self.files, self.size, self.schedule, self.cache = files, size, schedule, cache

    def __len__(self) -> int:  # not used for sampling; the sampler is endless
        return len(self.files)

    def crop(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """A random crop of file ``i`` (from the cache if any); ImageError if unreadable."""
        if self.cache is not None:
            return crop(self.cache.image(i), self.size, rng)
        return load_crop(self.files[i], self.size, rng)

    def __getitem__(self, k: int):
        pos = self.schedule.position(k)
        i = int(self.schedule.permutation(pos.epoch)[pos.index])
        rng = np.random.default_rng([self.schedule.seed, pos.epoch, pos.index, 7])
        try:
            return torch.from_numpy(self.crop(i, rng)), str(self.files[i])
        except ImageError:
            return None, str(self.files[i])


def _collate(items):
    good = [x for x, _ in items if x is not None]
    bad = [p for x, p in items if x is None]
    return (torch.stack(good) if good else None), bad


class BatchLoader:
    """Yields ``(step, batch)`` from ``first_step`` on, prefetching with workers.

    A batch with unreadable images is topped up with other files, chosen deterministically,
    so every step gets a full batch. With a :class:`PhotoCache` the crops are taken from it in
    this process (a crop is a memory copy; worker processes would only add overhead).
    """

    def __init__(self, files: list[Path], size: int, batch_size: int, seed: int,
                 workers: int = 0, rank: int = 0, world_size: int = 1, pin_memory: bool = False,
                 cache: PhotoCache | None = None):
        self.schedule = StepSchedule(len(files), batch_size, seed, world_size)
        self.dataset = StepDataset(files, size, self.schedule, cache)
        self.batch, self.rank = batch_size, rank
        self.workers = 0 if cache is not None else workers
        self.pin_memory = pin_memory
        self.skipped: set[str] = set()

    def _indices(self, first_step: int):
        step = first_step
        while True:
            start = self.schedule.start(step, self.rank)
            yield list(range(start, start + self.batch))
            step += 1

    def __call__(self, first_step: int):
        loader = DataLoader(self.dataset, batch_sampler=_Sampler(self._indices(first_step)),
                            num_workers=self.workers, collate_fn=_collate,
                            persistent_workers=False, pin_memory=self.pin_memory,
                            worker_init_fn=_ignore_stop_signals,
                            prefetch_factor=2 if self.workers else None)
        it = iter(loader)
        _LIVE.add(it)
        try:
            step = first_step
            for batch, bad in it:
                if bad:
                    batch = self._top_up(step, batch, bad)
                yield step, batch
                step += 1
        finally:
            _shutdown(it)

    def _top_up(self, step: int, batch, bad: list[str]):
        self.skipped.update(bad)
        log.info("skipped unreadable images: %s", ", ".join(bad))
        got = [] if batch is None else list(batch)
        # Replacements come from a permutation seeded by (seed, step, rank): deterministic too.
        order = np.random.default_rng([self.schedule.seed, step, self.rank, 99]).permutation(
            len(self.dataset.files))
        for tries, i in enumerate(order):
            if len(got) == self.batch:
                break
            if tries >= MAX_REPLACEMENTS:
                raise InputError(f"too many unreadable images in the data folder "
                                 f"({len(self.skipped)} so far, e.g. {bad[0]})")
            rng = np.random.default_rng([self.schedule.seed, step, self.rank, tries])
            try:
                got.append(torch.from_numpy(self.dataset.crop(int(i), rng)))
            except ImageError:
                self.skipped.add(str(self.dataset.files[int(i)]))
        if len(got) < self.batch:
            raise InputError(f"not enough readable images in the data folder "
                             f"({len(self.skipped)} unreadable)")
        return torch.stack(got)


#: Loader iterators whose worker processes may still run (see _shutdown_all).
_LIVE: weakref.WeakSet = weakref.WeakSet()


def _shutdown(it) -> None:
    # Workers ignore SIGTERM (below), so they must be told to stop through the loader itself:
    # multiprocessing's exit handler would otherwise SIGTERM them and wait forever.
    stop = getattr(it, "_shutdown_workers", None)
    if stop is not None:
        stop()
    _LIVE.discard(it)


@atexit.register  # runs before multiprocessing's own exit handler (registered earlier)
def _shutdown_all() -> None:
    for it in list(_LIVE):
        _shutdown(it)


def _ignore_stop_signals(worker_id: int) -> None:
    # Ctrl-C in a terminal signals the whole process group. The main process turns it into a
    # graceful stop after the current step, which needs the loader workers to keep running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _Sampler:
    def __init__(self, it):
        self.it = it

    def __iter__(self):
        return self.it
