"""The third training style: ``model.fit`` with a custom ``train_step`` (Keras's guide "Customizing
what happens in fit()"), the path practitioners take for GANs and custom losses: the step is written
out with ``tf.GradientTape``, while ``fit`` keeps its callbacks, distribution and progress.

The step is bound to the built model instance rather than baked into a subclass, so the model that
is saved, exported and reopened stays a plain Keras model (it reloads anywhere without Tapedeck).
The exported script writes the same step as a subclass of ``keras.Sequential`` / ``keras.Model``.

Because the step is ours, it also leaves its per-variable gradient figures in a small variable
(the probe) that the inspection callback reads: the inspector and the Gradients view work here as
in the GradientTape loop.
"""
from __future__ import annotations

import types

__all__ = ["bind_train_step", "PROBE_COLUMNS"]

PROBE_COLUMNS = ("grad_sq", "zeros", "nonfinite")   # per trainable variable, for the last step


def bind_train_step(model, scales=None):
    """Give ``model`` a custom ``train_step``; returns the probe (one row per trainable variable) and
    the flag that asks the next step for its full figures.

    Call inside the strategy's scope, after ``compile`` (the probe is then created where the
    model's variables live; under several replicas it keeps the first replica's figures).
    ``scales``: per-variable learning-rate multipliers (``engine.training.multipliers``), or None.
    """
    import tensorflow as tf

    variables = model.trainable_variables
    probe = tf.Variable(tf.zeros([len(variables), len(PROBE_COLUMNS)]), trainable=False, name="gradient_probe",
                        synchronization=tf.VariableSynchronization.ON_WRITE,
                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    # Every step leaves its sums of squared gradients (one reduction per variable, for the divergence
    # diagnosis); the zero and non-finite counts cost two more passes, so only an inspected step pays.
    wanted = tf.Variable(False, trainable=False, name="inspect_next_step",
                         synchronization=tf.VariableSynchronization.ON_WRITE,
                         aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)                  # forward pass
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            scaled = self.optimizer.scale_loss(loss)          # float16: scaled up against underflow
        gradients = tape.gradient(scaled, self.trainable_variables)   # the chain rule, layer by layer
        probe.assign(tf.cond(wanted, lambda: _figures(gradients, self.trainable_variables),
                             lambda: _squares(gradients, self.trainable_variables)))
        if scales is not None:   # per-layer learning-rate multipliers
            gradients = [g if s == 1.0 else g * s for g, s in zip(gradients, scales)]
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))   # the update
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        # Several heads: compute_loss already fed each head's loss tracker (digit_loss, parity_loss).
        head_losses = {id(m) for m in getattr(self._compile_loss, "metrics", ())}
        for metric in self.metrics:
            if metric.name == "loss":   # compute_loss divided it by the replicas, for the gradients
                metric.update_state(loss * replicas)
            elif id(metric) not in head_losses:
                metric.update_state(y, y_pred)
        return {metric.name: metric.result() for metric in self.metrics}

    model.train_step = types.MethodType(train_step, model)
    return probe, wanted


def _squares(gradients, variables):
    import tensorflow as tf

    squares = [tf.reduce_sum(tf.square(tf.cast(tf.zeros_like(v) if g is None else g, "float32")))
               for g, v in zip(gradients, variables)]
    return tf.stack([tf.stack([square, 0.0, 0.0]) for square in squares])


def _figures(gradients, variables):
    import tensorflow as tf

    rows = []
    for gradient, variable in zip(gradients, variables):
        g = tf.zeros_like(variable) if gradient is None else tf.cast(tf.convert_to_tensor(gradient), "float32")
        rows.append(tf.stack([
            tf.reduce_sum(tf.square(g)),
            tf.cast(tf.math.count_nonzero(tf.equal(g, 0.0)), "float32"),
            tf.cast(tf.math.count_nonzero(tf.logical_not(tf.math.is_finite(g))), "float32"),
        ]))
    return tf.stack(rows)
