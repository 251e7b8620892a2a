"""``training.fused_update``: Adam's (and AdamW's) update in TensorFlow's one fused kernel.

Keras 3's Adam writes its update as about ten element-wise float32 operations per variable, each a pass over
the variable or its two moments; on a CPU that computes the layers in bfloat16 that memory-bound update is
about half of a step (README, speed), and mixed precision and several steps per call leave it untouched.
TensorFlow's ``ResourceApplyAdam`` computes the same formula (Keras's "epsilon hat" form: the step size
corrected by the bias terms, epsilon added to the root of the second moment) in one pass; tf.keras 2's Adam
called it. The update is installed on the optimizer instance rather than written as a subclass, so a
checkpoint and ``model.keras`` still name plain ``keras.optimizers.Adam``: they load in plain Keras without
Tapedeck, and a resumed run installs the update again on the fresh optimizer it builds. The function lives
with the code export (engine.codegen.fused_code), which writes its source into the script: the script
trains with the very update the run did.
"""
from __future__ import annotations

from tapedeck.engine.codegen.fused_code import FUSED_OPTIMIZERS, fused_adam_update, optimizer_names

__all__ = ["fuse", "unfused_note"]


def fuse(optimizer) -> bool:
    """Install the fused update on ``optimizer`` (the inner one of a LossScaleOptimizer); False for an
    optimizer that has none (SGD, RMSprop), which keeps Keras's own."""
    import types

    import keras

    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not isinstance(inner, keras.optimizers.Adam):   # AdamW is an Adam
        return False
    inner.update_step = types.MethodType(fused_adam_update, inner)
    return True


def unfused_note(experiment) -> str | None:
    """One sentence when ``training.fused_update`` is on but an optimizer of the run has no fused update."""
    if not experiment.training.fused_update:
        return None
    others = sorted(set(optimizer_names(experiment)) - set(FUSED_OPTIMIZERS))
    if not others:
        return None
    return (f"training.fused_update: {', '.join(others)} has no fused update (only adam and adamw have one); "
            f"it trains with Keras's own")
