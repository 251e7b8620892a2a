"""Atomic file writes: a crash or a full disk never leaves a half-written experiment, history or model.

Every writer puts its bytes under a temporary name in the destination folder (same file system, so the
final ``os.replace`` is atomic) and renames only once the data is complete.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tapedeck.engine.errors import TapedeckError

__all__ = ["write_text_atomic", "write_bytes_atomic", "atomic_path", "WriteError", "why_unwritable",
           "exclusive_lock"]


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


def _temp_name(path: Path) -> Path:
    """Keep the real suffix last (``model.tmp-1234.keras``): Keras and numpy check the extension."""
    suffix = "".join(path.suffixes[-1:])
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on failure delete it.

    For writers that insist on a file name of their own (``model.save``, ``np.save``).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(error.errno, why_unwritable(path, error)) from None
    temp = _temp_name(path)
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"{temp}: the writer created no file, so {path} was left unchanged")
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            if temp.is_dir():
                shutil.rmtree(temp)
            else:
                temp.unlink()
        raise


def write_bytes_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one.

    Any failure to write is a :class:`WriteError` naming ``path`` and the fix.
    """
    try:
        with atomic_path(path) as temp:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
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
