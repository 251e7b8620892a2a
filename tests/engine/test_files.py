"""Atomic writes: readers see the old file or the whole new one, never a half-written one."""
import os

import pytest

from tapedeck.engine import files


def test_write_text_creates_folders_and_exact_text(tmp_path):
    target = tmp_path / "a" / "b" / "exp.json"
    files.write_text_atomic(target, "héllo\nworld\n")
    assert target.read_bytes() == "héllo\nworld\n".encode()
    assert os.listdir(target.parent) == ["exp.json"]


def test_write_bytes_replaces_existing(tmp_path):
    target = tmp_path / "w.bin"
    target.write_bytes(b"old")
    files.write_bytes_atomic(target, b"\x00new")
    assert target.read_bytes() == b"\x00new"


def test_failed_rename_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "exp.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        files.write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["exp.json"]


def test_atomic_path_keeps_real_suffix_and_renames_on_success(tmp_path):
    target = tmp_path / "model.keras"
    with files.atomic_path(target) as temp:
        assert temp.parent.parent == tmp_path and temp.parent.name.startswith(".tmp-")
        assert temp.name == "model.keras" and temp != target
        assert not target.exists()
        temp.write_bytes(b"weights")
        assert list(tmp_path.glob("*.keras")) == []   # a half-written model is not found by its suffix
    assert target.read_bytes() == b"weights"
    assert os.listdir(tmp_path) == ["model.keras"]


def test_atomic_path_error_in_writer_removes_temp_and_keeps_old(tmp_path):
    target = tmp_path / "history.npy"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as temp:
            temp.write_bytes(b"partial")
            raise RuntimeError("writer crashed")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["history.npy"]


def test_atomic_path_writer_that_wrote_nothing_is_an_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(FileNotFoundError, match="out.txt"):
        with files.atomic_path(target):
            pass
    assert not target.exists()


def test_atomic_path_works_with_numpy_save(tmp_path):
    np = pytest.importorskip("numpy")
    target = tmp_path / "x.npy"
    with files.atomic_path(target) as temp:
        np.save(temp, np.arange(4))  # np.save appends .npy unless the name already ends with it
    assert np.load(target).tolist() == [0, 1, 2, 3]
    assert os.listdir(tmp_path) == ["x.npy"]
