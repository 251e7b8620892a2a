"""Code export of the third training style: ``compile`` + ``fit`` with the model's ``train_step`` written
out (the Keras guide "Customizing what happens in fit()"), as ``engine.training.train_step`` binds it in a run.
"""
from __future__ import annotations

import dataclasses

from tapedeck.engine.codegen import several_training as several
from tapedeck.engine.codegen.training import (
    TrainingCode,
    _clip_lines,
    _multiplier_lines,
    _multiplier_table,
    fit_code,
)

__all__ = ["train_step_code", "TRAIN_STEP"]


TRAIN_STEP = """\
    def train_step(self, data):
        # The step model.fit runs for every batch, written out (the Keras guide "Customizing what
        # happens in fit()"): fit keeps its callbacks, distribution and progress bar.
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)  # forward pass
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            scaled_loss = self.optimizer.scale_loss(loss)  # loss scaling for float16; unchanged otherwise
        gradients = tape.gradient(scaled_loss, self.trainable_variables)  # the chain rule, layer by layer
{clip}        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))  # the update
        # compute_loss divides the loss by the replicas (for the gradients); report it whole
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss * replicas)
            else:
                metric.update_state(y, y_pred)
        return {{m.name: m.result() for m in self.metrics}}"""

CUSTOM_CLASSES = {"sequential": ("CustomFitSequential", "keras.Sequential"),
                  "functional": ("CustomFitModel", "keras.Model")}


def train_step_code(training, has_validation: bool, model, api: str) -> TrainingCode:
    """``fit_code`` with the model's class given a ``train_step``: a subclass of keras.Sequential or
    keras.Model for those APIs, one more method of the subclass for subclassing."""
    step = TRAIN_STEP.format(clip=_clip_lines(training, " " * 8)
                             + _multiplier_lines(model.multipliers, " " * 8, "self"))
    if model.heads:
        old, new = several.train_step_metrics(model.heads)
        step = step.replace(old, new)
    if api == "subclassing":
        model = dataclasses.replace(model, class_text=model.class_text + "\n\n" + step)
    else:
        name, base = CUSTOM_CLASSES[api]
        header = f"class {name}({base}):\n    \"\"\"{base} with the training step written out.\"\"\"\n\n"
        build = model.build_text.replace(f"model = {base}(", f"model = {name}(", 1)
        model = dataclasses.replace(model, class_text=header + step, build_text=build)
    code = fit_code(training, has_validation, model, api, written_clipping=True)
    if model.multipliers:
        code.text = "\n".join(_multiplier_table(model.multipliers)) + "\n\n" + code.text
    code.imports.add("tf")
    return code
