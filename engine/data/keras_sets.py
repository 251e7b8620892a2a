"""The keras.datasets sets Tapedeck offers by name, their class names, and what to do when they are not cached.

Loading goes through Keras's own loaders (its cache is ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``);
Tapedeck never writes into that cache, because Keras deletes and re-downloads any file whose hash it does
not recognise. Offline, Keras raises a bare ``Exception("URL fetch failure …")``: :func:`load_keras_set`
turns that into one message naming the file Keras wanted and the folder where a person can put it.
Shapes and class names are known here so the layer check can run without loading anything.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tapedeck.engine.data.readers import DataError

__all__ = ["KERAS_SOURCES", "KerasSet", "KERAS_SETS", "DIGIT_NAMES", "FASHION_MNIST_NAMES", "CIFAR10_NAMES",
           "CIFAR100_FINE_NAMES", "CIFAR100_COARSE_NAMES", "keras_set", "cache_folder", "missing_files",
           "load_keras_set"]

DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_MNIST_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_FINE_NAMES = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
]
CIFAR100_COARSE_NAMES = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
]

_GCS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class KerasSet:
    """One keras.datasets set: where Keras keeps it and what it holds.

    ``files`` pairs the name Keras stores under ``subdir`` with the URL it downloads it from (for the
    CIFAR archives Keras stores the .tar.gz as ``<folder>_archive``, as keras.utils.get_file does).
    """

    name: str
    title: str
    module: str
    input_shape: tuple[int, int, int]
    subdir: str
    files: tuple[tuple[str, str], ...]
    alternative: str  # the file source that reads the same download without Keras
    alternative_path: str  # what its data.path names

    def class_names(self, label_mode: str = "fine") -> list[str]:
        if self.name == "fashion_mnist":
            return list(FASHION_MNIST_NAMES)
        if self.name == "cifar10":
            return list(CIFAR10_NAMES)
        if self.name == "cifar100":
            return list(CIFAR100_COARSE_NAMES if label_mode == "coarse" else CIFAR100_FINE_NAMES)
        return list(DIGIT_NAMES)


KERAS_SETS = {
    "mnist": KerasSet("mnist", "MNIST", "mnist", (28, 28, 1), "datasets",
                      (("mnist.npz", _GCS + "mnist.npz"),), "npz", "the downloaded mnist.npz"),
    "fashion_mnist": KerasSet("fashion_mnist", "Fashion-MNIST", "fashion_mnist", (28, 28, 1),
                              os.path.join("datasets", "fashion-mnist"),
                              tuple((f, _GCS + f) for f in ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                                                           "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")),
                              "idx", "the folder of the four downloaded files"),
    "cifar10": KerasSet("cifar10", "CIFAR-10", "cifar10", (32, 32, 3), "datasets",
                        (("cifar-10-batches-py-target_archive",
                          "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),), "cifar",
                        "the downloaded cifar-10-python.tar.gz"),
    "cifar100": KerasSet("cifar100", "CIFAR-100", "cifar100", (32, 32, 3), "datasets",
                         (("cifar-100-python-target_archive",
                           "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),), "cifar",
                         "the downloaded cifar-100-python.tar.gz"),
}
KERAS_SOURCES = tuple(KERAS_SETS)


def keras_set(name: str) -> KerasSet:
    try:
        return KERAS_SETS[name]
    except KeyError:
        raise DataError(f"data.source: {name!r} is not a keras.datasets set ({', '.join(KERAS_SOURCES)})") from None


def _keras_home() -> str:
    """The folder Keras itself uses: KERAS_HOME as read when Keras was imported, else ~/.keras.

    Keras reads KERAS_HOME once, at import; ask it when it is loaded, and do not load it (seconds) just for this.
    """
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and hasattr(config, "keras_home"):
        return config.keras_home()
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def cache_folder(name: str) -> Path:
    """Where keras.utils.get_file looks for this set (it falls back to /tmp/.keras when home is read-only)."""
    base = os.path.expanduser(_keras_home())
    if not os.access(base, os.W_OK) and os.path.isdir(base):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(base) / keras_set(name).subdir


def missing_files(name: str) -> list[Path]:
    """Files of the set not in Keras's cache (present ones may still fail Keras's hash check)."""
    folder = cache_folder(name)
    return [folder / f for f, _ in keras_set(name).files if not (folder / f).exists()]


def why_no_download(error: str) -> str:
    """Keras's "URL fetch failure on URL: None -- [Errno -2] Name or service not known" in words."""
    lowered = error.lower()
    if any(sign in lowered for sign in ("errno -2", "errno -3", "name or service not known",
                                        "temporary failure in name resolution", "nodename nor servname")):
        return "no network: the download server's name did not resolve"
    if "timed out" in lowered:
        return "the download timed out"
    if "refused" in lowered or "errno 111" in lowered:
        return "the connection was refused"
    if "certificate" in lowered or "ssl" in lowered:
        return "the secure connection failed (certificate or proxy)"
    detail = re.sub(r"^URL fetch failure on \S+?: (None -- )?", "", error.strip())
    return f"the download failed: {detail}" if detail else "the download failed"


def _offline_message(ks: KerasSet, error: str, had: set[Path]) -> str:
    folder = cache_folder(ks.name)
    wanted = [(f, url) for f, url in ks.files if url in error] or list(ks.files)
    lines = [f"{ks.title} is not in Keras's cache and could not be downloaded ({why_no_download(error)})."]
    for fname, url in wanted:
        target = folder / fname
        renamed = "" if url.endswith(fname) else \
            f" (the name Keras looks for, without {url.rsplit('/', 1)[-1]}'s extension)"
        lines.append(f"Download {url} and save it as {target}{renamed}")
        if target in had and not target.exists():
            lines.append(f"(the copy that was at {target} did not match Keras's checksum, so Keras removed it)")
    if len(ks.files) > 1:
        lines.append(f"Keras needs all of {', '.join(f for f, _ in ks.files)} in {folder}.")
    lines.append(f"Or set data.source to '{ks.alternative}' and data.path to {ks.alternative_path}, "
                 "or use 'digits', which needs no download.")
    return "\n".join(lines)


def load_keras_set(name: str, label_mode: str = "fine"):
    """((x_train, y_train), (x_test, y_test)) from the real keras.datasets loader, with flat labels."""
    ks = keras_set(name)
    if name == "cifar100" and label_mode not in ("fine", "coarse"):
        raise DataError(f"data.label_mode: expected 'fine' or 'coarse', received {label_mode!r}")
    import importlib

    module = importlib.import_module(f"keras.datasets.{ks.module}")
    folder = cache_folder(name)
    had = {folder / f for f, _ in ks.files if (folder / f).exists()}
    try:
        if name == "cifar100":
            (x_train, y_train), (x_test, y_test) = module.load_data(label_mode=label_mode)
        else:
            (x_train, y_train), (x_test, y_test) = module.load_data()
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - Keras signals a failed download with a bare Exception
        text = str(exc)
        if "URL fetch failure" in text:
            raise DataError(_offline_message(ks, text, had)) from None
        raise DataError(f"{ks.title}: Keras could not read its cached copy in {folder} ({type(exc).__name__}: "
                        f"{text}); delete the set's files there so Keras downloads them again") from None
    return (x_train, np.asarray(y_train).reshape(-1)), (x_test, np.asarray(y_test).reshape(-1))
