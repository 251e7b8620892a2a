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

__all__ = ["write_text_atomic", "write_bytes_atomic", "atomic_path"]


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
    path.parent.mkdir(parents=True, exist_ok=True)
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
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one."""
    with atomic_path(path) as temp:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def write_text_atomic(path, text: str) -> None:
    """UTF-8 text version of :func:`write_bytes_atomic` (no platform newline translation)."""
    write_bytes_atomic(path, text.encode("utf-8"))
