"""A GAN step taken apart, for Step D / Step G / Step both: GAN Lab's lesson that the two players move in
turns. Before the step: a few real images, images generated from a fixed noise, what the discriminator
says of each, and each layer's gradient norm in the model(s) about to step (measured on this batch).
After it: the same images generated again and judged again, so a discriminator step shows as its
outputs moving apart and a generator step as its images (and D's verdict on them) changing.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tapedeck.engine.training.events import GanStepInspected

__all__ = ["StepInspector"]

SHOWN = 8   # real and generated images shown


class StepInspector:
    def __init__(self, steps, conditional: bool, seed: int = 0):
        self.steps, self.conditional = steps, conditional
        self.noise = np.random.default_rng(seed + 7).normal(size=(SHOWN, steps.latent_dim)).astype("float32")

    def before(self, real, labels, part: str) -> dict:
        real, labels = real[:SHOWN], (labels[:SHOWN] if labels is not None else None)
        fake, d_real, d_fake = self._look(real, labels)
        return {"real": np.asarray(real), "labels": labels, "fake": fake, "d_real": d_real, "d_fake": d_fake,
                "layers": self._layer_gradients(real, labels, part)}

    def after(self, seen: dict, step: int, epoch: int, part: str) -> GanStepInspected:
        fake, d_real, d_fake = self._look(seen["real"], seen["labels"])
        return GanStepInspected(step=step, epoch=epoch, part=part, real=seen["real"], fake_before=seen["fake"],
                                fake_after=fake, d_real_before=seen["d_real"], d_real_after=d_real,
                                d_fake_before=seen["d_fake"], d_fake_after=d_fake, layers=seen["layers"])

    def _with(self, value, labels):
        """A conditional GAN's models take [input, label], both tensors (Keras refuses a list mixing an array and a
        tensor: the fixed noise is an array, the batch's labels a tensor)."""
        if not self.conditional:
            return value
        return [tf.convert_to_tensor(value), tf.reshape(tf.convert_to_tensor(labels), (-1, 1))]

    def _look(self, real, labels):
        steps = self.steps
        fake = steps.generator(self._with(self.noise[:len(real)], labels), training=False)
        d_real = _seen(steps, steps.discriminator(self._with(real, labels), training=False))
        d_fake = _seen(steps, steps.discriminator(self._with(fake, labels), training=False))
        return np.asarray(fake, dtype=np.float32), d_real, d_fake

    def _layer_gradients(self, real, labels, part: str) -> tuple:
        """(role, layer, norm) for each layer with weights of the model(s) that step, on this batch."""
        steps = self.steps
        found = []
        with tf.GradientTape(persistent=True) as tape:
            fake = steps.generator(self._with(steps.sample_noise(len(real)), labels), training=True)
            real_out = tf.reshape(tf.cast(steps.discriminator(self._with(real, labels), training=True), tf.float32),
                                  (-1,))
            fake_out = tf.reshape(tf.cast(steps.discriminator(self._with(fake, labels), training=True), tf.float32),
                                  (-1,))
            d_loss, g_loss = steps._d_loss(real_out, fake_out), steps._g_loss(fake_out)
        for role, model, loss, key in (("discriminator", steps.discriminator, d_loss, "d"),
                                       ("generator", steps.generator, g_loss, "g")):
            if part not in (key, "both"):
                continue
            gradients = tape.gradient(loss, model.trainable_variables)
            norms: dict = {}
            for variable, gradient in zip(model.trainable_variables, gradients):
                if gradient is not None:
                    layer = variable.path.rsplit("/", 1)[0]
                    norms[layer] = norms.get(layer, 0.0) + float(tf.reduce_sum(tf.square(gradient)))
            found += [(role, layer, norm ** 0.5) for layer, norm in norms.items()]
        del tape
        return tuple(found)


def _seen(steps, output) -> np.ndarray:
    values = tf.reshape(tf.cast(output, tf.float32), (-1,))
    return np.asarray(tf.sigmoid(values) if steps.loss == "bce" else values)
