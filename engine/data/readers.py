"""Readers for the data files people already have: MNIST-style IDX, CIFAR "python version" pickles and .npz.

Each reader returns a :class:`RawSet` of the arrays exactly as the files hold them (uint8 images, integer
labels); shaping, splitting and scaling are the same for every source and live in ``engine.data.datasets``.
Every way a file can be wrong ends in one :class:`DataError` naming the file and what to do about it,
because the person reading it is choosing a folder in a window, not debugging a traceback.
Image folders have their own module, ``engine.data.image_folder``.
"""
from __future__ import annotations

import gzip
import math
import pickle
import re
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.text import cut

__all__ = ["DataError", "RawSet", "read_idx", "read_idx_folder", "read_cifar", "read_npz", "existing_path", "numeric",
           "CIFAR_PICKLE_ALLOWED"]


class DataError(TapedeckError):
    """A data source that cannot be used; the message names the file or folder and the fix."""


@dataclass
class RawSet:
    """Arrays as read from disk, before the common shaping in ``engine.data.datasets``.

    ``x_test`` is None when the source has no test split of its own (a held-out part is taken then).
    ``y_train`` and ``y_test`` are None when an npz holds only named targets (no target ``label``).
    ``scale`` is the largest value the pixel format can hold, which ``normalize`` divides by.
    """

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: list[str] | None
    scale: float
    description: str
    warnings: list[str] = field(default_factory=list)
    # Named arrays beside the images and labels (engine.data.targets): "x_<input>" / "y_<target>" →
    # (train, test), and class names per target.
    extras: dict = field(default_factory=dict)
    extra_names: dict = field(default_factory=dict)


def existing_path(path, what: str) -> Path:
    """Refuse early and by name: every later message can then assume the path exists."""
    if path is None or str(path).strip() == "":
        raise DataError(f"data.path: {what} needs a path; set data.path to the file or folder to read")
    p = Path(path).expanduser()
    try:
        exists = p.exists()
    except OSError as error:   # a name too long for the file system, a path through a file
        raise DataError(f"{p}: cannot be looked up ({error.strerror or error}); check data.path (the {what})") from None
    if not exists:
        raise DataError(f"{p}: no such file or folder; check data.path (the {what})")
    return p


def numeric(x: np.ndarray, where: str, name: str) -> np.ndarray:
    """Refuse arrays that are not numbers (strings, objects) by their dtype, before arithmetic on them fails."""
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating):
        return x
    raise DataError(f"{where}: {name} has dtype {x.dtype} ({_DTYPE_WORDS.get(x.dtype.kind, x.dtype.kind)}); "
                    "expected numbers: uint8 pixels 0..255 or floats")


_DTYPE_WORDS = {"U": "text", "S": "bytes", "O": "Python objects", "c": "complex numbers", "V": "raw records",
                "M": "dates", "m": "time spans"}


# ---------------------------------------------------------------------------------------------- IDX

# Third byte of an IDX magic number -> element type (big-endian, as the format specifies).
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_NAME = re.compile(r"^(?P<prefix>.*?)(?P<split>train|t10k|test)[-_.](?P<kind>images|labels)"
                       r"[-_.]idx(?P<dims>[13])[-_.]ubyte(?P<gz>\.gz)?$", re.IGNORECASE)
_IDX_WANTED = "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"


# Deflate cannot shrink data by more than about 1032:1, so a gzip file cannot hold more than this many
# bytes per compressed byte: a header claiming more is a lie, refused before anything is allocated.
_GZIP_MAX_RATIO = 1032


def _open_idx(path: Path):
    """(binary stream, whether it is gzipped): gunzipped when the file starts with the gzip signature."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return (gzip.open(path, "rb") if gzipped else open(path, "rb")), gzipped


def _read_exactly(stream, count: int, path: Path) -> bytes:
    """``count`` bytes (fewer at the end of the data); a damaged gzip stream is a DataError."""
    try:
        return stream.read(count)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: the gzip data is damaged or cut short ({exc}); download the file again") from None


def read_idx(path: Path, dims: int) -> np.ndarray:
    """One IDX array, checked against its own header: magic number, rank and exact byte count.

    The header is read first and its sizes checked against what the file can hold before the data is
    read: a damaged header (or a gzip bomb) must not make Tapedeck allocate gigabytes to find out.
    """
    stream, gzipped = _open_idx(path)
    size = path.stat().st_size
    with stream:
        head = _read_exactly(stream, 4, path)
        kind = "images (idx3)" if dims == 3 else "labels (idx1)"
        expected_magic = 0x0800 + dims
        if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
            magic = int.from_bytes(head[:4].ljust(4, b"\0"), "big")
            raise DataError(f"{path}: not an IDX file (magic number 0x{magic:08X}, expected 0x{expected_magic:08X} "
                            f"for {kind}); point data.path at the folder of the original MNIST-format files")
        if head[3] != dims:
            raise DataError(f"{path}: holds a {head[3]}-dimensional IDX array, expected {dims} for {kind}; "
                            "check that the images and labels files are not swapped or renamed")
        sizes = _read_exactly(stream, 4 * dims, path)
        if len(sizes) < 4 * dims:
            raise DataError(f"{path}: IDX header cut short ({4 + len(sizes)} bytes); download the file again")
        shape = struct.unpack(f">{dims}I", sizes)
        dtype = _IDX_TYPES[head[2]]
        want = math.prod(shape) * dtype.itemsize   # Python integers: no overflow on a damaged header
        if gzipped and want > size * _GZIP_MAX_RATIO:
            raise DataError(f"{path}: damaged header: it announces shape {tuple(shape)} ({want:,} bytes of data) "
                            f"but {size:,} gzipped bytes cannot hold that much; download the file again")
        if not gzipped and want > size - 4 - 4 * dims:
            raise DataError(f"{path}: truncated: header announces shape {tuple(shape)} ({want:,} bytes of data) "
                            f"but the file holds {size - 4 - 4 * dims:,}; download the file again")
        data = _read_exactly(stream, want + 1, path)
    have = len(data)
    if have != want:
        what = "truncated" if have < want else "longer than its header says"
        held = f"{have:,}" if have <= want else "more"
        raise DataError(f"{path}: {what}: header announces shape {tuple(shape)} ({want:,} bytes of data) but the "
                        f"file holds {held}; download the file again")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def is_idx_name(name: str) -> bool:
    """Whether ``name`` is one of an IDX set's files as this reader finds them (MNIST's, EMNIST's
    ``emnist-digits-train-images-idx3-ubyte``, dotted ``train-images.idx3-ubyte``, gzipped or not)."""
    return bool(_IDX_NAME.match(name))


def _idx_groups(folder: Path) -> dict[str, dict[tuple[str, str], Path]]:
    """IDX files in a folder grouped by name prefix ("" for MNIST, "emnist-balanced-" for EMNIST)."""
    groups: dict[str, dict[tuple[str, str], Path]] = {}
    for p in sorted(folder.iterdir()):
        m = _IDX_NAME.match(p.name)
        if not m or not p.is_file():
            continue
        if (m["kind"].lower() == "images") != (m["dims"] == "3"):
            continue
        split = "train" if m["split"].lower() == "train" else "test"
        slot = groups.setdefault(m["prefix"], {})
        key = (split, m["kind"].lower())
        if key not in slot or not m["gz"]:  # an unpacked copy beside the .gz reads faster
            slot[key] = p
    return groups


def _locate_idx(path: Path) -> tuple[Path, str, dict[tuple[str, str], Path]]:
    """Folder + prefix of the IDX set that data.path means (a folder, one of its files, or folder/prefix)."""
    if path.is_file():
        m = _IDX_NAME.match(path.name)
        if not m:
            raise DataError(f"{path}: not an IDX file name (expected names like {_IDX_WANTED}, optionally .gz); "
                            "set data.path to the folder holding the four files")
        folder, prefix = path.parent, m["prefix"]
    elif path.is_dir():
        folder, prefix = path, None
    else:
        folder, prefix = path.parent, path.name
        if not folder.is_dir():
            existing_path(path, "IDX folder")
    groups = _idx_groups(folder)
    if prefix is None:
        complete = [k for k, g in groups.items() if len(g) == 4]
        if len(complete) > 1:
            choices = ", ".join(str(folder / (k.rstrip("-_.") or "(no prefix)")) for k in complete)
            raise DataError(f"{folder}: holds several IDX sets ({choices}); set data.path to one of them")
        prefix = complete[0] if complete else (next(iter(groups)) if len(groups) == 1 else "")
    else:
        matches = [k for k in groups if k.rstrip("-_.") == prefix.rstrip("-_.")]
        if not matches and not path.is_file():
            existing_path(path, "IDX folder")  # neither a folder nor the prefix of an IDX set in its parent
        prefix = matches[0] if matches else prefix
    group = groups.get(prefix, {})
    if not group:
        raise DataError(f"{folder}: holds no IDX files named {prefix}{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte"
                        f"[.gz] (expected {_IDX_WANTED}); point data.path at the folder of MNIST-format files")
    missing = [f"{prefix}{'train' if s == 'train' else 't10k'}-{k}-idx{3 if k == 'images' else 1}-ubyte[.gz]"
               for s in ("train", "test") for k in ("images", "labels") if (s, k) not in group]
    if missing:
        raise DataError(f"{folder}: IDX set incomplete, missing {', '.join(missing)}; add the missing file(s)")
    return folder, prefix, group


def _emnist_names(folder: Path, prefix: str) -> list[str] | None:
    """EMNIST ships '<prefix>mapping.txt' lines 'label code [code]'; the character is the class name."""
    mapping = folder / f"{prefix}mapping.txt"
    if not mapping.is_file():
        return None
    table = {}
    for line in mapping.read_text(errors="replace").split("\n"):
        parts = line.split()
        if len(parts) >= 2 and all(x.isdigit() for x in parts):
            table[int(parts[0])] = "/".join(dict.fromkeys(chr(int(c)) for c in parts[1:]))
    if not table:
        return None
    return [table.get(i, str(i)) for i in range(max(table) + 1)]


def read_idx_folder(path) -> RawSet:
    """MNIST, Fashion-MNIST, KMNIST and EMNIST as distributed: four IDX files, gzipped or not."""
    if path is None or str(path).strip() == "":
        existing_path(path, "IDX folder")
    folder, prefix, group = _locate_idx(Path(path).expanduser())
    arrays = {}
    for split in ("train", "test"):
        images, labels = group[(split, "images")], group[(split, "labels")]
        x, y = read_idx(images, 3), read_idx(labels, 1)
        if len(x) != len(y):
            raise DataError(f"{images}: holds {len(x)} images but {labels.name} holds {len(y)} labels; "
                            "the two files must come from the same download")
        arrays[split] = (x, y)
    names = None
    if prefix.lower().startswith("emnist"):
        # EMNIST stores each image transposed relative to MNIST; flip so the prediction grid shows upright letters.
        arrays = {k: (x.transpose(0, 2, 1), y) for k, (x, y) in arrays.items()}
        names = _emnist_names(folder, prefix)
    x_train = arrays["train"][0]
    scale = 255.0 if x_train.dtype == np.uint8 else _float_scale(x_train)
    label = f"{folder}/{prefix}*" if prefix else str(folder)
    return RawSet(*arrays["train"], *arrays["test"], class_names=names, scale=scale,
                  description=f"IDX files {label}")


def _float_scale(x: np.ndarray) -> float:
    """Largest value seen, so non-uint8 pixels still land in [0, 1] (1.0 when they already do)."""
    top = float(np.max(x)) if x.size else 1.0
    if np.issubdtype(x.dtype, np.integer):
        return max(top, 1.0)
    return 1.0 if top <= 1.0 else (255.0 if top <= 255.0 else top)


# -------------------------------------------------------------------------------------------- CIFAR

# What a CIFAR pickle (Python 2 era, numpy arrays inside) may reconstruct; anything else is refused so a
# doctored file cannot run code. _codecs.encode is how protocol 2 spells bytes objects written by Python 3.
CIFAR_PICKLE_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                   ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.numeric", "_frombuffer"),
                   ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in CIFAR_PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(data: bytes, where: str) -> dict:
    import io

    try:
        d = _CifarUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 - any failure means "not a CIFAR pickle"
        raise DataError(f"{where}: not a CIFAR python pickle ({exc}); use the 'python version' from "
                        "https://www.cs.toronto.edu/~kriz/cifar.html") from None
    if not isinstance(d, dict):
        raise DataError(f"{where}: holds a {type(d).__name__}, expected the dict of a CIFAR batch")
    return {k.decode("utf8") if isinstance(k, bytes) else str(k): v for k, v in d.items()}


def _cifar_members(path: Path) -> tuple[dict[str, bytes], str]:
    """Read the relevant files of a CIFAR folder or archive into memory (the archive is never extracted)."""
    wanted = re.compile(r"^(data_batch_\d+|test_batch|batches\.meta|train|test|meta)$")
    if path.is_dir():
        folder = path
        inner = [d for d in ("cifar-10-batches-py", "cifar-100-python") if (path / d).is_dir()]
        if len(inner) == 1 and not any(wanted.match(p.name) for p in path.iterdir()):
            folder = path / inner[0]
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and wanted.match(p.name)}, str(folder)
    try:
        # Streaming mode ("r|*") reads the archive once, front to back; random access into a .gz means
        # decompressing it again from the start for every member.
        members = {}
        bound = path.stat().st_size * _GZIP_MAX_RATIO   # what the archive can hold, however compressed
        with tarfile.open(path, "r|*") as tar:
            for m in tar:
                if m.isfile() and wanted.match(Path(m.name).name):
                    if m.size > bound:
                        raise DataError(f"{path}: member {cut(m.name)} claims {m.size:,} bytes, more than an "
                                        f"archive of {path.stat().st_size:,} bytes can hold; download it again")
                    members[Path(m.name).name] = tar.extractfile(m).read()
        return members, str(path)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable CIFAR .tar.gz ({exc}); download cifar-10-python.tar.gz or "
                        "cifar-100-python.tar.gz again, or point data.path at the extracted folder") from None


def _cifar_batch(members: dict[str, bytes], name: str, where: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(members[name], f"{where}/{name}")
    if "data" not in d or label_key not in d:
        missing = [k for k in ("data", label_key) if k not in d]
        raise DataError(f"{where}/{name}: CIFAR batch without key(s) {', '.join(missing)} (has "
                        f"{', '.join(sorted(d)) or 'nothing'}); use the original 'python version' files")
    data = numeric(np.asarray(d["data"]), f"{where}/{name}", "data")
    labels = np.asarray(d[label_key]).reshape(-1)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{where}/{name}: data has shape {data.shape}, expected (N, 3072) rows of 32x32 RGB")
    if len(labels) != len(data):
        raise DataError(f"{where}/{name}: holds {len(data)} images but {len(labels)} labels")
    return data.astype(np.uint8, copy=False), labels


def _nhwc(rows: np.ndarray) -> np.ndarray:
    """Rows of 1024 red, 1024 green, 1024 blue values -> NHWC, what Keras layers expect by default.

    Made contiguous once here, in uint8: converting a transposed view to float32 later is several times slower.
    """
    return np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _meta_names(members: dict[str, bytes], name: str, where: str, key: str) -> list[str] | None:
    if name not in members:
        return None
    d = _unpickle(members[name], f"{where}/{name}")
    names = d.get(key)
    if names is None:
        return None
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(f"{where}/{name}: {key} is {cut(type(names).__name__)}, expected a list of class names; "
                        "use the original meta file, or remove it to number the classes")
    return [n.decode("utf8", errors="replace") if isinstance(n, bytes) else n for n in names]


def read_cifar(path, label_mode: str = "fine") -> RawSet:
    """CIFAR-10 (data_batch_1..5, test_batch, batches.meta) or CIFAR-100 (train, test, meta)."""
    path = existing_path(path, "CIFAR folder or .tar.gz")
    members, where = _cifar_members(path)
    batches = sorted((n for n in members if n.startswith("data_batch_")), key=lambda n: int(n.rsplit("_", 1)[1]))
    warnings: list[str] = []
    extras, extra_names = {}, {}
    if batches and "test_batch" in members:
        parts = [_cifar_batch(members, n, where, "labels") for n in batches]
        x_train = _nhwc(np.concatenate([p[0] for p in parts]))
        y_train = np.concatenate([p[1] for p in parts])
        x_test, y_test = _cifar_batch(members, "test_batch", where, "labels")
        x_test = _nhwc(x_test)
        names = _meta_names(members, "batches.meta", where, "label_names")
        kind = "CIFAR-10"
        if len(batches) < 5:
            warnings.append(f"{where}: only {len(batches)} of CIFAR-10's 5 training batches are present")
    elif "train" in members and "test" in members:
        if label_mode not in ("fine", "coarse"):
            raise DataError(f"data.label_mode: expected 'fine' or 'coarse', received {label_mode!r}")
        key = f"{label_mode}_labels"
        (x_train, y_train), (x_test, y_test) = (_cifar_batch(members, n, where, key) for n in ("train", "test"))
        x_train, x_test = _nhwc(x_train), _nhwc(x_test)
        names = _meta_names(members, "meta", where, f"{label_mode}_label_names")
        kind = f"CIFAR-100 ({label_mode} labels)"
        extras, extra_names = _cifar100_targets(members, where)
    else:
        raise DataError(f"{where}: no CIFAR data batches found (expected data_batch_1 … data_batch_5 and "
                        "test_batch for CIFAR-10, or train and test for CIFAR-100); point data.path at the "
                        "extracted cifar-10-batches-py / cifar-100-python folder or its .tar.gz")
    if names is None:
        warnings.append(f"{where}: no meta file with label names; classes are numbered")
    return RawSet(x_train, y_train, x_test, y_test, class_names=names, scale=255.0,
                  description=f"{kind} files {where}", warnings=warnings, extras=extras, extra_names=extra_names)


def _cifar100_targets(members: dict[str, bytes], where: str) -> tuple[dict, dict]:
    """CIFAR-100's fine (100) and coarse (20) labels as the named targets ``fine`` and ``coarse``."""
    extras, names = {}, {}
    for mode in ("fine", "coarse"):
        train = _cifar_batch(members, "train", where, f"{mode}_labels")[1]
        test = _cifar_batch(members, "test", where, f"{mode}_labels")[1]
        extras[f"y_{mode}"] = (train, test)
        found = _meta_names(members, "meta", where, f"{mode}_label_names")
        if found is not None:
            names[mode] = found
    return extras, names


# ---------------------------------------------------------------------------------------------- npz

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npz_sizes_fit(path: Path) -> None:
    """Each array's header (shape × item size) against its zip member, before numpy allocates it.

    ``np.load`` allocates the shape a header announces and only then finds the data short; a zip
    member whose declared size its compressed bytes cannot hold is a bomb or damage.
    """
    from numpy.lib import format as npy

    readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if info.file_size > info.compress_size * _GZIP_MAX_RATIO + 1024:
                raise DataError(f"{path}: {cut(name)} claims {info.file_size:,} bytes from {info.compress_size:,} "
                                "compressed, more than compression allows; write the file again")
            with archive.open(info) as member:
                version = npy.read_magic(member)
                if version not in readers:
                    continue   # a newer header version: np.load checks it
                shape, _fortran, dtype = readers[version](member, max_header_size=100_000)
                need = math.prod(shape) * dtype.itemsize
                if need > info.file_size:
                    raise DataError(f"{path}: {cut(name)} announces shape {shape} ({need:,} bytes) but holds "
                                    f"{info.file_size:,}; write the file again with numpy.savez")


def read_npz(path) -> RawSet:
    """The layout keras.datasets.mnist uses; an optional 'class_names' string array names the classes.

    Beside them, named arrays (``x_train_<input>``, ``y_train_<target>``); with named targets, the plain
    ``y_train`` / ``y_test`` may be left out (the RawSet's labels are None then).
    """
    path = existing_path(path, ".npz file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; set data.path to an .npz file holding {', '.join(_NPZ_KEYS)}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an .npz archive (not a zip file); write it with numpy.savez")
    try:
        _npz_sizes_fit(path)
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _NPZ_KEYS if k not in f.files]
            if _named_targets_only(f.files, missing):
                missing = []   # every target is named: the plain pair (target 'label') is optional
            if missing:
                raise DataError(f"{path}: missing key(s) {', '.join(missing)} (has {', '.join(f.files) or 'none'}); "
                                f"save it with np.savez(path, {'=…, '.join(_NPZ_KEYS)}=…)")
            _ambiguous_label(path, f.files)
            arrays = {k: f[k] if k in f.files else None for k in _NPZ_KEYS}
            names = [str(n) for n in f["class_names"]] if "class_names" in f.files else None
            extras, extra_names = _npz_extras(path, f)
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc}); write it with numpy.savez") from None
    for split in ("train", "test"):
        x, y = numeric(arrays[f"x_{split}"], str(path), f"x_{split}"), arrays[f"y_{split}"]
        if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3, 4)):
            raise DataError(f"{path}: x_{split} has shape {x.shape}, expected images (N, H, W) or (N, H, W, C) "
                            "with C = 1, 3 or 4")
        if y is not None and len(x) != len(y):
            raise DataError(f"{path}: x_{split} holds {len(x)} images but y_{split} holds {len(y)} labels")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(f"{path}: x_train images are {arrays['x_train'].shape[1:]} but x_test images are "
                        f"{arrays['x_test'].shape[1:]}; both splits need one image shape")
    x_train = arrays["x_train"]
    scale = 255.0 if x_train.dtype == np.uint8 else _float_scale(x_train)
    for key, (train, test) in extras.items():
        for split, array in (("train", train), ("test", test)):
            main = f"x_{split}"
            if len(array) != len(arrays[main]):
                named = key.replace("_", f"_{split}_", 1)
                raise DataError(f"{path}: {named} holds {len(array)} rows but {main} holds {len(arrays[main])} "
                                f"images; every named array needs one row per image")
    _check_named_arrays(path, extras)
    if arrays["y_train"] is None and "y_label" in extras:   # y_train_label alone is the plain pair, named
        arrays["y_train"], arrays["y_test"] = extras.pop("y_label")
        names = extra_names.pop("label", names)
    return RawSet(x_train, arrays["y_train"], arrays["x_test"], arrays["y_test"], class_names=names,
                  scale=scale, description=f"npz file {path}", extras=extras, extra_names=extra_names)


_NAMED = re.compile(r"^([xy])_(train|test)_([A-Za-z0-9_]+)$")


def _check_named_arrays(path: Path, extras: dict) -> None:
    """What training would find too late in the named arrays: a test twin of another shape (a whole epoch
    trained, then "Input 0 … incompatible"), NaN or inf (a float target's run diverged; a feature's run
    ended with val_loss nan and exit 0), and finite values too large to square in float32 (``HUGE``).
    Each refusal names the array, as NaN pixels are named."""
    for key, (train, test) in extras.items():
        kind, _, which = key.partition("_")
        names = (f"{kind}_train_{which}", f"{kind}_test_{which}")
        if kind == "x" and np.ndim(train) == 1:   # Keras then said "expected min_ndim=2 … name 'None'"
            raise DataError(f"{path}: {names[0]} holds one number per row (shape {np.shape(train)}); an input's rows "
                            f"need a feature axis: save it (and {names[1]}) with shape (N, 1), e.g. x[:, None]")
        if np.shape(train)[1:] != np.shape(test)[1:]:
            raise DataError(f"{path}: {names[0]} rows have shape {np.shape(train)[1:]} but {names[1]} rows have "
                            f"{np.shape(test)[1:]}; both splits of a named array need one shape per row")
        for name, array in zip(names, (train, test)):
            if not np.issubdtype(array.dtype, np.floating):
                continue   # integers: int64 tops out at 9.2e18, under HUGE (uint64 at its very edge)
            finite = np.isfinite(array)
            if not finite.all():
                index = np.unravel_index(int(np.argmin(finite)), array.shape)
                raise DataError(f"{path}: {name} holds {array[index].item()} at index {list(map(int, index))} (row "
                                f"{int(index[0])}); every value must be a finite number: fix or remove that row")
            _refuse_huge(path, name, array, kind)


# Past this, a value's square overflows float32 (largest 3.4e38): a Dense layer's sums, a squared-error
# loss or a normalisation's variance become inf, then NaN, and the run "diverges" with advice about the
# learning rate (or, once, ended "completed" on a nan loss).
HUGE = float(np.sqrt(np.finfo(np.float32).max))


def _refuse_huge(path: Path, name: str, array: np.ndarray, kind: str) -> None:
    """Finite values too large to train on, named with the array, index and value, before training."""
    if not array.size:
        return
    flat = int(np.argmax(np.abs(array)))
    value = float(array.flat[flat])
    if abs(value) <= HUGE:
        return
    index = list(map(int, np.unravel_index(flat, array.shape)))
    fix = ("scale the features (e.g. standardize each column: subtract its mean, divide by its standard deviation)"
           if kind == "x" else "scale the target (e.g. divide it by its standard deviation) and its predictions back")
    raise DataError(f"{path}: {name} holds {value:.3g} at index {index} (row {index[0]}); values past ±{HUGE:.2g} "
                    f"overflow float32 when squared in a layer or a loss: {fix}")


def _named_targets_only(files, missing: list[str]) -> bool:
    """Both plain labels absent, the images there and at least one named target: a set for heads that
    each name their own target, which needs no target 'label' (whoever reads one is told by the check)."""
    return sorted(missing) == ["y_test", "y_train"] and any(_NAMED.match(k) and k[0] == "y" for k in files)


def _ambiguous_label(path: Path, files) -> None:
    """``y_train_label`` beside ``y_train``: both would be target ``label``, and the named one won silently."""
    for split in ("train", "test"):
        if f"y_{split}" in files and f"y_{split}_label" in files:
            raise DataError(f"{path}: holds both y_{split} and y_{split}_label, and both would be target 'label'; "
                            f"rename y_{split}_label (and its twin) to another target name, or remove it")


def _npz_extras(path: Path, f) -> tuple[dict, dict]:
    """``x_train_<input>`` / ``y_train_<target>`` (and their test twins) → {"x_<input>": (train, test)}."""
    found: dict[str, dict[str, np.ndarray]] = {}
    for name in f.files:
        match = _NAMED.match(name)
        if match:
            kind, split, which = match.groups()
            found.setdefault(f"{kind}_{which}", {})[split] = numeric(f[name], str(path), name)
    extras = {}
    for key, splits in found.items():
        missing = [s for s in ("train", "test") if s not in splits]
        if missing:
            have = key.replace("_", f"_{'train' if 'train' in splits else 'test'}_", 1)
            need = key.replace("_", f"_{missing[0]}_", 1)
            raise DataError(f"{path}: has {have} but no {need}; save both splits of every named array")
        extras[key] = (splits["train"], splits["test"])
    names = {key[len("class_names_"):]: [str(n) for n in f[key]] for key in f.files
             if key.startswith("class_names_")}
    return extras, names
