"""The photo cache: the same crops as decoding the files, a new cache when the folder changes,
unreadable files kept unreadable, and a build that fails leaves nothing behind."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from rtstyle import images
from rtstyle.errors import ImageError
from rtstyle.train import photo_cache
from rtstyle.train.data import BatchLoader, crop, find_images, load_crop


@pytest.fixture
def folder(photos, tmp_path):
    """A private copy of the fixture photos (tests here change files)."""
    return shutil.copytree(photos, tmp_path / "photos")


def test_cached_crops_equal_crops_decoded_from_the_files(folder, tmp_path):
    files = find_images(folder)
    cache = photo_cache.build(files, 32, root=tmp_path / "cache")
    for i, path in enumerate(files):
        for seed in range(3):
            from_file = load_crop(path, 32, np.random.default_rng(seed))
            from_cache = crop(cache.image(i), 32, np.random.default_rng(seed))
            np.testing.assert_array_equal(from_cache, from_file)


def test_the_loader_gives_the_same_batches_with_and_without_the_cache(folder, tmp_path):
    files = find_images(folder)
    cache = photo_cache.build(files, 24, root=tmp_path / "cache")
    plain = BatchLoader(files, 24, 3, seed=5)
    cached = BatchLoader(files, 24, 3, seed=5, workers=2, cache=cache)
    assert cached.workers == 0  # crops from memory need no worker processes
    for (s1, a), (s2, b) in zip(plain(4), cached(4)):
        assert s1 == s2 and torch.equal(a, b)
        if s1 == 8:
            break


def test_the_cache_is_reused_and_rebuilt_when_the_folder_changes(folder, tmp_path):
    root = tmp_path / "cache"
    files = find_images(folder)
    first = photo_cache.build(files, 32, root=root).folder
    assert photo_cache.open_cache(files, 32, root=root).folder == first
    assert photo_cache.open_cache(files, 48, root=root) is None  # another crop size
    # An edited photo (new bytes and time) and an added photo each give a new cache.
    edited = files[0]
    stat = edited.stat()
    edited.write_bytes(files[1].read_bytes())
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert photo_cache.open_cache(find_images(folder), 32, root=root) is None
    second = photo_cache.build(find_images(folder), 32, root=root)
    assert second.folder != first
    np.testing.assert_array_equal(second.image(0),
                                  photo_cache.scale_short_side(images.read_image(files[1]), 32))
    shutil.copy(files[2], folder / "added.png")
    assert photo_cache.open_cache(find_images(folder), 32, root=root) is None


def test_unreadable_photos_stay_unreadable(folder, tmp_path):
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    files = find_images(folder)
    cache = photo_cache.build(files, 32, root=tmp_path / "cache")
    bad = files.index(folder / "broken.jpg")
    with pytest.raises(ImageError, match="broken.jpg"):
        cache.image(bad)
    good = (bad + 1) % len(files)
    assert cache.image(good).shape[2] == 3 and min(cache.image(good).shape[:2]) == 32


def test_a_failed_build_leaves_no_cache(folder, tmp_path):
    root = tmp_path / "cache"
    files = find_images(folder)

    def fail(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        photo_cache.build(files, 32, root=root, progress=fail)
    assert photo_cache.open_cache(files, 32, root=root) is None
    assert list((root / "photos").iterdir()) == []
    calls = []
    photo_cache.build(files, 32, root=root, progress=lambda d, n: calls.append((d, n)))
    assert calls[-1] == (len(files), len(files))
