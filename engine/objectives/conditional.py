"""A conditional GAN's label, put into both models: the person's stacks stay plain layer stacks, and
these wrappers feed them the label beside what they take.

One-hot (the default): the generator's stack takes the noise and the label's one-hot code concatenated;
the discriminator's stack takes the image with one extra channel per class (the one-hot code spread
over every pixel). Embedding: a learned vector of ``embedding_dim`` values joins the noise, and a learned
map of one value per pixel joins the image as one channel. The wrapped models are plain Functional
models with two inputs, ``[noise, label]`` and ``[image, label]``, so ``generator.keras`` reloads in
plain Keras and is called as ``generator([noise, labels])``.
"""
from __future__ import annotations

import keras
from keras import layers

from tapedeck.engine.spec.objectives import label_code_width

__all__ = ["wrap_generator", "wrap_discriminator"]


def _label_code(label, objective, num_classes: int, width: int):
    if objective.label_input == "one_hot":
        return layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)
    return layers.Flatten(name="label_flat")(layers.Embedding(num_classes, width, name="label_embedding")(label))


def wrap_generator(stack, objective, num_classes: int) -> keras.Model:
    noise = keras.Input((int(objective.latent_dim),), name="noise")
    label = keras.Input((1,), dtype="int32", name="label")
    code = _label_code(label, objective, num_classes, label_code_width(objective, num_classes, False))
    return keras.Model([noise, label], stack(layers.Concatenate(name="noise_and_label")([noise, code])),
                       name="generator")


def wrap_discriminator(stack, objective, num_classes: int, image_shape) -> keras.Model:
    height, width, _channels = image_shape
    image = keras.Input(tuple(image_shape), name="image")
    label = keras.Input((1,), dtype="int32", name="label")
    if objective.label_input == "one_hot":
        code = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)
        planes = layers.Reshape((1, 1, num_classes))(code)
        planes = layers.UpSampling2D((height, width), name="label_planes")(planes)
    else:
        code = layers.Flatten()(layers.Embedding(num_classes, height * width, name="label_embedding")(label))
        planes = layers.Reshape((height, width, 1), name="label_plane")(code)
    return keras.Model([image, label], stack(layers.Concatenate(name="image_and_label")([image, planes])),
                       name="discriminator")
