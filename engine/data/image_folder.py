"""A folder with one sub-folder of images per class (optionally inside train/ and test/).

Every file is decoded here before anything trains: ``image_dataset_from_directory`` counts a broken or
empty file and only fails later, mid-epoch, without naming it. A file that does not decode is skipped
and named in the data set's warnings; a class folder left with no image at all is refused.
Ordinary PNG and JPEG files are decoded by TensorFlow in parallel (``engine.data.tf_decode``, to Pillow's
pixels); Pillow decodes the rest, and names why a broken file does not decode.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tapedeck.engine.data import tf_decode
from tapedeck.engine.data.readers import DataError, RawSet, existing_path
from tapedeck.engine.text import cut

__all__ = ["IMAGE_EXTENSIONS", "TEST_FRACTION", "read_image_folder", "describe_image_folder", "held_out_split",
           "decode_files", "pillow_decoder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEST_FRACTION = 0.2  # held out for testing when the folder has no test/ of its own
_SEED = 0
_LISTED = 8  # broken files named one by one in a warning; the rest are counted


def held_out_split(labels: np.ndarray, fraction: float, seed: int = _SEED) -> tuple[np.ndarray, np.ndarray]:
    """(keep, held_out) indices: the same share of every class, chosen by a fixed seed.

    Per class, so a small class still has test examples; seeded, so the split is the same every run and
    a model is never tested on images it trained on in an earlier run.
    """
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n = int(round(len(idx) * fraction)) if len(idx) > 1 else 0
        n = max(n, 1) if len(idx) > 1 and fraction > 0 else n
        held.append(idx[:n])
        keep.append(idx[n:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def _class_dirs(root: Path) -> list[Path]:
    return sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _list_classes(root: Path, names: list[str] | None = None) -> tuple[list[str], list[Path], list[int]]:
    """Class names (sorted folder names, as image_dataset_from_directory orders them), files and labels."""
    dirs = _class_dirs(root)
    if not dirs:
        raise DataError(f"{root}: no class sub-folders; put each class's images in a folder of its own "
                        f"({root}/<class name>/image.png)")
    if names is None:
        names = [d.name for d in dirs]
    files, labels = [], []
    for d in dirs:
        if d.name not in names:
            raise DataError(f"{d}: class '{d.name}' is not among the training classes ({', '.join(names)}); "
                            "rename or remove that test folder")
        found = _image_files(d)
        if not found:
            raise DataError(f"{d}: class folder holds no images ({'/'.join(IMAGE_EXTENSIONS)}); add images or "
                            "remove the folder")
        files += found
        labels += [names.index(d.name)] * len(found)
    return names, files, labels


# Pillow modes holding more than 8 bits per pixel. ``convert("L")`` clips them (a 16-bit PNG's values
# run to 65535, so nearly every pixel turned white); they are scaled to 0..255 first instead.
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _eight_bit(im):
    """A wide-mode image scaled to 8 bits (``L``): 16-bit values by 257, so 8-bit v saved as 257·v reads v."""
    from PIL import Image

    values = np.asarray(im, dtype=np.float64)
    top = 65535.0 if im.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
    return Image.fromarray(np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8), "L")


def _decode(path: Path, mode: str, size: tuple[int, int]):
    """Decoded pixels, or the reason Pillow gives for not decoding them (a decompression bomb included)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in _WIDE_MODES:
                im = _eight_bit(im)
            im = im.convert(mode)
            if im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8), None
    except Image.DecompressionBombError:
        return None, "refused as a possible decompression bomb: too many pixels to decode safely"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        return None, str(exc) or type(exc).__name__


def pillow_decoder(files, mode: str, size, root: Path):
    """``one(row)``: the image of ``files[row]`` decoded by Pillow (H, W, C), for the files TensorFlow does
    not decode as Pillow does. A file that no longer decodes (changed since it was checked) is a
    DataError that names it: the run ends with that line rather than training on a hole."""
    channels = 1 if mode == "L" else 3

    def one(row: int) -> np.ndarray:
        img, reason = _decode(files[row], mode, size)
        if img is None:
            raise DataError(f"{Path(files[row]).relative_to(root)}: no longer decodes ({cut(reason)}); remove or "
                            "replace the broken file")
        return img.reshape(size[0], size[1], channels)

    return one


def decode_files(files, mode: str, size, root: Path, broken: list[str], keep_pixels: bool = True):
    """(uint8 pixels (n, H, W, C) or None, mask of the files that decode, each file's decoder kind).

    Every file is decoded once — TensorFlow for the ordinary ones, in parallel; Pillow for the rest and
    for any TensorFlow refuses, so a broken file is named with Pillow's reason (added to ``broken``).
    ``keep_pixels=False`` decodes only to check (a streamed set that must not be held in memory).
    """
    files = list(files)
    kinds = tf_decode.file_kinds(files, size)
    channels = 1 if mode == "L" else 3
    pixels = np.empty((len(files), size[0], size[1], channels), dtype=np.uint8) if keep_pixels else None
    decoded = np.zeros(len(files), dtype=bool)
    if files:
        decode = tf_decode.graph_decoder(files, kinds, mode, size, pillow_decoder(files, mode, size, root))
        for positions, images in tf_decode.decoded_rows(decode, np.arange(len(files))):
            decoded[positions] = True
            if pixels is not None:
                pixels[positions] = images
    for row in np.flatnonzero(~decoded):
        img, reason = _decode(files[row], mode, size)
        if img is None:
            broken.append(f"{Path(files[row]).relative_to(root)} ({cut(reason)})")
            continue
        decoded[row], kinds[row] = True, tf_decode.PILLOW
        if pixels is not None:
            pixels[row] = img.reshape(size[0], size[1], channels)
    return pixels, decoded, kinds


def _decoded(files, labels, mode: str, size, root: Path, broken: list[str]) -> tuple[np.ndarray, np.ndarray]:
    pixels, keep, _ = decode_files(files, mode, size, root, broken)
    return (pixels if keep.all() else pixels[keep]), np.asarray(labels, dtype=np.int64)[keep]


def skipped_warning(root: Path, broken: list[str]) -> str:
    """The data set's one line about the files it skipped, the first few named."""
    listed = "; ".join(broken[:_LISTED]) + (f"; and {len(broken) - _LISTED} more" if len(broken) > _LISTED else "")
    return f"{root}: skipped {len(broken)} image file(s) that do not decode: {listed}"


def _check_classes(names: list[str], labels: list[int], dirs_root: Path) -> None:
    present = set(labels)
    for i, name in enumerate(names):
        if i not in present:
            raise DataError(f"{dirs_root / name}: no image in this class folder decodes; replace the broken "
                            "files or remove the folder")


def _require_pillow() -> None:
    """An image folder is decoded with Pillow, an optional package: its absence is one line with the fix,
    said before any file is read (a ModuleNotFoundError traceback otherwise)."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        raise DataError("data.source 'folder': reading image files needs Pillow, which is not installed; run "
                        "`pip install pillow` (or `pip install tapedeck`), or use an .npz or IDX data set") from None


def _options(path, image_size, color_mode):
    _require_pillow()
    root = existing_path(path, "image folder")
    if not root.is_dir():
        raise DataError(f"{root}: is a file; set data.path to a folder with one sub-folder of images per class")
    modes = {"rgb": "RGB", "grayscale": "L"}
    if color_mode not in modes:
        raise DataError(f"data.color_mode: expected 'rgb' or 'grayscale', received {color_mode!r}")
    mode = modes[color_mode]
    size = None
    if image_size is not None:
        valid = (isinstance(image_size, (list, tuple)) and len(image_size) == 2
                 and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in image_size))
        if not valid:
            raise DataError(f"data.image_size: expected [height, width] of positive integers, received {image_size!r}")
        size = (image_size[0], image_size[1])
    return root, mode, size


def _roots(root: Path) -> tuple[Path, Path | None]:
    """(train, test) class-folder roots: root/train and root/test when the folder is split that way."""
    train_root, test_root = root / "train", root / "test"
    if not (train_root.is_dir() and _class_dirs(train_root)):
        return root, None
    return train_root, test_root if test_root.is_dir() else None


def describe_image_folder(path, image_size=None, color_mode: str = "rgb") -> tuple[tuple, list[str]]:
    """(input_shape, class names) from the folder names and one image header, without decoding every file.

    The layer check runs on every edit; a folder of thousands of photos must not be decoded for it.
    """
    root, mode, size = _options(path, image_size, color_mode)
    train_root, test_root = _roots(root)
    names, files, _ = _list_classes(train_root)
    if test_root is not None:
        _list_classes(test_root, names)
    size = size or _first_size(files, train_root)
    return (size[0], size[1], 1 if mode == "L" else 3), names


def header_warnings(path, image_size=None, color_mode: str = "rgb") -> list[str]:
    """What a run would skip, told by ``tapedeck check`` from every file's header alone (no pixel decoded):
    the files Pillow refuses to open (a header announcing 100,000 × 100,000 pixels, bytes that are no
    image), in the words of the run's own warning."""
    from PIL import Image

    root, _mode, _size = _options(path, image_size, color_mode)
    train_root, test_root = _roots(root)
    names, files, _ = _list_classes(train_root)
    if test_root is not None:
        files = files + _list_classes(test_root, names)[1]
    broken = []
    for file in files:
        try:
            with Image.open(file):
                pass
        except Image.DecompressionBombError:
            broken.append(f"{file.relative_to(root)} (refused as a possible decompression bomb: too many pixels "
                          "to decode safely)")
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            broken.append(f"{file.relative_to(root)} ({cut(str(exc) or type(exc).__name__)})")
    if not broken:
        return []
    listed = "; ".join(broken[:_LISTED]) + (f"; and {len(broken) - _LISTED} more" if len(broken) > _LISTED else "")
    return [f"{root}: a run will skip {len(broken)} image file(s) that do not decode: {listed}"]


def _first_size(files: list[Path], train_root: Path) -> tuple[int, int]:
    """(height, width) of the first training image, in file-name order, that Pillow can open."""
    from PIL import Image

    for path in files:
        try:
            with Image.open(path) as im:
                return im.size[1], im.size[0]
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            continue   # read_image_folder names it among the skipped files
    raise DataError(f"{train_root}: none of the training images opens; check the files")


def read_image_folder(path, image_size=None, color_mode: str = "rgb", limit: int | None = None) -> RawSet:
    """Class folders -> uint8 arrays; only the first ``limit`` training files (after a seeded shuffle) decode."""
    root, mode, size = _options(path, image_size, color_mode)
    train_root, test_root = _roots(root)
    names, files, labels = _list_classes(train_root)
    size = size or _first_size(files, train_root)
    files, labels = np.array(files, dtype=object), np.array(labels)
    if test_root is None:
        keep, held = held_out_split(labels, TEST_FRACTION)
        test_files, test_labels = files[held], labels[held]
        files, labels = files[keep], labels[keep]
    else:
        _, t_files, t_labels = _list_classes(test_root, names)
        test_files, test_labels = np.array(t_files, dtype=object), np.array(t_labels)
    # Files come class by class; shuffle once (seeded) so "the first N" and the validation part hold every class.
    order = np.random.default_rng(_SEED).permutation(len(files))
    files, labels = files[order], labels[order]
    if limit is not None:
        files, labels = files[:limit], labels[:limit]

    broken: list[str] = []
    x_train, y_train = _decoded(files, labels, mode, size, root, broken)
    if not len(x_train):
        raise DataError(f"{train_root}: none of the training images decodes; check the files")
    if limit is None:
        _check_classes(names, list(y_train), train_root)
    x_test, y_test = _decoded(test_files, test_labels, mode, size, root, broken)
    if not len(x_test):
        raise DataError(f"{test_root or train_root}: none of the test images decodes; check the files")
    warnings = [skipped_warning(root, broken)] if broken else []
    held_note = "" if test_root is not None else f", {int(TEST_FRACTION * 100)}% held out for testing"
    return RawSet(x_train, y_train, x_test, y_test, class_names=names, scale=255.0,
                  description=f"image folder {root} ({len(names)} classes{held_note})", warnings=warnings)
