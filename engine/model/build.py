"""The three builders: one layer stack written as Sequential, Functional API or a Model subclass.

They follow the TensorFlow 2 tutorial's three styles so that what a person learns
here is what they would write by hand: `keras.Sequential` grown layer by layer,
`keras.Input` → layers → `keras.Model(inputs, outputs)`, and a registered
`keras.Model` subclass whose `__init__` creates the layers and whose `call` wires
them. All three take their layers from `catalogue.make_layer` and their wiring from
`graph.resolve`, so the same stack gives the same model whichever way it is written.

This module imports Keras at import time (the subclass needs `keras.Model` as its
base and must be registered before `keras.models.load_model` sees a saved file), so
import it only where Keras is wanted: the training thread, the command line, tests.
"""
from __future__ import annotations

import re

import keras

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.model.check import keras_message
from tapedeck.engine.spec import catalogue, graph
from tapedeck.engine.spec.experiment import APIS

__all__ = ["BuildError", "build_model", "TapedeckModel", "APIS"]



class BuildError(TapedeckError):
    """The stack cannot be built in the chosen API; the message names the layer and the fix."""


def build_model(experiment, input_shape, api=None) -> keras.Model:
    """The experiment's model in `api` (default: the experiment's own), built for `input_shape`."""
    api = api or experiment.model.api
    if api not in APIS:
        raise BuildError(f"model.api: expected one of {', '.join(APIS)}, received {api!r}")
    input_shape = tuple(input_shape)
    nodes = _resolve(experiment.model.layers)
    name = _model_name(experiment.name)
    if api == "sequential":
        return _sequential(nodes, input_shape, name)
    if api == "functional":
        return _functional(nodes, input_shape, name)
    model = TapedeckModel([spec.to_dict() for spec in experiment.model.layers], name=name)
    model.build((None, *input_shape))
    return model


def _resolve(layers):
    nodes, problems = graph.resolve(layers)
    if problems:
        lines = [message if index is None else f"layer {index} '{nodes[index].name}': {message}"
                 for index, message in problems]
        raise BuildError("\n".join(lines))
    for node in nodes:
        try:
            catalogue.layer_type(node.spec.type)
        except KeyError as error:
            raise BuildError(f"layer {node.index} '{node.name}': {error}") from None
    return nodes


def _model_name(text) -> str:
    # Keras refuses some characters in names (e.g. "/"); the experiment name is free text.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text or "")).strip("_.-")
    return name or "tapedeck"


def _where(index, name, type_name) -> str:
    return f"layer {index} '{name}' ({type_name}): "


class _Blame:
    """Turns a Keras exception into a BuildError naming the layer being built."""

    def __init__(self, node=None, where=""):
        self.where = _where(node.index, node.name, node.spec.type) if node is not None else where

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, BuildError) or not isinstance(error, Exception):
            return False
        raise BuildError(self.where + keras_message(error)) from error


def _sequential(nodes, input_shape, name) -> keras.Model:
    if not graph.is_chain(nodes):
        raise BuildError(graph.SEQUENTIAL_REFUSAL)
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=input_shape, name=graph.INPUT))
    for node in nodes:
        with _Blame(node):
            model.add(catalogue.make_layer(node.spec, node.name, **_output_dtype(node, nodes)))
    return model


def _output_dtype(node, nodes) -> dict:
    """Under a mixed-precision policy the output layer computes in float32 (Keras's mixed-precision
    guide): softmax and the loss are where 16 bits lose what matters."""
    if node is nodes[-1] and keras.config.dtype_policy().name.startswith("mixed_"):
        return {"dtype": "float32"}
    return {}


def _functional(nodes, input_shape, name) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name=graph.INPUT)
    tensors = {graph.INPUT: inputs}
    for node in nodes:
        with _Blame(node):
            layer = catalogue.make_layer(node.spec, node.name, **_output_dtype(node, nodes))
            args = [tensors[ref] for ref in node.inputs]
            tensors[node.name] = layer(args if catalogue.layer_type(node.spec.type).merge else args[0])
    return keras.Model(inputs=inputs, outputs=tensors[nodes[-1].name], name=name)


def _spec_from_dict(entry: dict):
    """A LayerSpec from its flat JSON form (what LayerSpec.to_dict writes)."""
    from tapedeck.engine.spec.experiment import LAYER_KEYS, LayerSpec

    params = {k: v for k, v in entry.items() if k not in LAYER_KEYS}
    return LayerSpec(type=entry["type"], params=params, name=entry.get("name"),
                     inputs=list(entry["inputs"]) if entry.get("inputs") is not None else None,
                     trainable=entry.get("trainable", True) is not False,
                     lr_multiplier=float(entry.get("lr_multiplier", 1.0)))


@keras.saving.register_keras_serializable(package="tapedeck")
class TapedeckModel(keras.Model):
    """The stack as a Model subclass: `__init__` creates the layers, `call` wires them.

    Its only argument is the layer list in the experiment file's own JSON form, so
    `get_config` is that list and a saved `.keras` file reloads into the same model.
    """

    def __init__(self, layer_specs, **kwargs):
        super().__init__(**kwargs)
        self.layer_specs = [dict(entry) for entry in layer_specs]
        nodes = _resolve([_spec_from_dict(entry) for entry in self.layer_specs])
        # The wiring: for each layer, the names it takes and whether it merges them.
        self._wiring = [(node.name, tuple(node.inputs), catalogue.layer_type(node.spec.type).merge)
                        for node in nodes]
        self.stack = []
        for node in nodes:
            with _Blame(node):
                self.stack.append(catalogue.make_layer(node.spec, node.name, **_output_dtype(node, nodes)))
        self._takes_training = tuple(_takes_training(layer) for layer in self.stack)

    def call(self, inputs, training=None):
        # `training` must be passed on by hand: Keras gives it to a subclass's layers only
        # through `call`'s own argument, and without it Dropout and the Random* layers stayed
        # off during fit (the subclass then trained without dropout, unlike the other two APIs).
        return self.layer_outputs(inputs, training=training)[self._wiring[-1][0]]

    def build(self, input_shape):
        # Each layer builds for the shape its inputs will have, so the weights exist before the
        # first call (and before load_model restores them into a reloaded model).
        shapes = {graph.INPUT: tuple(input_shape)}
        for index, (layer, (name, refs, merge)) in enumerate(zip(self.stack, self._wiring)):
            args = [shapes[ref] for ref in refs]
            shape = args if merge else args[0]
            with _Blame(where=_where(index, name, type(layer).__name__)):
                layer.build(shape)
                shapes[name] = tuple(layer.compute_output_shape(shape))

    def layer_outputs(self, inputs, training=None) -> dict:
        """Every layer's output by name (and the input as graph.INPUT), in stack order."""
        values = {graph.INPUT: inputs}
        for layer, takes, (name, refs, merge) in zip(self.stack, self._takes_training, self._wiring):
            args = [values[ref] for ref in refs]
            extra = {"training": training} if training is not None and takes else {}
            values[name] = layer(args if merge else args[0], **extra)
        return values

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "layer_specs": [dict(entry) for entry in self.layer_specs]}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _takes_training(layer) -> bool:
    """Whether the layer's call accepts `training` (Dropout, BatchNormalization, Random*)."""
    import inspect

    return "training" in inspect.signature(layer.call).parameters
