"""Atomic file writes: a crash or a full disk never leaves a half-written experiment, history or model.

Every writer puts its bytes under a temporary name in the destination folder (same file system, so the
final ``os.replace`` is atomic) and renames only once the data is complete.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tapedeck.engine.errors import TapedeckError

__all__ = ["write_text_atomic", "write_bytes_atomic", "atomic_path", "WriteError", "why_unwritable",
           "exclusive_lock", "clean_leftovers", "keras_file_damage"]


class WriteError(TapedeckError, OSError):
    """A file could not be written: the message names the path and the fix. Still an OSError, so
    callers that handle a failed write (a full disk, a read-only folder) keep doing so."""

    def __str__(self) -> str:
        return str(self.strerror)


def why_unwritable(path, error: OSError) -> str:
    """One line for a failed write or folder creation at ``path``: what the OS said and what to do."""
    import errno

    fixes = {
        errno.EACCES: "the folder is not writable; choose another place or change its permissions",
        errno.EPERM: "the folder is not writable; choose another place or change its permissions",
        errno.EROFS: "that file system is read-only; choose another place",
        errno.ENOTDIR: "a part of that path is a file, not a folder; choose another path",
        errno.EEXIST: "a file is in the way of a folder there; choose another path or move the file",
        errno.ENAMETOOLONG: "the name is too long for the file system; choose a shorter name",
        errno.ENOSPC: "the disk is full; free some space or choose another disk",
        errno.EISDIR: "that is a folder; give a file name",
    }
    fix = fixes.get(error.errno, "choose another place")
    return f"{path}: cannot be written ({error.strerror or type(error).__name__}); {fix}"


TEMP_FOLDER = re.compile(r"^\.tmp-(\d+)-[0-9a-f]{8}$")                   # .tmp-<pid>-<hex>/, holds one file
OLD_TEMP_FILE = re.compile(r"^.+\.tmp-(\d+)-[0-9a-f]{8}(\.[A-Za-z0-9]+)?$")  # model.tmp-<pid>-<hex>.keras


def _temp_name(path: Path) -> Path:
    """``<folder>/.tmp-<pid>-<hex>/<name>``: the file keeps its own name (Keras and numpy check the
    extension) inside a hidden folder of this writer's own, so nothing that globs ``*.keras`` in the folder
    finds a half-written model, and a leftover names the process that wrote it."""
    return path.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}" / path.name


def _alive(pid: int) -> bool:
    if os.name != "posix":   # Windows' os.kill(pid, 0) would send Ctrl-C: keep every leftover there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_leftovers(folder) -> list[str]:
    """Remove temporaries that writers which died mid-write (kill -9, a power cut) left in ``folder``:
    this version's ``.tmp-<pid>-<hex>/`` folders and earlier versions' ``name.tmp-<pid>-<hex>.ext`` files,
    only where that process is gone. Returns the names removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_FOLDER.match(entry.name) or OLD_TEMP_FILE.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
    return removed


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path for ``path``; on success rename it onto ``path``, on failure delete it.

    For writers that insist on a file name of their own (``model.save``, ``np.save``). Leftovers of
    writers that died in this folder are removed first.
    """
    path = Path(path)
    temp = _temp_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(path.parent)
        temp.parent.mkdir()
    except OSError as error:
        raise WriteError(error.errno, why_unwritable(path, error)) from None
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"{temp}: the writer created no file, so {path} was left unchanged")
        _fsync(temp)
        os.replace(temp, path)
        _fsync(path.parent)   # the rename itself: without it a power cut can undo it, or leave an empty name
    except OSError as error:
        if isinstance(error, WriteError) or error.errno not in _WRITE_FAULTS:
            raise
        # a full disk or a folder gone read-only under a writer (model.save, np.save): the path and the fix
        raise WriteError(error.errno, why_unwritable(path, error)) from None
    finally:
        shutil.rmtree(temp.parent, ignore_errors=True)


_WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to the disk: a checkpoint, a history or an experiment must
    survive a power cut whole, not as the zero-length file a renamed but unflushed write can leave. A
    folder cannot be opened for this on Windows (its renames are flushed by the file system there)."""
    if path.is_dir() and os.name != "posix":
        return
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.EBADF):   # a file system that cannot sync folders
            raise
    finally:
        os.close(handle)


def write_bytes_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one.

    Any failure to write is a :class:`WriteError` naming ``path`` and the fix.
    """
    try:
        with atomic_path(path) as temp:
            with open(temp, "wb") as handle:
                handle.write(data)
    except WriteError:
        raise
    except OSError as error:
        raise WriteError(error.errno, why_unwritable(path, error)) from None


def write_text_atomic(path, text: str) -> None:
    """UTF-8 text version of :func:`write_bytes_atomic` (no platform newline translation)."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def exclusive_lock(path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) for the ``with`` block: processes that
    share a folder (two sweeps on one runs folder) take turns. Released by the OS if the holder dies."""
    path = Path(path)
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:   # Windows: lock the first byte instead
            import msvcrt

            handle.seek(0)
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:   # LK_LOCK gives up after ten seconds; keep waiting
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def keras_file_damage(path, error: BaseException) -> str:
    """Why a ``.keras`` file did not load, in words about the file: one cut short (a kill or a full disk
    mid-copy) lacks the zip's closing directory, and Keras calls that "File not found", which sends the
    person looking for a file that is right there."""
    import zipfile

    try:
        complete = zipfile.is_zipfile(path)
    except OSError:
        complete = True   # unreadable: Keras's own words say more
    if not complete:
        return "it is cut short or damaged: not a complete .keras archive"
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first[:200]}"
