"""What a convolutional layer sees: its activation maps for one image, and a tiled grid to show them.

Sequential and Functional models expose every layer's symbolic output, so a second
``keras.Model(model.inputs[0], layer.output)`` shares the trained weights and stops at that layer. A model
subclass has no symbolic graph: ``engine.model.inference.functional_twin`` wires its trained layers into
one first (``TapedeckModel.layer_outputs`` would do too, but it cannot pass ``training=False``, and
without it an augmenting stack flips the image and moves BatchNormalization's statistics). The extractor
is made once per (model, layer).
"""
from __future__ import annotations

import weakref

import numpy as np

from tapedeck.engine.errors import TapedeckError

__all__ = ["FeatureMapError", "conv_layer_names", "spatial_layer_names", "feature_maps", "feature_map_grid"]

_CONV_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")
_extractors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FeatureMapError(TapedeckError):
    """The layer has no maps to show (unknown name, or its output is not an image-shaped tensor)."""


def conv_layer_names(model) -> list[str]:
    """The convolution layers, in stack order: what the feature-map picker offers first."""
    return [layer.name for layer in _layers(model) if type(layer).__name__ in _CONV_TYPES]


def spatial_layer_names(model) -> list[str]:
    """Every layer whose output is (H, W, C): convolutions, pooling, normalisation, activations."""
    source = _symbolic(model)
    names = []
    for layer in _layers(model):
        try:
            shape = source.get_layer(layer.name).output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4:
            names.append(layer.name)
    return names


def feature_maps(model, layer_name: str, image) -> np.ndarray:
    """Activations (H, W, C) of ``layer_name`` for one preprocessed image (H, W, C) or (1, H, W, C)."""
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 3:
        x = x[np.newaxis]
    if x.ndim != 4 or x.shape[0] != 1:
        raise FeatureMapError(f"expected one image of shape (H, W, C), received an array of shape {np.shape(image)}")
    extract = _extractor(model, layer_name)
    out = np.asarray(extract(x))
    if out.ndim != 4:
        raise FeatureMapError(f"layer {layer_name!r} outputs shape {out.shape[1:]}, not (H, W, C) maps; "
                              f"pick one of: {', '.join(spatial_layer_names(model)) or 'none'}")
    return out[0]


def _from_image(keras, source, output, layer_name: str):
    """A model from one image to ``output``: from the model's only input, or, for a model of several
    inputs, from the image input (H, W, C) the layer reads (a feature vector never reaches a convolution)."""
    if len(source.inputs) == 1:
        return keras.Model(source.inputs[0], output)
    for candidate in source.inputs:
        if len(candidate.shape) == 4:
            try:
                return keras.Model(candidate, output)
            except ValueError:   # the layer needs another input too ("Graph disconnected")
                continue
    raise FeatureMapError(f"layer {layer_name!r} does not read one image input alone; its maps cannot be shown "
                          f"for one image")


def feature_map_grid(maps: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """The C maps tiled into one 2-D image, each scaled to [0, 1] on its own (gaps are NaN: drawn empty)."""
    maps = np.asarray(maps, dtype=np.float32)
    height, width, count = maps.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan, dtype=np.float32)
    for c in range(count):
        tile = maps[..., c]
        low, high = float(np.min(tile)), float(np.max(tile))
        tile = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
        r, k = divmod(c, columns)
        grid[r * (height + gap):r * (height + gap) + height, k * (width + gap):k * (width + gap) + width] = tile
    return grid


def _is_subclass(model) -> bool:
    return hasattr(model, "layer_outputs")


def _layers(model):
    if _is_subclass(model):
        return list(model.stack)
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _symbolic(model):
    """The model itself, or for a subclass its functional twin (made once, kept with the extractors)."""
    if not _is_subclass(model):
        return model
    cache = _extractors.setdefault(model, {})
    if "__twin__" not in cache:
        from tapedeck.engine.model.inference import functional_twin

        twin = functional_twin(model)
        if twin is None:
            raise FeatureMapError("the model's layers cannot be rewired into a graph to read their outputs")
        cache["__twin__"] = twin
    return cache["__twin__"]


def _extractor(model, layer_name: str):
    cache = _extractors.setdefault(model, {})
    if layer_name in cache:
        return cache[layer_name]
    names = [layer.name for layer in _layers(model)]
    if layer_name not in names:
        raise FeatureMapError(f"no layer named {layer_name!r}; layers are: {', '.join(names)}")
    import keras

    source = _symbolic(model)
    sub = _from_image(keras, source, source.get_layer(layer_name).output, layer_name)

    def extract(x):
        # training=False reaches every layer: augmentation stays identity, BatchNormalization keeps its
        # statistics (a call without it runs both in training mode when the stack augments).
        return sub(x, training=False)
    cache[layer_name] = extract
    return extract
