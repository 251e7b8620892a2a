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

import tapedeck.engine.spec.backbone_layer  # noqa: F401 — registers Backbone: load_model must know it
from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.model.check import keras_message
from tapedeck.engine.spec import catalogue, graph, heads
from tapedeck.engine.spec.experiment import APIS

__all__ = ["BuildError", "build_model", "TapedeckModel", "APIS"]



class BuildError(TapedeckError):
    """The stack cannot be built in the chosen API; the message names the layer and the fix."""


def build_model(experiment, input_shape, api=None, extra_shapes=None) -> keras.Model:
    """The experiment's model in `api` (default: the experiment's own), built for `input_shape` (the images).

    ``extra_shapes`` maps the other data arrays (``x_<name>``) to their shapes, for models with several
    inputs. With several inputs or heads the model takes a dict by input name and returns a dict by head
    layer name, which is what ``fit``'s per-head losses and metrics are keyed by.
    """
    api = api or experiment.model.api
    if api not in APIS:
        raise BuildError(f"model.api: expected one of {', '.join(APIS)}, received {api!r}")
    model_spec = experiment.model
    names, outputs = _wiring(model_spec)
    shapes = _input_shapes(model_spec, tuple(input_shape), extra_shapes or {})
    nodes = _resolve(model_spec.layers, tuple(shapes), outputs if model_spec.outputs else None)
    name = _model_name(experiment.name)
    multi = heads.is_multi(model_spec)
    if api == "sequential":
        if multi or outputs != [nodes[-1].name]:
            raise BuildError(graph.SEQUENTIAL_MULTI_REFUSAL.format(what=heads.several_words(
                model_spec, f"its output at layer {outputs[0]!r}, not the last layer")))
        return _sequential(nodes, tuple(input_shape), name)
    if api == "functional":
        return _functional(nodes, shapes, outputs, multi, name)
    model = TapedeckModel([spec.to_dict() for spec in model_spec.layers], name=name,
                          input_names=list(shapes), head_names=outputs, dicts=multi)
    model.build({k: (None, *v) for k, v in shapes.items()} if multi else (None, *input_shape))
    return model


def _wiring(model_spec) -> tuple[list[str], list[str]]:
    """(layer names, head layer names in declared order)."""
    nodes, _problems = graph.resolve_model(model_spec)
    names = [node.name for node in nodes]
    outputs = [h.layer for h in model_spec.outputs] or names[-1:]
    return names, outputs


def _input_shapes(model_spec, image_shape, extra_shapes) -> dict:
    """Input name → shape (no batch axis), in declared order."""
    shapes = {}
    for spec in heads.inputs_of(model_spec):
        if spec.data == heads.DEFAULT_DATA:
            shapes[spec.name] = image_shape
        elif spec.data in extra_shapes:
            shapes[spec.name] = tuple(extra_shapes[spec.data])
        else:
            raise BuildError(f"model.inputs: input {spec.name!r} reads data {spec.data!r}, which the data set "
                             f"does not hold; an npz file feeds it with arrays {spec.data.replace('x_', 'x_train_', 1)}"
                             f" and {spec.data.replace('x_', 'x_test_', 1)}")
    return shapes


def _resolve(layers, input_names=(graph.INPUT,), head_names=None):
    nodes, problems = graph.resolve(layers, input_names, head_names)
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


def _output_dtype(node, nodes, outputs=None) -> dict:
    """Under a mixed-precision policy the output layers compute in float32 (Keras's mixed-precision
    guide): softmax and the loss are where 16 bits lose what matters."""
    is_output = node.name in outputs if outputs else node is nodes[-1]
    if is_output and keras.config.dtype_policy().name.startswith("mixed_"):
        return {"dtype": "float32"}
    return {}


def _functional(nodes, shapes, outputs, multi, name) -> keras.Model:
    inputs = {key: keras.Input(shape=shape, name=key) for key, shape in shapes.items()}
    tensors = dict(inputs)
    for node in nodes:
        with _Blame(node):
            layer = catalogue.make_layer(node.spec, node.name, **_output_dtype(node, nodes, outputs))
            args = [tensors[ref] for ref in node.inputs]
            tensors[node.name] = layer(args if catalogue.layer_type(node.spec.type).merge else args[0])
    if not multi:
        return keras.Model(inputs=next(iter(inputs.values())), outputs=tensors[outputs[0]], name=name)
    return keras.Model(inputs=inputs, outputs={head: tensors[head] for head in outputs}, name=name)


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

    def __init__(self, layer_specs, input_names=None, head_names=None, dicts=False, **kwargs):
        super().__init__(**kwargs)
        self.layer_specs = [dict(entry) for entry in layer_specs]
        # With several inputs or heads (``dicts``), call takes a dict by input name and returns a dict by
        # head name; otherwise one tensor in (named input_names[0]) and one out (head_names[0]).
        self.input_names = list(input_names or [graph.INPUT])
        self.dicts = bool(dicts)
        nodes = _resolve([_spec_from_dict(entry) for entry in self.layer_specs], tuple(self.input_names),
                         list(head_names) if head_names else None)
        self.head_names = list(head_names or [nodes[-1].name])
        # The wiring: for each layer, the names it takes and whether it merges them.
        self._wiring = [(node.name, tuple(node.inputs), catalogue.layer_type(node.spec.type).merge)
                        for node in nodes]
        self.stack = []
        for node in nodes:
            with _Blame(node):
                self.stack.append(catalogue.make_layer(node.spec, node.name,
                                                       **_output_dtype(node, nodes, self.head_names)))
        self._takes_training = tuple(_takes_training(layer) for layer in self.stack)

    def call(self, inputs, training=None):
        # `training` must be passed on by hand: Keras gives it to a subclass's layers only
        # through `call`'s own argument, and without it Dropout and the Random* layers stayed
        # off during fit (the subclass then trained without dropout, unlike the other two APIs).
        values = self.layer_outputs(inputs, training=training)
        if self.dicts:
            return {name: values[name] for name in self.head_names}
        return values[self.head_names[0]]

    def _given(self, inputs) -> dict:
        """The call's inputs by name: the dict as given with ``dicts``, else the one tensor."""
        if self.dicts:
            return {name: inputs[name] for name in self.input_names}
        return {self.input_names[0]: inputs}

    def build(self, input_shape):
        # Each layer builds for the shape its inputs will have, so the weights exist before the
        # first call (and before load_model restores them into a reloaded model).
        shapes = {k: tuple(v) for k, v in self._given(input_shape).items()}
        for index, (layer, (name, refs, merge)) in enumerate(zip(self.stack, self._wiring)):
            args = [shapes[ref] for ref in refs]
            shape = args if merge else args[0]
            with _Blame(where=_where(index, name, type(layer).__name__)):
                layer.build(shape)
                shapes[name] = tuple(layer.compute_output_shape(shape))

    def layer_outputs(self, inputs, training=None) -> dict:
        """Every layer's output by name (and the input as graph.INPUT), in stack order."""
        values = dict(self._given(inputs))
        for layer, takes, (name, refs, merge) in zip(self.stack, self._takes_training, self._wiring):
            args = [values[ref] for ref in refs]
            extra = {"training": training} if training is not None and takes else {}
            values[name] = layer(args if merge else args[0], **extra)
        return values

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "layer_specs": [dict(entry) for entry in self.layer_specs]}
        if self.dicts or self.input_names != [graph.INPUT] or self.head_names != [self._wiring[-1][0]]:
            config.update(input_names=self.input_names, head_names=self.head_names, dicts=self.dicts)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _takes_training(layer) -> bool:
    """Whether the layer's call accepts `training` (Dropout, BatchNormalization, Random*)."""
    import inspect

    return "training" in inspect.signature(layer.call).parameters
