"""Code export, the data half: the lines that load an experiment's data source the way
``engine.data.datasets`` does — same test split, ``limit``, validation split, scaling and channel axis — so
the exported script trains and tests on the same images as the app.

Each source is written out plainly (scikit-learn for digits, ``keras.datasets`` for the named sets,
``np.load`` for .npz, a few lines of ``struct``/``pickle`` for IDX and CIFAR files,
``keras.utils.load_img`` for image folders). The lines define ``x_train``,
``y_train``, ``x_val``, ``y_val`` (when there is a validation split), ``x_test``, ``y_test``,
``input_shape`` and ``num_classes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tapedeck.engine.data.readers import CIFAR_PICKLE_ALLOWED

__all__ = ["DataCode", "data_code", "section", "literal", "KERAS_MODULES"]

# data.source -> the keras.datasets module that downloads it.
KERAS_MODULES = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10", "cifar100": "cifar100"}
TEST_FRACTION = 0.2  # engine.data.datasets holds out this share of digits (and of folders without test/)
SEED = 0  # engine.data.datasets' fixed seed for the held-out and validation choices


@dataclass
class DataCode:
    text: str
    imports: set = field(default_factory=set)


def section(title: str) -> str:
    """A heading comment, ruled to the width of the script."""
    return f"# --- {title} " + "-" * (72 - len(title))


def literal(value) -> str:
    """A JSON value as Python source, always through ``repr`` (never escaped by hand, so newlines and
    quotes in a path or a layer name still give a script that parses): strings in double quotes
    where they hold none, lists as tuples (Keras's spelling)."""
    if isinstance(value, str):
        text = repr(value)
        return '"' + text[1:-1] + '"' if text.startswith("'") and '"' not in value else text
    if isinstance(value, (list, tuple)):
        items = [literal(v) for v in value]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    return repr(value)


def _path(path) -> str:
    return literal(str(path))


HELD_OUT = f'''def held_out_split(labels, fraction, seed={SEED}):
    """(keep, held_out) indices: the same share of every class, chosen by a fixed seed."""
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for label in np.unique(labels):
        index = np.flatnonzero(labels == label)
        index = index[rng.permutation(len(index))]
        count = max(1, round(len(index) * fraction)) if len(index) > 1 else 0
        held.append(index[:count])
        keep.append(index[count:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))'''


def _digits():
    lines = [
        HELD_OUT,
        "",
        "",
        "# scikit-learn's bundled handwritten digits: 1,797 real 8x8 images, pixel values 0..16.",
        "digits = load_digits()",
        f"keep, held = held_out_split(digits.target, {TEST_FRACTION})  # {TEST_FRACTION:.0%} held out for testing",
        "x_train, y_train = digits.images[keep], digits.target[keep]",
        "x_test, y_test = digits.images[held], digits.target[held]",
    ]
    return lines, {"load_digits"}, 16.0, "10"


def _keras_set(data):
    module = KERAS_MODULES[data.source]
    args = f"label_mode={literal(data.label_mode)}" if data.source == "cifar100" else ""
    lines = [
        f"(x_train, y_train), (x_test, y_test) = keras.datasets.{module}.load_data({args})",
    ]
    if data.source in ("cifar10", "cifar100"):
        lines += ["# CIFAR labels come as (N, 1) columns.",
                  "y_train, y_test = y_train.reshape(-1), y_test.reshape(-1)"]
    classes = {"cifar100": "100" if data.label_mode == "fine" else "20"}.get(data.source, "10")
    return lines, set(), 255.0, classes


def _npz(data, labels: bool = True):
    """``labels=False``: a model whose heads all read named targets, from a file that may hold no plain pair."""
    loads = ['    x_train, y_train = archive["x_train"], archive["y_train"]',
             '    x_test, y_test = archive["x_test"], archive["y_test"]'] if labels else [
        "    # No plain y_train / y_test: every head reads its own named target.",
        '    x_train, x_test = archive["x_train"], archive["x_test"]']
    lines = [
        f"with np.load({_path(data.path)}) as archive:",
        *loads,
        "# Bytes are 0..255; other pixel types are scaled by their largest value.",
        "scale = 255.0 if x_train.dtype == np.uint8 else max(1.0, float(x_train.max()))",
    ]
    return lines, set(), "scale", None


def _idx(data):
    lines = [
        f"folder = Path({_path(data.path)})",
        "if folder.is_file():  # one of the four files: read its neighbours too",
        "    folder = folder.parent",
        "",
        "",
        "def read_idx(name):",
        '    """An IDX file (the MNIST format), gzipped or not: magic number, sizes, then the bytes."""',
        '    path = folder / name if (folder / name).exists() else folder / (name + ".gz")',
        "    raw = path.read_bytes()",
        '    if raw[:2] == b"\\x1f\\x8b":',
        "        raw = gzip.decompress(raw)",
        "    dims = raw[3]",
        '    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])',
        "    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)",
        "",
        "",
        'x_train, y_train = read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte")',
        'x_test, y_test = read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte")',
    ]
    return lines, {"gzip", "struct", "pathlib"}, 255.0, None


def _cifar(data):
    label_key = repr(f"{data.label_mode}_labels".encode())
    lines = [
        "# The CIFAR 'python version': pickled batches in a folder or in the .tar.gz as downloaded.",
        f"source = Path({_path(data.path)})",
        "if source.is_dir():",
        "    files = {p.name: p.read_bytes() for p in source.rglob(\"*\") if p.is_file()}",
        "else:",
        "    with tarfile.open(source) as archive:",
        "        members = [m for m in archive.getmembers() if m.isfile()]",
        "        files = {Path(m.name).name: archive.extractfile(m).read() for m in members}",
        "",
        "",
        "class CifarUnpickler(pickle.Unpickler):",
        '    """Rebuilds only the NumPy arrays a CIFAR batch holds: a doctored file cannot run code."""',
        "",
        f"    allowed = {{{', '.join(repr(pair) for pair in sorted(CIFAR_PICKLE_ALLOWED))}}}",
        "",
        "    def find_class(self, module, name):",
        "        if (module, name) not in self.allowed:",
        '            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")',
        "        return super().find_class(module, name)",
        "",
        "",
        "def cifar_batch(name, label_key):",
        '    batch = CifarUnpickler(io.BytesIO(files[name]), encoding="bytes").load()',
        "    # Each row holds the red, green and blue planes of a 32x32 image; Keras wants (N, H, W, C).",
        '    images = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)',
        "    return images, np.array(batch[label_key])",
        "",
        "",
        'if "test_batch" in files:  # CIFAR-10: data_batch_1 ... data_batch_5 and test_batch',
        "    num_classes = 10",
        '    names = [f"data_batch_{i}" for i in range(1, 6) if f"data_batch_{i}" in files]',
        '    batches = [cifar_batch(name, b"labels") for name in names]',
        "    x_train = np.concatenate([images for images, _ in batches])",
        "    y_train = np.concatenate([labels for _, labels in batches])",
        '    x_test, y_test = cifar_batch("test_batch", b"labels")',
        "else:  # CIFAR-100: train and test",
        f"    num_classes = {100 if data.label_mode == 'fine' else 20}  # {data.label_mode} labels",
        f'    x_train, y_train = cifar_batch("train", {label_key})',
        f'    x_test, y_test = cifar_batch("test", {label_key})',
    ]
    return lines, {"io", "pickle", "tarfile", "pathlib"}, 255.0, "num_classes"


def _folder(data):
    mode = "grayscale" if data.color_mode == "grayscale" else "rgb"
    lines = [HELD_OUT, "", "",
             f"folder = Path({_path(data.path)})",
             "# One sub-folder of images per class; optionally split into train/ and test/ folders.",
             'train_dir = folder / "train" if (folder / "train").is_dir() else folder',
             'test_dir = folder / "test" if train_dir != folder and (folder / "test").is_dir() else None',
             'extensions = (".png", ".jpg", ".jpeg", ".bmp", ".gif")',
             "",
             "",
             "def image_files(directory):",
             "    files = directory.rglob(\"*\")",
             "    return sorted(p for p in files if p.is_file() and p.suffix.lower() in extensions)",
             "",
             "",
             "def class_folders(directory):",
             "    \"\"\"Sorted, as image_dataset_from_directory orders classes; hidden folders skipped.\"\"\"",
             "    return sorted(d for d in directory.iterdir() if d.is_dir() and not d.name.startswith(\".\"))",
             ""]
    if data.image_size:
        lines.append(f"image_size = ({data.image_size[0]}, {data.image_size[1]})  # (height, width)")
    else:
        lines += [
            "",
            "# Every image is resized to the size of the first one.",
            "width, height = keras.utils.load_img(image_files(class_folders(train_dir)[0])[0]).size",
            "image_size = (height, width)",
        ]
    lines += [
        "",
        "",
        "def read_folder(directory, class_names=None):",
        '    """Every image under directory/<class name>/ as uint8 pixels, with its class index."""',
        "    if class_names is None:",
        "        class_names = [d.name for d in class_folders(directory)]",
        "    images, labels = [], []",
        "    for label, name in enumerate(class_names):",
        "        for path in image_files(directory / name):",
        f'            image = keras.utils.load_img(path, color_mode="{mode}", target_size=image_size)',
        '            images.append(keras.utils.img_to_array(image, dtype="uint8"))',
        "            labels.append(label)",
        "    return np.stack(images), np.array(labels), class_names",
        "",
        "",
        "x_train, y_train, class_names = read_folder(train_dir)",
        "if test_dir is not None:",
        "    x_test, y_test, _ = read_folder(test_dir, class_names)",
        "else:",
        f"    keep, held = held_out_split(y_train, {TEST_FRACTION})  # {TEST_FRACTION:.0%} held out for testing",
        "    x_test, y_test = x_train[held], y_train[held]",
        "    x_train, y_train = x_train[keep], y_train[keep]",
        "# Files come class by class: shuffle once (fixed seed) so every part holds every class.",
        f"order = np.random.default_rng({SEED}).permutation(len(x_train))",
        "x_train, y_train = x_train[order], y_train[order]",
    ]
    return lines, {"pathlib"}, 255.0, "len(class_names)"


def data_code(data, batch_size: int | None = None) -> DataCode:
    """The data section of the script for ``data`` (an experiment's DataSpec)."""
    if data.source == "digits":
        lines, imports, scale, classes = _digits()
    elif data.source in KERAS_MODULES:
        lines, imports, scale, classes = _keras_set(data)
    elif data.source == "npz":
        lines, imports, scale, classes = _npz(data)
    elif data.source == "idx":
        lines, imports, scale, classes = _idx(data)
    elif data.source == "cifar":
        lines, imports, scale, classes = _cifar(data)
    elif data.source == "folder":
        lines, imports, scale, classes = _folder(data)
    else:
        raise ValueError(f"data.source: expected digits, mnist, fashion_mnist, cifar10, cifar100, idx, cifar, "
                         f"npz or folder, received {data.source!r}")
    imports |= {"np"}
    lines = [section("Data")] + lines
    if data.limit is not None:
        lines += ["", f"# Only the first {data.limit} training images.",
                  f"x_train, y_train = x_train[:{data.limit}], y_train[:{data.limit}]"]
    split = data.validation_split
    if split > 0:
        lines += [
            "",
            f"# Hold out {split:.0%} of the training images (a fixed random choice) for validation.",
            f"num_val = max(1, round(len(x_train) * {split!r}))",
            f"val_index = np.sort(np.random.default_rng({SEED}).permutation(len(x_train))[:num_val])",
            "train_index = np.setdiff1d(np.arange(len(x_train)), val_index)",
            "x_val, y_val = x_train[val_index], y_train[val_index]",
            "x_train, y_train = x_train[train_index], y_train[train_index]",
        ]
    scale_text = scale if isinstance(scale, str) else repr(float(scale))
    prepare_doc = (f"float32 pixels in [0, 1] (divided by {scale_text}), with a channel axis (N, H, W, C)."
                   if data.normalize else "float32 pixels with a channel axis (N, H, W, C).")
    body = f'    images = images.astype("float32") / {scale_text}' if data.normalize else \
        '    images = images.astype("float32")'
    arrays = ["x_train", "x_val", "x_test"] if split > 0 else ["x_train", "x_test"]
    labels = ["y_train", "y_val", "y_test"] if split > 0 else ["y_train", "y_test"]
    lines += [
        "",
        "",
        "def prepare(images):",
        f'    """{prepare_doc}"""',
        body,
        "    return images[..., np.newaxis] if images.ndim == 3 else images",
        "",
        "",
        f"{', '.join(arrays)} = {', '.join(f'prepare({a})' for a in arrays)}",
        f"{', '.join(labels)} = {', '.join(f'{y}.astype(np.int64)' for y in labels)}",
        "input_shape = x_train.shape[1:]",
    ]
    if classes is None:
        lines.append("num_classes = int(max(y_train.max(), y_test.max())) + 1")
    elif classes != "num_classes":
        lines.append(f"num_classes = {classes}")
    if data.labels == "one_hot":
        lines += ["# One-hot labels (a 1 in the column of the class), as categorical_crossentropy expects."]
        lines += [f"{y} = keras.utils.to_categorical({y}, num_classes)" for y in labels]
    return DataCode(text="\n".join(lines), imports=imports)
