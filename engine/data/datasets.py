"""Every data source -> one :class:`Dataset`: train / validation / test arrays, shapes, class names, a sample.

The readers (``engine.data.readers``, ``engine.data.image_folder``, ``engine.data.keras_sets``) return arrays as stored;
everything a source has in common happens once, here, in one order: limit, grayscale channel axis,
integer labels, validation split, scaling, and the fixed sample of test images for the prediction grid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tapedeck.engine.data.image_folder import describe_image_folder, held_out_split, read_image_folder
from tapedeck.engine.data.keras_sets import DIGIT_NAMES, KERAS_SETS, KERAS_SOURCES, load_keras_set
from tapedeck.engine.data.readers import DataError, RawSet, numeric, read_cifar, read_idx_folder, read_npz
from tapedeck.engine.data.targets import PARITY_NAMES, Feeds, Target, derived_targets, parity, target_kind
from tapedeck.engine.errors import describe as describe_error
from tapedeck.engine.spec.experiment import FILE_SOURCES, SOURCES

__all__ = ["DataError", "Dataset", "SOURCES", "KERAS_SOURCES", "FILE_SOURCES", "SAMPLE_SIZE",
           "load_dataset", "describe", "describe_feeds"]

SAMPLE_SIZE = 32
_SEED = 0
_DIGITS_TEST_FRACTION = 0.2


@dataclass
class Dataset:
    """Arrays ready for ``model.fit``: float32 NHWC images (in [0, 1] when normalized), int64 labels.

    ``x_val`` is empty (length 0) when validation_split is 0. ``sample_index`` indexes the test set.
    ``warnings`` are things the person should know but that did not stop loading (skipped files).
    """

    x_train: np.ndarray
    y_train: np.ndarray | None    # None (and y_val, y_test): an npz without target "label" (named targets only)
    x_val: np.ndarray
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    input_shape: tuple
    num_classes: int
    class_names: list[str]
    sample_index: np.ndarray
    source: str
    warnings: list[str] = field(default_factory=list)
    # Several inputs / heads (engine.data.targets): data key "x_<input>" → (train, val, test) arrays, and
    # target name → Target; "label" is there whenever y_* are (the same arrays), "x" is x_train/x_val/x_test.
    inputs: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)

    def data_arrays(self, key: str) -> tuple:
        if key == "x":
            return self.x_train, self.x_val, self.x_test
        return self.inputs[key]

    @property
    def feeds(self) -> Feeds:
        shapes = {"x": self.input_shape, **{k: tuple(int(s) for s in v[0].shape[1:]) for k, v in self.inputs.items()}}
        return Feeds(shapes, {name: (t.kind, list(t.class_names), t.width, t.derived)
                              for name, t in self.targets.items()})


def _field(data, name, default):
    return getattr(data, name, default)


def _check_options(data) -> None:
    source = _field(data, "source", "digits")
    if source not in SOURCES:
        raise DataError(f"data.source: expected one of {', '.join(SOURCES)}, received {source!r}")
    split = _field(data, "validation_split", 0.1)
    if not isinstance(split, (int, float)) or isinstance(split, bool) or not 0 <= split < 1:
        raise DataError(f"data.validation_split: expected a number in [0, 1), received {split!r}")
    limit = _field(data, "limit", None)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(f"data.limit: expected a positive integer or null, received {limit!r}")
    if source == "cifar100" and _field(data, "label_mode", "fine") not in ("fine", "coarse"):
        raise DataError(f"data.label_mode: expected 'fine' or 'coarse', received {_field(data, 'label_mode', None)!r}")


def _read(data) -> RawSet:
    """The source's own arrays, as stored."""
    source = data.source
    if source == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = bunch.images.astype(np.uint8), bunch.target  # 0..16 integers stored as float64
        keep, held = held_out_split(y, _DIGITS_TEST_FRACTION)
        return RawSet(x[keep], y[keep], x[held], y[held], class_names=list(DIGIT_NAMES), scale=16.0,
                      description="scikit-learn digits (1,797 real 8x8 images, 20% held out for testing)")
    if source in KERAS_SETS:
        ks = KERAS_SETS[source]
        label_mode = _field(data, "label_mode", "fine")
        (x_train, y_train), (x_test, y_test) = load_keras_set(source, label_mode)
        title = ks.title + (f" ({label_mode} labels)" if source == "cifar100" else "")
        raw = RawSet(x_train, y_train, x_test, y_test, class_names=ks.class_names(label_mode), scale=255.0,
                     description=f"{title} from keras.datasets")
        if source == "cifar100":   # fine and coarse at once, for a two-head model
            other = "coarse" if label_mode == "fine" else "fine"
            (_x, y_other), (_t, y_other_test) = load_keras_set(source, other)
            raw.extras = {f"y_{label_mode}": (y_train, y_test), f"y_{other}": (y_other, y_other_test)}
            raw.extra_names = {mode: ks.class_names(mode) for mode in ("fine", "coarse")}
        return raw
    path = _field(data, "path", None)
    if source == "idx":
        return read_idx_folder(path)
    if source == "cifar":
        return read_cifar(path, _field(data, "label_mode", "fine"))
    if source == "npz":
        return read_npz(path)
    return read_image_folder(path, _field(data, "image_size", None), _field(data, "color_mode", "rgb"),
                             _field(data, "limit", None))


def _read_checked(data) -> RawSet:
    """``_read`` for both the check and a run: whatever a reader or Keras's loader raises is one DataError.

    ``tapedeck check`` and ``tapedeck train`` read files through this one function, so a file that one
    of them reports in a line cannot give the other a traceback.
    """
    try:
        return _read(data)
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001 — a reader's failure on a bad file is the person's to see
        path = _field(data, "path", None)
        what = f"{path}" if path else f"data.source {data.source!r}"
        raise DataError(f"{what}: could not load ({describe_error(error)}); check the file, or download it "
                        "again") from None


def _checked_pixels(x: np.ndarray, where: str, name: str) -> None:
    """Refuse strings and non-finite values: one NaN pixel makes the normalisation, then every loss, NaN."""
    numeric(x, where, name)
    if not np.issubdtype(x.dtype, np.floating):
        return
    finite = np.isfinite(x)
    if finite.all():
        return
    index = np.unravel_index(int(np.argmin(finite)), x.shape)
    value = x[index].item()
    raise DataError(f"{where}: {name} holds {value} at index {list(map(int, index))} (image {int(index[0])}); "
                    "every pixel must be a finite number: fix or remove that image")


def _check_contents(raw: RawSet) -> None:
    """What a reader cannot see in one file: pixel values that are not numbers, in either split."""
    _checked_pixels(np.asarray(raw.x_train), raw.description, "training images")
    if raw.x_test is not None:
        _checked_pixels(np.asarray(raw.x_test), raw.description, "test images")


def _two_classes(y_train: np.ndarray, where: str, limit) -> None:
    """A classifier needs two classes: with one, it trains to a constant and reports success."""
    classes = np.unique(y_train)
    if len(classes) >= 2:
        return
    hint = f" (data.limit keeps only the first {limit}; raise it)" if limit is not None else ""
    only = f"every training label is {int(classes[0])}" if len(classes) else "no training labels"
    raise DataError(f"{where}: {only}: one class{hint}; a classifier needs examples of at least two "
                    "classes, so add the other classes' data")


def _int_labels(y: np.ndarray, where: str, name: str) -> np.ndarray:
    """Integer class indices from (N,), (N, 1) or one-hot (N, K) labels."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1 and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise DataError(f"{where}: {name} has shape {y.shape}, expected one integer label per image")
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise DataError(f"{where}: {name} are {y.dtype}, expected class indices 0, 1, 2, …")
    bad = (y != np.round(y)) | (y < 0)
    if np.any(bad):
        raise DataError(f"{where}: {name} must be class indices 0, 1, 2, …; found {y[np.argmax(bad)].item()!r}")
    if y.size and y.max() >= MAX_CLASSES:   # before a class list (or a one-hot row) of that length is made
        index = int(np.argmax(y))
        raise DataError(f"{where}: {name} hold {y[index].item()!r} at index {index}, which would mean "
                        f"{int(y[index]) + 1:,} classes; class indices run from 0 to the number of classes - 1 "
                        f"(at most {MAX_CLASSES:,}): fix that label")
    return y.astype(np.int64)


MAX_CLASSES = 100_000   # ImageNet-21k has ~21,841; a label past this is damage, not a data set


def _images(x: np.ndarray, scale: float, normalize: bool) -> np.ndarray:
    """float32 NHWC; grayscale (N, H, W) gets its channel axis."""
    if x.ndim == 3:
        x = x[..., np.newaxis]
    out = x.astype(np.float32)  # always a copy: the readers' arrays may be read-only views of file bytes
    if normalize and scale != 1.0:
        out *= np.float32(1.0 / scale)
    return out


def _validation_indices(n: int, split: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices; val is a seeded random share so sorted files still give every class."""
    n_val = int(round(n * split))
    if split > 0 and n_val == 0 and n >= 2:
        n_val = 1
    val = np.sort(np.random.default_rng(_SEED).permutation(n)[:n_val])
    train = np.setdiff1d(np.arange(n), val, assume_unique=True)
    return train, val


def _sample_index(y_test: np.ndarray, num_classes: int) -> np.ndarray:
    """Up to SAMPLE_SIZE test indices taken class by class in turn, so the grid shows every class it can."""
    queues = [list(np.flatnonzero(y_test == c)) for c in range(num_classes)]
    picked: list[int] = []
    while len(picked) < SAMPLE_SIZE and any(queues):
        for q in queues:
            if q and len(picked) < SAMPLE_SIZE:
                picked.append(int(q.pop(0)))
    return np.array(picked, dtype=np.int64)


def _class_names(raw: RawSet, num_from_labels: int) -> list[str]:
    names = list(raw.class_names) if raw.class_names else []
    if len(names) < num_from_labels:
        if raw.class_names:
            raise DataError(f"{raw.description}: labels go up to {num_from_labels - 1} but only {len(names)} "
                            "class names are given; the labels and the names must come from the same set")
        names = [str(i) for i in range(num_from_labels)]
    return names


def load_dataset(data) -> Dataset:
    """Load ``data`` (an experiment's DataSpec) once for a run; every bad input raises one DataError.

    An npz holding only named targets has no target ``label``: its ``y_*`` are None, ``num_classes`` 0
    and ``class_names`` empty, and ``targets`` lacks ``label`` (the check tells whatever reads it).
    """
    _check_options(data)
    raw = _read_checked(data)
    _check_contents(raw)
    where = raw.description
    labelled = raw.y_train is not None
    y_train = _int_labels(raw.y_train, where, "training labels") if labelled else None
    x_train = raw.x_train
    extras = {key: (np.asarray(train), np.asarray(test)) for key, (train, test) in raw.extras.items()}
    if raw.x_test is None:   # the sources without a test split of their own always have labels
        keep, held = held_out_split(y_train, _DIGITS_TEST_FRACTION)
        x_test, y_test = x_train[held], y_train[held]
        x_train, y_train = x_train[keep], y_train[keep]
        extras = {key: (train[keep], train[held]) for key, (train, _test) in extras.items()}
    else:
        x_test, y_test = raw.x_test, _int_labels(raw.y_test, where, "test labels") if labelled else None
    limit = _field(data, "limit", None)
    if limit is not None:
        x_train, y_train = x_train[:limit], _rows(y_train, slice(limit))
        extras = {key: (train[:limit], test) for key, (train, test) in extras.items()}
    if len(x_train) == 0 or len(x_test) == 0:
        raise DataError(f"{where}: no {'training' if len(x_train) == 0 else 'test'} images; check the files")
    class_names = _class_names(raw, int(max(y_train.max(), y_test.max())) + 1) if labelled else []
    train_idx, val_idx = _validation_indices(len(x_train), _field(data, "validation_split", 0.1))
    if len(train_idx) == 0:
        raise DataError(f"data.limit: {limit} example(s) leave nothing to train on after validation_split; "
                        "raise the limit or lower validation_split")
    if labelled:
        _two_classes(y_train, where, limit)
    normalize = bool(_field(data, "normalize", True))
    x_val = _images(x_train[val_idx], raw.scale, normalize)
    x_tr = _images(x_train[train_idx] if len(val_idx) else x_train, raw.scale, normalize)
    y_val, y_tr = _rows(y_train, val_idx), _rows(y_train, train_idx)
    x_te = _images(x_test, raw.scale, normalize)
    dataset = Dataset(x_train=x_tr, y_train=y_tr, x_val=x_val, y_val=y_val, x_test=x_te, y_test=y_test,
                      input_shape=tuple(int(s) for s in x_tr.shape[1:]), num_classes=len(class_names),
                      class_names=class_names, sample_index=np.zeros(0, np.int64), source=raw.description,
                      warnings=list(raw.warnings))
    if labelled:
        dataset.targets["label"] = Target(y_tr, y_val, y_test, "classes", class_names)
    _named_arrays(dataset, extras, raw, (train_idx, val_idx), normalize)
    for name in derived_targets(data.source):
        dataset.targets.setdefault(name, Target(parity(y_tr), parity(y_val), parity(y_test), "classes",
                                                list(PARITY_NAMES), derived=True))
    dataset.sample_index = _grid_sample(dataset)
    return dataset


def _rows(y, index):
    """``y[index]``, or None for a set without target ``label``."""
    return None if y is None else y[index]


def _grid_sample(dataset: Dataset) -> np.ndarray:
    """The prediction grid's test examples, class by class of ``label`` (or else of the first named
    target of classes); a set whose targets are all values shows its first test examples."""
    target = dataset.targets.get("label") or next(
        (t for t in dataset.targets.values() if t.kind == "classes"), None)
    if target is None:
        return np.arange(min(SAMPLE_SIZE, len(dataset.x_test)), dtype=np.int64)
    return _sample_index(np.asarray(target.test), len(target.class_names))


def _named_arrays(dataset: Dataset, extras: dict, raw: RawSet, split, normalize: bool) -> None:
    """Split the named arrays like the images: the same validation rows, so every input and target agree."""
    train_idx, val_idx = split
    for key, (train, test) in extras.items():
        where = f"{raw.description}: {key}"
        if key.startswith("x_"):
            scale = 255.0 if train.dtype == np.uint8 else 1.0
            parts = (train[train_idx], train[val_idx], test)
            dataset.inputs[key] = tuple(_features(a, scale, normalize) for a in parts)
            continue
        name = key[2:]
        kind = target_kind(train)
        if kind == "classes":
            train, test = _int_labels(train, where, "training labels"), _int_labels(test, where, "test labels")
            names = list(raw.extra_names.get(name) or [])
            top = int(max(train.max(initial=0), test.max(initial=0))) + 1
            if len(names) < top:
                names = [str(i) for i in range(top)]
        else:
            train, test, names = train.astype(np.float32), test.astype(np.float32), []
        dataset.targets[name] = Target(train[train_idx], train[val_idx], test, kind, names)


def _features(x: np.ndarray, scale: float, normalize: bool) -> np.ndarray:
    """A named input: float32, scaled like the images when it is 8-bit, else as stored."""
    out = np.asarray(x).astype(np.float32)
    if normalize and scale != 1.0:
        out *= np.float32(1.0 / scale)
    return out


# Files read for describe() are remembered by their modification times, so the layer check, which runs on
# every edit, reads a folder once and again only after it changes.
_DESCRIBED: dict[tuple, tuple] = {}


def _signature(path) -> tuple:
    """Names, sizes and modification times of the path and what lies in it (two levels: CIFAR's inner folder)."""
    p = Path(str(path)).expanduser()
    try:
        if not p.exists():
            p = p.parent  # an IDX prefix such as <folder>/emnist-letters
    except OSError:
        return ()   # a name the file system refuses: the reader says so
    stamps = []
    for item in [p] + (sorted(p.glob("*")) + sorted(p.glob("*/*")) if p.is_dir() else []):
        try:
            st = item.stat()
        except OSError:
            continue
        stamps.append((str(item), st.st_mtime_ns, st.st_size))
    return tuple(stamps)


def describe(data) -> tuple[tuple, int, list[str]]:
    """(input_shape, num_classes, class_names) for the layer check; (shape, 0, []) for an npz without
    target ``label`` (named targets only).

    Named sets are known without loading (so the window need not wait for MNIST); an image folder is
    described from its folder names and one image header; the other file sources are read, and their
    answer kept until the files change.
    """
    _check_options(data)
    source = data.source
    if source == "digits":
        return (8, 8, 1), 10, list(DIGIT_NAMES)
    if source in KERAS_SETS:
        names = KERAS_SETS[source].class_names(_field(data, "label_mode", "fine"))
        return KERAS_SETS[source].input_shape, len(names), names
    if source == "folder":
        shape, names = describe_image_folder(_field(data, "path", None), _field(data, "image_size", None),
                                             _field(data, "color_mode", "rgb"))
        return shape, len(names), names
    path = _field(data, "path", None)
    key = (source, path, _field(data, "label_mode", "fine"), _signature(path) if path else ())
    if key not in _DESCRIBED:
        raw = _read_checked(data)  # arrays as stored: no scaling or splitting, which cannot change shape or classes
        _check_contents(raw)
        names = _described_names(raw)
        shape = tuple(int(s) for s in raw.x_train.shape[1:]) + ((1,) if raw.x_train.ndim == 3 else ())
        if len(_DESCRIBED) > 16:
            _DESCRIBED.clear()
        _DESCRIBED[key] = (shape, len(names), names)
    shape, n, names = _DESCRIBED[key]
    return shape, n, list(names)


def _described_names(raw: RawSet) -> list[str]:
    """The class names of target ``label`` as the loaded set will have them; none for a set without it."""
    if raw.y_train is None:
        return []
    y_train = _int_labels(raw.y_train, raw.description, "training labels")
    _two_classes(y_train, raw.description, None)
    top = max(y_train.max(initial=0), _int_labels(raw.y_test, raw.description, "test labels").max(initial=0)
              if raw.y_test is not None else 0)
    return _class_names(raw, int(top) + 1)


_FEEDS: dict[tuple, Feeds] = {}


def describe_feeds(data) -> Feeds:
    """Every data array and target a model's inputs and heads may name, for the check, without training data.

    Named sets are known by heart; file sources are read once (as :func:`describe` does) and remembered
    until their files change.
    """
    shape, _n, names = describe(data)
    targets = {"label": ("classes", names, len(names), False)} if names else {}   # none: named targets only
    for name in derived_targets(data.source):
        targets[name] = ("classes", list(PARITY_NAMES), 2, True)
    if data.source == "cifar100":
        for mode in ("fine", "coarse"):
            mode_names = KERAS_SETS["cifar100"].class_names(mode)
            targets[mode] = ("classes", mode_names, len(mode_names), False)
    feeds = Feeds({"x": tuple(shape)}, targets)
    if data.source not in ("npz", "cifar"):
        return feeds
    path = _field(data, "path", None)
    key = (data.source, path, _signature(path) if path else ())
    if key not in _FEEDS:
        raw = _read_checked(data)
        for array_key, (train, test) in raw.extras.items():
            if array_key.startswith("x_"):
                feeds.shapes[array_key] = tuple(int(s) for s in np.asarray(train).shape[1:])
                continue
            target = array_key[2:]
            kind = target_kind(train)
            if kind == "classes":
                top = int(max(np.max(train, initial=0), np.max(test, initial=0))) + 1
                labels = list(raw.extra_names.get(target) or [str(i) for i in range(top)])
                feeds.targets[target] = (kind, labels, len(labels), False)
            else:
                width = 1 if np.ndim(train) == 1 else int(np.shape(train)[-1])
                feeds.targets[target] = (kind, [], width, False)
        if len(_FEEDS) > 16:
            _FEEDS.clear()
        _FEEDS[key] = feeds
    return _FEEDS[key]
