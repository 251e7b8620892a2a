"""The file sources opened for streaming: what each split holds, read a few rows at a time on demand.

Opening reads only what is small — labels, headers, file names — so a set larger than memory can be
described and split before any image is decoded. Pixels come later, per batch, through each split's
``read``: IDX and uncompressed .npz arrays through memory maps (pages the OS reads in, and drops
again, as a batch needs them), CIFAR one pickled batch file at a time, image folders one file per image
decoded by the in-memory reader's decoder (TensorFlow's ops for ordinary PNG and JPEG, Pillow for the rest:
the same pixels), inside the ``tf.data`` pipeline itself.
What cannot be mapped (gzipped IDX, a compressed .npz, a CIFAR .tar.gz) raises :class:`NotStreamableError`
with the reason and the fix; ``data.streaming: auto`` then loads it whole instead.
"""
from __future__ import annotations

import math
import re
import struct
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tapedeck.engine.data import image_folder as folders
from tapedeck.engine.data import readers, tf_decode
from tapedeck.engine.data.readers import DataError, existing_path
from tapedeck.engine.text import cut

__all__ = ["NotStreamableError", "Split", "StreamSource", "open_source"]

_SEED = 0
_CHUNK_BYTES = 64 << 20   # whole-file checks (finite pixels, largest value) read this much at a time


class NotStreamableError(DataError):
    """The files cannot be read piecewise (compressed, archived); the message says how to make them so."""


@dataclass
class Split:
    """One stored split (the train pool, or the test set): its labels in memory, its pixels on disk.

    ``read(rows)`` returns ``(pixels, keep)``: the pixels of the rows that decode, as stored (uint8 or
    float, (n, H, W) or (n, H, W, C)), and a mask over ``rows`` of those kept. ``groups`` numbers the
    file each row lives in (CIFAR's batch files), so an epoch can read file by file.
    """

    labels: np.ndarray
    read: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    groups: np.ndarray | None = None
    # Image folders: () -> decode(row), the uint8 image of one row in TensorFlow ops, so the training
    # pipeline decodes in parallel with no Python per image (engine.data.tf_decode).
    graph_decode: Callable | None = None

    @property
    def count(self) -> int:
        return len(self.labels)


@dataclass
class StreamSource:
    train: Split
    test: Split                # an image folder without test/ holds its share out when it is opened
    image_shape: tuple         # one image as stored: (H, W) or (H, W, C)
    class_names: list[str] | None
    scale: float
    description: str
    warnings: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)   # image files found not to decode while streaming
    settle: Callable[..., None] | None = None   # (limit, check_training): checks the files a run uses first

    def decoded_bytes(self, limit: int | None) -> int:
        """What the in-memory loader would hold: float32 pixels of every image used."""
        train = self.train.count if limit is None else min(limit, self.train.count)
        return (train + self.test.count) * math.prod(self.image_shape) * 4


def open_source(data) -> StreamSource:
    """The streamable view of ``data``'s files (a DataSpec with a file source)."""
    source = data.source
    path = getattr(data, "path", None)
    if source == "idx":
        return _open_idx(path)
    if source == "npz":
        return _open_npz(path)
    if source == "cifar":
        return _open_cifar(path, getattr(data, "label_mode", "fine"))
    if source == "folder":
        return _open_folder(data)
    raise NotStreamableError(f"data.source {source!r}: only the file sources (idx, npz, cifar, folder) stream")


# ------------------------------------------------------------------------------------------ memory maps

def _mapped_reader(path: Path, dtype, offset: int, shape: tuple, order: str = "C", transpose: bool = False):
    """Rows of an array stored in ``path`` at ``offset``, fancy-indexed from a read-only memory map."""
    array = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
    if transpose:
        array = array.transpose(0, 2, 1)   # EMNIST stores each image transposed

    def read(rows: np.ndarray):
        rows = np.asarray(rows, dtype=np.int64)
        return np.asarray(array[rows]), np.ones(len(rows), dtype=bool)

    return read, array


def _whole_checks(path: Path, array: np.ndarray, where: str, name: str) -> float | None:
    """Refuse non-finite pixels and find the largest value, a chunk at a time (never the whole array)."""
    readers.numeric(array, where, name)
    if array.dtype == np.uint8:
        return 255.0
    rows = max(1, _CHUNK_BYTES // max(1, math.prod(array.shape[1:]) * array.dtype.itemsize))
    top = -np.inf
    for start in range(0, len(array), rows):
        chunk = np.asarray(array[start:start + rows])
        if np.issubdtype(chunk.dtype, np.floating) and not np.isfinite(chunk).all():
            index = np.unravel_index(int(np.argmin(np.isfinite(chunk))), chunk.shape)
            at = [start + int(index[0]), *map(int, index[1:])]   # worded as the in-memory check words it
            raise DataError(f"{where}: {name} holds {chunk[index].item()} at index {at} (image {at[0]}); every "
                            "pixel must be a finite number: fix or remove that image")
        if chunk.size:
            top = max(top, float(chunk.max()))
    if not np.isfinite(top):
        return 1.0
    if np.issubdtype(array.dtype, np.integer):
        return max(top, 1.0)
    return 1.0 if top <= 1.0 else (255.0 if top <= 255.0 else top)


# ------------------------------------------------------------------------------------------------- IDX

def _idx_header(path: Path, dims: int) -> tuple[tuple, np.dtype, int]:
    """(shape, dtype, data offset) of an uncompressed IDX file, checked against the file's size."""
    with open(path, "rb") as f:
        head = f.read(4 + 4 * dims)
    if head[:2] == b"\x1f\x8b":
        raise NotStreamableError(f"{path}: is gzipped, and a compressed file cannot be memory-mapped; unpack it "
                                 f"(gunzip -k {path.name}) to stream it, or set data.streaming to \"off\"")
    if len(head) < 4 + 4 * dims or head[0] or head[1] or head[2] not in readers._IDX_TYPES or head[3] != dims:
        readers.read_idx(path, dims)   # the in-memory reader's own message for a bad header
        raise DataError(f"{path}: not an IDX file with {dims} dimensions; download the file again")
    shape = struct.unpack(f">{dims}I", head[4:])
    dtype = readers._IDX_TYPES[head[2]]
    offset = 4 + 4 * dims
    have = path.stat().st_size - offset
    want = math.prod(shape) * dtype.itemsize
    if have != want:
        what = "truncated" if have < want else "longer than its header says"
        raise DataError(f"{path}: {what}: header announces shape {tuple(shape)} ({want:,} bytes of data) but the "
                        f"file holds {have:,}; download the file again")
    return tuple(shape), dtype, offset


def _open_idx(path) -> StreamSource:
    if path is None or str(path).strip() == "":
        existing_path(path, "IDX folder")
    folder, prefix, group = readers._locate_idx(Path(path).expanduser())
    emnist = prefix.lower().startswith("emnist")
    splits, scale, image_shape = {}, 255.0, ()
    for split in ("train", "test"):
        images, labels_path = group[(split, "images")], group[(split, "labels")]
        shape, dtype, offset = _idx_header(images, 3)
        labels = readers.read_idx(labels_path, 1)
        if shape[0] != len(labels):
            raise DataError(f"{images}: holds {shape[0]} images but {labels_path.name} holds {len(labels)} labels; "
                            "the two files must come from the same download")
        read, array = _mapped_reader(images, dtype, offset, shape, transpose=emnist)
        if split == "train":
            scale = _whole_checks(images, array, f"IDX files {folder}", "training images")
            image_shape = tuple(array.shape[1:])
        else:
            _whole_checks(images, array, f"IDX files {folder}", "test images")
        splits[split] = Split(labels, read)
    names = readers._emnist_names(folder, prefix) if emnist else None
    label = f"{folder}/{prefix}*" if prefix else str(folder)
    return StreamSource(splits["train"], splits["test"], image_shape, names, scale, f"IDX files {label}")


# ------------------------------------------------------------------------------------------------- npz

def _member_array(path: Path, archive: zipfile.ZipFile, name: str):
    """(shape, dtype, offset, order) of an uncompressed .npy member, located inside the .npz file itself."""
    from numpy.lib import format as npy

    info = archive.getinfo(name + ".npy")
    if info.compress_type != zipfile.ZIP_STORED:
        raise NotStreamableError(f"{path}: {name} is compressed (numpy.savez_compressed), and a compressed array "
                                 "cannot be memory-mapped; write the file with numpy.savez to stream it, or set "
                                 "data.streaming to \"off\"")
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            raise DataError(f"{path}: damaged zip entry for {name}; write the file again with numpy.savez")
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_length + extra_length)
        version = npy.read_magic(f)
        reader = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
        if reader is None:
            raise NotStreamableError(f"{path}: {name} uses .npy format {version}, which Tapedeck does not map; set "
                                     "data.streaming to \"off\"")
        shape, fortran, dtype = reader(f, max_header_size=100_000)
        offset = f.tell()
    if dtype.hasobject:
        raise DataError(f"{path}: {name} holds Python objects; expected numbers (uint8 pixels 0..255 or floats)")
    if math.prod(shape) * dtype.itemsize > info.file_size:
        raise DataError(f"{path}: {cut(name)} announces shape {shape} but holds {info.file_size:,} bytes; write "
                        "the file again with numpy.savez")
    return tuple(shape), dtype, offset, "F" if fortran else "C"


def _open_npz(path) -> StreamSource:
    path = existing_path(path, ".npz file")
    if path.is_dir() or not zipfile.is_zipfile(path):
        readers.read_npz(path)   # its message for a folder or a file that is not an archive
    keys = readers._NPZ_KEYS
    try:
        with zipfile.ZipFile(path) as archive:
            members = {n.removesuffix(".npy") for n in archive.namelist()}
            missing = [k for k in keys if k not in members]
            if readers._named_targets_only(members, missing):   # heads' own targets: whole, by the check
                raise NotStreamableError("the file holds named targets and no plain y_train / y_test")
            if missing:
                has = ", ".join(sorted(members)) or "none"
                raise DataError(f"{path}: missing key(s) {', '.join(missing)} (has {has}); "
                                f"save it with np.savez(path, {'=…, '.join(keys)}=…)")
            layout = {k: _member_array(path, archive, k) for k in ("x_train", "x_test")}
        with np.load(path, allow_pickle=False) as f:   # labels and names only: small
            y = {k: f[k] for k in ("y_train", "y_test")}
            names = [str(n) for n in f["class_names"]] if "class_names" in f.files else None
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc}); write it with numpy.savez") from None
    splits, scale = {}, 255.0
    for split in ("train", "test"):
        shape, dtype, offset, order = layout[f"x_{split}"]
        if len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in (1, 3, 4)):
            raise DataError(f"{path}: x_{split} has shape {shape}, expected images (N, H, W) or (N, H, W, C) "
                            "with C = 1, 3 or 4")
        if shape[0] != len(y[f"y_{split}"]):
            raise DataError(f"{path}: x_{split} holds {shape[0]} images but y_{split} holds "
                            f"{len(y[f'y_{split}'])} labels")
        read, array = _mapped_reader(path, dtype, offset, shape, order)
        found = _whole_checks(path, array, f"npz file {path}", f"x_{split}")
        scale = found if split == "train" else scale
        splits[split] = Split(y[f"y_{split}"], read)
    if layout["x_train"][0][1:] != layout["x_test"][0][1:]:
        raise DataError(f"{path}: x_train images are {layout['x_train'][0][1:]} but x_test images are "
                        f"{layout['x_test'][0][1:]}; both splits need one image shape")
    return StreamSource(splits["train"], splits["test"], tuple(layout["x_train"][0][1:]), names, scale,
                        f"npz file {path}")


# ----------------------------------------------------------------------------------------------- CIFAR

_CIFAR_FILES = re.compile(r"^(data_batch_\d+|test_batch|batches\.meta|train|test|meta)$")


class _BatchFiles:
    """Decoded CIFAR batch files, the last two kept: an epoch reads its rows file by file."""

    def __init__(self, folder: Path, label_key: str):
        self.folder, self.label_key = folder, label_key
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        data, labels = readers._cifar_batch({name: (self.folder / name).read_bytes()}, name, str(self.folder),
                                            self.label_key)
        return readers._nhwc(data), labels

    def pixels(self, name: str) -> np.ndarray:
        with self._lock:
            if name in self._kept:
                self._kept.move_to_end(name)
                return self._kept[name]
            images = self.load(name)[0]
            self._kept[name] = images
            while len(self._kept) > 2:
                self._kept.popitem(last=False)
            return images


def _cifar_split(files: _BatchFiles, names: list[str]) -> Split:
    labels, groups, starts = [], [], []
    for number, name in enumerate(names):
        _, y = files.load(name)   # read once for the labels; the pixels are let go
        starts.append(sum(len(part) for part in labels))
        labels.append(y)
        groups.append(np.full(len(y), number, dtype=np.int64))
    group = np.concatenate(groups)
    first = np.array(starts, dtype=np.int64)

    def read(rows: np.ndarray):
        rows = np.asarray(rows, dtype=np.int64)
        out = None
        for g in np.unique(group[rows]):
            at = np.flatnonzero(group[rows] == g)
            images = files.pixels(names[g])
            if out is None:
                out = np.empty((len(rows), *images.shape[1:]), dtype=images.dtype)
            out[at] = images[rows[at] - first[g]]
        if out is None:
            out = np.empty((0, 32, 32, 3), dtype=np.uint8)
        return out, np.ones(len(rows), dtype=bool)

    return Split(np.concatenate(labels), read, groups=group)


def _open_cifar(path, label_mode: str) -> StreamSource:
    path = existing_path(path, "CIFAR folder or .tar.gz")
    if not path.is_dir():
        raise NotStreamableError(f"{path}: a CIFAR archive is streamed from its extracted batch files; extract it "
                                 f"(tar xzf {path.name}) and point data.path at the folder, or set data.streaming "
                                 "to \"off\"")
    folder = path
    inner = [d for d in ("cifar-10-batches-py", "cifar-100-python") if (path / d).is_dir()]
    if len(inner) == 1 and not any(_CIFAR_FILES.match(p.name) for p in path.iterdir()):
        folder = path / inner[0]
    present = {p.name for p in folder.iterdir() if p.is_file() and _CIFAR_FILES.match(p.name)}
    batches = sorted((n for n in present if n.startswith("data_batch_")), key=lambda n: int(n.rsplit("_", 1)[1]))
    warnings = []
    if batches and "test_batch" in present:
        files = _BatchFiles(folder, "labels")
        train, test = _cifar_split(files, batches), _cifar_split(files, ["test_batch"])
        meta, key, kind = "batches.meta", "label_names", "CIFAR-10"
        if len(batches) < 5:
            warnings.append(f"{folder}: only {len(batches)} of CIFAR-10's 5 training batches are present")
    elif {"train", "test"} <= present:
        files = _BatchFiles(folder, f"{label_mode}_labels")
        train, test = _cifar_split(files, ["train"]), _cifar_split(files, ["test"])
        meta, key, kind = "meta", f"{label_mode}_label_names", f"CIFAR-100 ({label_mode} labels)"
    else:
        readers.read_cifar(path, label_mode)   # its message for a folder without CIFAR batches
        raise DataError(f"{folder}: no CIFAR data batches found")
    names = (readers._meta_names({meta: (folder / meta).read_bytes()}, meta, str(folder), key)
             if meta in present else None)
    if names is None:
        warnings.append(f"{folder}: no meta file with label names; classes are numbered")
    return StreamSource(train, test, (32, 32, 3), names, 255.0, f"{kind} files {folder}", warnings)


# ---------------------------------------------------------------------------------------- image folder

def _folder_split(files: np.ndarray, labels: np.ndarray, kinds: np.ndarray, mode: str, size: tuple, root: Path,
                  broken: list[str]) -> Split:
    """A split of checked files: ``graph_decode`` for the pipelines (TensorFlow's ops, Pillow only for the
    files marked so), and ``read`` for a few rows at a time (the galleries, the analysis) by the same
    decoder, so both give the same pixels."""
    decoder = []   # built on first use: TensorFlow is imported when a pipeline or a read needs it

    def graph_decode():
        if not decoder:
            decoder.append(tf_decode.graph_decoder(files, kinds, mode, size,
                                                   folders.pillow_decoder(files, mode, size, root)))
        return decoder[0]

    channels = 1 if mode == "L" else 3
    lock = threading.Lock()

    def read(rows: np.ndarray):
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), size[0], size[1], channels), dtype=np.uint8)
        keep = np.zeros(len(rows), dtype=bool)
        for positions, images in tf_decode.decoded_rows(graph_decode(), rows):
            out[positions], keep[positions] = images, True
        for i in np.flatnonzero(~keep):   # changed since the check: named, and left out
            _, reason = folders._decode(files[rows[i]], mode, size)
            with lock:
                name = f"{Path(files[rows[i]]).relative_to(root)} ({cut(reason or 'does not decode')})"
                if name not in broken:
                    broken.append(name)
        if len(rows) and not keep.any():   # an empty batch would be a step on nothing (a NaN loss)
            raise DataError(f"{root}: none of the {len(rows)} image file(s) of one batch decodes (e.g. "
                            f"{broken[-1] if broken else files[rows[0]]}): remove or replace the broken files")
        return out[keep], keep

    return Split(labels, read, graph_decode=graph_decode)


def _open_folder(data) -> StreamSource:
    """Files listed, split and shuffled as the in-memory reader does; nothing decoded until ``settle``."""
    root, mode, size = folders._options(data.path, getattr(data, "image_size", None),
                                       getattr(data, "color_mode", "rgb"))
    train_root, test_root = folders._roots(root)
    names, files, labels = folders._list_classes(train_root)
    size = size or folders._first_size(files, train_root)
    files, labels = np.array(files, dtype=object), np.array(labels, dtype=np.int64)
    if test_root is None:
        keep, held = folders.held_out_split(labels, folders.TEST_FRACTION)
        test_files, test_labels = files[held], labels[held]
        files, labels = files[keep], labels[keep]
    else:
        _, t_files, t_labels = folders._list_classes(test_root, names)
        test_files, test_labels = np.array(t_files, dtype=object), np.array(t_labels, dtype=np.int64)
    order = np.random.default_rng(_SEED).permutation(len(files))   # the in-memory reader's seeded shuffle
    files, labels = files[order], labels[order]
    broken: list[str] = []
    channels = 1 if mode == "L" else 3
    held_note = "" if test_root is not None else f", {int(folders.TEST_FRACTION * 100)}% held out for testing"
    unchecked = np.full(len(files), tf_decode.PILLOW, dtype=np.int8)
    source = StreamSource(
        _folder_split(files, labels, unchecked, mode, size, root, broken),
        _folder_split(test_files, test_labels, np.full(len(test_files), tf_decode.PILLOW, dtype=np.int8), mode,
                      size, root, broken),
        (size[0], size[1], channels), names, 255.0, f"image folder {root} ({len(names)} classes{held_note})",
        broken=broken)

    def checked(part_files, part_labels, where: Path, what: str, skipped: list[str]) -> Split:
        _, keep, kinds = folders.decode_files(part_files, mode, size, root, skipped, keep_pixels=False)
        if not keep.any():
            raise DataError(f"{where}: none of the {what} images decodes; check the files")
        return _folder_split(part_files[keep], part_labels[keep], kinds[keep], mode, size, root, broken)

    def settle(limit: int | None, check_training: bool = True) -> None:
        """Every file the run uses decoded once, before training (and let go): the broken ones are named
        now, as in memory, and each file's decoder is chosen once, by its header, not every epoch.
        Without ``check_training`` only the test files are (a look at the set, not a run): the
        training files then stay unchecked, read through Pillow when a few are shown."""
        skipped: list[str] = []
        if check_training:
            used = slice(None) if limit is None else slice(0, limit)
            source.train = checked(files[used], labels[used], train_root, "training", skipped)
            if limit is None:
                folders._check_classes(names, list(source.train.labels), train_root)
        source.test = checked(test_files, test_labels, test_root or train_root, "test", skipped)
        if skipped:
            source.warnings.append(folders.skipped_warning(root, skipped))

    source.settle = settle
    return source
