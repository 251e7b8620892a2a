"""The trained model without its augmentation layers: the graph TensorFlow Lite can convert.

Keras's random augmentation layers (RandomFlip, RandomRotation, RandomZoom, RandomTranslation) should
pass images through unchanged at inference, but their ``call`` defaults to ``training=True`` and a
functional model records ``training: true`` for them at build time. So ``model.export`` traces them
*augmenting*: the SavedModel served randomly flipped/rotated inputs (outputs off by 0.06-0.27 on a
test stack), and the graph held ops the built-in TFLite runtime lacks (``ImageProjectiveTransformV3``,
``StatelessRandomUniformV2``; the TF Select fallback converts them, but ``tf.lite.Interpreter`` in
TF 2.21 cannot run that). The exports therefore wire the *same trained layer objects* into a new
functional graph that skips them: same weights (shared, not copied), outputs equal to
``model(x, training=False)``, nothing random left.
"""
from __future__ import annotations

__all__ = ["augmentation_layer_names", "inference_model", "functional_twin", "input_shape"]


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
    can be asked for with ``keras.Model(twin.inputs[0], twin.get_layer(name).output)``.
    """
    import keras

    from tapedeck.engine.spec import catalogue, graph

    skipped = set(augmentation_layer_names(model)) if skip_augmentation else set()
    specs = _specs(model, experiment)
    if specs is None:
        return None
    nodes, problems = graph.resolve(specs)
    layers = {layer.name: layer for layer in _layers(model)}
    if problems or any(node.name not in layers for node in nodes):
        return None
    inputs = keras.Input(shape=input_shape(model), name=graph.INPUT)
    tensors = {graph.INPUT: inputs}
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
    return keras.Model(inputs, tensors[nodes[-1].name], name=f"{model.name}_twin")


def _layers(model):
    if hasattr(model, "layer_outputs"):  # engine.model.build.TapedeckModel
        return list(model.stack)
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _specs(model, experiment):
    from tapedeck.engine.spec.experiment import LayerSpec

    if experiment is not None:
        return list(experiment.model.layers)
    if hasattr(model, "layer_specs"):
        from tapedeck.engine.model.build import _spec_from_dict

        return [_spec_from_dict(entry) for entry in model.layer_specs]
    import keras

    if isinstance(model, keras.Sequential):
        return [LayerSpec(type(layer).__name__, {}, name=layer.name) for layer in _layers(model)]
    return _functional_specs(model)


def _functional_specs(model):
    """Wiring of a functional model from its config (each layer's inbound ``keras_history``), or None."""
    from tapedeck.engine.spec import graph
    from tapedeck.engine.spec.experiment import LayerSpec

    try:
        config = model.get_config()
        entries = config["layers"]
    except Exception:  # noqa: BLE001 — a model without a functional config: leave it as it is
        return None
    input_names = {e["name"] for e in entries if e.get("class_name") == "InputLayer"}
    if len(input_names) != 1:
        return None
    specs = []
    for entry in entries:
        if entry.get("class_name") == "InputLayer":
            continue
        nodes = entry.get("inbound_nodes") or []
        if len(nodes) != 1:
            return None  # a layer used twice (shared weights) is beyond a Tapedeck stack
        refs = [graph.INPUT if name in input_names else name for name in _history_names(nodes[0].get("args"))]
        specs.append(LayerSpec(entry.get("class_name"), {}, name=entry["name"], inputs=refs))
    return specs


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
    """One example's shape (no batch axis), for a built Tapedeck subclass or a functional/Sequential model."""
    if hasattr(model, "layer_outputs"):
        return tuple(model.get_build_config()["input_shape"][1:])
    return tuple(model.inputs[0].shape[1:])
