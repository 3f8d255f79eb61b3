"""Atomic file output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and an interrupted or failed write leaves nothing at the
target path (a previous file there stays intact).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


def _create_temp(target: Path) -> Path:
    """Create an empty, uniquely named file beside ``target``.

    It is opened with mode 0o666 so the kernel applies the process's *current* umask, exactly as
    for a file made with open() (mkstemp would give 0o600, and reading the umask means setting it,
    which races with other threads).
    """
    folder = target.parent if str(target.parent) else Path(".")
    for _ in range(100):
        tmp = folder / f".{target.name}.{secrets.token_hex(4)}.part{target.suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {target}")


def check_output_path(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path after checking, before any work, that it can be written.

    It must not be a folder; its folder must exist or be creatable (missing folders are made
    when the file is written, not now, so a failed run leaves none behind), and the nearest
    existing folder must be writable (probed with a real file: permission bits do not tell
    for root or read-only mounts).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output path is a folder, expected a file name: {path}")
    parent = path.parent if str(path.parent) else Path(".")
    existing = next(p for p in (parent, *parent.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise InputError(f"cannot create the output folder {parent}: {existing} is a file")
    try:
        _create_temp(existing / ".rtstyle-write-probe").unlink()
    except OSError as e:
        raise InputError(f"cannot write to {existing}: {e.strerror or e}") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception (KeyboardInterrupt included) the temporary file is removed and the
    exception propagates.
    """
    target = check_output_path(path)
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp(target)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        for folder in made:  # deepest first: the folders this write created, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path`` (flushed to disk before the rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path``."""
    return write_bytes(path, text.encode("utf-8"))
