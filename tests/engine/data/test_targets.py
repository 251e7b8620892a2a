"""Named arrays for several inputs and heads: npz x_*/y_* arrays, CIFAR-100 fine + coarse, derived parity."""
import numpy as np
import pytest

from tapedeck.engine.data.datasets import DataError, describe_feeds, load_dataset
from tapedeck.engine.spec.experiment import DataSpec
from tests.support.datafiles import cifar100_files, images, write_folder


def _npz(path, n_train=40, n_test=12, **extra):
    x_train, y_train = images(n_train, 8, 8, seed=0)
    x_test, y_test = images(n_test, 8, 8, seed=1)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


def _two_input_npz(path):
    rng = np.random.default_rng(0)
    return _npz(path, x_train_extra=rng.normal(size=(40, 5)).astype(np.float32),
                x_test_extra=rng.normal(size=(12, 5)).astype(np.float32),
                y_train_size=rng.normal(size=40).astype(np.float32), y_test_size=rng.normal(size=12).astype(np.float32),
                y_train_kind=rng.integers(0, 3, 40), y_test_kind=rng.integers(0, 3, 12),
                class_names_kind=np.array(["a", "b", "c"]))


def test_npz_named_arrays_feed_inputs_and_targets_split_like_the_images(tmp_path):
    path = _two_input_npz(tmp_path / "two.npz")
    data = DataSpec(source="npz", path=str(path), validation_split=0.25)
    dataset = load_dataset(data)
    train, val, test = dataset.inputs["x_extra"]
    assert (len(train), len(val), len(test)) == (30, 10, 12) and train.dtype == np.float32
    raw = np.load(path)["x_train_extra"]
    rows = [int(np.flatnonzero((raw == row).all(axis=1))[0]) for row in val]
    assert np.array_equal(dataset.y_val, np.load(path)["y_train"][rows])   # the same rows as the images
    assert dataset.targets["size"].kind == "values" and dataset.targets["size"].width == 1
    assert dataset.targets["kind"].class_names == ["a", "b", "c"]
    feeds = describe_feeds(data)
    assert feeds.shapes == {"x": (8, 8, 1), "x_extra": (5,)}
    assert feeds.targets["kind"] == ("classes", ["a", "b", "c"], 3, False)
    assert feeds.targets["size"] == ("values", [], 1, False)


def test_a_named_array_whose_length_differs_names_both_arrays(tmp_path):
    path = _npz(tmp_path / "bad.npz", x_train_extra=np.zeros((39, 5)), x_test_extra=np.zeros((12, 5)))
    with pytest.raises(DataError, match="x_train_extra holds 39 rows but x_train holds 40 images"):
        load_dataset(DataSpec(source="npz", path=str(path)))


def test_a_named_array_without_its_test_twin(tmp_path):
    path = _npz(tmp_path / "half.npz", y_train_age=np.zeros(40))
    with pytest.raises(DataError, match="has y_train_age but no y_test_age; save both splits"):
        load_dataset(DataSpec(source="npz", path=str(path)))


def test_digits_has_a_derived_parity_target():
    dataset = load_dataset(DataSpec(source="digits", limit=200))
    parity = dataset.targets["parity"]
    assert parity.derived and parity.class_names == ["even", "odd"]
    assert np.array_equal(parity.train, dataset.y_train % 2) and np.array_equal(parity.test, dataset.y_test % 2)
    assert describe_feeds(DataSpec(source="digits")).targets["parity"] == ("classes", ["even", "odd"], 2, True)


def test_cifar100_files_hold_fine_and_coarse_at_once(tmp_path):
    folder = write_folder(tmp_path / "cifar-100-python", cifar100_files())
    data = DataSpec(source="cifar", path=str(folder))
    dataset = load_dataset(data)
    fine, coarse = dataset.targets["fine"], dataset.targets["coarse"]
    assert len(fine.class_names) == 100 and len(coarse.class_names) == 20
    assert fine.class_names[3] == "bear" and coarse.class_names[5] == "household_electrical_devices"
    assert np.array_equal(fine.train, dataset.y_train)   # label_mode fine: the labels are the fine ones
    assert np.array_equal(coarse.train, (fine.train - 3) // 10 + 5)
    targets = describe_feeds(data).targets
    assert targets["fine"][2] == 100 and targets["coarse"][2] == 20
    assert set(describe_feeds(DataSpec(source="cifar100")).targets) == {"label", "fine", "coarse"}
