"""Training photos decoded and scaled once, so that no step waits for JPEG decoding.

Every photo is stored as the uint8 BGR image that :func:`.data.load_crop` would crop from (its
shorter side scaled to the crop size), one after the other in a flat file that is memory-mapped
while training. A crop from the cache is therefore bit-identical to a crop from the file, and a
run gives the same losses with or without the cache (resume stays exact either way).

The cache is a folder named by a hash of the photo list (path, size, modification time of each
file) and the crop size, under ``$RTSTYLE_CACHE_DIR`` or ``~/.cache/rtstyle``. Any change to the
photo folder or the size gives a new key, so a stale cache is never read; it is built beside its
final place and renamed there, so a half-built cache is never read either.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import images
from ..errors import ImageError

log = logging.getLogger(__name__)

#: Bump when the stored pixels would change (scaling, layout), to invalidate old caches.
VERSION = 1
PIXELS, INDEX = "pixels.u8", "index.npz"


def cache_root() -> Path:
    if os.environ.get("RTSTYLE_CACHE_DIR"):
        return Path(os.environ["RTSTYLE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rtstyle"


def scale_short_side(bgr: np.ndarray, size: int) -> np.ndarray:
    """``bgr`` with its shorter side scaled to ``size`` (both sides at least ``size``)."""
    h, w = bgr.shape[:2]
    s = size / min(h, w)
    return images.resize_to(bgr, (max(size, round(h * s)), max(size, round(w * s))))


def key(files: Sequence[Path], size: int) -> str:
    """A hash of what the cache holds: each file's path, byte size and modification time."""
    h = hashlib.sha256(f"rtstyle-photos v{VERSION} {size}\n".encode())
    for f in files:
        try:
            st = os.stat(f)
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{f}\0missing\n".encode())
    return h.hexdigest()[:24]


class PhotoCache:
    """Read side: ``image(i)`` is photo ``i`` scaled, or ImageError if it could not be read."""

    def __init__(self, folder: Path, files: Sequence[Path]):
        self.folder = folder
        self.files = list(files)
        with np.load(folder / INDEX) as index:
            self.offsets = index["offsets"]
            self.shapes = index["shapes"]
        if len(self.shapes) != len(self.files):
            raise ImageError(f"photo cache {folder} does not match its photo list")
        total = int(self.offsets[-1])
        self.pixels = (np.memmap(folder / PIXELS, dtype=np.uint8, mode="r", shape=(total,))
                       if total else np.zeros(0, np.uint8))  # no readable photo at all

    def __len__(self) -> int:
        return len(self.files)

    def image(self, i: int) -> np.ndarray:
        h, w = (int(v) for v in self.shapes[i])
        if h == 0:
            raise ImageError(f"cannot read image: {self.files[i]}")
        start = int(self.offsets[i])
        return self.pixels[start:start + h * w * 3].reshape(h, w, 3)


def folder_for(files: Sequence[Path], size: int, root: Path | None = None) -> Path:
    return (root or cache_root()) / "photos" / key(files, size)


def open_cache(files: Sequence[Path], size: int, root: Path | None = None) -> PhotoCache | None:
    """The cache for these photos at this size, or None when it has not been built."""
    folder = folder_for(files, size, root)
    if not (folder / INDEX).is_file():
        return None
    return PhotoCache(folder, files)


def build(files: Sequence[Path], size: int, root: Path | None = None,
          progress: Callable[[int, int], None] | None = None) -> PhotoCache:
    """Decode and scale every photo into the cache (if it is not there yet) and open it.

    ``progress(done, total)`` is called after each photo. Unreadable photos are recorded as
    such and raise ImageError when read, as the files themselves would.
    """
    found = open_cache(files, size, root)
    if found is not None:
        return found
    final = folder_for(files, size, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _write(tmp, files, size, progress)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished the same cache first
            if not (final / INDEX).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("cached %d photos at %d px in %s", len(files), size, final)
    return PhotoCache(final, files)


def _write(folder: Path, files: Sequence[Path], size: int,
           progress: Callable[[int, int], None] | None) -> None:
    shapes = np.zeros((len(files), 2), dtype=np.int32)
    offsets = np.zeros(len(files) + 1, dtype=np.int64)
    with open(folder / PIXELS, "wb") as out:
        for i, path in enumerate(files):
            try:
                img = np.ascontiguousarray(scale_short_side(images.read_image(path), size))
                out.write(img.tobytes())
                shapes[i] = img.shape[:2]
            except ImageError:
                pass  # recorded as 0 x 0: skipped by the loader like the unreadable file
            offsets[i + 1] = offsets[i] + int(shapes[i].prod()) * 3
            if progress:
                progress(i + 1, len(files))
        out.flush()
        os.fsync(out.fileno())
    np.savez(folder / INDEX, offsets=offsets, shapes=shapes)
