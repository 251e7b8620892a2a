"""The fine-tuning step: a frozen Backbone starts to train at its ``unfreeze_at_epoch``, more slowly.

One object for both loops: a Keras callback whose ``on_epoch_begin`` sets the layer's ``trainable`` and
multiplies the learning rate by the layer's factor. ``model.fit`` calls it through its callback list;
the GradientTape loop calls the same list between epochs (``keras.callbacks.CallbackList``) and is told
through ``listeners`` that the trainable variables changed, so it traces its step again.

Two things must be ready before the first step for this to work inside one run:
- the optimizer is built for the variables that will train *after* unfreezing too
  (:func:`optimizer_variables`): Keras optimizers refuse a variable they were not built with, and a
  subset (the head alone, before) is fine;
- ``fit``'s compiled step captured the trainable variables when it was traced, so it is traced again
  (``make_train_function(force=True)``), as the tape loop's is.

A resumed run that starts past the unfreeze epoch gets the layer trainable again without a second
factor: the learning rate it restores from the checkpoint already carries it.
"""
from __future__ import annotations

import keras

__all__ = ["UnfreezeCallback", "optimizer_variables", "unfreeze_callback"]


def unfreeze_callback(experiment, emit_note=None):
    """The fine-tuning step of the experiment's Backbone layers, or None when none unfreezes."""
    from tapedeck.engine.spec.backbones import unfreeze_plan

    plan = unfreeze_plan(experiment)
    return UnfreezeCallback(plan, emit_note) if plan else None


def optimizer_variables(model, plan) -> list:
    """The model's trainable variables as they will be once every scheduled layer trains (model order);
    ``plan`` as ``engine.spec.backbones.unfreeze_plan`` gives it, or the experiment itself."""
    if not isinstance(plan, list):
        from tapedeck.engine.spec.backbones import unfreeze_plan

        plan = unfreeze_plan(plan)
    layers = [model.get_layer(name) for name, _epoch, _factor in plan]
    frozen = [layer for layer in layers if not layer.trainable]
    for layer in frozen:
        layer.trainable = True
    try:
        return list(model.trainable_variables)
    finally:
        for layer in frozen:
            layer.trainable = False


class UnfreezeCallback(keras.callbacks.Callback):
    """``plan``: (layer name, first epoch it trains counting from 1, learning-rate factor), from
    ``engine.spec.backbones.unfreeze_plan``; ``events`` collects (epoch, layer, learning rate) of each
    unfreeze, for the run's metrics."""

    def __init__(self, plan, emit_note=None):
        super().__init__()
        self.plan = list(plan)
        self.listeners: list = []   # called after a change (the tape loop traces its step again)
        self.events: list = []
        self._emit_note = emit_note
        self._done: set = set()

    def on_epoch_begin(self, epoch, logs=None):
        changed = False
        for name, first_epoch, factor in self.plan:
            index = first_epoch - 1   # Keras counts epochs from 0
            if name in self._done or epoch < index:
                continue
            layer = self.model.get_layer(name)
            layer.trainable = True
            if epoch == index and factor != 1.0:   # past it (a resume): the restored rate carries it
                optimizer = self.model.optimizer
                optimizer.learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate)) * factor
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.events.append({"epoch": epoch + 1, "layer": name, "learning_rate": rate})
            if self._emit_note is not None:
                self._emit_note(f"epoch {epoch + 1}: {name} unfrozen, learning rate now {rate:.3g}")
            self._done.add(name)
            changed = True
        if not changed:
            return
        if getattr(self.model, "train_function", None) is not None:   # fit: trace the step again
            self.model.make_train_function(force=True)
        for listener in self.listeners:
            listener()
