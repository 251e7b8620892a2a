"""Each model's own optimizer in a run of several models, and the gradients it is given.

A GAN's or a VAE's models each keep their optimizer (the file's ``models.<role>.optimizer``); the training
section's schedule and clipping apply to every one of them as they do to a classifier's (Keras's
optimizers take both, so ``fit``'s ``train_step`` and the GradientTape loop behave alike). Under
``mixed_float16`` each is a ``LossScaleOptimizer``: float16 gradients of an unscaled loss underflow to
zero, so the loss is multiplied by the optimizer's running scale before the tape's gradient, and the
optimizer divides it out again (and skips a step whose gradients overflowed) when it applies them.
"""
from __future__ import annotations

import dataclasses

__all__ = ["make_optimizer", "scaled_loss", "unscaled_norm", "prepare_optimizers"]


def make_optimizer(settings, training, steps_per_epoch: int = 1):
    """A model's own optimizer; where it names none, the training section's optimizer and rate. The
    schedule (step, cosine), clipping and fused update are the training section's."""
    import keras

    from tapedeck.engine.training.fused_update import fuse
    from tapedeck.engine.training.optimizers import learning_rate, step_options

    name = (settings or {}).get("name", training.optimizer)
    rate = float((settings or {}).get("learning_rate", training.learning_rate))
    rate = learning_rate(dataclasses.replace(training, learning_rate=rate), steps_per_epoch)
    options = {key: value for key, value in step_options(training).items() if key != "gradient_accumulation_steps"}
    if name in ("adam", "adamw"):
        beta_1 = float((settings or {}).get("beta_1", 0.5))
        if name == "adamw":
            optimizer = keras.optimizers.AdamW(rate, weight_decay=training.weight_decay, beta_1=beta_1, **options)
        else:
            optimizer = keras.optimizers.Adam(rate, beta_1=beta_1, **options)
    elif name == "rmsprop":
        optimizer = keras.optimizers.RMSprop(rate, **options)
    else:
        optimizer = keras.optimizers.SGD(rate, **options)
    if training.fused_update:
        fuse(optimizer)
    if training.precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def prepare_optimizers(pairs) -> None:
    """Builds each optimizer for its model's variables before any step is traced: a LossScaleOptimizer not
    yet built scales by its initial constant, which a traced step would keep for good while the optimizer's
    own scale moved on. ``pairs``: (optimizer, model)."""
    for optimizer, model in pairs:
        if not optimizer.built:
            optimizer.build(model.trainable_variables)


def _replicas() -> int:
    """The replicas training in step (1 outside a tf.distribute strategy's run)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return int(context.num_replicas_in_sync) if context is not None else 1


def scaled_loss(optimizer, loss):
    """The loss the tape differentiates for this optimizer (computed inside the tape): divided by the replicas
    (each replica's loss is the mean of its share of the batch, and the optimizer sums the replicas'
    gradients, as Keras's own train_step scales it), and multiplied by the loss scale under mixed_float16."""
    import keras

    replicas = _replicas()
    loss = loss / replicas if replicas > 1 else loss
    return optimizer.scale_loss(loss) if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else loss


def unscaled_norm(optimizer, gradients):
    """The global norm of the gradients as the unscaled loss gives them (the figure the window plots; under
    several replicas, this replica's share's)."""
    import keras
    import tensorflow as tf

    norm = tf.linalg.global_norm([tf.cast(g, tf.float32) for g in gradients if g is not None]) * float(_replicas())
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return norm / tf.cast(optimizer.dynamic_scale, tf.float32)
    return norm
