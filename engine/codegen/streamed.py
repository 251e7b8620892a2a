"""Code export for a streamed set (``data.streaming``): the ``tf.data`` lines a person would write to
train on files that are not loaded whole — image files decoded in parallel by ``tf.io.decode_image``,
IDX and .npz arrays read through ``np.memmap`` a batch at a time — with the app's test split, limit,
validation choice and scaling, so the script trains on the same images as the app.

The data section defines ``train_ds``, ``val_ds`` (with a validation split), ``test_ds``, ``num_train``,
``input_shape`` and ``num_classes``; :func:`streamed_training` turns the training section's array
arguments into those pipelines.
"""
from __future__ import annotations

from tapedeck.engine.codegen.data import HELD_OUT, SEED, TEST_FRACTION, DataCode, literal, section

__all__ = ["streams", "streamed_data_code", "streamed_training", "STREAMED_SOURCES"]

STREAMED_SOURCES = ("folder", "idx", "npz")


def streams(experiment) -> bool:
    """Whether the app streams this experiment's data (False when it would refuse, or load it whole)."""
    from tapedeck.engine.data.readers import DataError
    from tapedeck.engine.data.streaming import plan_data

    if experiment.data.source not in STREAMED_SOURCES:
        return False
    try:
        return plan_data(experiment.data, experiment).streamed
    except DataError:
        return False


def _rows(data) -> list[str]:
    """train_rows / val_rows over the (limited) training pool, as engine.data.datasets picks them."""
    lines = []
    if data.limit is not None:
        lines += [f"# Only the first {data.limit} training images.",
                  f"pool = np.arange(min({data.limit}, len(y_train)))"]
    else:
        lines += ["pool = np.arange(len(y_train))"]
    if data.validation_split > 0:
        lines += [
            f"# Hold out {data.validation_split:.0%} of the training images (a fixed random choice) for validation.",
            f"num_val = max(1, round(len(pool) * {data.validation_split!r}))",
            f"val_rows = np.sort(np.random.default_rng({SEED}).permutation(len(pool))[:num_val])",
            "train_rows = np.setdiff1d(pool, val_rows)",
        ]
    else:
        lines += ["train_rows = pool"]
    return lines


def _labels_map(data) -> list[str]:
    if data.labels == "one_hot":
        return ["", "", "def target(label):",
                '    """One-hot labels (a 1 in the column of the class), as categorical_crossentropy expects."""',
                "    return tf.one_hot(label, num_classes)"]
    return ["", "", "def target(label):", "    return label"]


def _folder(data, scale_line: str) -> list[str]:
    channels = 1 if data.color_mode == "grayscale" else 3
    lines = [HELD_OUT, "", "",
             f"folder = Path({literal(str(data.path))})",
             "# One sub-folder of images per class; optionally split into train/ and test/ folders.",
             'train_dir = folder / "train" if (folder / "train").is_dir() else folder',
             'test_dir = folder / "test" if train_dir != folder and (folder / "test").is_dir() else None',
             'extensions = (".png", ".jpg", ".jpeg", ".bmp", ".gif")',
             "",
             "",
             "def list_folder(directory, class_names=None):",
             '    """The image files under directory/<class name>/ (sorted) and their classes."""',
             "    if class_names is None:",
             "        folders = [d for d in directory.iterdir() if d.is_dir() and not d.name.startswith(\".\")]",
             "        class_names = sorted(d.name for d in folders)",
             "    files, labels = [], []",
             "    for label, name in enumerate(class_names):",
             '        found = sorted(p for p in (directory / name).rglob("*")',
             "                       if p.is_file() and p.suffix.lower() in extensions)",
             "        files += [str(p) for p in found]",
             "        labels += [label] * len(found)",
             "    return np.array(files), np.array(labels, dtype=np.int64), class_names",
             "",
             "",
             "train_files, y_train, class_names = list_folder(train_dir)",
             "if test_dir is not None:",
             "    test_files, y_test, _ = list_folder(test_dir, class_names)",
             "else:",
             f"    keep, held = held_out_split(y_train, {TEST_FRACTION})  # {TEST_FRACTION:.0%} held out for testing",
             "    test_files, y_test = train_files[held], y_train[held]",
             "    train_files, y_train = train_files[keep], y_train[keep]",
             "# Files come class by class: shuffle once (fixed seed) so every part holds every class.",
             f"order = np.random.default_rng({SEED}).permutation(len(train_files))",
             "train_files, y_train = train_files[order], y_train[order]",
             "num_classes = len(class_names)"]
    if data.image_size:
        lines.append(f"image_size = ({data.image_size[0]}, {data.image_size[1]})  # (height, width)")
    else:
        lines += ["# Every image is resized to the size of the first one.",
                  "width, height = keras.utils.load_img(train_files[0]).size",
                  "image_size = (height, width)"]
    lines += [f"input_shape = (*image_size, {channels})", ""] + _rows(data) + [
        scale_line, *_labels_map(data)[0:],
        "",
        "",
        "def load_image(path, label):",
        '    """Read and decode one file (in parallel with the others, by tf.data), resized and scaled."""',
        f"    image = tf.io.decode_image(tf.io.read_file(path), channels={channels}, expand_animations=False)",
        "    image = tf.image.resize(image, image_size)  # bilinear; same-size images keep their pixels",
        "    return prepare(image), target(label)",
        "",
        "",
        "def pipeline(files, labels, shuffle):",
        "    dataset = tf.data.Dataset.from_tensor_slices((files, labels))",
        "    if shuffle:  # a new file order every epoch: only names are shuffled, never images",
        "        dataset = dataset.shuffle(len(files))",
        "    dataset = dataset.map(load_image, num_parallel_calls=tf.data.AUTOTUNE)",
        "    # A file that does not decode is left out with a warning instead of stopping the run.",
        "    return dataset.ignore_errors(log_warning=True).batch(batch_size).prefetch(tf.data.AUTOTUNE)",
        "",
        "",
        "train_ds = pipeline(train_files[train_rows], y_train[train_rows], shuffle=True)",
    ]
    if data.validation_split > 0:
        lines.append("val_ds = pipeline(train_files[val_rows], y_train[val_rows], shuffle=False)")
    lines.append("test_ds = pipeline(test_files, y_test, shuffle=False)")
    return lines


_IDX = [
    "folder = Path({path})",
    "if folder.is_file():  # one of the four files: read its neighbours too",
    "    folder = folder.parent",
    "",
    "",
    "def map_idx(name):",
    '    """An uncompressed IDX file (the MNIST format) as a read-only memory map: nothing is loaded yet."""',
    "    path = folder / name",
    '    with open(path, "rb") as f:',
    "        dims = f.read(4)[3]",
    '        shape = struct.unpack(f">{dims}I", f.read(4 * dims))',
    '    return np.memmap(path, dtype=np.uint8, mode="r", offset=4 + 4 * dims, shape=shape)',
    "",
    "",
    'x_train, y_train = map_idx("train-images-idx3-ubyte"), np.array(map_idx("train-labels-idx1-ubyte"))',
    'x_test, y_test = map_idx("t10k-images-idx3-ubyte"), np.array(map_idx("t10k-labels-idx1-ubyte"))',
    "scale = 255.0",
]

_NPZ = [
    "",
    "",
    "def map_npz(path, name):",
    '    """One array of an uncompressed .npz (numpy.savez) as a read-only memory map into the archive."""',
    "    with zipfile.ZipFile(path) as archive:",
    '        info = archive.getinfo(name + ".npy")',
    "    with open(path, \"rb\") as f:",
    "        f.seek(info.header_offset + 26)",
    '        name_length, extra_length = struct.unpack("<HH", f.read(4))',
    "        f.seek(info.header_offset + 30 + name_length + extra_length)",
    "        header = np.lib.format.read_magic(f)",
    "        read = {(1, 0): np.lib.format.read_array_header_1_0}.get(header, np.lib.format.read_array_header_2_0)",
    "        shape, fortran, dtype = read(f)",
    '        return np.memmap(path, dtype=dtype, mode="r", offset=f.tell(), shape=shape,',
    '                         order="F" if fortran else "C")',
    "",
    "",
    "path = {path}",
    'x_train, x_test = map_npz(path, "x_train"), map_npz(path, "x_test")',
    "with np.load(path) as archive:  # the labels are small: loaded",
    '    y_train, y_test = archive["y_train"].astype(np.int64), archive["y_test"].astype(np.int64)',
    "# Bytes are 0..255; other pixel types are scaled by their largest value.",
    "scale = 255.0 if x_train.dtype == np.uint8 else max(1.0, float(x_train.max()))",
]


def _mapped(data, head: list[str]) -> list[str]:
    lines = [line.replace("{path}", literal(str(data.path))) for line in head]
    lines += ["num_classes = int(max(y_train.max(), y_test.max())) + 1",
              "input_shape = x_train.shape[1:] + ((1,) if x_train.ndim == 3 else ())", ""] + _rows(data)
    lines += [*_labels_map(data),
              "",
              "",
              "def pipeline(images, labels, rows, shuffle):",
              '    """Batches of rows read from the memory map by tf.data: only a batch is in memory."""',
              "    dataset = tf.data.Dataset.from_tensor_slices(rows)",
              "    if shuffle:  # a new order every epoch: only row numbers are shuffled",
              "        dataset = dataset.shuffle(len(rows))",
              "",
              "    def read(batch_rows):",
              "        x = tf.numpy_function(lambda r: prepare(images[r]), [batch_rows], tf.float32)",
              "        x.set_shape((None, *input_shape))",
              "        return x, target(tf.gather(labels, batch_rows))",
              "",
              "    dataset = dataset.batch(batch_size).map(read, num_parallel_calls=tf.data.AUTOTUNE)",
              "    return dataset.prefetch(tf.data.AUTOTUNE)",
              "",
              "",
              "train_ds = pipeline(x_train, y_train, train_rows, shuffle=True)"]
    if data.validation_split > 0:
        lines.append("val_ds = pipeline(x_train, y_train, val_rows, shuffle=False)")
    lines.append("test_ds = pipeline(x_test, y_test, np.arange(len(y_test)), shuffle=False)")
    return lines


def streamed_data_code(data, batch_size: int) -> DataCode:
    """The data section of a streamed script (folder, idx or npz)."""
    normalize = bool(data.normalize)
    if data.source == "folder":
        body = '    image = tf.cast(image, "float32")' + (" / 255.0" if normalize else "")
        prepare = ["", "", "def prepare(image):",
                   '    """float32 pixels' + (" in [0, 1]" if normalize else "") + '."""', body, "    return image"]
        lines = _folder(data, "\n".join(prepare))
        imports = {"pathlib", "tf", "keras"}
    else:
        body = ('    images = images.astype("float32") / np.float32(scale)' if normalize
                else '    images = images.astype("float32")')
        prepare = ["", "", "def prepare(images):",
                   '    """float32 pixels' + (" in [0, 1]" if normalize else "") + ', with a channel axis."""',
                   body, "    return images[..., np.newaxis] if images.ndim == 3 else images"]
        head = _IDX if data.source == "idx" else _NPZ
        lines = _mapped(data, head)
        at = lines.index("train_rows = pool") + 1 if "train_rows = pool" in lines else \
            lines.index("train_rows = np.setdiff1d(pool, val_rows)") + 1
        lines[at:at] = prepare
        imports = {"pathlib", "struct", "tf"} | ({"zipfile"} if data.source == "npz" else set())
    lines = [section("Data (streamed from disk: read batch by batch, never loaded whole)"),
             f"batch_size = {batch_size}"] + lines + ["num_train = len(train_rows)"]
    return DataCode(text="\n".join(lines), imports=imports | {"np"})


def streamed_training(text: str) -> str:
    """The training section with the pipelines in place of the arrays it was written for."""
    replacements = [
        ("    x_train,\n    y_train,\n    batch_size=batch_size,\n", "    train_ds,\n"),
        ("validation_data=(x_val, y_val)", "validation_data=val_ds"),
        ("model.evaluate(x_test, y_test, verbose=0)", "model.evaluate(test_ds, verbose=0)"),
        ("len(x_train)", "num_train"),
    ]
    for old, new in replacements:
        text = text.replace(old, new)
    lines, skipping = [], False
    for line in text.split("\n"):   # the tape loop's own pipelines from arrays: already defined
        if line == "train_ds = (":
            skipping = True
            continue
        if skipping:
            skipping = line != ")"
            continue
        if line.startswith(("val_ds = tf.data.Dataset.from_tensor_slices",
                            "test_ds = tf.data.Dataset.from_tensor_slices")):
            continue
        lines.append(line)
    return "\n".join(lines)
