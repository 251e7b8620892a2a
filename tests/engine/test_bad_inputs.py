"""The catalogue of bad inputs and faults (issue 12): each case is a small file of the real format, or a
setting, written with one thing wrong, given to the command a person would type.

Every case must end as the person expects: exit 2, one short line (or a short list) on stderr starting
with ``tapedeck:`` that names the thing (``expect``), no traceback, and no line longer than a screenful.
Commands run in this process (``engine.cli.main``), so TensorFlow loads once for the whole catalogue.
"""
from __future__ import annotations

import errno
import gzip
import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tests.support import badfiles as bad
from tests.support.datafiles import cifar10_files, py2_pickle, write_class_folder, write_folder

LONGEST_LINE = 1000   # characters: a message, not an echo of the input


@dataclass
class Case:
    name: str
    build: object          # tmp_path -> argv
    expect: str            # what the message must name
    code: int = 2


def _experiment(tmp_path, data=None, change=None, name="exp.json") -> str:
    experiment = bad.base_experiment(**(data or {}))
    if change is not None:
        change(experiment)
    return str(bad.write_experiment(tmp_path / name, experiment))


def _idx(tmp_path, file_name, raw, gz=False):
    folder = bad.idx_folder_with(tmp_path / "idx", file_name, raw, gz=gz)
    return ["check", _experiment(tmp_path, {"source": "idx", "path": str(folder)})]


def _npz(tmp_path, x, y):
    path = bad.npz(tmp_path / "data.npz", x, y)
    return _experiment(tmp_path, {"source": "npz", "path": str(path), "limit": None})


def _cifar_meta(tmp_path, label_names):
    files = cifar10_files(n_per_batch=4, batches=1)
    files["batches.meta"] = py2_pickle({b"label_names": label_names})
    folder = write_folder(tmp_path / "cifar", files)
    return ["check", _experiment(tmp_path, {"source": "cifar", "path": str(folder)})]


def _nested(depth):
    return '{"a": ' * depth + "1" + "}" * depth


def _set(section, **values):
    return lambda e: e[section].update(values)


def _runs_is_a_file(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    return ["train", _experiment(tmp_path), "--out", str(tmp_path / "runs")]


def _a_file_in_the_way(tmp_path):
    (tmp_path / "plain").write_text("a file")
    return tmp_path / "plain" / "sub"


def _big_dense(tmp_path):
    def huge(e):
        e["model"]["layers"][4]["units"] = 10**12
    return ["check", _experiment(tmp_path, change=huge)]


def _nan_pixels(tmp_path):
    x = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    x[7, 3, 2] = np.nan
    return ["train", _npz(tmp_path, x, np.arange(40) % 4), "--out", str(tmp_path / "runs")]


def _inf_test_pixels(tmp_path):
    x = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    x_test = x.copy()
    x_test[2, 0, 0] = np.inf
    path = bad.npz(tmp_path / "data.npz", x, np.arange(40) % 4, x_test, np.arange(40) % 4)
    return ["check", _experiment(tmp_path, {"source": "npz", "path": str(path), "limit": None})]


CASES = [
    # Data files whose headers lie, or that hold what no reader expects ("check" used to give tracebacks).
    Case("idx dimensions whose product overflows int64 to 0",
         lambda t: _idx(t, "train-images-idx3-ubyte", bad.idx_header(3, (2**31, 2**31, 4))), "truncated"),
    Case("idx label file claiming 2**31 items (gzipped)",
         lambda t: _idx(t, "train-labels-idx1-ubyte", bad.idx_header(1, (2**31,)) + bytes(30), gz=True),
         "cannot hold that much"),
    Case("idx gzip bomb: honest header, 20 MB of data after it", lambda t: _gzip_bomb(t),
         "longer than its header says"),
    Case("cifar label_names of the wrong type", lambda t: _cifar_meta(t, 5), "label_names is int"),
    Case("npz with string pixels",
         lambda t: ["check", _npz(t, np.full((20, 8, 8), "ab"), np.arange(20) % 2)], "dtype <U2"),
    Case("npz with one NaN pixel (train)", _nan_pixels, "holds nan at index [7, 3, 2]"),
    Case("npz with an inf test pixel (check)", _inf_test_pixels, "holds inf at index [2, 0, 0]"),
    Case("one-class data",
         lambda t: ["check", _npz(t, np.zeros((20, 8, 8), np.uint8), np.full(20, 3))], "one class"),
    Case("data.path too long for the file system",
         lambda t: ["check", _experiment(t, {"source": "npz", "path": "x" * 200_000})], "cannot be looked up"),
    # Experiment files.
    Case("experiment nested 40 levels deep",
         lambda t: ["check", _experiment(t, change=lambda e: e["data"].update(extra=json.loads(_nested(40))))],
         "nested more than 32 levels"),
    Case("experiment nested 100,000 levels deep (RecursionError in json)",
         lambda t: ["check", str(_write(t / "deep.json", _nested(100_000)))], "nested more than 32 levels"),
    Case("batch size 2**63",
         lambda t: ["train", _experiment(t, change=_set("training", batch_size=2**63))], "training.batch_size"),
    Case("a 5 MB layer type is cut in the message",
         lambda t: ["check", _experiment(t, change=lambda e: e["model"]["layers"][0].update(type="x" * 5_000_000))],
         "characters)"),
    Case("a 5 MB layer name is cut in the message",
         lambda t: ["code", _experiment(t, change=lambda e: e["model"]["layers"][1].update(
             name="n" * 5_000_000, inputs=["n" * 5_000_000]))],
         "characters)"),
    Case("Dense with 10**12 units", _big_dense, "beyond this machine's budget"),
    # Where results go.
    Case("runs folder that is a file", _runs_is_a_file, "is a file, not a runs folder"),
    Case("read-only runs folder",
         lambda t: ["train", _experiment(t), "--out", str(bad.read_only_folder(t) / "runs")], "cannot be written"),
    Case("code -o under a regular file",
         lambda t: ["code", _experiment(t), "-o", str(_a_file_in_the_way(t) / "train.py")],
         "a part of that path is a file"),
    Case("export script onto a path under a regular file",
         lambda t: _export(t, "script", _a_file_in_the_way(t) / "train.py"), "a part of that path is a file"),
    Case("export history into a read-only folder",
         lambda t: _export(t, "history", bad.read_only_folder(t) / "history.csv"), "cannot be written"),
    Case("code -o into a read-only folder",
         lambda t: ["code", _experiment(t), "-o", str(bad.read_only_folder(t) / "train.py")], "cannot be written"),
]


def _export(tmp_path, fmt, out):
    from tests.support.run_support import copy_run, trained_run

    return ["export", str(copy_run(trained_run(), tmp_path / "runs")), "--format", fmt, "--out", str(out)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _gzip_bomb(tmp_path):
    folder = bad.idx_folder_with(tmp_path / "idx", "train-images-idx3-ubyte.gz", bad.gzip_bomb())
    (folder / "train-images-idx3-ubyte").unlink()   # else the unpacked copy beside it is read
    return ["check", _experiment(tmp_path, {"source": "idx", "path": str(folder)})]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_naming_it(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = case.build(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == case.code, err[-2000:]
    assert "Traceback" not in err
    first = err.lstrip().splitlines()[0]
    assert first.startswith(("tapedeck:", "error:")), first[:500]   # check lists its problems as error: lines
    assert case.expect in err, err[:2000]
    assert max(len(line) for line in err.splitlines()) <= LONGEST_LINE, max(map(len, err.splitlines()))


def test_idx_header_is_checked_before_the_data_is_read(tmp_path):
    """The ~15 GB case: a gzipped label file claiming 2**32-1 items must not be read to find out."""
    import resource

    from tapedeck.engine.data.readers import DataError, read_idx

    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(bad.idx_header(1, (2**32 - 1,)) + bytes(1000)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match="cannot hold that much"):
        read_idx(path, 1)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: no allocation


def test_a_gzip_bomb_is_refused_without_unpacking_it(tmp_path):
    """An honest header followed by 64 MB of zeros: reading stops one byte past what the header says."""
    import tracemalloc

    from tapedeck.engine.data.readers import DataError, read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bad.gzip_bomb(extra=64 * 2**20))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="longer than its header says"):
            read_idx(path, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"reading the bomb allocated {peak / 2**20:.0f} MiB"


def test_an_npz_header_is_checked_against_its_member_before_numpy_allocates(tmp_path):
    """x_train's header claims 100,000 28×28 float32 images (313 MB); the member holds 16 bytes."""
    import tracemalloc
    import zipfile

    from tapedeck.engine.data.readers import DataError, read_npz

    path = tmp_path / "lying.npz"
    arrays = {"y_train": np.zeros(4), "x_test": np.zeros((4, 8, 8)), "y_test": np.zeros(4)}
    np.savez(path, **arrays)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (100_000, 28, 28)})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("x_train.npy", header.getvalue() + bytes(16))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"x_train announces shape \(100000, 28, 28\)"):
            read_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"reading the header allocated {peak / 2**20:.0f} MiB"


def test_a_cifar_archive_member_larger_than_the_archive_can_hold_is_refused(tmp_path):
    import tarfile

    from tapedeck.engine.data.readers import DataError, read_cifar

    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = 10**12
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(gzip.compress(info.tobuf() + bytes(1024)))
    with pytest.raises(DataError, match="claims 1,000,000,000,000 bytes"):
        read_cifar(path)


def test_check_counts_a_huge_dense_without_allocating_it(tmp_path, capsys):
    import resource

    argv = _big_dense(tmp_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(argv) == 2
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    err = capsys.readouterr().err
    assert "1,025,000,000,000,000" in err   # the figure: 1024 inputs × 10**12 units, plus biases
    assert grown < 500_000, f"check grew the process by {grown // 1024} MiB"


def test_a_layer_counted_without_allocation_leaves_nothing_to_initialise_later():
    """Keras keeps deferred variables per thread; a later StatelessScope would draw them all."""
    import keras
    from keras.src.backend.common import global_state

    from tapedeck.engine.model.check import check
    from tapedeck.engine.spec.experiment import Experiment

    experiment = Experiment.from_dict(bad.base_experiment())
    experiment.model.layers[4].params["units"] = 10**11
    assert not check(experiment, (8, 8, 1), 10).ok
    assert not global_state.get_global_attribute("uninitialized_variables")
    with keras.StatelessScope():   # would allocate 400 GB if the Dense weights were still pending
        pass


def test_runs_lists_every_folder_even_when_some_are_damaged(tmp_path, capsys):
    from tests.support.run_support import copy_run, trained_run

    good = copy_run(trained_run(), tmp_path)
    deep = tmp_path / "20240101-000000-deep"
    deep.mkdir()
    (deep / "experiment.json").write_text(_nested(100_000))
    long_field = copy_run(trained_run(), tmp_path / "copy")
    long_field = long_field.rename(tmp_path / "20240101-000001-long-field")
    (long_field / "history.csv").write_text("epoch,loss\n1," + "9" * 200_000 + "\n")
    assert main(["runs", str(tmp_path), "--all"]) == 0
    out = capsys.readouterr().out
    assert good.name in out and long_field.name in out and deep.name in out
    assert "history.csv unreadable" in out and "nested more than 32 levels" in out
    assert max(len(line) for line in out.splitlines()) <= LONGEST_LINE


def test_train_names_the_skipped_image_files_and_the_decompression_bomb(tmp_path, capsys):
    folder = write_class_folder(tmp_path / "photos", classes=("cat", "dog"), per_class=6, size=(8, 8))
    (folder / "cat" / "broken.png").write_bytes(b"not a png")
    bad.bomb_png(folder / "dog" / "bomb.png")
    def two_classes(e):
        e["model"]["layers"][-1]["units"] = 2

    experiment = _experiment(tmp_path, {"source": "folder", "path": str(folder), "limit": None,
                                        "validation_split": 0.0}, change=two_classes)
    code = main(["train", experiment, "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 0, err[-1500:]
    assert "skipped 2 image file(s)" in err
    assert "broken.png" in err and "bomb.png" in err and "decompression bomb" in err


def test_sixteen_bit_pngs_read_as_their_eight_bit_originals(tmp_path):
    """``convert("L")`` clipped 16-bit values to white; 8-bit v saved as 257·v must read back as v."""
    from PIL import Image

    from tapedeck.engine.data.image_folder import read_image_folder

    rng = np.random.default_rng(0)
    for depth in (8, 16):
        for label in ("a", "b"):
            for i in range(4):
                pixels = rng.integers(0, 256, (6, 6), dtype=np.uint16) if depth == 8 else None
                if depth == 16:
                    pixels = np.asarray(Image.open(tmp_path / "8" / label / f"{i}.png"), dtype=np.uint16)
                    image = Image.fromarray(pixels * 257)
                else:
                    image = Image.fromarray(pixels.astype(np.uint8))
                (tmp_path / str(depth) / label).mkdir(parents=True, exist_ok=True)
                image.save(tmp_path / str(depth) / label / f"{i}.png")
    assert Image.open(tmp_path / "16" / "a" / "0.png").mode.startswith("I")
    eight = read_image_folder(tmp_path / "8", color_mode="grayscale")
    sixteen = read_image_folder(tmp_path / "16", color_mode="grayscale")
    np.testing.assert_array_equal(sixteen.x_train, eight.x_train)
    np.testing.assert_array_equal(sixteen.x_test, eight.x_test)


def test_cifar_reader_refuses_the_doctored_pickle_the_script_test_uses(tmp_path):
    """The payload of the exported-script test really runs code under plain pickle (so it can fail)."""
    marker = tmp_path / "ran"
    payload = pickle.dumps({b"data": bad.MarkerPayload(marker), b"labels": [0]}, protocol=2)
    pickle.loads(payload)
    assert marker.exists()


def test_exit_2_names_the_fix_for_a_write_the_os_refuses(tmp_path, capsys, monkeypatch):
    """A full disk while the script is written: the path and the fix, not OSError's traceback."""
    import os

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["code", _experiment(tmp_path), "-o", str(tmp_path / "train.py")]) == 2
    err = capsys.readouterr().err
    assert "train.py: cannot be written (No space left on device); the disk is full" in err
