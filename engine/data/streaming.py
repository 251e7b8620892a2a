"""Data bigger than memory: decide whether a set streams (``data.streaming``), and stream it through ``tf.data``.

``auto`` streams a file source whose decoded float32 images would exceed ``data.memory_budget_mb``; ``on``
always streams a file source, ``off`` never does. A streamed set is the same :class:`Dataset` the
in-memory loader returns — same classes, same limit, same seeded validation choice, same scaling — but its
``x_train`` / ``x_val`` / ``x_test`` are :class:`StreamedImages`: array-like views that read and decode
only the rows asked for (``x[indices]``), and that build the ``tf.data`` pipeline the loops train from
(``x.dataset(y, batch_size, shuffle)``): row order shuffled every epoch (file order for CIFAR's batch
files, then a bounded buffer within), batches read in parallel, an optional cache file, prefetch.
Image folders decode inside the pipeline with TensorFlow's ops; streamed ``on`` while within the memory
budget, they keep their 8-bit pixels in memory after the first epoch (over the budget: never).
Only one input and one output stream; experiments with several inputs or heads load in memory.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tapedeck.engine.data import datasets
from tapedeck.engine.data.readers import DataError
from tapedeck.engine.data.stream_sources import NotStreamableError, StreamSource, open_source
from tapedeck.engine.data.targets import Target
from tapedeck.engine.spec.experiment import FILE_SOURCES

__all__ = ["DataPlan", "StreamedImages", "plan_data", "load_for", "load_streamed", "is_streamed", "SHUFFLE_BUFFER"]

SHUFFLE_BUFFER = 10_000   # images held for shuffling where rows cannot be read in any order (cache, CIFAR)
_CACHE_BATCH = 256        # rows read per call when filling a cache file
_MIB = 1 << 20


@dataclass
class DataPlan:
    """How a run holds its data, and the one line that says so (a RunNote, ``tapedeck check``)."""

    streamed: bool
    message: str
    source: StreamSource | None = None


def is_streamed(images) -> bool:
    return isinstance(images, StreamedImages)


def _beyond_images(experiment) -> str | None:
    """None when the model reads the images and learns their labels, and nothing else; else what else."""
    model = getattr(experiment, "model", None)
    inputs = list(getattr(model, "inputs", None) or ())
    outputs = list(getattr(model, "outputs", None) or ())
    if len(inputs) > 1 or len(outputs) > 1:
        return f"this one has {max(1, len(inputs))} input(s) and {max(1, len(outputs))} output(s)"
    other = [getattr(i, "data", "x") for i in inputs if getattr(i, "data", "x") != "x"]
    other += [getattr(h, "target", "label") for h in outputs if getattr(h, "target", "label") != "label"]
    return f"this one also uses {', '.join(map(repr, other))}" if other else None


def plan_data(data, experiment=None) -> DataPlan:
    """Stream or load whole, by ``data.streaming`` and the set's decoded size; refusals are DataErrors.

    ``experiment`` (when given) tells how many inputs and outputs the model has: only one of each streams.
    """
    mode = getattr(data, "streaming", "auto")
    budget = int(getattr(data, "memory_budget_mb", 1024))
    cache_note = "; data.cache is not used (the set is in memory)" if getattr(data, "cache", None) else ""
    if mode == "off":
        return DataPlan(False, "data: in memory (data.streaming is \"off\")")
    if data.source not in FILE_SOURCES:
        if mode == "on":
            raise DataError(f"data.streaming: \"on\" streams the file sources ({', '.join(FILE_SOURCES)}); source "
                            f"{data.source!r} is loaded into memory, so set streaming to \"auto\" or \"off\"")
        return DataPlan(False, f"data: in memory (source {data.source!r} is loaded whole){cache_note}")
    beyond = _beyond_images(experiment)
    if beyond:
        if mode == "on":
            raise DataError(f"data.streaming: \"on\" streams experiments with one input (the images) and one output "
                            f"(their labels); {beyond} (model.inputs / model.outputs): set data.streaming to "
                            "\"auto\" or \"off\"")
        return DataPlan(False, f"data: in memory (streaming takes one input and one output; {beyond}){cache_note}")
    try:
        source = open_source(data)
    except NotStreamableError as reason:
        if mode == "on":
            raise
        return DataPlan(False, f"data: in memory ({reason}){cache_note}")
    size = source.decoded_bytes(getattr(data, "limit", None))
    shown = f"decoded ≈ {size / _MIB:,.1f} MiB"
    decoding = _decoding_note(data, source, size)
    if mode == "on":
        return DataPlan(True, f"data: streamed from disk (data.streaming is \"on\"; {shown}{decoding})", source)
    if size > budget * _MIB:
        return DataPlan(True, f"data: streamed from disk ({shown}, over data.memory_budget_mb {budget:,}{decoding})",
                        source)
    return DataPlan(False, f"data: in memory ({shown}, within data.memory_budget_mb {budget:,}){cache_note}")


def load_for(data, experiment=None, check_training: bool = True) -> tuple[datasets.Dataset, DataPlan]:
    """The data, streamed or whole as :func:`plan_data` decides, and the plan.

    ``check_training=False`` is for a look at a set without training on it (the window's checks, its
    data page, an analysis): a streamed image folder then decodes only its test files to check them,
    not every training file (a run's own load checks those, before its first step).
    """
    datasets._check_options(data)
    plan = plan_data(data, experiment)
    if plan.streamed:
        return load_streamed(data, plan.source, check_training), plan
    return datasets.load_dataset(data), plan


def _cache_prefix(data) -> str | None:
    """``data.cache`` plus a digest of what the cached pixels depend on: a changed spec never reads old files."""
    cache = getattr(data, "cache", None)
    if not cache:
        return None
    keys = {k: getattr(data, k, None) for k in ("source", "limit", "validation_split", "normalize", "label_mode",
                                                  "image_size", "color_mode")}
    keys["path"] = str(Path(str(data.path)).expanduser().resolve())
    digest = hashlib.sha1(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{Path(cache).expanduser()}-{digest}"


def _decoding_note(data, source: StreamSource, size: int) -> str:
    """How often a streamed image folder decodes its files, and the setting that decodes them once."""
    if source.train.graph_decode is None or getattr(data, "cache", None):
        return ""
    eight_bit = f"{size / 4 / _MIB:,.1f} MiB"
    if _keeps_decoded(data, source):
        return f"; decoded once, then kept in memory as 8-bit pixels, ≈ {eight_bit}"
    return f"; decoded every epoch: set data.cache to a file path to decode once (≈ {eight_bit} on disk)"


def _keeps_decoded(data, source: StreamSource) -> bool:
    """Whether a streamed image folder keeps its decoded 8-bit pixels in memory after the first epoch.

    Only where the budget does not say stream: ``streaming: "on"`` for a set whose float32 pixels fit
    ``data.memory_budget_mb`` (the 8-bit ones are a quarter of that), and no cache file. A set streamed
    because it is over the budget is decoded every epoch, and never held.
    """
    if getattr(data, "cache", None) or source.train.graph_decode is None:
        return False
    budget = int(getattr(data, "memory_budget_mb", 1024)) * _MIB
    return source.decoded_bytes(getattr(data, "limit", None)) <= budget


def load_streamed(data, source: StreamSource | None = None, check_training: bool = True) -> datasets.Dataset:
    """A :class:`Dataset` over the files, split and scaled by the in-memory loader's rules; an image
    folder's files are decoded once here to check them (the training ones only with ``check_training``)."""
    source = source or open_source(data)
    if source.settle is not None:
        source.settle(getattr(data, "limit", None), check_training)
    where = source.description
    y_all = datasets._int_labels(source.train.labels, where, "training labels")
    y_test = datasets._int_labels(source.test.labels, where, "test labels")
    rows = np.arange(len(y_all), dtype=np.int64)
    limit = getattr(data, "limit", None)
    if limit is not None:
        rows, y_all = rows[:limit], y_all[:limit]
    if len(rows) == 0 or len(y_test) == 0:
        raise DataError(f"{where}: no {'training' if len(rows) == 0 else 'test'} images; check the files")
    class_names = datasets._class_names(source, int(max(y_all.max(), y_test.max())) + 1)
    train_idx, val_idx = datasets._validation_indices(len(rows), getattr(data, "validation_split", 0.1))
    if len(train_idx) == 0:
        raise DataError(f"data.limit: {limit} example(s) leave nothing to train on after validation_split; "
                        "raise the limit or lower validation_split")
    datasets._two_classes(y_all, where, limit)
    normalize = bool(getattr(data, "normalize", True))
    cache = _cache_prefix(data)
    keep = _keeps_decoded(data, source)

    def images(split, chosen, part):
        return StreamedImages(split, chosen, source, normalize, f"{cache}-{part}" if cache else None, keep)

    x_train = images(source.train, rows[train_idx] if len(val_idx) else rows, "train")
    x_test = images(source.test, np.arange(len(y_test), dtype=np.int64), "test")
    dataset = datasets.Dataset(
        x_train=x_train, y_train=y_all[train_idx], x_val=images(source.train, rows[val_idx], "val"),
        y_val=y_all[val_idx], x_test=x_test, y_test=y_test, input_shape=x_train.image_shape,
        num_classes=len(class_names), class_names=class_names,
        sample_index=datasets._sample_index(y_test, len(class_names)), source=where + " (streamed)",
        warnings=list(source.warnings))
    dataset.targets["label"] = Target(dataset.y_train, dataset.y_val, y_test, "classes", class_names)
    return dataset


class StreamedImages:
    """float32 images (N, H, W, C) of one part, read from disk on demand, scaled as in memory.

    Indexing (``x[3]``, ``x[a:b]``, ``x[[4, 9]]``) reads just those rows; an image file that no longer
    decodes comes back black and is named in ``broken``. ``dataset`` is the pipeline for training.
    """

    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, split, rows: np.ndarray, source: StreamSource, normalize: bool, cache: str | None = None,
                 keep_decoded: bool = False):
        self.split, self.rows, self.source, self.cache = split, np.asarray(rows, dtype=np.int64), source, cache
        self.keep_decoded = keep_decoded and split.graph_decode is not None
        scale = float(source.scale)
        self._factor = np.float32(1.0 / scale) if normalize and scale != 1.0 else None
        shape = tuple(int(s) for s in source.image_shape)
        self.image_shape = shape + ((1,) if len(shape) == 2 else ())

    @property
    def broken(self) -> list[str]:
        return self.source.broken

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple:
        return (len(self.rows), *self.image_shape)

    def _prepared(self, pixels: np.ndarray) -> np.ndarray:
        """The in-memory loader's conversion, to the bit: channel axis, float32, times 1/scale."""
        if pixels.ndim == 3:
            pixels = pixels[..., np.newaxis]
        out = pixels.astype(np.float32)
        if self._factor is not None:
            out *= self._factor
        return out.reshape((len(out), *self.image_shape))

    def read_positions(self, positions) -> tuple[np.ndarray, np.ndarray]:
        """(images of the positions that decode, mask of those kept) — a training batch."""
        pixels, keep = self.split.read(self.rows[np.asarray(positions, dtype=np.int64)])
        return self._prepared(pixels), keep

    def _full(self, positions) -> np.ndarray:
        images, keep = self.read_positions(positions)
        if keep.all():
            return images
        out = np.zeros((len(keep), *self.image_shape), dtype=np.float32)
        out[keep] = images
        return out

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._full(np.arange(len(self.rows))[[key]])[0]
        return self._full(np.arange(len(self.rows))[key])

    def __array__(self, dtype=None, copy=None):
        raise DataError("a streamed image set is read batch by batch, never whole; index it (x[a:b]) or use "
                        "its batches()")

    def batches(self, batch_size: int):
        """Every image in order, ``batch_size`` at a time, read ahead in parallel (evaluation, analysis)."""
        import tensorflow as tf

        if self.split.graph_decode is not None:
            dataset = self._decoded(tf.data.Dataset.range(len(self.rows))).batch(int(batch_size))
            dataset = dataset.map(self._graph_prepared, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            dataset = tf.data.Dataset.range(len(self.rows)).batch(int(batch_size)).map(
                lambda p: tf.numpy_function(self._full, [p], tf.float32, stateful=False),
                num_parallel_calls=tf.data.AUTOTUNE)
        yield from dataset.prefetch(tf.data.AUTOTUNE).as_numpy_iterator()

    def _decoded(self, positions, targets=None):
        """Positions -> uint8 images (and their targets) decoded by the split's graph ops, in parallel."""
        import tensorflow as tf

        decode = self.split.graph_decode()
        rows = tf.constant(self.rows)
        if targets is None:
            return positions.map(lambda p: decode(tf.gather(rows, p)), num_parallel_calls=tf.data.AUTOTUNE)
        return positions.map(lambda p: (decode(tf.gather(rows, p)), tf.gather(targets, p)),
                             num_parallel_calls=tf.data.AUTOTUNE)

    def _graph_prepared(self, pixels, *rest):
        """:meth:`_prepared` in graph ops, on a whole batch: float32, times the same float32 1/scale."""
        import tensorflow as tf

        images = tf.cast(pixels, tf.float32)
        if self._factor is not None:
            images = images * tf.constant(self._factor, dtype=tf.float32)
        return (images, *rest) if rest else images

    def _order(self, shuffle: bool):
        """Positions for one epoch: all rows in a fresh order, or CIFAR's batch files in a fresh order
        with a bounded shuffle inside each (so one file at a time is decoded in memory)."""
        import tensorflow as tf

        n = len(self.rows)
        if not shuffle:
            return tf.data.Dataset.range(n)
        groups = self.split.groups
        if groups is None:
            return tf.data.Dataset.range(n).shuffle(n, reshuffle_each_iteration=True)
        group_of = groups[self.rows]
        order = np.argsort(group_of, kind="stable")
        counts = np.bincount(group_of)
        counts = counts[counts > 0]
        starts = tf.constant(np.concatenate([[0], np.cumsum(counts)]), dtype=tf.int64)
        by_group = tf.constant(order, dtype=tf.int64)
        buffer = int(min(SHUFFLE_BUFFER, max(counts)))
        order = tf.data.Dataset.range(len(counts)).shuffle(len(counts), reshuffle_each_iteration=True).flat_map(
            lambda g: tf.data.Dataset.from_tensor_slices(by_group[starts[g]:starts[g + 1]]).shuffle(buffer))
        return order.apply(tf.data.experimental.assert_cardinality(n))   # so fit knows the steps per epoch

    def dataset(self, targets, batch_size: int, shuffle: bool):
        """The ``tf.data`` pipeline of (images, targets) batches; ``targets`` is in memory, one row per image."""
        import tensorflow as tf

        targets = np.asarray(targets)
        y = tf.constant(targets)
        image_shape = self.image_shape

        def load(positions):
            images, keep = tf.numpy_function(self.read_positions, [positions], [tf.float32, tf.bool],
                                             stateful=False)
            images.set_shape((None, *image_shape))
            keep.set_shape((None,))
            return images, tf.boolean_mask(tf.gather(y, positions), keep)

        batch_size = int(batch_size)
        if self.split.graph_decode is not None:
            return self._graph_dataset(y, targets, batch_size, shuffle)
        if self.cache:
            path = Path(f"{self.cache}-{targets.dtype}-{'x'.join(map(str, targets.shape[1:])) or 'sparse'}")
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset = (tf.data.Dataset.range(len(self.rows)).batch(_CACHE_BATCH)
                       .map(load, num_parallel_calls=tf.data.AUTOTUNE).cache(str(path)).unbatch())
            if shuffle:
                dataset = dataset.shuffle(min(SHUFFLE_BUFFER, len(self.rows)), reshuffle_each_iteration=True)
            dataset = dataset.batch(batch_size)
        else:
            dataset = self._order(shuffle).batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _graph_dataset(self, y, targets: np.ndarray, batch_size: int, shuffle: bool):
        """Files decoded by TensorFlow's ops one image per element, in parallel, batched as uint8 and made
        float32 per batch. Kept in memory (``keep_decoded``) or in the cache file, the uint8 images (a
        quarter of float32's bytes) are filled in file order in the first epoch and shuffled after it."""
        import tensorflow as tf

        n = len(self.rows)
        if self.keep_decoded:   # decoded in the first epoch, then read from memory (uint8), shuffled whole
            dataset = self._decoded(tf.data.Dataset.range(n), y).cache()
            if shuffle:
                dataset = dataset.shuffle(n, reshuffle_each_iteration=True)
        elif self.cache:
            shape = "x".join(map(str, targets.shape[1:])) or "sparse"
            path = Path(f"{self.cache}-uint8-{targets.dtype}-{shape}")
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset = self._decoded(tf.data.Dataset.range(n), y).cache(str(path))
            if shuffle:
                dataset = dataset.shuffle(min(SHUFFLE_BUFFER, n), reshuffle_each_iteration=True)
        else:
            dataset = self._decoded(self._order(shuffle), y)
        dataset = dataset.batch(batch_size).map(self._graph_prepared, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)
