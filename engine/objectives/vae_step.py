"""The VAE step written out: encoder → mean and log-variance → a reparameterised sample → decoder,
and a loss of two terms, the reconstruction (summed over pixels) and the KL divergence of the code from
a standard normal, each reported. One tape, two models, each updated by its own optimizer. The same
function serves the GradientTape loop and ``fit`` with a custom ``train_step`` (:class:`VaeModel`).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from tapedeck.engine.objectives import replicas
from tapedeck.engine.objectives.gan_step import Running, compiled_step
from tapedeck.engine.objectives.model_optimizers import scaled_loss, unscaled_norm
from tapedeck.engine.objectives.replicas import replicated_step

__all__ = ["VaeSteps", "VaeModel", "FIGURES"]

FIGURES = ("loss", "reconstruction", "kl", "encoder_grad_norm", "decoder_grad_norm")


class VaeSteps:
    def __init__(self, encoder, decoder, e_optimizer, d_optimizer, objective, seed=None, execution="graph"):
        self.encoder, self.decoder = encoder, decoder
        self.e_optimizer, self.d_optimizer = e_optimizer, d_optimizer
        self.beta = float(objective.beta)
        self.reconstruction = objective.reconstruction
        self.noise = keras.random.SeedGenerator(seed)
        self.traces = {"step": 0}
        self.running = Running(FIGURES)

        def tracked(real, labels=None):
            self.traces["step"] += 1   # in a tf.function Python runs here only while tracing
            figures = self.train(real)
            self.running.add(figures)
            return figures

        if tf.distribute.has_strategy():   # made in a strategy's scope: each replica steps its share of the batch
            self.step = replicated_step(tracked, execution)
        else:
            self.step = tracked if execution == "eager" else compiled_step(tracked, jit_compile=execution == "xla")

    def encode(self, images, training=False):
        """(mean, log-variance) of each image's code."""
        stats = tf.cast(self.encoder(images, training=training), tf.float32)
        return tf.split(stats, 2, axis=-1)

    def train(self, real):
        real = tf.cast(real, tf.float32)
        scaling = isinstance(self.e_optimizer, keras.optimizers.LossScaleOptimizer)
        with tf.GradientTape(persistent=scaling) as tape:   # each optimizer keeps its own loss scale
            mean, log_var = self.encode(real, training=True)
            code = mean + tf.exp(0.5 * log_var) * replicas.normal(tf.shape(mean), self.noise)
            rebuilt = tf.cast(self.decoder(code, training=True), tf.float32)
            reconstruction = tf.reduce_mean(self._per_image(real, rebuilt))
            kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1))
            loss = reconstruction + self.beta * kl
            scaled = (scaled_loss(self.e_optimizer, loss), scaled_loss(self.d_optimizer, loss))
        encoder_vars, decoder_vars = self.encoder.trainable_variables, self.decoder.trainable_variables
        if scaling:
            encoder_grads = tape.gradient(scaled[0], encoder_vars)
            decoder_grads = tape.gradient(scaled[1], decoder_vars)
            del tape
        else:
            gradients = tape.gradient(scaled[0], encoder_vars + decoder_vars)   # the loss over the replicas
            encoder_grads, decoder_grads = gradients[:len(encoder_vars)], gradients[len(encoder_vars):]
        norms = unscaled_norm(self.e_optimizer, encoder_grads), unscaled_norm(self.d_optimizer, decoder_grads)
        self.e_optimizer.apply_gradients(zip(encoder_grads, encoder_vars))
        self.d_optimizer.apply_gradients(zip(decoder_grads, decoder_vars))
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl,
                "encoder_grad_norm": norms[0], "decoder_grad_norm": norms[1]}

    def _per_image(self, real, rebuilt):
        """The reconstruction error of each image, summed over its pixels."""
        axes = tf.range(1, tf.rank(real))
        if self.reconstruction == "mse":
            return tf.reduce_sum(tf.square(real - rebuilt), axis=axes)
        rebuilt = tf.clip_by_value(rebuilt, 1e-7, 1.0 - 1e-7)
        return -tf.reduce_sum(real * tf.math.log(rebuilt) + (1.0 - real) * tf.math.log(1.0 - rebuilt), axis=axes)


class VaeModel(keras.Model):
    """``fit`` with a custom ``train_step``: the VAE's step; Keras resets the trackers each epoch."""

    def __init__(self, steps: VaeSteps, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps
        self.encoder, self.decoder = steps.encoder, steps.decoder
        self.trackers = {name: keras.metrics.Mean(name=name) for name in FIGURES}
        self.built = True   # its models are built; fit under a strategy would otherwise trace call() to build it

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        real = data[0] if isinstance(data, tuple) else data
        figures = self.steps.train(real)
        for name, value in figures.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, inputs, training=None):
        mean, _log_var = self.steps.encode(inputs, training=training)
        return self.decoder(mean, training=training)
