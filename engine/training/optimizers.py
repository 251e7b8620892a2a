"""What the ``training`` section compiles to: optimizer, learning-rate schedule, loss, accuracy.

Both loops take their pieces from here, so ``fit`` and ``tape`` train the same objective with the
same optimizer. Step and cosine schedules live inside the optimizer (they follow its iteration
counter, so a resumed run continues the curve); plateau is Keras's ReduceLROnPlateau callback.
"""
from __future__ import annotations

__all__ = [
    "make_optimizer",
    "step_options",
    "learning_rate",
    "make_loss",
    "make_accuracy",
    "schedule_callbacks",
    "current_learning_rate",
    "resolve_monitor",
]


def make_optimizer(training, steps_per_epoch: int):
    """``training.optimizer`` with its rate, schedule, clipping and accumulation; Adam and AdamW with the
    fused update under ``training.fused_update`` (engine.training.fused_update)."""
    import keras

    from tapedeck.engine.training.fused_update import fuse

    rate = learning_rate(training, max(1, steps_per_epoch))
    step = step_options(training)
    name = training.optimizer
    if name in ("adam", "adamw"):
        optimizer = (keras.optimizers.Adam(learning_rate=rate, **step) if name == "adam" else
                     keras.optimizers.AdamW(learning_rate=rate, weight_decay=training.weight_decay, **step))
        if training.fused_update:
            fuse(optimizer)
        return optimizer
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate=rate, momentum=training.momentum, nesterov=training.nesterov, **step
        )
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=rate, momentum=training.momentum, **step)
    raise ValueError(f"training.optimizer: expected adam, adamw, sgd or rmsprop, received {name!r}")


def step_options(training) -> dict:
    """Clipping and gradient accumulation, as Keras's optimizers take them: they act inside
    ``apply_gradients``, so ``fit`` and the tape loop clip and accumulate alike."""
    options = {key: float(getattr(training, key)) for key in ("clipnorm", "global_clipnorm", "clipvalue")
               if getattr(training, key, None) is not None}
    if int(getattr(training, "gradient_accumulation_steps", 1)) > 1:
        options["gradient_accumulation_steps"] = int(training.gradient_accumulation_steps)
    return options


def learning_rate(training, steps_per_epoch: int):
    """``training.learning_rate`` under ``training.schedule``: a float, or a Keras schedule of the step
    (plateau acts between epochs, through a callback)."""
    import keras

    schedules = keras.optimizers.schedules
    if training.schedule == "step":
        return schedules.ExponentialDecay(
            training.learning_rate,
            decay_steps=max(1, training.schedule_every) * steps_per_epoch,
            decay_rate=training.schedule_factor,
            staircase=True,
        )
    if training.schedule == "cosine":
        return schedules.CosineDecay(training.learning_rate, decay_steps=max(1, training.epochs) * steps_per_epoch)
    if training.schedule in ("constant", "plateau"):
        return float(training.learning_rate)
    raise ValueError(
        f"training.schedule: expected constant, step, cosine or plateau, received {training.schedule!r}"
    )


def resolve_monitor(monitor: str, has_validation: bool, first_head: str | None = None) -> str:
    """Without a validation split there is no ``val_*`` to watch: watch the training metric instead.

    A several-head run has no plain ``accuracy``: ``first_head`` (its first classification head) stands in.
    """
    if first_head and monitor in ("accuracy", "val_accuracy"):
        monitor = monitor.replace("accuracy", f"{first_head}_accuracy")
    if monitor.startswith("val_") and not has_validation:
        return monitor[len("val_"):]
    return monitor


def schedule_callbacks(training, has_validation: bool, first_head: str | None = None) -> list:
    """Keras callbacks for the options that act between epochs (plateau, early stopping)."""
    import keras

    callbacks = []
    if training.schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=resolve_monitor("val_loss", has_validation),
                factor=training.schedule_factor,
                patience=training.schedule_patience,
                verbose=0,
            )
        )
    if training.early_stopping:
        monitor = resolve_monitor(training.early_stopping_monitor, has_validation, first_head)
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode="max" if monitor.endswith("accuracy") else "min",
                patience=training.early_stopping_patience,
                restore_best_weights=training.restore_best_weights,
                verbose=0,
            )
        )
    return callbacks


def current_learning_rate(optimizer) -> float:
    import numpy as np

    try:
        return float(np.asarray(optimizer.learning_rate))
    except (TypeError, ValueError):
        return float("nan")


def make_loss(training, reduction="sum_over_batch_size"):
    """The Keras loss object; ``reduction=None`` gives per-example values (the tape loop's scaling)."""
    import keras

    kwargs = {"from_logits": training.from_logits, "reduction": reduction}
    if training.loss == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(**kwargs)
    if training.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(**kwargs)
    if training.loss == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(**kwargs)
    raise ValueError(
        "training.loss: expected sparse_categorical_crossentropy, categorical_crossentropy or "
        f"binary_crossentropy, received {training.loss!r}"
    )


def make_accuracy(training, name: str = "accuracy"):
    """The accuracy that matches the loss, named as ``fit`` names it ("accuracy" / "val_accuracy")."""
    import keras

    if training.loss == "sparse_categorical_crossentropy":
        return keras.metrics.SparseCategoricalAccuracy(name=name)
    if training.loss == "categorical_crossentropy":
        return keras.metrics.CategoricalAccuracy(name=name)
    threshold = 0.0 if training.from_logits else 0.5
    return keras.metrics.BinaryAccuracy(name=name, threshold=threshold)
