"""Writers for bad inputs of the real formats (the catalogue in tests/engine/test_bad_inputs.py):
damaged IDX headers, a gzip bomb, a PNG whose header claims a decompression bomb, doctored pickles,
and experiment files written with one thing wrong."""
from __future__ import annotations

import copy
import gzip
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from tests.support.datafiles import idx_bytes, images, write_idx_set


def base_experiment(**data) -> dict:
    """The digits preset as a dict, small and quick, with ``data`` merged into its data section."""
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset("digits_cnn").to_dict()
    experiment["data"].update({"limit": 64, **data})
    experiment["training"].update(epochs=1, batch_size=32)
    return experiment


def write_experiment(path: Path, experiment: dict) -> Path:
    path.write_text(json.dumps(experiment))
    return path


def experiment_file(tmp_path: Path, data=None, change=None, name: str = "exp.json") -> str:
    """The base experiment with ``data`` settings and ``change`` applied, written to ``tmp_path / name``."""
    experiment = base_experiment(**(data or {}))
    if change is not None:
        change(experiment)
    return str(write_experiment(tmp_path / name, experiment))


def edited(experiment: dict, change) -> dict:
    """A deep copy of ``experiment`` with ``change(copy)`` applied."""
    result = copy.deepcopy(experiment)
    change(result)
    return result


def idx_folder_with(folder: Path, name: str, raw: bytes, gz: bool = False) -> Path:
    """A complete MNIST-style IDX set in which file ``name`` holds ``raw`` instead."""
    write_idx_set(folder, gz=False)
    target = folder / name
    target.write_bytes(gzip.compress(raw) if gz else raw)
    return folder


def idx_header(dims: int, shape, type_code: int = 0x08) -> bytes:
    return bytes([0, 0, type_code, dims]) + struct.pack(f">{dims}I", *shape)


def gzip_bomb(shape=(30, 28, 28), extra: int = 20 * 2**20) -> bytes:
    """A gzipped IDX file whose header is honest but whose data runs on for ``extra`` zero bytes."""
    x, _ = images(shape[0], shape[1], shape[2])
    return gzip.compress(idx_bytes(x) + bytes(extra), compresslevel=1)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, side: int = 40000) -> Path:
    """A valid PNG header claiming side×side pixels (1.6e9 for 40000: Pillow refuses it as a bomb)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b""))
    return path


class MarkerPayload:
    """Unpickling this runs ``open(marker, "w")``: proof that a reader executed the file's code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def npz(path: Path, x_train, y_train, x_test=None, y_test=None) -> Path:
    x_test = x_train if x_test is None else x_test
    y_test = y_train if y_test is None else y_test
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write into (for root, whom permissions do not stop: /sys)."""
    import pytest

    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
    else:
        folder = Path("/sys")
    try:
        (folder / "tapedeck-probe").mkdir()
    except OSError:
        return folder
    (folder / "tapedeck-probe").rmdir()
    pytest.skip("no read-only folder on this machine")
