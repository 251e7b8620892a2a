"""Pretrained backbones: the ``keras.applications`` families a ``Backbone`` layer can wrap, and their rules.

A Backbone is one layer of the stack: it resizes the image to the family's input size, makes grayscale
three channels, scales the pixels to 0..255 and applies the family's own ``preprocess_input``, then runs
the network without its classification top (``include_top=False``), so it outputs the last convolution's
(H, W, C) maps; a GlobalAveragePooling2D and a Dense after it make the classifier. Frozen
(``trainable: false``), only the layers after it learn; ``unfreeze_at_epoch`` makes its weights train
from that epoch on, with the learning rate multiplied by ``unfreeze_learning_rate_factor`` (the usual
fine-tuning recipe: train the new head first, then the whole network slowly).

ImageNet weights are read from Keras's own cache (``$KERAS_HOME/models``, ``~/.keras/models`` by default)
under the file name ``keras.applications`` downloads them as; Tapedeck never downloads. A missing file is
one message naming the file, the folder and where to fetch it (:func:`weights_file`).

No Keras import here: the catalogue and the window read this table before TensorFlow has loaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.text import shown

__all__ = ["Family", "FAMILIES", "ARCHITECTURES", "BackboneWeightsError", "keras_class", "keras_home",
           "weights_file_name", "weights_file", "alpha_rule", "backbone_problems", "unfreeze_plan",
           "catalogue_entry", "unreadable_weights", "HDF5_SIGNATURE"]

_MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_MOBILENET_V3_ALPHAS = (0.75, 1.0)
ALPHAS = _MOBILENET_V2_ALPHAS
ORIGIN = "https://storage.googleapis.com/"


@dataclass(frozen=True)
class Family:
    """One ``keras.applications`` constructor and the module holding its ``preprocess_input``."""

    name: str            # keras.applications.<name>
    module: str          # keras.applications.<module>.preprocess_input
    size: int            # the input side the ImageNet weights were trained at
    alphas: tuple = ()   # width multipliers with published weights (MobileNets only)
    url: str = ""        # where keras.applications downloads the no-top weights from (folder)


FAMILIES = {
    "MobileNetV2": Family("MobileNetV2", "mobilenet_v2", 224, _MOBILENET_V2_ALPHAS,
                          ORIGIN + "tensorflow/keras-applications/mobilenet_v2/"),
    "MobileNetV3Small": Family("MobileNetV3Small", "mobilenet_v3", 224, _MOBILENET_V3_ALPHAS,
                               ORIGIN + "tensorflow/keras-applications/mobilenet_v3/"),
    "EfficientNetB0": Family("EfficientNetB0", "efficientnet", 224, (), ORIGIN + "keras-applications/"),
    "ResNet50": Family("ResNet50", "resnet50", 224, (), ORIGIN + "tensorflow/keras-applications/resnet/"),
}
ARCHITECTURES = tuple(FAMILIES)


class BackboneWeightsError(TapedeckError):
    """The ImageNet weights file is not in Keras's cache; the message names the file and the folder."""


def keras_class(type_name: str):
    """The class an entry of the catalogue builds: ``keras.layers.<type>``, or Tapedeck's Backbone layer.
    Imports Keras here, so the catalogue and this table stay light."""
    if type_name == "Backbone":
        from tapedeck.engine.spec.backbone_layer import Backbone

        return Backbone
    import keras

    return getattr(keras.layers, type_name)


def keras_home() -> Path:
    """Keras's cache folder, as ``keras.utils.get_file`` finds it: $KERAS_HOME, else ~/.keras."""
    home = os.environ.get("KERAS_HOME")
    return Path(home).expanduser() if home else Path("~/.keras").expanduser()


def weights_file_name(architecture: str, alpha: float = 1.0, size: int = 224) -> str:
    """The file name ``keras.applications`` stores the no-top ImageNet weights under (Keras 3)."""
    if architecture == "MobileNetV2":
        rows = size if size in (96, 128, 160, 192, 224) else 224   # Keras falls back to 224 the same way
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"
    if architecture == "MobileNetV3Small":
        return f"weights_mobilenet_v3_small_224_{float(alpha)}_float_no_top_v2.h5"
    if architecture == "EfficientNetB0":
        return "efficientnetb0_notop.h5"
    if architecture == "ResNet50":
        return "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    raise BackboneWeightsError(f"unknown backbone architecture {architecture!r}; expected one of "
                               f"{', '.join(ARCHITECTURES)}")


def weights_file(architecture: str, alpha: float = 1.0, size: int = 224) -> Path:
    """The cached ImageNet weights file, or a BackboneWeightsError naming the file and the folder."""
    name = weights_file_name(architecture, alpha, size)
    folder = keras_home() / "models"
    path = folder / name
    url = FAMILIES[architecture].url + name
    if path.is_file():
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(HDF5_SIGNATURE))
        except OSError as error:
            raise BackboneWeightsError(f"{path}: cannot be read ({error.strerror}); {_again(url, folder)}") from None
        if head != HDF5_SIGNATURE:
            raise BackboneWeightsError(f"{path}: is not an HDF5 weights file ({'empty' if not head else 'damaged'}); "
                                       f"{_again(url, folder)}")
        _readable_hdf5(path, url, folder)
        return path
    raise BackboneWeightsError(
        f"the ImageNet weights of {architecture} are not in Keras's cache: put {name} into {folder} "
        f"(download it from {url} on a machine with internet, or run keras.applications.{architecture}"
        f"(include_top=False) there once and copy ~/.keras/models), or set the Backbone's weights to "
        f"null to start from random weights")


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _again(url: str, folder) -> str:
    return (f"download it again from {url} into {folder}, or set the Backbone's weights to null to start from "
            f"random weights")


def _readable_hdf5(path: Path, url: str, folder) -> None:
    """Open the file's HDF5 structure (its superblock and root, not the data): a file cut short is named
    here, at the check, rather than as h5py's "truncated file: eof = …" when the model is built."""
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as error:
        cut_short = "truncated" in str(error)
        raise BackboneWeightsError(f"{path}: {'is cut short' if cut_short else 'cannot be read as HDF5'}; "
                                   f"{_again(url, folder)}") from None


def unreadable_weights(architecture: str, path, error: Exception) -> BackboneWeightsError:
    """A weights file that opens but does not load into the network (another network's weights): the
    file and the remedy, short enough to survive the check's 300-character cut of a build error."""
    del error   # Keras's words ("Layer count mismatch …") are about its internals, not the person's file
    return BackboneWeightsError(f"{Path(path).name}: holds another network's weights, not {architecture}'s; set the "
                                f"Backbone's weights to null, or download it again from {FAMILIES[architecture].url} "
                                f"into {Path(path).parent}")


def alpha_rule(values):
    """Catalogue rule: alpha is a MobileNet width; with ImageNet weights only published widths exist."""
    architecture, alpha = values["architecture"], float(values["alpha"])
    family = FAMILIES.get(architecture)
    if family is None:
        return None
    if not family.alphas:
        if alpha != 1.0:
            return ("alpha", f"{architecture} has no width multiplier; alpha must be 1.0, received {shown(alpha)}")
        return None
    if values["weights"] == "imagenet" and alpha not in family.alphas:
        return ("alpha", f"{architecture} has ImageNet weights for alpha {', '.join(map(shown, family.alphas))}, "
                         f"received {shown(alpha)}; pick one of them or set weights to null")
    return None


def _backbones(experiment):
    from tapedeck.engine.spec import graph

    nodes, _problems = graph.resolve(experiment.model.layers)
    return [node for node in nodes if node.spec.type == "Backbone"]


def backbone_problems(experiment) -> list[str]:
    """Model-level rules of the fine-tuning schedule (the loops' side of it)."""
    problems = []
    training = experiment.training
    for node in _backbones(experiment):
        where = f"Backbone '{node.name}'"
        params = node.spec.params
        if params.get("weights", "imagenet") == "imagenet" and params.get("architecture") in FAMILIES:
            try:   # a file stat: the check names a missing file before Train, not the build after it
                weights_file(params["architecture"], float(params.get("alpha", 1.0)),
                             int(params.get("input_size", 224)))
            except (BackboneWeightsError, TypeError, ValueError) as error:
                problems.append(f"{where}: {error}")
        epoch = params.get("unfreeze_at_epoch")
        if epoch is None:
            continue
        if node.spec.trainable:
            problems.append(f"{where}: unfreeze_at_epoch {epoch} needs a frozen backbone to unfreeze; untick "
                            f"\"train these weights\" (trainable: false), or clear unfreeze_at_epoch")
        if training.loop == "train_step":
            problems.append(f"{where}: unfreezing during a run works in the fit and tape loops; a custom "
                            f"train_step keeps its variables from the start: set training.loop to fit or tape")
        factor = float(node.spec.params.get("unfreeze_learning_rate_factor", 0.1))
        if factor != 1.0 and training.schedule in ("step", "cosine"):
            problems.append(f"{where}: the learning-rate factor after unfreezing cannot scale a "
                            f"{training.schedule} schedule; use the constant or plateau schedule, or set "
                            f"unfreeze_learning_rate_factor to 1")
    return problems


def unfreeze_plan(experiment) -> list[tuple[str, int, float]]:
    """(layer name, first epoch it trains counting from 1, learning-rate factor) per scheduled unfreeze."""
    plan = []
    for node in _backbones(experiment):
        epoch = node.spec.params.get("unfreeze_at_epoch")
        if epoch is not None and not node.spec.trainable:
            plan.append((node.name, int(epoch), float(node.spec.params.get("unfreeze_learning_rate_factor", 0.1))))
    return plan


def catalogue_entry(param, layer_type):
    """The catalogue's Backbone entry, made with the catalogue's own Param and LayerType classes (passed
    in: this module must not import the catalogue, which imports it). The names and defaults are the
    arguments of ``backbone_layer.Backbone``, as the catalogue test checks for every entry."""
    return layer_type("Backbone", "pretrained", "a keras.applications network pretrained on ImageNet, without its "
                      "top: resizes and preprocesses the images, outputs its last convolution's maps", (
        param("architecture", "choice", "MobileNetV2", "the keras.applications family",
              choices=ARCHITECTURES, required=True),
        param("input_size", "int", 224, "side the images are resized to (the ImageNet weights were trained at "
              "224; smaller is faster, at least 32)", min=32),
        param("alpha", "choice", 1.0, "width multiplier of a MobileNet (1.0 for the others)", choices=ALPHAS),
        param("weights", "choice", "imagenet", "'imagenet': pretrained, read from Keras's cache "
              "($KERAS_HOME/models); null: random weights", choices=("imagenet", None)),
        param("input_range", "float_pair", (0.0, 1.0), "the range the pixels arrive in, [low, high]: [0, 1] "
              "when the data is normalized, [0, 255] for raw pixels"),
        param("unfreeze_at_epoch", "int_or_none", None, "with trainable off: the epoch (from 1) from which "
              "the backbone's weights train too; null keeps it frozen", min=1),
        param("unfreeze_learning_rate_factor", "float", 0.1, "the learning rate is multiplied by this when "
              "the backbone unfreezes (fine-tuning goes slowly)", min=0.0, min_exclusive=True, max=1.0),
    ), spatial=True, rules=(alpha_rule,))
