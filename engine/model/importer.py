"""An existing Keras model (a ``.keras`` file or a model's JSON config) turned into an experiment.

The import reads Keras's own objects — Sequential's layer list, a Functional model's graph, or the
layer list of Tapedeck's registered subclass — and writes each layer as the catalogue spells it:
its type, the constructor arguments that differ from Keras's defaults, its name when it is not the
one Tapedeck would give anyway, and its inputs when it does not simply take the layer before it.

Nothing is silently dropped. The import refuses, in one message, every layer whose class the catalogue
does not know (named with its Keras class), every argument the catalogue does not carry that differs
from Keras's default (a kernel regulariser, say), layers shared between several calls, and models with
several inputs or outputs. Loading goes through Keras's ``safe_mode``: a file holding a ``Lambda``
layer (Python byte code) is refused before any of its code can run.

Weights, when kept, are written as ``.weights.npz`` keyed by layer name (``allow_pickle=False`` on
the way back in, see ``engine.training.initial_weights``): by name rather than by Keras's object
path, so the run finds them whichever of the three APIs builds the model.
"""
from __future__ import annotations

import io
import json
import weakref
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.files import write_bytes_atomic
from tapedeck.engine.spec import catalogue, graph
from tapedeck.engine.text import cut, shown

__all__ = ["ModelImportError", "ImportedModel", "import_model", "experiment_from_model", "save_weights",
           "WEIGHTS_SUFFIX"]

WEIGHTS_SUFFIX = ".weights.npz"
# model → {Keras layer name: experiment layer name} for layers the import renamed, so the kept weights
# are keyed by the names the experiment uses
_RENAMED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# model → the JSON config it was built from: it holds freshly initialised weights, none to keep
_FROM_CONFIG: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# Keys of every layer config that are not constructor arguments of the layer's own kind.
_BOOKKEEPING = ("name", "trainable", "dtype")
# Keras writes "linear" for "no activation"; the catalogue writes None (as Keras's default).
_LINEAR = "linear"
# Input shapes of the built-in data sets, to pick the experiment's data for the model.
_SOURCES = {(8, 8, 1): "digits", (28, 28, 1): "mnist", (32, 32, 3): "cifar10"}


class ModelImportError(TapedeckError):
    """The model cannot become an experiment; the message names every layer and argument in the way."""


@dataclass
class ImportedModel:
    experiment: object          # engine.spec.experiment.Experiment
    model: object               # the loaded keras.Model (its weights are what --keep-weights keeps)
    input_shape: tuple | None
    notes: list = field(default_factory=list)   # what the person should look at (the data, the classes)


def import_model(path) -> ImportedModel:
    """Load ``path`` (``.keras``, or ``.json`` holding ``model.to_json()``) with safe_mode and convert it."""
    path = Path(path)
    if path.is_dir():
        raise ModelImportError(f"{path}: is a folder; give a .keras model file or a Keras model .json config (a "
                               "SavedModel folder cannot be imported: load it and save it with model.save)")
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file; give a .keras model file or a Keras model .json config")
    model = _load(path)
    if path.suffix == ".json":
        _FROM_CONFIG[model] = path
    return experiment_from_model(model, name=path.name.split(".")[0] or "imported")


def _load(path: Path):
    import keras

    import tapedeck.engine.model.build  # noqa: F401 — registers TapedeckModel, so Tapedeck's subclass loads

    try:
        if path.suffix == ".json":
            config = json.loads(path.read_text(encoding="utf-8"))
            return keras.saving.deserialize_keras_object(config, safe_mode=True)
        if not zipfile.is_zipfile(path):
            raise ModelImportError(f"{path}: not a .keras model file (a .keras file is a zip archive); "
                               "save the model with model.save('model.keras') first")
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except ModelImportError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        if path.suffix != ".json":   # the config.json inside a .keras archive
            raise ModelImportError(f"{path}: the model's config.json inside it is damaged ({error}); save the "
                                   "model again with model.save('model.keras')") from None
        raise ModelImportError(f"{path}: not a Keras model JSON config ({error}); "
                           "write it with model.to_json()") from None
    except Exception as error:  # noqa: BLE001 — whatever Keras refuses is the person's file
        raise ModelImportError(_refusal(path, error)) from None


def _stored_config(path: Path):
    """The model's config as stored (a .json file, or config.json inside a .keras zip), or None."""
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def _unknown_classes(config) -> list[str]:
    """Class names in the config that Keras does not hold (``MyCustomLayer (my_package.layers)``): Keras's
    own message names only the outermost model it failed to rebuild."""
    import keras

    found, todo = [], [config]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            name, module = item.get("class_name"), item.get("module")
            if isinstance(name, str) and "config" in item and not (isinstance(module, str)
                                                                   and module.split(".")[0] == "keras"):
                if keras.saving.get_registered_object(item.get("registered_name") or name) is None \
                        and not hasattr(keras.layers, name) and not hasattr(keras.models, name):
                    found.append(f"{name} ({module})" if module else name)
            todo.extend(item.values())
    return list(dict.fromkeys(found))


def _refusal(path: Path, error: Exception) -> str:
    text = str(error)
    if "Lambda" in text or "safe_mode" in text:
        return (f"{path}: refused: the model holds a Lambda layer, whose Python code would run as the file "
                "loads; Tapedeck loads models with Keras's safe_mode, which never runs code from a file. "
                "Rebuild that part with layers from the catalogue, then save and import again")
    unknown = _unknown_classes(_stored_config(path))
    if unknown:
        return (f"{path}: holds {'a class' if len(unknown) == 1 else 'classes'} Keras does not know: "
                f"{cut(', '.join(unknown))}; a custom layer from someone's code cannot be imported, only Keras's own "
                "layers: rebuild that part with layers from the catalogue, save and import again")
    if "Could not locate" in text or "registered" in text:
        return (f"{path}: holds a class Keras does not know ({cut(text.splitlines()[0])}); a custom layer or "
                "model from someone's code cannot be imported, only Keras's own layers")
    return f"{path}: Keras cannot load it ({type(error).__name__}: {cut(text.splitlines()[0] if text else '')})"


# --- the model's structure ------------------------------------------------------------------------

def experiment_from_model(model, name: str = "imported") -> ImportedModel:
    """The experiment for a loaded ``keras.Model``; raises ModelImportError listing every problem."""
    import keras

    from tapedeck.engine.spec.experiment import Experiment, ExperimentError, ModelSpec

    if type(model).__name__ == "TapedeckModel" and hasattr(model, "layer_specs"):
        return _from_tapedeck_subclass(model, name)
    new_names = _new_names(model)

    def own(layer) -> str:
        return new_names.get(id(layer), (layer.name,))[0]

    if isinstance(model, keras.Sequential):
        api, entries, problems, ends = "sequential", _sequential_entries(model), [], ([], [])
    elif _is_functional(model):
        api = "functional"
        entries, problems, ends = _functional_entries(model, own)
    else:
        raise ModelImportError(f"the model is a subclass of keras.Model ({type(model).__name__}) with its own "
                           "Python call; only Sequential, Functional and Tapedeck's own models can be imported")
    layers, precision = [], None
    for layer, inputs in entries:
        spec, found, dtype = _layer_spec(layer, inputs)
        problems += found
        precision = precision or dtype
        if spec is not None:
            spec.name = own(layer)
            layers.append(spec)
    if problems:
        raise ModelImportError("the model cannot be imported as it is:\n" + "\n".join(f"  {p}" for p in problems))
    _drop_auto_names(layers)
    experiment = Experiment(name=name, model=ModelSpec(api=api, layers=layers, inputs=ends[0], outputs=ends[1]))
    if precision:
        experiment.training.precision = precision
    input_shape = _input_shape(model)
    by_id = {id(layer): layer.name for layer in model.layers}
    notes = [f"layer {by_id[key]!r} is named {new!r} in the experiment: {why}" for key, (new, why) in new_names.items()]
    notes += _choose_data(experiment, input_shape)
    if precision:   # never chosen silently: bfloat16 without the CPU's units for it is slower, not faster
        notes.append(f"the model's layers compute in {precision}, so training.precision is {precision}; set it "
                     f"to float32 where this machine has no {precision.split('_')[1]} units (tapedeck check warns)")
    _RENAMED[model] = {by_id[key]: new for key, (new, _why) in new_names.items()}
    if len(experiment.model.outputs) > 1 or len(experiment.model.inputs) > 1:
        notes.append("a Keras model does not say what its heads learnt nor what feeds its other inputs: the import "
                     f"guessed targets {', '.join(h.target for h in experiment.model.outputs) or 'label'} and data "
                     f"{', '.join(i.data for i in experiment.model.inputs) or 'x'}; check them in the model's "
                     "inputs and heads")
    try:
        experiment = Experiment.from_dict(experiment.to_dict())
    except ExperimentError as error:
        raise ModelImportError("the model cannot be imported as it is:\n"
                           + "\n".join(f"  {p}" for p in error.problems)) from None
    return ImportedModel(experiment, model, input_shape, notes)


def _is_functional(model) -> bool:
    """A model made by ``keras.Model(inputs, outputs)``: Keras gives it the class ``Functional``, which it
    does not export publicly; told by the class name in its ancestry rather than a private import."""
    return any(cls.__name__ == "Functional" for cls in type(model).__mro__)


def _from_tapedeck_subclass(model, name) -> ImportedModel:
    from tapedeck.engine.spec.experiment import Experiment, ExperimentError

    d = Experiment(name=name).to_dict()
    d["model"] = {"api": "subclassing", "layers": [dict(entry) for entry in model.layer_specs]}
    try:
        experiment = Experiment.from_dict(d)
    except ExperimentError as error:
        raise ModelImportError("the Tapedeck model's layers do not read as an experiment:\n"
                           + "\n".join(f"  {p}" for p in error.problems)) from None
    shape = _input_shape(model)
    return ImportedModel(experiment, model, shape, _choose_data(experiment, shape))


def _sequential_entries(model) -> list:
    """(layer, None) per layer: Sequential is a chain, each layer takes the one before."""
    return [(layer, None) for layer in model.layers]


def _functional_entries(model, own=lambda layer: layer.name) -> tuple[list, list, tuple]:
    """(layer, input names) per layer, problems, and (InputSpecs, HeadSpecs) when the model has several
    inputs or outputs (``model.inputs`` / ``model.outputs`` of the experiment; empty lists otherwise)."""
    import keras

    from tapedeck.engine.spec.heads import DEFAULT_DATA, DEFAULT_TARGET, HeadSpec, InputSpec

    problems = []
    input_layers = [t._keras_history.operation for t in model.inputs]
    output_layers = [t._keras_history.operation for t in model.outputs]
    several = len(input_layers) > 1 or len(output_layers) > 1
    names = {id(layer): (layer.name if several else graph.INPUT) for layer in input_layers}
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not several and output_layers[0] in layers:   # a sink: moving it last keeps every input before its use
        layers.remove(output_layers[0])
        layers.append(output_layers[0])
    entries = []
    previous = names[id(input_layers[0])]
    for layer in layers:
        nodes = [node for node in layer._inbound_nodes if _in_model(node, model)]
        if len(nodes) != 1:
            problems.append(f"layer {layer.name!r} ({type(layer).__name__}) is called {len(nodes)} times "
                            "(a shared layer); each layer of an experiment is used once")
            continue
        refs = [names.get(id(t._keras_history.operation), own(t._keras_history.operation))
                for t in nodes[0].input_tensors]
        entries.append((layer, None if refs == [previous] else refs))
        previous = own(layer)
    if not several:
        return entries, problems, ([], [])
    inputs = [InputSpec(layer.name, DEFAULT_DATA if i == 0 else f"x_{layer.name}")
              for i, layer in enumerate(input_layers)]
    heads = [HeadSpec(own(layer), DEFAULT_TARGET if i == 0 else own(layer)) for i, layer in enumerate(output_layers)]
    return entries, problems, (inputs, heads)


def _in_model(node, model) -> bool:
    """A layer reused by another model has nodes of that model too; count only this model's."""
    return any(node is n for depth in model._nodes_by_depth.values() for n in depth)


def _input_shape(model) -> tuple | None:
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):
        return None
    return tuple(shape[1:]) if shape else None


def _choose_data(experiment, input_shape) -> list:
    """Pick the built-in data set whose images fit the model; otherwise say which shape it wants."""
    notes = []
    source = _SOURCES.get(tuple(input_shape or ()))
    last = experiment.model.layers[-1] if experiment.model.layers else None
    classes = last.params.get("units") if last is not None and last.type == "Dense" else None
    if source == "cifar10" and classes == 100:
        source = "cifar100"
    if source is None:
        notes.append(f"the model takes images of shape {shown(list(input_shape)) if input_shape else 'unknown'}, "
                     "which no built-in data set has; choose a data file or folder of that shape "
                     "(e.g. a folder with image_size) before training")
    else:
        experiment.data.source = source
        if classes is not None and classes != (100 if source == "cifar100" else 10):
            notes.append(f"the last layer has {classes} outputs and {source} has "
                         f"{100 if source == 'cifar100' else 10} classes; change its units to fine-tune")
    return notes


# --- one layer --------------------------------------------------------------------------------------

def _layer_spec(layer, inputs):
    """(LayerSpec or None, problems, mixed-precision policy name or None) for one Keras layer."""
    from tapedeck.engine.spec.experiment import LayerSpec

    class_name = type(layer).__name__
    where = f"layer {layer.name!r} ({class_name})"
    kind = catalogue.CATALOGUE.get(class_name)
    if kind is None or _catalogue_class(class_name) is not type(layer):
        return None, [f"{where}: the catalogue has no {class_name} layer"], None
    config = layer.get_config()
    problems, params = [], {}
    for param in kind.params:
        if param.name not in config:
            continue
        value = _json_value(param, config[param.name])
        if param.required or catalogue.normalize_value(param, value) != catalogue.normalize_value(
                param, param.default):
            params[param.name] = value
    _drop_implied(kind.name, params, config)
    uncarried = [key for key in config if kind.param(key) is None and key not in _BOOKKEEPING]
    reference = _reference_config(type(layer), config, kind) if uncarried else None
    _collapse_factors(type(layer), kind, params, config)
    dtype = None
    for key, value in config.items():
        if kind.param(key) is not None or key in ("name", "trainable"):
            continue
        if key == "dtype":
            dtype = _policy(value)
            if dtype not in (None, "float32") and dtype not in ("mixed_float16", "mixed_bfloat16"):
                problems.append(f"{where}: dtype {dtype!r} is not a precision Tapedeck trains in")
            continue
        if reference is not None and key in reference and _plain(value) != _plain(reference[key]):
            problems.append(f"{where}: {key}={cut(json.dumps(_plain(value)))} differs from Keras's default, "
                            "and the catalogue has no such parameter")
    spec = LayerSpec(type=kind.name, params=params, name=layer.name, inputs=inputs,
                     trainable=bool(layer.trainable))
    problems += [f"{where}: {p.lstrip('.')}" for p in catalogue.check_params(spec, "")]
    return (None if problems else spec), problems, (dtype if dtype and dtype.startswith("mixed") else None)


def _catalogue_class(type_name: str):
    """The class the catalogue builds for ``type_name`` (``keras.layers.<type>``, or Tapedeck's Backbone)."""
    try:
        from tapedeck.engine.spec.backbones import keras_class
    except ImportError:   # a catalogue without pretrained backbones
        import keras

        return getattr(keras.layers, type_name, None)
    try:
        return keras_class(type_name)
    except AttributeError:
        return None


def _json_value(param, value):
    """A config value in the catalogue's JSON form: lists for tuples, an int for an even pair."""
    if isinstance(value, tuple):
        value = [_json_value(param, v) if isinstance(v, tuple) else v for v in value]
    if param.name == "activation" and value == _LINEAR and _LINEAR != param.default:
        return None if None in (param.choices or ()) else value
    if param.kind in ("int_or_pair", "int_or_pairs") and isinstance(value, list) and len(value) == 2:
        if all(isinstance(v, list) and v[0] == v[1] for v in value):
            value = [v[0] for v in value]
        if all(not isinstance(v, list) for v in value) and value[0] == value[1]:
            value = value[0]
    if param.kind in ("int_or_pair", "int", "float") and isinstance(value, list) and len(value) == 1:
        value = value[0]   # LayerNormalization keeps its axis as a list of one
    if param.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def _drop_implied(type_name: str, params: dict, config: dict) -> None:
    """Values Keras fills in from another argument: pooling strides default to the pool size."""
    if type_name.endswith("Pooling2D") and "strides" in params and config.get("pool_size") is not None:
        pool = config["pool_size"]
        pool = list(pool) if isinstance(pool, tuple) else pool
        if catalogue.as_pairs(params["strides"]) == catalogue.as_pairs(pool):
            params.pop("strides")


def _collapse_factors(cls, kind, params: dict, config: dict) -> None:
    """A factor Keras stored as the range it made of one number (0.1 → (-0.1, 0.1)) is written as that
    number again, when Keras itself turns the number into the same stored range."""
    for name, value in list(params.items()):
        param = kind.param(name)
        if param.kind != "float_or_pair" or not isinstance(value, list) or len(value) != 2:
            continue
        args = {p.name: config[p.name] for p in kind.params if p.name in config}
        args[name] = float(value[1])
        try:
            same = _plain(cls(**args).get_config()[name]) == _plain(config[name])
        except Exception:  # noqa: BLE001 — Keras refused the number: the pair stays as it is
            same = False
        if same:
            params[name] = float(value[1])
            if not param.required and catalogue.normalize_value(param, params[name]) == catalogue.normalize_value(
                    param, param.default):
                params.pop(name)


def _reference_config(cls, config, kind) -> dict | None:
    """The config of the same class built with only the arguments the catalogue carries: what Keras
    gives every argument the catalogue does not know."""
    args = {p.name: config[p.name] for p in kind.params if p.name in config}
    try:
        return cls(**args).get_config()
    except Exception:  # noqa: BLE001 — then nothing can be compared; the check below refuses it
        return None


def _policy(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return (value.get("config") or {}).get("name")
    return getattr(value, "name", None)


def _plain(value):
    """A config value comparable as JSON (tuples as lists, Keras objects as their configs)."""
    return json.loads(json.dumps(value, default=lambda o: getattr(o, "get_config", lambda: repr(o))()))


def _new_names(model) -> dict:
    """{id(layer): (new name, why)} for layer names the check refuses: ``input`` (the model input's) and names
    TensorFlow cannot scope. An import must not write an experiment its own check then refuses, so such a
    layer gets a name it takes, everywhere the experiment and the kept weights name it."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    taken = {layer.name for layer in model.layers} | {graph.INPUT}
    result = {}
    for index, layer in enumerate(layers):
        if layer.name == graph.INPUT:
            why, base = "Tapedeck reserves that name for the model input", f"{layer.name}_layer"
        elif not graph.scope_name_ok(layer.name):
            why = "TensorFlow takes only the letters A-Z, digits and _ . - in a layer's name"
            base = graph.ascii_name(layer.name, index)
        else:
            continue
        new, count = base, 1
        while new in taken:
            new, count = f"{base}_{count}", count + 1
        taken.add(new)
        result[id(layer)] = (new, why)
    return result


def _drop_auto_names(layers) -> None:
    """Leave out names Tapedeck would give anyway (dense, dense_1, …): the file then reads like one a
    person wrote. A name stays when dropping it would rename any layer."""
    wanted = [spec.name for spec in layers]
    for spec in layers:
        kept, spec.name = spec.name, None
        if [n.name for n in graph.resolve(layers)[0]] != wanted:
            spec.name = kept


# --- weights ------------------------------------------------------------------------------------------

def save_weights(model, path) -> Path:
    """Every layer's weights (trainable and not) as ``<layer name>:<index>`` arrays in one .npz, atomically
    (by the names the imported experiment uses); refused for a model built from a JSON config."""
    import numpy as np

    if model in _FROM_CONFIG:
        raise ModelImportError(f"{_FROM_CONFIG[model]}: is a model config (JSON), which holds no trained weights to "
                               "keep; import the .keras file the model was saved to, or import without keeping "
                               "the weights (training then starts from fresh ones)")
    path = Path(path)
    arrays = {}
    renamed = _RENAMED.get(model, {})
    for layer in _all_layers(model):
        for index, value in enumerate(layer.get_weights()):
            arrays[f"{renamed.get(layer.name, layer.name)}:{index}"] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _all_layers(model) -> list:
    return list(getattr(model, "stack", None) or model.layers)
