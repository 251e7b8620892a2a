"""Grad-CAM: where in the image the evidence for one class lies, as the model's last convolution sees it.

Selvaraju et al.'s recipe, written with ``tf.GradientTape`` as the Keras example does: the gradient of
the class score with respect to a convolutional layer's maps, averaged over height and width, weighs
each map; the ReLU of the weighted sum is the heat map, scaled to [0, 1] and resized to the image.

The class score is the one *before* softmax (the logit): a confident softmax output has a near-zero
gradient, and a map weighed by it says little. When the output layer is a Dense with a softmax or
sigmoid activation, the logit is recomputed from the Dense layer's own kernel and bias, so the trained
model is left unchanged (the Keras example sets ``activation = None`` on the shared layer instead, which
would change the model the rest of the window predicts with).

The layers come from the same symbolic graph the feature maps use (``engine.analysis.feature_maps``:
the model itself, or a subclass's functional twin), called with ``training=False``.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from tapedeck.engine.analysis.feature_maps import _CONV_TYPES, _layers, _symbolic, spatial_layer_names
from tapedeck.engine.errors import TapedeckError

__all__ = ["GradCamError", "GradCam", "gradcam_layer_names", "default_gradcam_layer", "gradcam",
           "gradcam_pair", "run_gradcam", "overlay"]

# Layers whose output is a stack of learned feature maps: Grad-CAM's usual target. A Backbone
# (keras.applications without its top) ends in its last convolution's maps.
_TARGET_TYPES = (*_CONV_TYPES, "Backbone")
_models: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class GradCamError(TapedeckError):
    """No convolutional layer to look at, an unknown layer, a class out of range."""


@dataclass(frozen=True)
class GradCam:
    """One heat map: (H, W) in [0, 1] at the input image's size, for ``class_index`` at ``layer``."""

    heatmap: np.ndarray
    class_index: int
    layer: str
    probability: float   # the model's probability of that class for this image


def gradcam_layer_names(model) -> list[str]:
    """Layers a heat map can be taken at: every layer with (H, W, C) output, in model order."""
    return spatial_layer_names(model)


def default_gradcam_layer(model) -> str:
    """The last convolutional layer (or Backbone); a GradCamError naming the fix when there is none."""
    names = [layer.name for layer in _layers(model) if type(layer).__name__ in _TARGET_TYPES]
    if not names:
        raise GradCamError("Grad-CAM needs a convolutional layer (Conv2D, SeparableConv2D, DepthwiseConv2D, "
                           "Conv2DTranspose or a Backbone) and this model has none; add a Conv2D layer before "
                           "Flatten or the global pooling, train again, and reopen the run")
    return names[-1]


def gradcam(model, image, class_index: int, layer: str | None = None, head: str | None = None) -> GradCam:
    """The heat map of ``class_index`` for one preprocessed image (H, W, C) or (1, H, W, C). ``head``: the
    output layer whose class it is, for a several-head model (default: its first output)."""
    import tensorflow as tf

    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 3:
        x = x[np.newaxis]
    if x.ndim != 4 or x.shape[0] != 1:
        raise GradCamError(f"expected one image of shape (H, W, C), received an array of shape {np.shape(image)}")
    inputs = list(getattr(model, "inputs", None) or [])
    if len(inputs) > 1:   # the gradient model took the first input only: a Keras ValueError traceback
        names = ", ".join(str(getattr(t, "name", "?")).split(":")[0] for t in inputs)
        raise GradCamError(f"Grad-CAM feeds the model the image alone, and this model has {len(inputs)} inputs "
                           f"({names}); it shows models of one input")
    layer = layer or default_gradcam_layer(model)
    grad_model, logits_of = _gradient_model(model, layer, head)
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        maps, before_output, output = grad_model(x, training=False)
        logits = tf.cast(logits_of(before_output, output), tf.float32)
        classes = int(logits.shape[-1])
        if not 0 <= int(class_index) < classes:
            raise GradCamError(f"class index {class_index} is outside the model's {classes} classes "
                               f"(0 to {classes - 1})")
        score = logits[:, int(class_index)]
    gradients = tape.gradient(score, maps)
    maps, gradients = tf.cast(maps, tf.float32), tf.cast(gradients, tf.float32)
    weights = tf.reduce_mean(gradients, axis=(1, 2))                      # one weight per map
    cam = tf.nn.relu(tf.reduce_sum(maps[0] * weights[0], axis=-1))        # (h, w)
    cam = tf.image.resize(cam[..., tf.newaxis], x.shape[1:3], method="bilinear")[..., 0]
    cam = np.asarray(cam, dtype=np.float32)
    top = float(cam.max())
    cam = cam / top if top > 0 else np.zeros_like(cam)
    probability = _probability(np.asarray(output, dtype=np.float32)[0], np.asarray(logits)[0], int(class_index))
    return GradCam(np.clip(cam, 0.0, 1.0), int(class_index), layer, probability)


def gradcam_pair(model, image, predicted: int, true: int | None, layer: str | None = None, head: str | None = None):
    """(predicted class's map, true class's map or None): the two the Analysis tab shows side by side."""
    first = gradcam(model, image, predicted, layer, head)
    second = None if true is None else gradcam(model, image, true, first.layer, head)
    return first, second


def run_gradcam(run_dir, index: int, layer: str | None = None, class_index: int | None = None,
                head: str | None = None) -> dict:
    """Headless: reopen a run, and return the image and the heat maps of test image ``index`` for the
    predicted and the true class (or ``class_index`` in place of the predicted one); a several-head run's
    ``head`` (default: its first classification head)."""
    from tapedeck.engine.analysis.reopen import open_run

    analysed = open_run(run_dir)
    chosen = analysed.head(head) if analysed.heads else None
    if chosen is not None and chosen.regression:
        classes = ", ".join(n for n, h in analysed.heads.items() if not h.regression)
        raise GradCamError(f"head {chosen.name!r} predicts numbers, not classes; Grad-CAM needs a class: pick a "
                           f"classification head ({classes})")
    count = len(analysed.dataset.x_test)
    if not 0 <= int(index) < count:
        raise GradCamError(f"test image {index} does not exist; the run's test set has {count} images "
                           f"(0 to {count - 1})")
    image = analysed.dataset.x_test[int(index)]
    labels = chosen if chosen is not None else analysed
    predicted = int(labels.predicted_labels[int(index)]) if class_index is None else int(class_index)
    true = int(labels.true_labels[int(index)])
    first, second = gradcam_pair(analysed.model, image, predicted, true, layer, chosen.name if chosen else None)
    return {"image": image, "predicted": first, "true": second, "class_names": labels.class_names,
            "layers": gradcam_layer_names(analysed.model)}


def overlay(image, heatmap, alpha: float = 0.45) -> np.ndarray:
    """The image (grayscale or RGB, any value range) under the heat map in a blue-to-red colour ramp:
    (H, W, 3) uint8, for the window and for a PNG written headless."""
    base = np.asarray(image, dtype=np.float32)
    if base.ndim == 3 and base.shape[-1] == 1:
        base = base[..., 0]
    low, high = float(np.min(base)), float(np.max(base))
    base = (base - low) / (high - low) if high > low else np.zeros_like(base)
    if base.ndim == 2:
        base = np.repeat(base[..., np.newaxis], 3, axis=-1)
    heat = _ramp(np.asarray(heatmap, dtype=np.float32))
    mixed = (1.0 - alpha) * base[..., :3] + alpha * heat
    return np.round(np.clip(mixed, 0.0, 1.0) * 255).astype(np.uint8)


# A "jet"-like ramp: dark blue, cyan, yellow, red (cold = no evidence, hot = the evidence).
_STOPS = np.array([0.0, 0.35, 0.65, 1.0])
_COLOURS = np.array([[0.0, 0.0, 0.5], [0.0, 0.8, 1.0], [1.0, 0.9, 0.0], [0.85, 0.0, 0.0]])


def _ramp(values: np.ndarray) -> np.ndarray:
    v = np.clip(values, 0.0, 1.0)
    return np.stack([np.interp(v, _STOPS, _COLOURS[:, c]) for c in range(3)], axis=-1)


def _probability(output, logits, index: int) -> float:
    """The class's probability: the output itself when it is one, else the softmax of the logits."""
    if np.all(output >= 0) and abs(float(output.sum()) - 1.0) < 1e-3:
        return float(output[index])
    shifted = np.exp(logits - logits.max())
    return float(shifted[index] / shifted.sum())


def _gradient_model(model, layer: str, head: str | None = None):
    """(keras.Model x → [maps, output layer's input, output], logits from those two), made once per layer
    and head; a several-head model's head is an output layer by name (default: its first output)."""
    cache = _models.setdefault(model, {})
    if (layer, head) in cache:
        return cache[(layer, head)]
    import keras

    names = gradcam_layer_names(model)
    if layer not in names:
        known = [lay.name for lay in _layers(model)]
        if layer in known:
            raise GradCamError(f"layer {layer!r} has no (H, W, C) maps to weigh; pick one of: "
                               f"{', '.join(names) or 'none'}")
        raise GradCamError(f"no layer named {layer!r}; layers with maps are: {', '.join(names) or 'none'}")
    source = _symbolic(model)
    last = _output_layer(source, head)
    if isinstance(source, keras.Sequential):
        grad_model = _walked_sequential(keras, source, layer, last.name)
    else:
        grad_model = keras.Model(source.inputs[0], [source.get_layer(layer).output, last.input, last.output])
    cache[(layer, head)] = (grad_model, _logits_function(last))
    return cache[(layer, head)]


def _walked_sequential(keras, model, layer: str, last: str):
    """The gradient model of a Sequential model, from one walk of its layers on a new input.

    A Sequential model's layers are called several times as it is built and loaded, and ``layer.output`` /
    ``last.input`` read each layer's *first* call: the maps and the score then came from two different
    symbolic graphs, the gradient between them was None and Grad-CAM failed on the default preset
    ("Attempt to convert a value (None) to a Tensor"). Walking the layers once gives tensors of one graph.
    """
    first = model.inputs[0]
    x = inputs = keras.Input(shape=tuple(first.shape[1:]), dtype=first.dtype)
    walked = {}
    for each in model.layers:
        before, x = x, each(x)
        walked[each.name] = (before, x)
    return keras.Model(inputs, [walked[layer][1], walked[last][0], walked[last][1]])


def _output_layer(source, head: str | None):
    """The layer whose classes Grad-CAM weighs: ``head``, else the first output (the last layer for one)."""
    outputs = list(getattr(source, "outputs", None) or [])
    if head is None and len(outputs) > 1:
        history = getattr(outputs[0], "_keras_history", None)
        head = getattr(history, "operation", None).name if history is not None else None
    if head is None:
        return source.layers[-1]
    try:
        return source.get_layer(head)
    except ValueError:
        raise GradCamError(f"no output layer named {head!r}") from None


def _logits_function(last):
    """How to get the class scores before softmax from (the last layer's input, the model's output)."""
    kind = type(last).__name__
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    if kind == "Dense" and activation in ("softmax", "sigmoid"):
        import tensorflow as tf

        def dense_logits(before, _output):
            z = tf.matmul(tf.cast(before, last.kernel.dtype), last.kernel)
            return z + last.bias if last.use_bias else z
        return dense_logits
    if kind == "Softmax" or (kind == "Activation" and activation == "softmax"):
        return lambda before, _output: before
    return lambda _before, output: output
