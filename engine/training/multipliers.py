"""Per-layer learning-rate multipliers: a layer learns at learning rate × its multiplier.

Only a loop that holds the gradients can do this (the GradientTape loop, a custom train_step):
each layer's gradients are scaled before the optimizer applies them, which for plain SGD is the
same as a per-layer learning rate (adaptive optimizers such as Adam normalise the gradient's
scale away, which the check cannot know — the usual way, e.g. for fine-tuning, is SGD or momentum).
Layers are matched by name: the builders name every Keras layer after its node.
"""
from __future__ import annotations

from tapedeck.engine.spec import graph
from tapedeck.engine.training.inspection import layer_groups

__all__ = ["layer_multipliers", "variable_scales"]


def layer_multipliers(experiment) -> dict[str, float]:
    """Layer name → multiplier, for the layers whose multiplier is not 1."""
    nodes, _problems = graph.resolve(experiment.model.layers)
    return {node.name: float(node.spec.lr_multiplier) for node in nodes if node.spec.lr_multiplier != 1.0}


def variable_scales(variables, multipliers: dict) -> list[float] | None:
    """One factor per trainable variable (in order), or None when every factor is 1."""
    if not multipliers:
        return None
    scales = [1.0] * len(variables)
    for name, indices in layer_groups(variables):
        for index in indices:
            scales[index] = multipliers.get(name, 1.0)
    return scales
