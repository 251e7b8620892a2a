"""The data lines of an exported script load exactly what the app trains on: same test split, limit,
validation split, scaling, channel axis and labels (engine.data.datasets is the reference), for every file
source on small files of the real format, and for digits for real."""
from __future__ import annotations

import numpy as np
import pytest

from tapedeck.engine.codegen.data import data_code
from tapedeck.engine.codegen.script import _imports
from tapedeck.engine.data.datasets import load_dataset
from tapedeck.engine.spec.experiment import DataSpec
from tests.support import datafiles


def _run_data_code(data: DataSpec) -> dict:
    code = data_code(data)
    namespace: dict = {}
    exec(compile(_imports(code.imports) + "\n\n" + code.text, "data.py", "exec"), namespace)
    return namespace


def _assert_same(data: DataSpec):
    expected = load_dataset(data)
    got = _run_data_code(data)
    validation = data.validation_split > 0
    for name in ("x_train", "y_train", "x_test", "y_test") + (("x_val", "y_val") if validation else ()):
        want = getattr(expected, name)
        have = got[name]
        if name.startswith("y") and data.labels == "one_hot":
            assert have.shape == (len(want), expected.num_classes), name
            have = have.argmax(axis=1)
        assert have.shape == want.shape, (name, have.shape, want.shape)
        assert have.dtype == (np.float32 if name.startswith("x") else want.dtype) or data.labels == "one_hot", name
        np.testing.assert_allclose(have, want, atol=1e-6, err_msg=name)
    assert tuple(got["input_shape"]) == expected.input_shape
    assert got["num_classes"] == expected.num_classes
    if not validation:
        assert "x_val" not in got
    return got


@pytest.mark.parametrize("options", [
    {},
    {"limit": 100, "validation_split": 0.25},
    {"validation_split": 0.0, "normalize": False, "labels": "one_hot"},
])
def test_digits(options):
    _assert_same(DataSpec(source="digits", **options))


def test_npz_with_grayscale_bytes(tmp_path):
    x, y = datafiles.images(50, 12, 10, seed=3)
    xt, yt = datafiles.images(20, 12, 10, seed=4)
    np.savez(tmp_path / "set.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    _assert_same(DataSpec(source="npz", path=str(tmp_path / "set.npz"), limit=40, validation_split=0.2))


def test_npz_with_float_colour_images(tmp_path):
    rng = np.random.default_rng(0)
    x, xt = rng.random((30, 6, 6, 3), dtype=np.float32), rng.random((10, 6, 6, 3), dtype=np.float32)
    np.savez(tmp_path / "set.npz", x_train=x, y_train=np.arange(30) % 3, x_test=xt, y_test=np.arange(10) % 3)
    _assert_same(DataSpec(source="npz", path=str(tmp_path / "set.npz")))


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder(tmp_path, gz):
    folder = datafiles.write_idx_set(tmp_path / "mnist", n_train=40, n_test=12, gz=gz)
    _assert_same(DataSpec(source="idx", path=str(folder), validation_split=0.2))
    one_file = folder / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    _assert_same(DataSpec(source="idx", path=str(one_file), limit=20))


def test_cifar10_folder_and_cifar100_archive(tmp_path):
    folder = datafiles.write_folder(tmp_path / "cifar-10-batches-py", datafiles.cifar10_files(n_per_batch=6))
    _assert_same(DataSpec(source="cifar", path=str(folder), labels="one_hot"))
    archive = datafiles.write_tar(tmp_path / "cifar-100-python.tar.gz", "cifar-100-python",
                                  datafiles.cifar100_files(n_train=30, n_test=10))
    got = _assert_same(DataSpec(source="cifar", path=str(archive), label_mode="coarse"))
    assert got["num_classes"] == 20


def test_image_folder_with_held_out_test_split(tmp_path):
    root = datafiles.write_class_folder(tmp_path / "pets", per_class=6, size=(12, 10))
    _assert_same(DataSpec(source="folder", path=str(root), validation_split=0.2))


def test_image_folder_with_train_and_test_and_a_fixed_size(tmp_path):
    datafiles.write_class_folder(tmp_path / "set" / "train", per_class=5, size=(9, 7))
    datafiles.write_class_folder(tmp_path / "set" / "test", per_class=2, size=(9, 7))
    _assert_same(DataSpec(source="folder", path=str(tmp_path / "set"), image_size=[9, 7], color_mode="grayscale",
                          validation_split=0.0))


def test_keras_sets_are_loaded_with_keras_datasets():
    code = data_code(DataSpec(source="cifar100", label_mode="coarse")).text
    assert 'keras.datasets.cifar100.load_data(label_mode="coarse")' in code
    assert "num_classes = 20" in code
    assert "keras.datasets.fashion_mnist.load_data()" in data_code(DataSpec(source="fashion_mnist")).text
