"""load_dataset / describe: digits for real, keras.datasets through a temporary Keras cache, and the options.

The keras sets run through Keras's real loaders and its real get_file. Keras keeps KERAS_HOME from the
moment it was imported, so the tests point that setting at a temporary folder. Fashion-MNIST's loader checks
no hash, so its four files just sit in the cache. MNIST and CIFAR are checked against the real archives'
SHA-256, which a small file cannot match: for those, Keras's validate_file is told the small file's hash in
place of the real one; everything else (cache lookup, extraction, reading) is Keras's own code.
"""
from __future__ import annotations

import hashlib
import urllib.error
from types import SimpleNamespace

import numpy as np
import pytest

from tapedeck.engine.data.datasets import KERAS_SOURCES, SOURCES, DataError, describe, load_dataset
from tapedeck.engine.data.keras_sets import CIFAR10_NAMES, CIFAR100_COARSE_NAMES, FASHION_MNIST_NAMES
from tapedeck.engine.spec.experiment import DataSpec
from tests.support.datafiles import (
    cifar10_files,
    cifar100_files,
    images,
    label_of,
    write_class_folder,
    write_idx_set,
    write_tar,
)

REAL_HASHES = {  # what keras/src/datasets/{mnist,cifar10,cifar100}.py pass to get_file
    "mnist": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "cifar10": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "cifar100": "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
}


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache; any download attempt fails the way it does offline."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    downloads = []

    def offline(url, target, *args):
        downloads.append(url)
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    return SimpleNamespace(root=home, downloads=downloads)


def _accept_small_file(monkeypatch, set_name, path):
    """Let Keras's hash check accept our small file where it expects the real archive's hash."""
    from keras.src.utils import file_utils

    small = hashlib.sha256(path.read_bytes()).hexdigest()
    real_validate = file_utils.validate_file

    def validate(fpath, file_hash, algorithm="auto", chunk_size=65535):
        if file_hash == REAL_HASHES[set_name]:
            file_hash = small
        return real_validate(fpath, file_hash, algorithm, chunk_size)

    monkeypatch.setattr(file_utils, "validate_file", validate)


# -------------------------------------------------------------------------------------------- digits

def test_digits_for_real():
    ds = load_dataset(DataSpec(source="digits"))
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10 and ds.class_names == [str(i) for i in range(10)]
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 1797
    assert len(ds.x_val) == round(0.1 * (len(ds.x_train) + len(ds.x_val)))
    assert ds.x_train.dtype == np.float32 and ds.x_train.max() == 1.0 and ds.x_train.min() == 0.0
    assert ds.y_train.dtype == np.int64 and set(ds.y_test) == set(range(10))
    assert len(ds.sample_index) == 32 and list(ds.y_test[ds.sample_index[:10]]) == list(range(10))
    from sklearn.datasets import load_digits

    # train, validation and test together are exactly the 1,797 images: a partition, nothing lost or repeated
    rows = lambda x: sorted(r.tobytes() for r in np.asarray(x, np.float32).reshape(len(x), -1))  # noqa: E731
    raw = load_digits().images.astype(np.float32) / 16
    assert rows(np.concatenate([ds.x_train, ds.x_val, ds.x_test])) == rows(raw)


def test_digits_options_limit_split_and_raw_values():
    ds = load_dataset(DataSpec(source="digits", limit=100, validation_split=0.2, normalize=False))
    assert (len(ds.x_train), len(ds.x_val)) == (80, 20)
    assert ds.x_train.max() == 16.0  # raw 0..16 pixel counts
    again = load_dataset(DataSpec(source="digits", limit=100, validation_split=0.2))
    np.testing.assert_array_equal(again.sample_index, ds.sample_index)  # fixed sample, run after run
    np.testing.assert_array_equal(again.y_val, ds.y_val)


def test_limit_that_leaves_nothing_to_train_on():
    with pytest.raises(DataError, match="data.limit: 1 example"):
        load_dataset(DataSpec(source="digits", limit=1, validation_split=0.9))


@pytest.mark.parametrize("field, value, fragment", [("source", "imagenet", "data.source"),
                                                    ("validation_split", 1.0, "data.validation_split"),
                                                    ("limit", 0, "data.limit")])
def test_bad_options(field, value, fragment):
    spec = DataSpec()
    setattr(spec, field, value)
    with pytest.raises(DataError, match=fragment):
        load_dataset(spec)


def test_sample_index_spreads_over_classes(tmp_path):
    write_class_folder(tmp_path / "train", classes=tuple("abcdefghijkl"), per_class=2, size=(4, 4))
    write_class_folder(tmp_path / "test", classes=tuple("abcdefghijkl"), per_class=4, size=(4, 4))
    ds = load_dataset(DataSpec(source="folder", path=str(tmp_path), validation_split=0.0))
    labels = list(ds.y_test[ds.sample_index])
    assert len(labels) == 32 and labels[:12] == list(range(12)) and labels[12:24] == list(range(12))
    assert len(set(ds.sample_index.tolist())) == 32


# ------------------------------------------------------------------------------------- keras sets

def test_fashion_mnist_from_keras_cache(keras_home):
    write_idx_set(keras_home.root / "datasets" / "fashion-mnist", n_train=40, n_test=12, gz=True)
    ds = load_dataset(DataSpec(source="fashion_mnist", validation_split=0.25))
    assert ds.class_names == FASHION_MNIST_NAMES and ds.input_shape == (28, 28, 1)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (30, 10, 12)
    assert [label_of(img) for img in ds.x_test] == list(ds.y_test)
    assert keras_home.downloads == []


def test_mnist_from_keras_cache(keras_home, monkeypatch):
    x_train, y_train = images(50)
    x_test, y_test = images(10, seed=1)
    path = keras_home.root / "datasets" / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    _accept_small_file(monkeypatch, "mnist", path)
    ds = load_dataset(DataSpec(source="mnist", limit=20, validation_split=0.1))
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (18, 2, 10)
    assert ds.input_shape == (28, 28, 1) and ds.class_names == [str(i) for i in range(10)]
    assert [label_of(img) for img in ds.x_train] == list(ds.y_train)
    assert keras_home.downloads == [] and "MNIST from keras.datasets" in ds.source


def test_cifar10_from_keras_cache(keras_home, monkeypatch):
    # Keras's CIFAR-10 loader fills a (50000, 3, 32, 32) array with five batches of exactly 10,000 rows,
    # so the batches have their real size here (an uncompressed tar keeps writing it fast).
    files = cifar10_files(n_per_batch=10000, n_test=20, noise=False)
    archive = write_tar(keras_home.root / "datasets" / "cifar-10-batches-py-target_archive", "cifar-10-batches-py",
                        files, compress=False)
    _accept_small_file(monkeypatch, "cifar10", archive)
    ds = load_dataset(DataSpec(source="cifar10", limit=30, validation_split=0.0))
    assert ds.class_names == CIFAR10_NAMES and ds.input_shape == (32, 32, 3) and len(ds.x_train) == 30
    assert len(ds.x_test) == 20
    assert [label_of(img) for img in ds.x_train] == list(ds.y_train)
    assert keras_home.downloads == []


def test_cifar100_coarse_from_keras_cache(keras_home, monkeypatch):
    archive = write_tar(keras_home.root / "datasets" / "cifar-100-python-target_archive", "cifar-100-python",
                        cifar100_files())
    _accept_small_file(monkeypatch, "cifar100", archive)
    ds = load_dataset(DataSpec(source="cifar100", label_mode="coarse", validation_split=0.0))
    assert ds.num_classes == 20 and ds.class_names == CIFAR100_COARSE_NAMES
    assert ds.y_train[0] == 5 and len(ds.x_train) == 40 and ds.y_train.ndim == 1


def test_mnist_not_cached_and_offline(keras_home):
    with pytest.raises(DataError) as err:
        load_dataset(DataSpec(source="mnist"))
    message = str(err.value)
    assert "MNIST is not in Keras's cache and could not be downloaded" in message
    assert f"save it as {keras_home.root / 'datasets' / 'mnist.npz'}" in message
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in message
    assert "'npz'" in message and "'digits'" in message
    assert "Traceback" not in message and len(keras_home.downloads) == 1


def test_fashion_mnist_offline_names_the_missing_file(keras_home):
    folder = keras_home.root / "datasets" / "fashion-mnist"
    write_idx_set(folder, gz=True)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_dataset(DataSpec(source="fashion_mnist"))
    assert f"save it as {folder / 't10k-images-idx3-ubyte.gz'}" in str(err.value)
    assert "train-images" not in str(err.value).split("\n")[1]


def test_cifar100_offline_names_the_archive_keras_wants(keras_home):
    with pytest.raises(DataError) as err:
        load_dataset(DataSpec(source="cifar100"))
    target = keras_home.root / "datasets" / "cifar-100-python-target_archive"
    assert "cifar-100-python.tar.gz and save it as " + str(target) in str(err.value)
    assert "'cifar'" in str(err.value)


def test_cached_file_with_wrong_hash_offline_says_keras_removed_it(keras_home):
    bad = keras_home.root / "datasets" / "mnist.npz"
    bad.write_bytes(b"not the real mnist")
    with pytest.raises(DataError) as err:
        load_dataset(DataSpec(source="mnist"))
    assert "did not match Keras's checksum, so Keras removed it" in str(err.value)
    assert not bad.exists()  # Keras's own behaviour: the reason Tapedeck never writes into that cache


# ----------------------------------------------------------------------------------------- describe

@pytest.mark.parametrize("source, shape, classes", [("digits", (8, 8, 1), 10), ("mnist", (28, 28, 1), 10),
                                                    ("fashion_mnist", (28, 28, 1), 10), ("cifar10", (32, 32, 3), 10),
                                                    ("cifar100", (32, 32, 3), 100)])
def test_describe_named_sets_without_loading(keras_home, source, shape, classes):
    input_shape, num_classes, names = describe(DataSpec(source=source))
    assert (input_shape, num_classes, len(names)) == (shape, classes, classes)
    assert keras_home.downloads == []  # nothing fetched, even though the cache is empty


def test_describe_agrees_with_load_for_files_and_rereads_after_a_change(tmp_path):
    write_class_folder(tmp_path, per_class=3, size=(9, 7))
    spec = DataSpec(source="folder", path=str(tmp_path), color_mode="grayscale")
    assert describe(spec) == ((9, 7, 1), 3, ["cat", "dog", "fox"])
    ds = load_dataset(spec)
    assert (ds.input_shape, ds.num_classes, ds.class_names) == describe(spec)
    write_class_folder(tmp_path, classes=("cat", "dog", "fox", "gnu"), per_class=3, size=(9, 7))
    assert describe(spec)[1] == 4


def test_describe_missing_path_raises_the_clear_message(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        describe(DataSpec(source="idx", path=str(tmp_path / "missing")))


def test_sources_table():
    assert SOURCES == ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "idx", "cifar", "npz", "folder")
    assert KERAS_SOURCES == ("mnist", "fashion_mnist", "cifar10", "cifar100")


def test_describe_folder_reads_headers_not_pixels(tmp_path, monkeypatch):
    from tapedeck.engine.data import image_folder

    write_class_folder(tmp_path, per_class=3, size=(9, 7))
    first = sorted((tmp_path / "cat").iterdir())[0]
    first.write_bytes(b"broken")  # the size comes from the first image that opens
    decoded = []
    monkeypatch.setattr(image_folder, "_decode", lambda *a: decoded.append(a))
    assert describe(DataSpec(source="folder", path=str(tmp_path))) == ((9, 7, 3), 3, ["cat", "dog", "fox"])
    assert describe(DataSpec(source="folder", path=str(tmp_path), image_size=[4, 5])) == ((4, 5, 3), 3,
                                                                                        ["cat", "dog", "fox"])
    assert decoded == []


@pytest.mark.parametrize("source", ["idx", "npz", "cifar"])
def test_describe_file_sources_matches_load_and_notices_new_files(tmp_path, source):
    if source == "idx":
        path = write_idx_set(tmp_path / "set", n_train=20, gz=False)
    elif source == "npz":
        x, y = images(20, 6, 6)
        path = tmp_path / "d.npz"
        np.savez(path, x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    else:
        path = write_tar(tmp_path / "c.tar.gz", "cifar-100-python", cifar100_files(20, 10))
    spec = DataSpec(source=source, path=str(path), label_mode="coarse")
    ds = load_dataset(spec)
    assert describe(spec) == (ds.input_shape, ds.num_classes, ds.class_names)
    if source == "idx":
        from tests.support.datafiles import idx_bytes

        (path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(20) % 12))
        assert describe(spec)[1] == 12
