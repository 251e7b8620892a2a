"""The editor's edits of a model's inputs and heads (``model.inputs`` / ``model.outputs``), on an Experiment copy.

Plain functions without Qt, so the document records each as one undoable snapshot like any other edit.
Two rules keep old files old: the first declared input or head makes today's implicit one explicit (the
single ``input`` fed by the images; the last layer on the labels), so declaring a second one keeps the
first; and when an edit leaves only that implicit default, the list is emptied again, so a file whose
person added and took back a head reads exactly as before.
"""
from __future__ import annotations

import re

from tapedeck.engine.spec import graph
from tapedeck.engine.spec.heads import DEFAULT_DATA, DEFAULT_INPUT, DEFAULT_TARGET, HeadSpec, InputSpec, inputs_of

__all__ = ["input_name_problem", "add_input", "update_input", "remove_input", "head_of", "set_head",
           "remove_head", "layer_names", "default_head_layer"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def layer_names(experiment) -> list[str]:
    nodes, _problems = graph.resolve_model(experiment.model)
    return [node.name for node in nodes]


def default_head_layer(experiment) -> str | None:
    """The layer that is the single head while the file declares none: the last one."""
    names = layer_names(experiment)
    return names[-1] if names and not experiment.model.outputs else None


def input_name_problem(experiment, name: str, old: str | None = None) -> str | None:
    """Why ``name`` cannot name a new (or renamed) input, in words; None when it can."""
    if not _NAME.match(name or ""):
        return "an input name is letters, digits and _ (not starting with a digit), e.g. extra"
    taken = {i.name for i in inputs_of(experiment.model)} - {old}
    if name in taken:
        return f"input {name!r} already exists; give the new input its own name"
    if name in layer_names(experiment):
        return f"{name!r} already names a layer; inputs and layers need different names"
    return None


def _collapse_inputs(model) -> None:
    if len(model.inputs) == 1 and model.inputs[0].name == DEFAULT_INPUT and model.inputs[0].data == DEFAULT_DATA:
        model.inputs = []


def add_input(experiment, name: str, data: str) -> None:
    model = experiment.model
    model.inputs = inputs_of(model) + [InputSpec(name=name, data=data)]
    _collapse_inputs(model)


def update_input(experiment, old: str, name: str, data: str) -> None:
    """Rename and/or re-feed an input; layers that named it follow the new name."""
    model = experiment.model
    model.inputs = [InputSpec(name, data) if spec.name == old else spec for spec in inputs_of(model)]
    if name != old:
        for layer in model.layers:
            if layer.inputs:
                layer.inputs = [name if ref == old else ref for ref in layer.inputs]
    _collapse_inputs(model)


def remove_input(experiment, name: str) -> None:
    """Drop an input and every layer's reference to it (a layer left with none takes the one before it)."""
    model = experiment.model
    model.inputs = [spec for spec in inputs_of(model) if spec.name != name]
    for layer in model.layers:
        if layer.inputs and name in layer.inputs:
            layer.inputs = [ref for ref in layer.inputs if ref != name] or None
    _collapse_inputs(model)


def head_of(experiment, layer: str) -> HeadSpec | None:
    """The head declared on ``layer``, else None (also for the implicit single head)."""
    return next((head for head in experiment.model.outputs if head.layer == layer), None)


def _pin_name(experiment, row: int) -> str:
    """A head names its layer; an automatic name (dense_1) would move to another layer on a reorder."""
    spec = experiment.model.layers[row]
    if not spec.name:
        spec.name = layer_names(experiment)[row]
    return spec.name


def _is_default(model, names) -> bool:
    if len(model.outputs) != 1 or not names:
        return False
    head = model.outputs[0]
    return (head.layer == names[-1] and head.target == DEFAULT_TARGET and head.loss is None
            and head.loss_weight == 1.0 and head.from_logits is None)


def set_head(experiment, row: int, target: str, loss: str | None, loss_weight: float) -> str:
    """Mark the layer at ``row`` as a head (or change its head); returns the layer's name."""
    model = experiment.model
    implicit = default_head_layer(experiment)
    layer = _pin_name(experiment, row)
    head = HeadSpec(layer=layer, target=target, loss=loss or None, loss_weight=float(loss_weight))
    if implicit is not None and implicit != layer:
        model.outputs = [HeadSpec(layer=implicit)]   # the single head so far stays a head
    existing = [i for i, h in enumerate(model.outputs) if h.layer == layer]
    if existing:
        head.from_logits = model.outputs[existing[0]].from_logits
        model.outputs[existing[0]] = head
    else:
        model.outputs.append(head)
    if _is_default(model, layer_names(experiment)):
        model.outputs = []
    return layer


def remove_head(experiment, layer: str) -> None:
    model = experiment.model
    model.outputs = [head for head in model.outputs if head.layer != layer]
    if _is_default(model, layer_names(experiment)):
        model.outputs = []
