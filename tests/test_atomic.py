"""rtstyle.atomic: a target is either the old file or the complete new one, never a fragment."""

from __future__ import annotations

import os
import stat

import pytest

from rtstyle import atomic
from rtstyle.errors import InputError


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_bytes_creates_and_replaces(tmp_path):
    target = tmp_path / "out.bin"
    assert atomic.write_bytes(target, b"first") == target
    assert target.read_bytes() == b"first"
    atomic.write_bytes(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_write_text_is_utf8(tmp_path):
    atomic.write_text(tmp_path / "t.txt", "Tübingen — 星")
    assert (tmp_path / "t.txt").read_bytes() == "Tübingen — 星".encode()


def test_temp_file_is_beside_the_target_and_absent_from_it_until_done(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with atomic.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        assert tmp.name.startswith(".") and tmp.suffix == ".png"
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # nobody sees the new bytes yet
    assert target.read_bytes() == b"new"
    assert not tmp.exists()


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failure_leaves_previous_content_and_no_temp_file(tmp_path, exc):
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous")
    with pytest.raises(exc):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half-writ")
            raise exc()
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_failure_on_new_target_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(tmp_path / "new.json") as tmp:
            tmp.write_text("{")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_temp_file_deleted_by_caller_is_not_an_error(tmp_path):
    with pytest.raises(ValueError):
        with atomic.atomic_path(tmp_path / "x.txt") as tmp:
            tmp.unlink()
            raise ValueError("boom")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_file_mode_follows_the_current_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        atomic.write_bytes(tmp_path / "atomic.txt", b"x")
        with open(tmp_path / "plain.txt", "wb") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "atomic.txt") == 0o666 & ~mask
    assert _mode(tmp_path / "atomic.txt") == _mode(tmp_path / "plain.txt")


def test_missing_folders_are_created_and_a_folder_target_is_refused(tmp_path):
    atomic.write_bytes(tmp_path / "missing" / "deeper" / "x.bin", b"x")
    assert (tmp_path / "missing" / "deeper" / "x.bin").read_bytes() == b"x"
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="folder"):
        atomic.write_bytes(tmp_path / "d", b"x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot create the output folder .* is a file"):
        atomic.write_bytes(tmp_path / "file" / "sub" / "x.bin", b"x")
    assert sorted(os.listdir(tmp_path)) == ["d", "file", "missing"]
    assert os.listdir(tmp_path / "d") == []


def test_a_failed_write_removes_the_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(tmp_path / "new" / "deeper" / "x.bin") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("failed mid-write")
    assert os.listdir(tmp_path) == []


def test_an_unwritable_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    """Probed with a real file (root ignores permission bits): here the probe is refused."""
    def refuse(target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic, "_create_temp", refuse)
    with pytest.raises(InputError, match=f"cannot write to {tmp_path}: Permission denied"):
        atomic.check_output_path(tmp_path / "x.bin")


def test_relative_path_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic.write_bytes("rel.txt", b"ok")
    assert (tmp_path / "rel.txt").read_bytes() == b"ok"
