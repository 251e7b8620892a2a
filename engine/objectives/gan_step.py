"""The GAN step written out: two models, two tapes, two optimizers.

This is the tutorial's reason for ``tf.GradientTape``: ``fit`` minimises one model's loss, while a GAN
updates the discriminator to tell real from generated images and then the generator to fool it. The
same two functions serve the GradientTape loop (wrapped in ``tf.function`` as the execution mode says)
and ``fit`` with a custom ``train_step`` (:class:`GanModel`, the Keras guide's "DCGAN overriding
train_step" shape). Figures are measured before each update, on the batch the update uses.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from tapedeck.engine.objectives import replicas
from tapedeck.engine.objectives.model_optimizers import scaled_loss, unscaled_norm
from tapedeck.engine.objectives.replicas import replicated_step, running_options

__all__ = ["GanSteps", "GanModel", "FIGURES", "Running", "compiled_step"]

# What one step reports, in the order history.csv and the window show them.
FIGURES = ("d_loss", "g_loss", "d_accuracy", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")


class Running:
    """The epoch's running means of the figures, summed on the device inside the step (one vector of
    sums, one of counts: two updates a step): the loop reads them only when it reports (a few times a
    second), so no step waits for the device to answer."""

    def __init__(self, names=FIGURES):
        self.names = tuple(names)
        options = running_options()   # in a strategy's scope: one copy per replica, summed when read
        self.sums = tf.Variable(tf.zeros(len(self.names)), trainable=False, **options)
        self.counts = tf.Variable(tf.zeros(len(self.names)), trainable=False, **options)
        self.local_reads = replicas.across_workers()   # several workers: mid-epoch reads stay on this one

    def add(self, figures) -> None:
        given = [[self.names.index(name)] for name in figures]
        values = [tf.cast(value, tf.float32) for value in figures.values()]
        self.sums.assign_add(tf.scatter_nd(given, values, [len(self.names)]))
        self.counts.assign_add(tf.scatter_nd(given, tf.ones(len(given)), [len(self.names)]))

    def reset(self) -> None:
        self.sums.assign(tf.zeros(len(self.names)))
        self.counts.assign(tf.zeros(len(self.names)))

    def means(self, local: bool = False) -> dict:
        """``local``: several workers' mid-epoch read, of this worker's replicas alone (replicas.local_sum)."""
        if local and self.local_reads:
            sums, counts = replicas.local_sum(self.sums), replicas.local_sum(self.counts)
        else:
            sums, counts = self.sums.numpy(), self.counts.numpy()
        return {name: float(sums[i]) / float(counts[i]) for i, name in enumerate(self.names) if counts[i]}

    def logs(self):
        return _LazyLogs(self)


class _LazyLogs(dict):
    """Logs for the callbacks that read the device only if a callback looks (GanCallback looks when it
    reports). Keras's CallbackList passes them on as they are when every callback is Tapedeck's own."""

    def __init__(self, running):
        super().__init__()
        self._running, self._read = running, False

    def _load(self):
        if not self._read:
            self._read = True
            self.update(self._running.means(local=True))

    def __getitem__(self, key):
        self._load()
        return super().__getitem__(key)

    def __contains__(self, key):
        self._load()
        return super().__contains__(key)

    def __iter__(self):
        self._load()
        return super().__iter__()

    def get(self, key, default=None):
        self._load()
        return super().get(key, default)

    def items(self):   # Keras's CallbackList copies the logs through items()
        self._load()
        return super().items()

    def keys(self):
        self._load()
        return super().keys()

    def __len__(self):
        self._load()
        return super().__len__()


def compiled_step(step, jit_compile: bool = False):
    """``step(real, labels=None)`` compiled, and called as the concrete function traced for the batch's shape:
    every batch of a run has one shape (the last, short one is dropped), and a tf.function matches its
    arguments to its traces anew at each call — about a fifth of a digits GAN's step on 2 CPU cores. The
    compiled functions take their arguments positionally (a default argument made each call format the batch's
    tensor while binding it: a device wait and a string per step)."""
    compiled = {1: tf.function(lambda real: step(real), jit_compile=jit_compile),
                2: tf.function(lambda real, labels: step(real, labels), jit_compile=jit_compile)}
    concrete: dict = {}

    def call(real, labels=None):
        given = (real,) if labels is None else (real, labels)
        key = tuple((tuple(value.shape), value.dtype) for value in given)
        traced = concrete.get(key)
        if traced is None:
            specs = [tf.TensorSpec(value.shape, value.dtype) for value in given]
            traced = concrete[key] = compiled[len(given)].get_concrete_function(*specs)
        return traced(*given)

    return call


def _logits(output):
    return tf.cast(tf.reshape(output, (-1,)), tf.float32)   # float32 losses under a 16-bit policy


class GanSteps:
    """The discriminator's step and the generator's step for one loss (``bce``, ``hinge``, ``wgan-gp``)."""

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, objective, seed=None,
                 execution="graph"):
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.loss = objective.loss
        self.latent_dim = int(objective.latent_dim)
        self.smoothing = float(objective.label_smoothing)
        self.gp_weight = float(objective.gp_weight)
        self.noise = keras.random.SeedGenerator(seed)
        self.traces = {"d": 0, "g": 0}
        self.running = Running()   # the GradientTape loop's figures (fit keeps its own trackers)
        d_step, g_step = self._tracked(self.discriminator_step, "d"), self._tracked(self.generator_step, "g")
        if tf.distribute.has_strategy():   # made in a strategy's scope: each replica steps its share of the batch
            self.d_step, self.g_step = replicated_step(d_step, execution), replicated_step(g_step, execution)
        elif execution == "eager":
            self.d_step, self.g_step = d_step, g_step
        else:
            self.d_step = compiled_step(d_step, jit_compile=execution == "xla")
            self.g_step = compiled_step(g_step, jit_compile=execution == "xla")

    def _tracked(self, function, key):
        def step(real, labels=None):
            self.traces[key] += 1   # in a tf.function Python runs here only while tracing
            figures = function(real, labels)
            self.running.add(figures)
            return figures
        return step

    def sample_noise(self, batch):
        return replicas.normal((batch, self.latent_dim), self.noise)   # each replica its own noise

    @staticmethod
    def _with(inputs, labels):
        """A conditional GAN's models take the label beside their input (engine.objectives.conditional)."""
        return inputs if labels is None else [inputs, labels]

    # -- the two updates --------------------------------------------------------------------------
    def discriminator_step(self, real, labels=None):
        batch = tf.shape(real)[0]
        fake = self.generator(self._with(self.sample_noise(batch), labels), training=True)
        with tf.GradientTape() as tape:
            real_out = _logits(self.discriminator(self._with(real, labels), training=True))
            fake_out = _logits(self.discriminator(self._with(fake, labels), training=True))
            loss = self._d_loss(real_out, fake_out)
            if self.loss == "wgan-gp":
                loss += self.gp_weight * self._gradient_penalty(real, fake, labels)
            scaled = scaled_loss(self.d_optimizer, loss)
        variables = self.discriminator.trainable_variables
        gradients = tape.gradient(scaled, variables)
        norm = unscaled_norm(self.d_optimizer, gradients)
        self.d_optimizer.apply_gradients(zip(gradients, variables))
        return {"d_loss": loss, "d_real": self._seen(real_out), "d_fake": self._seen(fake_out),
                "d_accuracy": self._accuracy(real_out, fake_out), "d_grad_norm": norm}

    def generator_step(self, real, labels=None):
        """``real`` gives the batch size (and ``labels`` the classes asked for, in a conditional GAN)."""
        with tf.GradientTape() as tape:
            fake = self.generator(self._with(self.sample_noise(tf.shape(real)[0]), labels), training=True)
            fake_out = _logits(self.discriminator(self._with(fake, labels), training=True))
            loss = self._g_loss(fake_out)
            scaled = scaled_loss(self.g_optimizer, loss)
        variables = self.generator.trainable_variables
        gradients = tape.gradient(scaled, variables)
        norm = unscaled_norm(self.g_optimizer, gradients)
        self.g_optimizer.apply_gradients(zip(gradients, variables))
        return {"g_loss": loss, "g_grad_norm": norm}

    # -- the losses ------------------------------------------------------------------------------
    def _d_loss(self, real_out, fake_out):
        if self.loss == "bce":   # real labelled 1 - smoothing, generated 0
            real_target = tf.fill(tf.shape(real_out), 1.0 - self.smoothing)
            return (tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(real_target, real_out))
                    + tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(fake_out), fake_out)))
        if self.loss == "hinge":
            return tf.reduce_mean(tf.nn.relu(1.0 - real_out)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_out))
        return tf.reduce_mean(fake_out) - tf.reduce_mean(real_out)   # wgan-gp: the critic's estimate

    def _g_loss(self, fake_out):
        if self.loss == "bce":   # non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z)))
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(fake_out), fake_out))
        return -tf.reduce_mean(fake_out)

    def _gradient_penalty(self, real, fake, labels=None):
        """WGAN-GP: the critic's gradient norm held near 1 on points between real and generated images."""
        batch = tf.shape(real)[0]
        shape = tf.concat([[batch], tf.ones(tf.rank(real) - 1, tf.int32)], axis=0)
        mix = replicas.uniform(shape, self.noise)
        between = real + mix * (tf.cast(fake, real.dtype) - real)
        with tf.GradientTape() as tape:
            tape.watch(between)
            out = _logits(self.discriminator(self._with(between, labels), training=True))
        gradient = tape.gradient(out, between)
        norm = tf.sqrt(tf.reduce_sum(tf.square(tf.cast(gradient, tf.float32)), axis=tf.range(1, tf.rank(real))) + 1e-12)
        return tf.reduce_mean(tf.square(norm - 1.0))

    # -- what the step shows ----------------------------------------------------------------------
    def _seen(self, out):
        """Mean D output: a probability for bce, the raw score for hinge and wgan-gp."""
        return tf.reduce_mean(tf.sigmoid(out)) if self.loss == "bce" else tf.reduce_mean(out)

    def _accuracy(self, real_out, fake_out):
        """Share of the batch the discriminator tells right (real above 0, generated below)."""
        right = tf.concat([tf.cast(real_out > 0, tf.float32), tf.cast(fake_out <= 0, tf.float32)], axis=0)
        return tf.reduce_mean(right)


class GanModel(keras.Model):
    """``fit`` with a custom ``train_step``: one call trains the discriminator ``d_steps`` times, then
    the generator once. Keras resets the trackers each epoch, so ``fit``'s logs are epoch means."""

    def __init__(self, steps: GanSteps, d_steps: int, **kwargs):
        super().__init__(**kwargs)
        self.steps, self.d_steps = steps, int(d_steps)
        self.generator, self.discriminator = steps.generator, steps.discriminator
        self.trackers = {name: keras.metrics.Mean(name=name) for name in FIGURES}
        self.built = True   # its models are built; fit under a strategy would otherwise trace call() to build it

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        real, labels = data if isinstance(data, tuple) else (data, None)   # (images, labels): conditional
        for _ in range(self.d_steps):
            figures = self.steps.discriminator_step(real, labels)
        figures.update(self.steps.generator_step(real, labels))
        for name, value in figures.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)
