"""The trained model without its augmentation layers: the graph TensorFlow Lite can convert.

Keras's random augmentation layers (RandomFlip, RandomRotation, RandomZoom, RandomTranslation) should
pass images through unchanged at inference, but their ``call`` defaults to ``training=True`` and a
functional model records ``training: true`` for them at build time. So ``model.export`` traces them
*augmenting*: the SavedModel served randomly flipped/rotated inputs (outputs off by 0.06-0.27 on a
test stack), and the graph held ops the built-in TFLite runtime lacks (``ImageProjectiveTransformV3``,
``StatelessRandomUniformV2``; the TF Select fallback converts them, but ``tf.lite.Interpreter`` in
TF 2.21 cannot run that). The exports therefore wire the *same trained layer objects* into a new
functional graph that skips them: same weights (shared, not copied), outputs equal to
``model(x, training=False)``, nothing random left. A model of several inputs or heads gets a twin that
takes and returns the same dicts (wired by ``model.inputs`` / ``model.outputs``, a subclass's input and
head names, or a functional config's input and output layers).
"""
from __future__ import annotations

__all__ = ["augmentation_layer_names", "inference_model", "functional_twin", "input_shape", "input_shapes",
           "takes_dicts", "output_keys"]


def augmentation_layer_names(model) -> list[str]:
    from tapedeck.engine.spec import catalogue

    return [layer.name for layer in _layers(model)
            if getattr(catalogue.CATALOGUE.get(type(layer).__name__), "group", None) == "augmentation"]


def inference_model(model, experiment=None):
    """``model`` itself when it has no augmentation layers; otherwise a functional twin without them.

    The wiring comes from the experiment's layer list, or from the model itself: a Tapedeck subclass's
    layer_specs, a Sequential chain, a functional model's config. What cannot be rewired is returned
    unchanged.
    """
    if not augmentation_layer_names(model):
        return model
    return functional_twin(model, experiment, skip_augmentation=True) or model


def functional_twin(model, experiment=None, skip_augmentation: bool = False):
    """A functional model over the same trained layer objects (weights shared), or None if not rewirable.

    For a model subclass this gives what the subclass lacks: a symbolic graph, so any layer's output
    can be asked for with ``keras.Model(twin.input, twin.get_layer(name).output)``. A model with several
    inputs or heads gets a twin that takes and returns the same dicts (by input name, by head name).
    """
    import keras

    from tapedeck.engine.spec import catalogue, graph

    skipped = set(augmentation_layer_names(model)) if skip_augmentation else set()
    wiring = _wiring(model, experiment)
    if wiring is None:
        return None
    specs, input_names, head_names = wiring
    nodes, problems = graph.resolve(specs, input_names, head_names)
    layers = {layer.name: layer for layer in _layers(model)}
    shapes = input_shapes(model)
    dicts = takes_dicts(model)
    if problems or any(node.name not in layers for node in nodes):
        return None
    if dicts and set(shapes) != set(input_names) or not dicts and len(shapes) != 1:
        return None  # the model is called with other names than its wiring uses
    if not dicts:
        shapes = {input_names[0]: next(iter(shapes.values()))}
    inputs = {name: keras.Input(shape=shapes[name], name=name) for name in input_names}
    tensors = dict(inputs)
    for node in nodes:
        args = [tensors[ref] for ref in node.inputs]
        if node.name in skipped:
            # An augmentation that changes the image's size (RandomCrop: the centre at inference) is
            # called for inference instead of skipped; the others are the identity there.
            out = layers[node.name](args[0], training=False)
            tensors[node.name] = args[0] if tuple(out.shape) == tuple(args[0].shape) else out
            continue
        merge = getattr(catalogue.CATALOGUE.get(node.spec.type), "merge", False) or len(args) > 1
        tensors[node.name] = layers[node.name](args if merge else args[0])
    heads = head_names or [nodes[-1].name]
    if dicts:
        keys = output_keys(model) or heads
        return keras.Model(inputs, {key: tensors[head] for key, head in zip(keys, heads)}, name=f"{model.name}_twin")
    return keras.Model(inputs[input_names[0]], tensors[heads[0]], name=f"{model.name}_twin")


def takes_dicts(model) -> bool:
    """Whether the model is called with a dict by input name and returns a dict by head (several inputs or heads)."""
    if hasattr(model, "layer_outputs"):  # engine.model.build.TapedeckModel
        return bool(getattr(model, "dicts", False))
    try:
        return isinstance(model.input, dict) or isinstance(model.output, dict)
    except (AttributeError, ValueError):
        return False


def output_keys(model) -> list[str]:
    """A dict model's output names, in order ([] for a model of one output)."""
    if hasattr(model, "layer_outputs"):
        return list(model.head_names) if model.dicts else []
    output = getattr(model, "output", None)
    return list(output) if isinstance(output, dict) else []


def _layers(model):
    if hasattr(model, "layer_outputs"):  # engine.model.build.TapedeckModel
        return list(model.stack)
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _wiring(model, experiment):
    """(layer specs, input names, head layer names or None for the last layer), or None if unknown."""
    from tapedeck.engine.spec import graph, heads
    from tapedeck.engine.spec.experiment import LayerSpec

    if experiment is not None:
        spec = experiment.model
        declared = [h.layer for h in getattr(spec, "outputs", None) or []] or None
        return list(spec.layers), [i.name for i in heads.inputs_of(spec)], declared
    if hasattr(model, "layer_specs"):
        from tapedeck.engine.model.build import _spec_from_dict

        return ([_spec_from_dict(entry) for entry in model.layer_specs], list(model.input_names),
                list(model.head_names))
    import keras

    if isinstance(model, keras.Sequential):
        return [LayerSpec(type(layer).__name__, {}, name=layer.name) for layer in _layers(model)], [graph.INPUT], None
    return _functional_wiring(model)


def _functional_wiring(model):
    """Wiring of a functional model from its config (each layer's inbound ``keras_history``), or None."""
    from tapedeck.engine.spec import graph
    from tapedeck.engine.spec.experiment import LayerSpec

    try:
        config = model.get_config()
        entries = config["layers"]
    except Exception:  # noqa: BLE001 — a model without a functional config: leave it as it is
        return None
    input_names = [e["name"] for e in entries if e.get("class_name") == "InputLayer"]
    if not input_names:
        return None
    dicts = takes_dicts(model)
    # One plain input is wired as graph.INPUT (as the builders name it); a dict model keeps its names.
    wired = {name: name if dicts else graph.INPUT for name in input_names}
    if not dicts and len(input_names) != 1:
        return None
    specs = []
    for entry in entries:
        if entry.get("class_name") == "InputLayer":
            continue
        nodes = entry.get("inbound_nodes") or []
        if len(nodes) != 1:
            return None  # a layer used twice (shared weights) is beyond a Tapedeck stack
        refs = [wired.get(name, name) for name in _history_names(nodes[0].get("args"))]
        specs.append(LayerSpec(entry.get("class_name"), {}, name=entry["name"], inputs=refs))
    heads = None
    if dicts:
        outputs = config.get("output_layers")
        if not isinstance(outputs, dict):
            return None
        heads = [entry[0] for entry in outputs.values()]
    return specs, [wired[name] for name in input_names] if dicts else [graph.INPUT], heads


def _history_names(value) -> list[str]:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = value.get("config", {}).get("keras_history")
            return [history[0]] if history else []
        return [n for v in value.values() for n in _history_names(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _history_names(v)]
    return []


def input_shape(model) -> tuple:
    """One example's shape (no batch axis) of the model's first input, for a built Tapedeck subclass or a
    functional/Sequential model."""
    return next(iter(input_shapes(model).values()))


def input_shapes(model) -> dict:
    """Input name → one example's shape (no batch axis); one entry for a model of one input."""
    if hasattr(model, "layer_outputs"):
        shape = model.get_build_config()["input_shape"]
        if isinstance(shape, dict):
            return {name: tuple(value[1:]) for name, value in shape.items()}
        return {model.input_names[0]: tuple(shape[1:])}
    structure = model.input if takes_dicts(model) else None
    if isinstance(structure, dict):
        return {name: tuple(tensor.shape[1:]) for name, tensor in structure.items()}
    return {model.inputs[0].name: tuple(model.inputs[0].shape[1:])}
