"""File formats on small files of their exact real layout, and one clear DataError per kind of bad file."""
from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from tapedeck.engine.data.datasets import DataError, load_dataset
from tapedeck.engine.data.keras_sets import CIFAR10_NAMES, CIFAR100_COARSE_NAMES, CIFAR100_FINE_NAMES
from tapedeck.engine.spec.experiment import DataSpec
from tests.support.datafiles import (
    cifar10_files,
    cifar100_files,
    idx_bytes,
    images,
    label_of,
    write_class_folder,
    write_folder,
    write_idx_set,
    write_png,
    write_tar,
)


def _load(source, path, **options):
    return load_dataset(DataSpec(source=source, path=str(path), **options))


# ----------------------------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loads_gzipped_or_plain(tmp_path, gz):
    write_idx_set(tmp_path, n_train=30, n_test=10, gz=gz)
    ds = _load("idx", tmp_path, validation_split=0.2)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (24, 6, 10)
    assert ds.input_shape == (28, 28, 1) and ds.x_train.dtype == np.float32
    assert ds.num_classes == 10 and ds.class_names == [str(i) for i in range(10)]
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert [label_of(img) for img in x] == list(y)  # images and labels stayed paired through the split
    assert ds.y_train.dtype == np.int64


def test_idx_path_may_name_one_of_the_files_and_test_word_may_be_test(tmp_path):
    write_idx_set(tmp_path, gz=False, test_word="test")
    ds = _load("idx", tmp_path / "train-images-idx3-ubyte", validation_split=0.0)
    assert len(ds.x_train) == 30 and len(ds.x_test) == 10 and len(ds.x_val) == 0


def test_emnist_prefix_is_chosen_transposed_and_named_from_mapping(tmp_path):
    write_idx_set(tmp_path, prefix="emnist-letters-", size=6)
    write_idx_set(tmp_path, prefix="emnist-digits-", size=6)
    (tmp_path / "emnist-letters-mapping.txt").write_text(
        "\n".join(f"{i} {64 + i} {96 + i}" for i in range(1, 10)) + "\n0 48 48\n")
    with pytest.raises(DataError, match="several IDX sets.*emnist-digits.*emnist-letters"):
        _load("idx", tmp_path)
    ds = _load("idx", tmp_path / "emnist-letters", validation_split=0.0)
    assert ds.class_names[:3] == ["0", "A/a", "B/b"]
    x_raw = np.frombuffer(gzip.decompress((tmp_path / "emnist-letters-train-images-idx3-ubyte.gz").read_bytes()),
                          np.uint8, offset=16).reshape(-1, 6, 6)
    np.testing.assert_allclose(ds.x_train[:, :, :, 0] * 255, x_raw.transpose(0, 2, 1), rtol=1e-6)


def test_idx_bad_magic_number(tmp_path):
    write_idx_set(tmp_path, gz=False)
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x89PNG" + bad.read_bytes()[4:])
    with pytest.raises(DataError) as err:
        _load("idx", tmp_path)
    assert str(bad) in str(err.value) and "magic number 0x89504E47" in str(err.value)
    assert "expected 0x00000803" in str(err.value)


def test_idx_labels_file_in_place_of_images(tmp_path):
    write_idx_set(tmp_path, gz=False)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes((tmp_path / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(DataError, match="1-dimensional IDX array, expected 3"):
        _load("idx", tmp_path)


def test_idx_truncated_data(tmp_path):
    write_idx_set(tmp_path, gz=True)
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(bad.read_bytes())
    bad.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError) as err:
        _load("idx", tmp_path)
    assert f"{bad}: truncated" in str(err.value) and "(30, 28, 28)" in str(err.value)


def test_idx_cut_short_gzip_stream(tmp_path):
    write_idx_set(tmp_path, gz=True)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-12])
    with pytest.raises(DataError, match="gzip data is damaged or cut short"):
        _load("idx", tmp_path)


def test_idx_image_and_label_counts_differ(tmp_path):
    write_idx_set(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(29, np.uint8)))
    with pytest.raises(DataError) as err:
        _load("idx", tmp_path)
    assert "holds 30 images but train-labels-idx1-ubyte holds 29 labels" in str(err.value)


def test_idx_folder_missing_a_file(tmp_path):
    write_idx_set(tmp_path, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        _load("idx", tmp_path)


def test_idx_folder_without_idx_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="holds no IDX files"):
        _load("idx", tmp_path)


# --------------------------------------------------------------------------------------------- CIFAR

def test_cifar10_python_folder(tmp_path):
    folder = write_folder(tmp_path / "cifar-10-batches-py", cifar10_files(n_per_batch=10))
    ds = _load("cifar", tmp_path, validation_split=0.1)  # the parent of the extracted folder works too
    assert ds.input_shape == (32, 32, 3) and ds.class_names == CIFAR10_NAMES
    assert len(ds.x_train) + len(ds.x_val) == 50 and len(ds.x_test) == 10
    batch = pickle.loads((folder / "data_batch_1").read_bytes(), encoding="bytes")
    rgb = batch[b"data"][1].reshape(3, 32, 32).transpose(1, 2, 0)  # red plane, green plane, blue plane
    np.testing.assert_allclose(ds.x_train[1] * 255, rgb.astype(np.float32), rtol=1e-6)
    assert [label_of(img) for img in ds.x_test] == list(ds.y_test)


def test_cifar10_tar_gz_is_read_without_extracting(tmp_path):
    archive = write_tar(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", cifar10_files(5))
    ds = _load("cifar", archive, validation_split=0.0)
    assert len(ds.x_train) == 25 and ds.num_classes == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-python.tar.gz"]


@pytest.mark.parametrize("mode, names, first", [("fine", CIFAR100_FINE_NAMES, 3), ("coarse", CIFAR100_COARSE_NAMES, 5)])
def test_cifar100_fine_and_coarse(tmp_path, mode, names, first):
    archive = write_tar(tmp_path / "cifar-100-python.tar.gz", "cifar-100-python", cifar100_files())
    ds = _load("cifar", archive, label_mode=mode, validation_split=0.0)
    assert ds.class_names == names and ds.num_classes == len(names)
    assert ds.y_train[0] == first and len(ds.x_train) == 40 and len(ds.x_test) == 20


def test_cifar_folder_without_batches(tmp_path):
    files = cifar10_files(4)
    write_folder(tmp_path, {"batches.meta": files["batches.meta"], "readme.html": b"<html></html>"})
    with pytest.raises(DataError) as err:
        _load("cifar", tmp_path)
    assert str(tmp_path) in str(err.value) and "no CIFAR data batches" in str(err.value)


def test_cifar_batch_that_is_not_a_pickle(tmp_path):
    files = cifar10_files(4)
    files["data_batch_2"] = b"\x00" * 64
    write_folder(tmp_path, files)
    with pytest.raises(DataError, match="data_batch_2: not a CIFAR python pickle"):
        _load("cifar", tmp_path)


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    files = cifar10_files(4)
    files["test_batch"] = pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2)
    write_folder(tmp_path, files)
    with pytest.raises(DataError, match=r"refusing to load (__builtin__|builtins)\.print"):
        _load("cifar", tmp_path)


def test_cifar_batch_without_labels_key(tmp_path):
    files = cifar10_files(4)
    files["test_batch"] = pickle.dumps({b"data": np.zeros((4, 3072), np.uint8)}, protocol=2)
    write_folder(tmp_path, files)
    with pytest.raises(DataError, match="test_batch: CIFAR batch without key"):
        _load("cifar", tmp_path)


def test_cifar_damaged_archive(tmp_path):
    archive = write_tar(tmp_path / "c.tar.gz", "cifar-10-batches-py", cifar10_files(4))
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DataError, match="not a readable CIFAR .tar.gz"):
        _load("cifar", archive)


# ----------------------------------------------------------------------------------------------- npz

def _write_npz(path, **overrides):
    x_train, y_train = images(20)
    x_test, y_test = images(8, seed=3)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_npz_in_keras_mnist_layout(tmp_path):
    path = _write_npz(tmp_path / "mnist.npz", class_names=np.array(list("abcdefghij")))
    ds = _load("npz", path, validation_split=0.25, limit=12)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (9, 3, 8)
    assert ds.input_shape == (28, 28, 1) and ds.class_names == list("abcdefghij")
    assert [label_of(img) for img in ds.x_train] == list(ds.y_train)


def test_npz_one_hot_and_column_labels_become_integers(tmp_path):
    x_train, y = images(20)
    path = _write_npz(tmp_path / "d.npz", y_train=np.eye(10, dtype=np.float32)[y],
                      y_test=images(8, seed=3)[1].reshape(-1, 1))
    ds = _load("npz", path, validation_split=0.0)
    assert ds.y_train.dtype == np.int64 and list(ds.y_train) == list(y)
    assert ds.y_test.ndim == 1


def test_npz_missing_a_key(tmp_path):
    path = _write_npz(tmp_path / "d.npz", y_test=None)
    with pytest.raises(DataError) as err:
        _load("npz", path)
    assert str(path) in str(err.value) and "missing key(s) y_test" in str(err.value)


def test_npz_label_count_mismatch(tmp_path):
    path = _write_npz(tmp_path / "d.npz", y_train=np.zeros(19, np.uint8))
    with pytest.raises(DataError, match="x_train holds 20 images but y_train holds 19 labels"):
        _load("npz", path)


def test_npz_negative_labels(tmp_path):
    path = _write_npz(tmp_path / "d.npz", y_test=np.full(8, -1))
    with pytest.raises(DataError, match="test labels must be class indices"):
        _load("npz", path)


def test_file_that_is_not_an_npz(tmp_path):
    path = tmp_path / "d.npz"
    path.write_text("not a zip")
    with pytest.raises(DataError, match=r"d.npz: not an .npz archive \(not a zip file\)"):
        _load("npz", path)


# ------------------------------------------------------------------------------------- image folder

def test_image_folder_with_held_out_test_split(tmp_path):
    write_class_folder(tmp_path, per_class=5)
    ds = _load("folder", tmp_path, validation_split=0.0)
    assert ds.class_names == ["cat", "dog", "fox"] and ds.input_shape == (12, 10, 3)
    assert len(ds.x_train) == 12 and len(ds.x_test) == 3 and sorted(ds.y_test) == [0, 1, 2]
    red = ds.x_train[list(ds.y_train).index(0)]
    assert red[..., 0].mean() > 0.9 and red[..., 2].mean() < 0.1  # png/jpg/bmp/gif all decoded as RGB
    assert ds.warnings == [] and "20% held out" in ds.source


def test_image_folder_train_and_test_subfolders_size_and_grayscale(tmp_path):
    write_class_folder(tmp_path / "train", per_class=4)
    write_class_folder(tmp_path / "test", classes=("cat", "fox"), per_class=2)
    ds = _load("folder", tmp_path, image_size=[6, 8], color_mode="grayscale", validation_split=0.25)
    assert ds.input_shape == (6, 8, 1) and ds.class_names == ["cat", "dog", "fox"]
    assert len(ds.x_train) + len(ds.x_val) == 12 and sorted(set(ds.y_test)) == [0, 2]


def test_image_folder_skips_a_file_that_does_not_decode_and_says_which(tmp_path):
    write_class_folder(tmp_path, per_class=5)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (tmp_path / "fox" / "empty.jpg").write_bytes(b"")
    (tmp_path / "fox" / "notes.txt").write_text("not an image, not counted")
    ds = _load("folder", tmp_path, validation_split=0.0)
    assert len(ds.x_train) + len(ds.x_test) == 15
    assert len(ds.warnings) == 1
    assert "skipped 2 image file(s)" in ds.warnings[0]
    assert "dog/broken.png" in ds.warnings[0] and "fox/empty.jpg" in ds.warnings[0]


def test_image_folder_truncated_png_is_skipped(tmp_path):
    write_class_folder(tmp_path, per_class=3, size=(40, 40))
    cut = write_png(tmp_path / "cat" / "cut.png", (64, 64), (1, 2, 3))
    from PIL import Image

    Image.effect_noise((64, 64), 50).convert("RGB").save(cut)
    cut.write_bytes(cut.read_bytes()[:200])
    ds = _load("folder", tmp_path, validation_split=0.0)
    assert "cat/cut.png" in ds.warnings[0]


def test_class_folder_with_no_images(tmp_path):
    write_class_folder(tmp_path, per_class=3)
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "empty_class" / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError) as err:
        _load("folder", tmp_path)
    assert str(tmp_path / "empty_class") in str(err.value) and "holds no images" in str(err.value)


def test_class_folder_whose_only_image_is_broken(tmp_path):
    write_class_folder(tmp_path, per_class=3)
    write_png(tmp_path / "owl" / "a.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="owl: no image in this class folder decodes"):
        _load("folder", tmp_path)


def test_folder_without_class_subfolders(tmp_path):
    write_png(tmp_path / "a.png")
    with pytest.raises(DataError, match="no class sub-folders"):
        _load("folder", tmp_path)


def test_test_folder_with_an_unknown_class(tmp_path):
    write_class_folder(tmp_path / "train", per_class=2)
    write_class_folder(tmp_path / "test", classes=("cat", "owl"), per_class=1)
    with pytest.raises(DataError, match="class 'owl' is not among the training classes"):
        _load("folder", tmp_path)


@pytest.mark.parametrize("size", [[0, 4], [4], ["a", 4], 8])
def test_bad_image_size(tmp_path, size):
    write_class_folder(tmp_path, per_class=2)
    with pytest.raises(DataError, match=r"data.image_size: expected \[height, width\]"):
        _load("folder", tmp_path, image_size=size)


def test_bad_color_mode(tmp_path):
    write_class_folder(tmp_path, per_class=2)
    with pytest.raises(DataError, match="data.color_mode"):
        _load("folder", tmp_path, color_mode="cmyk")


# ------------------------------------------------------------------------------------- every source

@pytest.mark.parametrize("source", ["idx", "cifar", "npz", "folder"])
def test_path_that_does_not_exist(tmp_path, source):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as err:
        _load(source, missing)
    assert f"{missing}: no such file or folder" in str(err.value) and "data.path" in str(err.value)


@pytest.mark.parametrize("source", ["idx", "cifar", "npz", "folder"])
def test_file_source_without_path(source):
    with pytest.raises(DataError, match="data.path: .* needs a path"):
        load_dataset(DataSpec(source=source))


def test_idx_header_sizes_are_big_endian(tmp_path):
    """Guards the writer the other tests rely on against the format's definition."""
    raw = idx_bytes(np.zeros((3, 4, 5), np.uint8))
    assert raw[:4] == b"\x00\x00\x08\x03" and struct.unpack(">3I", raw[4:16]) == (3, 4, 5) and len(raw) == 76
