"""Writers for small files in the exact on-disk formats the real data sets ship in (used by the data tests).

IDX: big-endian magic 0x00000803 / 0x00000801, then one uint32 per dimension, then uint8 data.
CIFAR: protocol-2 pickles with bytes keys, as the 'python version' archives hold them.
"""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def images(n: int, h: int = 28, w: int = 28, channels: int | None = None, seed: int = 0,
           noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images whose corner pixel encodes the label (so a test can tell labels and pixels stayed together)."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    shape = (n, h, w) if channels is None else (n, h, w, channels)
    x = rng.integers(0, 20, size=shape, dtype=np.uint8) if noise else np.zeros(shape, np.uint8)
    x[:, 0, 0] = labels[:, None] * 20 if channels is not None else labels * 20
    return x, labels


def label_of(image: np.ndarray, normalized: bool = True) -> int:
    value = float(np.ravel(image[0, 0])[0]) * (255.0 if normalized else 1.0)
    return int(round(value / 20))


def write_idx_set(folder: Path, n_train: int = 30, n_test: int = 10, gz: bool = True, prefix: str = "",
                  test_word: str = "t10k", size: int = 28) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for split, n, seed in (("train", n_train, 0), (test_word, n_test, 1)):
        x, y = images(n, size, size, seed=seed)
        for kind, data, dims in (("images", x, 3), ("labels", y, 1)):
            raw = idx_bytes(data)
            path = folder / f"{prefix}{split}-{kind}-idx{dims}-ubyte{ext}"
            path.write_bytes(gzip.compress(raw) if gz else raw)
    return folder


class _Py2Pickler(pickle._Pickler):
    """Writes bytes as protocol-2 STRING opcodes, as the Python 2 cPickle that made the CIFAR files did.

    Python 3 would spell them ``_codecs.encode(...)`` calls, which Keras's restricted unpickler refuses.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        n = len(obj)
        self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj if n < 256 else
                   pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def py2_pickle(obj) -> bytes:
    out = io.BytesIO()
    _Py2Pickler(out).dump(obj)
    return out.getvalue()


def _cifar_rows(x: np.ndarray) -> np.ndarray:
    """NHWC -> the (N, 3072) rows CIFAR stores: 1024 red, then green, then blue values."""
    return x.transpose(0, 3, 1, 2).reshape(len(x), -1)


def cifar10_files(n_per_batch: int = 10, batches: int = 5, n_test: int | None = None,
                  noise: bool = True) -> dict[str, bytes]:
    files = {}
    for i in range(1, batches + 1):
        x, y = images(n_per_batch, 32, 32, channels=3, seed=i, noise=noise)
        files[f"data_batch_{i}"] = py2_pickle({
            b"batch_label": f"training batch {i} of 5".encode(), b"labels": [int(v) for v in y],
            b"data": _cifar_rows(x), b"filenames": [f"img_{i}_{j}.png".encode() for j in range(len(y))],
        })
    x, y = images(n_test or n_per_batch, 32, 32, channels=3, seed=9)
    files["test_batch"] = py2_pickle({b"batch_label": b"testing batch 1 of 1", b"labels": [int(v) for v in y],
                                        b"data": _cifar_rows(x), b"filenames": [b"t.png"] * len(y)})
    from tapedeck.engine.data.keras_sets import CIFAR10_NAMES

    files["batches.meta"] = py2_pickle({b"num_cases_per_batch": n_per_batch, b"num_vis": 3072,
                                          b"label_names": [n.encode() for n in CIFAR10_NAMES]})
    return files


def cifar100_files(n_train: int = 40, n_test: int = 20) -> dict[str, bytes]:
    from tapedeck.engine.data.keras_sets import CIFAR100_COARSE_NAMES, CIFAR100_FINE_NAMES

    files = {}
    for name, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        x, y = images(n, 32, 32, channels=3, seed=seed)
        fine = [int(v) * 10 + 3 for v in y]  # fine labels up to 93, coarse = label + 5
        files[name] = py2_pickle({b"filenames": [b"f.png"] * n, b"batch_label": name.encode(),
                                    b"fine_labels": fine, b"coarse_labels": [int(v) + 5 for v in y],
                                    b"data": _cifar_rows(x)})
    files["meta"] = py2_pickle({b"fine_label_names": [n.encode() for n in CIFAR100_FINE_NAMES],
                                  b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE_NAMES]})
    return files


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def write_tar(path: Path, inner: str, files: dict[str, bytes], compress: bool = True) -> Path:
    with tarfile.open(path, "w:gz" if compress else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{inner}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_png(path: Path, size=(12, 10), color=(200, 30, 30), mode="RGB", fmt=None) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size[1], size[0]), color if mode != "L" else color[0]).save(path, format=fmt)
    return path


def write_class_folder(root: Path, classes=("cat", "dog", "fox"), per_class: int = 5, size=(12, 10)) -> Path:
    colors = {0: (250, 0, 0), 1: (0, 250, 0), 2: (0, 0, 250)}
    exts = (".png", ".jpg", ".bmp", ".gif")
    for c, name in enumerate(classes):
        for i in range(per_class):
            write_png(root / name / f"{name}_{i}{exts[i % len(exts)]}", size, colors.get(c, (100, 100, 100)))
    return root


def write_digits_with_features(path: Path) -> Path:
    """The npz the npz_image_and_features preset reads (the README's snippet): digits images plus a
    16-number feature vector per image (its row and column sums), split 80/20."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images * (255 / 16)).round().astype(np.uint8)   # 0..16 stored as 8-bit pixels
    features = np.concatenate([digits.images.sum(axis=1), digits.images.sum(axis=2)], axis=1).astype(np.float32) / 128
    cut = int(len(x) * 0.8)
    np.savez(path, x_train=x[:cut], y_train=digits.target[:cut], x_test=x[cut:], y_test=digits.target[cut:],
             x_train_features=features[:cut], x_test_features=features[cut:])
    return path
