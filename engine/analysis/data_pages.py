"""The data before training: how many training images each class has, a page of them per class, and
what the experiment's augmentation layers (RandomFlip, RandomRotation, …) make of a few of them.

Seeing the balance and the images catches a wrong folder or a skewed set before an hour of training;
seeing the augmented copies shows whether a rotation range turns a 6 into a 9. The augmentation runs
the experiment's own Random* layers, built from their specs as the model would build them, in
training mode (outside training they are the identity).
"""
from __future__ import annotations

import numpy as np

from tapedeck.engine.errors import TapedeckError

__all__ = ["AugmentationError", "class_counts", "examples_per_class", "augmentation_specs", "augment_preview"]


class AugmentationError(TapedeckError):
    """The stack has no augmentation layer, or its layers cannot be applied to these images."""


def class_counts(labels, num_classes: int) -> np.ndarray:
    """Training images per class (num_classes,), zero for a class that has none; ``labels`` None: a set
    without target ``label`` (an npz of named targets only), which has no classes to count."""
    if labels is None:
        return np.zeros(num_classes, dtype=np.int64)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    return np.bincount(labels[(labels >= 0) & (labels < num_classes)], minlength=num_classes)


def examples_per_class(labels, num_classes: int, per_class: int) -> list[np.ndarray]:
    """For each class, the indices of its first ``per_class`` training images (fewer if it has fewer)."""
    if labels is None:   # no target 'label': no class rows (the page still shows the preview)
        return [np.zeros(0, dtype=np.int64) for _ in range(num_classes)]
    labels = np.asarray(labels).reshape(-1)
    return [np.flatnonzero(labels == c)[:per_class] for c in range(num_classes)]


def augmentation_specs(experiment) -> list:
    """The stack's augmentation layers (the catalogue's "augmentation" group), in stack order."""
    from tapedeck.engine.spec.catalogue import CATALOGUE

    return [spec for spec in experiment.model.layers
            if spec.type in CATALOGUE and CATALOGUE[spec.type].group == "augmentation"]


def augment_preview(experiment, images, copies: int = 4, seed: int | None = None) -> np.ndarray:
    """(len(images), copies, H, W, C): each image passed ``copies`` times through the augmentation
    layers in training mode, as the model sees it during one epoch after another."""
    import keras

    from tapedeck.engine.spec.catalogue import make_layer

    specs = augmentation_specs(experiment)
    if not specs:
        raise AugmentationError("the stack has no augmentation layer: add RandomFlip, RandomRotation, RandomZoom "
                                "or RandomTranslation (Add layer ▸ Augmentation) to preview one")
    x = np.asarray(images, dtype=np.float32)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    layers = [make_layer(spec, f"preview_{i}") for i, spec in enumerate(specs)]
    out = []
    try:
        for _ in range(copies):
            y = x
            for layer in layers:
                y = layer(y, training=True)
            out.append(np.asarray(y))
    except (ValueError, TypeError) as error:
        raise AugmentationError(f"the augmentation layers cannot be applied to images of shape {x.shape[1:]}: "
                                f"{error}") from None
    return np.stack(out, axis=1)
