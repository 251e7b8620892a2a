"""The ``Backbone`` Keras layer: a ``keras.applications`` network without its top, as one layer of a stack.

The catalogue maps every other entry onto ``keras.layers.<type>``; this is the one class of its own,
kept beside the table it implements (``engine.spec.backbones``) and imported only where Keras is wanted
(``catalogue.make_layer``, the builders; it is registered for ``keras.models.load_model``).

The network is created in ``build``, once the input's channels are known. ImageNet weights are read by
path from Keras's cache (``backbones.weights_file``: a missing file is one message, never a download
attempt). Two cases start from random weights instead: the shape check, which builds layers with their
weights' shapes only (inside a ``StatelessScope``) and must not read a 14 MB file per edit, and a saved
model being reloaded (``from_config``), whose trained weights are restored right after.

The inner network always runs with ``training=False``: its BatchNormalization layers keep their ImageNet
statistics, also after unfreezing (the Keras transfer-learning guide's advice; updating them on a few
thousand small images wrecks what was learned).
"""
from __future__ import annotations

import keras
from keras import ops

from tapedeck.engine.spec import backbones

__all__ = ["Backbone"]


def _in_stateless_scope() -> bool:
    """Whether the check's shape pass is running (``keras.StatelessScope``). Keras exports the scope but not
    this question; where a release moves it, the answer is "no": the weights file is then read at the
    check too (slower, same result)."""
    try:
        from keras.src.backend.common.stateless_scope import in_stateless_scope
    except ImportError:
        return False
    return in_stateless_scope()


@keras.saving.register_keras_serializable(package="tapedeck")
class Backbone(keras.layers.Layer):
    """keras.applications.<architecture>(include_top=False) behind its own resize and preprocessing."""

    def __init__(self, architecture, input_size=224, alpha=1.0, weights="imagenet", input_range=(0.0, 1.0),
                 unfreeze_at_epoch=None, unfreeze_learning_rate_factor=0.1, **kwargs):
        super().__init__(**kwargs)
        self.architecture = architecture
        self.input_size = int(input_size)
        self.alpha = float(alpha)
        self.weights_source = weights
        self.input_range = tuple(float(v) for v in input_range)
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.unfreeze_learning_rate_factor = float(unfreeze_learning_rate_factor)
        self.network = None
        self._restoring = False

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels not in (1, 3):
            raise ValueError(f"Backbone takes grayscale (1 channel) or RGB (3 channels) images, received "
                             f"{channels} channels; convert the images to RGB or grayscale")
        weights = None
        if self.weights_source == "imagenet" and not self._restoring and not _in_stateless_scope():
            weights = str(backbones.weights_file(self.architecture, self.alpha, self.input_size))
        self.network = self._network(weights)
        self.network.trainable = self.trainable   # the variables' own flags, which the model collects
        self.built = True

    def _network(self, weights):
        constructor = getattr(keras.applications, self.architecture)
        kwargs = {"include_top": False, "weights": weights, "input_shape": (self.input_size, self.input_size, 3)}
        if backbones.FAMILIES[self.architecture].alphas:
            kwargs["alpha"] = self.alpha
        if weights is None:
            return constructor(**kwargs)
        try:
            return constructor(**kwargs)
        except (OSError, ValueError, KeyError, TypeError) as error:   # h5py's and Keras's words for a bad file
            raise backbones.unreadable_weights(self.architecture, weights, error) from None

    def call(self, inputs):
        x = inputs
        if tuple(x.shape[1:3]) != (self.input_size, self.input_size):
            x = ops.image.resize(x, (self.input_size, self.input_size), interpolation="bilinear")
        if x.shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)                     # grayscale → the three channels ImageNet had
        low, high = self.input_range
        x = (x - low) * (255.0 / (high - low))               # the pixel range keras.applications expects
        preprocess = getattr(keras.applications, backbones.FAMILIES[self.architecture].module).preprocess_input
        return self.network(preprocess(x), training=False)

    def compute_output_shape(self, input_shape):
        shape = self.network.compute_output_shape((input_shape[0], self.input_size, self.input_size, 3))
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "architecture": self.architecture, "input_size": self.input_size,
                "alpha": self.alpha, "weights": self.weights_source, "input_range": list(self.input_range),
                "unfreeze_at_epoch": self.unfreeze_at_epoch,
                "unfreeze_learning_rate_factor": self.unfreeze_learning_rate_factor}

    @classmethod
    def from_config(cls, config):
        layer = cls(**config)
        layer._restoring = True   # the saved weights follow; the ImageNet file is not needed
        return layer
