"""``training.fused_update``'s update function, and its code export: the run installs this function
(engine.training.fused_update) and the script writes its source above the optimizers, with one line per Adam
that installs it, so the script trains with the very update the run used (why it exists: that module)."""
from __future__ import annotations

import inspect
import textwrap

__all__ = ["FUSED_OPTIMIZERS", "fused_adam_update", "optimizer_names", "fuses", "fused", "fused_definition",
           "fused_install"]

# The optimizers (training.optimizer and a model's own ``optimizer.name``) that have a fused update.
FUSED_OPTIMIZERS = ("adam", "adamw")


def fused_adam_update(self, gradient, variable, learning_rate):
    """Keras's Adam.update_step, in TensorFlow's fused kernel; Keras's own where the kernel does not apply
    (AMSGrad, a sparse gradient from an Embedding)."""
    import keras
    import tensorflow as tf

    if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
        return type(self).update_step(self, gradient, variable, learning_rate)
    variable = variable.value if isinstance(variable, keras.Variable) else variable
    index = self._get_variable_index(variable)
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    beta_1 = tf.cast(self.beta_1, dtype)
    beta_2 = tf.cast(self.beta_2, dtype)
    tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=self._momentums[index].value.handle, v=self._velocities[index].value.handle,
        beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
        beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))


# The script imports keras and tensorflow at its top; the function here imports them itself (the code export
# never imports TensorFlow before a run needs it).
UPDATE_SOURCE = textwrap.dedent(inspect.getsource(fused_adam_update)).replace(
    "    import keras\n    import tensorflow as tf\n\n", "")


def optimizer_names(experiment) -> list[str]:
    """The optimizer of every model the run trains: the training section's, or a model's own."""
    if experiment.objective.is_classify:
        return [experiment.training.optimizer]
    return [(spec.optimizer or {}).get("name", experiment.training.optimizer) for spec in experiment.models.values()]


def fused(experiment) -> bool:
    """Whether the run (and its script) uses the fused update anywhere."""
    return fuses(experiment.training, optimizer_names(experiment))


def fuses(training, names) -> bool:
    """Whether the script writes the fused update: it is on, and one of the optimizers ``names`` has one."""
    return bool(training.fused_update) and any(name in FUSED_OPTIMIZERS for name in names)


def fused_definition() -> list[str]:
    return ["# Adam's update in TensorFlow's one fused kernel (ResourceApplyAdam, what tf.keras 2's Adam called):",
            "# the same formula as Keras 3's Adam in one pass over each variable instead of about ten. Installed on",
            "# the optimizer object, so a saved model still names plain keras.optimizers.Adam.",
            *UPDATE_SOURCE.rstrip("\n").split("\n"), ""]


def fused_install(optimizer: str) -> str:
    return f"{optimizer}.update_step = types.MethodType(fused_adam_update, {optimizer})"
