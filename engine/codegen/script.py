"""Code export: the script a person would have written by hand for an experiment, in the style of the
TensorFlow 2 tutorial — data, seeds, the model in the chosen API, ``compile`` + ``fit`` or a
``tf.GradientTape`` loop, and a last line ``Test accuracy: 0.9xxx``.

The script needs only TensorFlow/Keras and NumPy (scikit-learn for the digits set), never Tapedeck, so
it keeps working when it leaves the app. Only parameters that differ from Keras's defaults are written
(``catalogue.non_default_params``), with Keras's own argument names. No Keras import here: exporting
code must not wait for TensorFlow to load.
"""
from __future__ import annotations

import dataclasses
import keyword
import re
from dataclasses import dataclass, field

from tapedeck.engine.codegen import backbone, several
from tapedeck.engine.codegen.data import data_code, literal
from tapedeck.engine.codegen.streamed import streamed_data_code, streamed_training, streams
from tapedeck.engine.codegen.train_step_code import train_step_code
from tapedeck.engine.codegen.training import fit_code, tape_code
from tapedeck.engine.spec import catalogue, graph, heads
from tapedeck.engine.spec.experiment import APIS, LOOPS

__all__ = ["generate_code", "model_code", "layer_expression", "APIS", "LOOPS"]


# Leading constructor arguments written positionally, as the tutorial does (``Conv2D(32, 3, ...)``,
# ``Dense(128, ...)``). Each tuple is a prefix of the Keras signature (a test checks it).
POSITIONAL = {
    "Dense": ("units",),
    "Conv2D": ("filters", "kernel_size"),
    "SeparableConv2D": ("filters", "kernel_size"),
    "DepthwiseConv2D": ("kernel_size",),
    "MaxPooling2D": ("pool_size",),
    "AveragePooling2D": ("pool_size",),
    "Dropout": ("rate",),
    "SpatialDropout2D": ("rate",),
    "Activation": ("activation",),
    "Reshape": ("target_shape",),
    "Rescaling": ("scale",),
    "Conv2DTranspose": ("filters", "kernel_size"),
    "UpSampling2D": ("size",),
    "ZeroPadding2D": ("padding",),
    "Cropping2D": ("cropping",),
    "GaussianNoise": ("stddev",),
    "GaussianDropout": ("rate",),
    "Resizing": ("height", "width"),
    "CenterCrop": ("height", "width"),
    "RandomCrop": ("height", "width"),
    "RandomContrast": ("factor",),
    "RandomBrightness": ("factor",),
    "GroupNormalization": ("groups",),
    "Dot": ("axes",),
}

# Layers that behave differently while training: a subclassed model's ``call`` passes ``training`` on.
TRAINING_AWARE = frozenset({
    "Dropout", "SpatialDropout2D", "BatchNormalization", "GaussianNoise", "GaussianDropout",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop", "RandomContrast",
    "RandomBrightness",
})

# Names the script itself uses at module level; a layer variable must not shadow them.
SCRIPT_NAMES = frozenset("""
    np tf keras layers math gzip struct pickle tarfile pathlib load_digits train_test_split
    x_train y_train x_val y_val x_test y_test input_shape num_classes class_names batch_size epochs
    inputs outputs x model MyModel optimizer loss_object learning_rate steps_per_epoch callbacks history
    train_ds val_ds test_ds train_step test_step evaluate train_loss train_accuracy test_loss test_accuracy
    strategy logs epoch images labels predictions self training scale folder files source digits keep held
    num_val val_index train_index prepare read_idx cifar_batch read_folder first image_size order
    held_out_split train_dir test_dir archive batches summary_writer best wait best_weights plateau_best
    plateau_wait distributed_train_step distributed_test_step accuracy extensions image_files first_class
    width height
""".split())

# Public attributes of keras.Model (Keras 3.15): a layer stored as ``self.<name>`` must not replace one.
# A test compares this set with ``dir(keras.Model)`` of the installed Keras.
MODEL_ATTRIBUTES = frozenset("""
    add_loss add_metric add_variable add_weight build build_from_config call compile compile_from_config
    compiled_loss compiled_metrics compute_dtype compute_loss compute_mask compute_metrics
    compute_output_shape compute_output_spec count_params distribute_reduction_method distribute_strategy
    dtype dtype_policy evaluate export fit from_config get_build_config get_compile_config get_config
    get_layer get_metrics_result get_quantization_layer_structure get_state_tree get_weights input
    input_dtype input_spec jit_compile layers load_own_variables load_weights loss losses
    make_predict_function make_test_function make_train_function metrics metrics_names metrics_variables
    non_trainable_variables non_trainable_weights output path predict predict_on_batch predict_step
    quantization_mode quantize quantized_build quantized_call rematerialized_call reset_metrics run_eagerly
    save save_own_variables save_weights set_state_tree set_weights stateless_call stateless_compute_loss
    summary supports_masking symbolic_call test_on_batch test_step to_json train_on_batch train_step
    trainable trainable_variables trainable_weights variable_dtype variables weights name
""".split())


def generate_code(experiment, api=None, loop=None) -> str:
    """The whole standalone script. ``api``/``loop`` default to the experiment's own choice.

    Raises ValueError (one readable message) for an unknown api or loop, a stack whose wiring is broken,
    or the Sequential API on a stack with branches (``graph.SEQUENTIAL_REFUSAL``) or with several inputs
    or heads (``graph.SEQUENTIAL_MULTI_REFUSAL``). A model of several inputs or heads is written with dicts
    (``engine.codegen.several``); one input and one head as the tutorial writes it.
    """
    if not experiment.objective.is_classify:   # several models: the objective's own script
        return _objective_script(experiment, api, loop)
    api = api or experiment.model.api
    loop = loop or experiment.training.loop
    if api not in APIS:
        raise ValueError(f"api: expected one of {', '.join(APIS)}, received {api!r}")
    if loop not in LOOPS:
        raise ValueError(f"loop: expected one of {', '.join(LOOPS)}, received {loop!r}")
    nodes = _nodes(experiment, api)
    training = experiment.training

    has_validation = experiment.data.validation_split > 0
    dicts = _dict_style(experiment)
    streamed = streams(experiment) and not dicts   # the app reads this set from disk: so does the script
    if dicts:   # several inputs or heads: dicts of the named arrays, the model takes and returns dicts
        head_list = several.head_codes(experiment)
        data = several.several_data_code(experiment.data, heads.inputs_of(experiment.model), head_list)
        model = _several_parts(experiment, nodes, api, head_list, output_float32=training.precision != "float32")
    else:
        data = streamed_data_code(experiment.data, training.batch_size) if streamed else data_code(experiment.data)
        model = _model_parts(nodes, api, output_float32=training.precision != "float32")
    write = {"fit": fit_code, "tape": tape_code, "train_step": train_step_code}[loop]
    train = write(training, has_validation=has_validation, model=model, api=api)
    if streamed:
        train.text = streamed_training(train.text)
    if backbone.has_backbone(nodes):   # its class, and the unfreeze step in the loop
        train.text = backbone.with_backbone(train.text, nodes, loop, subclass=api == "subclassing")

    needed = data.imports | train.imports | ({"tf"} if training.deterministic else set())
    sections = [_header(experiment, api, loop), _imports(needed), _seed_code(training),
                _precision_code(training), train.prelude, data.text, train.text]
    return tidy("\n\n".join(s.strip("\n") for s in sections if s.strip())) + "\n"


def _objective_script(experiment, api, loop) -> str:
    """The script of an objective with several models (engine.codegen.objective_code), each model written
    by this module's writers."""
    from tapedeck.engine.codegen.objective_code import objective_code

    def parts(spec, chosen_api):
        single = dataclasses.replace(experiment, model=spec, models={},
                                     objective=dataclasses.replace(experiment.objective, kind="classify"))
        return _model_parts(_nodes(single, chosen_api), chosen_api)

    return tidy(objective_code(experiment, api, loop, parts))


def model_code(experiment, api=None) -> str:
    """Only the model: source that defines ``model`` from ``input_shape`` (``input_shapes``, a dict by input
    name, for several inputs or heads), with ``keras`` and ``from keras import layers`` imported. The full
    script contains exactly these lines."""
    api = api or experiment.model.api
    nodes = _nodes(experiment, api)
    if _dict_style(experiment):
        model = _several_parts(experiment, nodes, api, several.head_codes(experiment))
    else:
        model = _model_parts(nodes, api)
    return tidy("\n\n".join(part for part in (model.class_text, model.build_text) if part)) + "\n"


def tidy(text: str) -> str:
    """PEP 8 spacing around top-level functions and classes, wherever the pieces put them: two blank
    lines before and after, one after a section heading."""
    out: list[str] = []
    in_block = False
    for line in text.split("\n"):
        top_level = bool(line) and not line[0].isspace() and not line.startswith((")", "]", "}"))
        if line.startswith(("def ", "class ", "@")):
            if not (out and out[-1].startswith("@")):
                while out and out[-1] == "":
                    out.pop()
                if out:
                    out += [""] if out[-1].startswith("# ---") else ["", ""]
            in_block = True
        elif top_level and in_block:
            while out and out[-1] == "":
                out.pop()
            out += ["", ""]
            in_block = False
        out.append(line)
    return "\n".join(out)


# --- the model ---------------------------------------------------------------------------------------

@dataclass
class ModelParts:
    """The model in two pieces: a class definition (subclassing only) that may sit anywhere at module
    level, and the lines that create ``model`` (which a distribution strategy wraps in its scope)."""

    class_text: str
    build_text: str
    multipliers: dict = field(default_factory=dict)   # layer name → learning-rate multiplier (≠ 1)
    heads: list | None = None   # several.HeadCode per head when the model takes and returns dicts


def _dict_style(experiment) -> bool:
    """Written with dicts: several inputs or heads, or one that the plain script cannot feed (an npz array
    beside the images, a target other than the labels, a regression loss, a head before the last layer)."""
    spec = experiment.model
    if heads.is_multi(spec):
        return True
    if not spec.inputs and not spec.outputs:
        return False
    names = [node.name for node in graph.resolve_model(spec)[0]]
    head_list = heads.heads_of(spec, names, experiment.training)
    return (heads.inputs_of(spec)[0].data != heads.DEFAULT_DATA or
            any(h.target != heads.DEFAULT_TARGET or heads.is_regression(h.loss) or h.layer != names[-1:][0]
                for h in head_list))


def _nodes(experiment, api):
    nodes, problems = graph.resolve_model(experiment.model)
    problems += [(node.index, str(error)) for node in nodes for error in _unknown_type(node)]
    if problems:
        lines = [f"layer {index}: {message}" if index is not None else message for index, message in problems]
        raise ValueError("the layer stack cannot be exported:\n" + "\n".join(lines))
    if api == "sequential" and _dict_style(experiment):
        raise ValueError(graph.SEQUENTIAL_MULTI_REFUSAL.format(what=several.several_words(experiment.model)))
    name = heads.inputs_of(experiment.model)[0].name
    if name != graph.INPUT and not _dict_style(experiment):
        for node in nodes:   # one input under its own name: the plain script calls it `inputs`
            node.inputs = [graph.INPUT if ref == name else ref for ref in node.inputs]
    if api == "sequential" and not graph.is_chain(nodes):
        raise ValueError(graph.SEQUENTIAL_REFUSAL)
    return nodes


def _several_parts(experiment, nodes, api, head_list, output_float32: bool = False) -> ModelParts:
    """The model taking a dict by input name and returning a dict by head name (``engine.codegen.several``)."""
    input_names = [spec.name for spec in heads.inputs_of(experiment.model)]
    head_names = [head.name for head in head_list]
    float32 = set(head_names) if output_float32 else set()

    def expression(node):
        return _expression(node, node.name if node.name in float32 else None)

    if api == "functional":
        parts = ModelParts("", several.functional_code(nodes, input_names, head_names, expression, _identifier,
                                                       SCRIPT_NAMES))
    else:
        attributes: dict[str, str] = {}
        taken: set = set()
        for node in nodes:
            attributes[node.name] = _identifier(node.name, taken, MODEL_ATTRIBUTES | {"self", "training"})
        parts = ModelParts(*several.subclassing_parts(nodes, input_names, head_names, expression, _identifier,
                                                      attributes, TRAINING_AWARE))
    parts.multipliers = {node.name: node.spec.lr_multiplier for node in nodes if node.spec.lr_multiplier != 1.0}
    parts.heads = head_list
    return parts


def _unknown_type(node):
    try:
        catalogue.layer_type(node.spec.type)
        return []
    except catalogue.UnknownLayerTypeError as error:
        return [error]


def _model_parts(nodes, api, output_float32: bool = False) -> ModelParts:
    """``output_float32``: a mixed-precision policy is set, so the output layer computes in float32."""
    float32 = nodes[-1].name if output_float32 and nodes else None
    if api == "sequential":
        parts = ModelParts("", _sequential(nodes, float32))
    elif api == "functional":
        parts = ModelParts("", _functional(nodes, float32))
    else:
        parts = _subclassing(nodes, float32)
    parts.multipliers = {node.name: node.spec.lr_multiplier for node in nodes if node.spec.lr_multiplier != 1.0}
    return parts


def _expression(node, float32: str | None = None) -> str:
    """A layer with a learning-rate multiplier is named in the script: the step finds it by name.
    The layer named ``float32`` (the output, under mixed precision) computes in float32."""
    extra = ['dtype="float32"'] if node.name == float32 else []
    return layer_expression(node.spec, node.name if node.spec.lr_multiplier != 1.0 else None, extra)


def layer_expression(spec, name: str | None = None, extra=()) -> str:
    """``layers.Conv2D(32, 3, activation="relu", name="c1")``: required arguments first and
    positional where the tutorial writes them so, the rest as keywords, defaults left out."""
    params, prefix = catalogue.non_default_params(spec), "layers."
    if spec.type == "Backbone":   # the script's own class (engine.codegen.backbone); its schedule is loop code
        params, prefix = backbone.constructor_params(params), ""
    args = []
    for key in POSITIONAL.get(spec.type, ()):
        if key not in params:
            break
        args.append(literal(params.pop(key)))
    args += [f"{key}={literal(value)}" for key, value in params.items()]
    if spec.name or name:
        args.append(f"name={literal(spec.name or name)}")
    if not getattr(spec, "trainable", True):
        args.append("trainable=False")   # frozen: model.trainable_variables leaves its weights out
    args += list(extra)
    return f"{prefix}{spec.type}({', '.join(args)})"


def _sequential(nodes, float32=None) -> str:
    lines = ["model = keras.Sequential(", "    [", "        keras.Input(shape=input_shape),"]
    lines += [f"        {_expression(node, float32)}," for node in nodes]
    lines += ["    ]", ")"]
    return "\n".join(lines)


def _identifier(name: str, taken: set, reserved=SCRIPT_NAMES) -> str:
    """A Python name for a layer's name: ``block 1`` → ``block_1``, never a keyword, never one the
    script or keras.Model already uses, never one given to another layer."""
    ident = re.sub(r"\W", "_", name) or "layer"
    if ident[0].isdigit():
        ident = "layer_" + ident
    if keyword.iskeyword(ident) or ident in reserved:
        ident += "_layer"
    base, count = ident, 1
    while ident in taken:
        ident, count = f"{base}_{count}", count + 1
    taken.add(ident)
    return ident


def _variables(nodes, reserved) -> dict[str, str]:
    """Which variable holds each layer's output. Like a hand-written model: ``x`` for a value used
    only by the very next layer, the layer's name for one that a later layer reaches back to (a skip
    connection), ``outputs`` for the last."""
    consumers: dict[str, list[int]] = {}
    for node in nodes:
        for ref in node.inputs:
            consumers.setdefault(ref, []).append(node.index)
    taken: set = set()
    names = {graph.INPUT: "inputs"}
    for node in nodes:
        users = consumers.get(node.name, [])
        if node is nodes[-1]:
            names[node.name] = "outputs"
        elif users == [node.index + 1]:
            names[node.name] = "x"
        else:
            names[node.name] = _identifier(node.name, taken, reserved)
    return names


def _functional(nodes, float32=None) -> str:
    names = _variables(nodes, SCRIPT_NAMES)
    lines = ["inputs = keras.Input(shape=input_shape)"]
    for node in nodes:
        args = [names[ref] for ref in node.inputs]
        argument = f"[{', '.join(args)}]" if len(args) > 1 else args[0]
        lines.append(f"{names[node.name]} = {_expression(node, float32)}({argument})")
    lines.append("model = keras.Model(inputs=inputs, outputs=outputs)")
    return "\n".join(lines)


def _subclassing(nodes, float32=None) -> ModelParts:
    attributes: dict[str, str] = {}
    taken: set = set()
    for node in nodes:
        attributes[node.name] = _identifier(node.name, taken, MODEL_ATTRIBUTES | {"self", "training"})
    names = _variables(nodes, {"self", "training", "inputs", "outputs", "x"})
    training = any(node.spec.type in TRAINING_AWARE for node in nodes)
    init = ["class MyModel(keras.Model):", "    def __init__(self):", "        super().__init__()"]
    init += [f"        self.{attributes[node.name]} = {_expression(node, float32)}" for node in nodes]
    signature = "self, inputs, training=False" if training else "self, inputs"
    call = ["", f"    def call({signature}):"]
    for node in nodes:
        args = [names[ref] for ref in node.inputs]
        argument = f"[{', '.join(args)}]" if len(args) > 1 else args[0]
        if node.spec.type in TRAINING_AWARE:
            argument += ", training=training"
        call.append(f"        {names[node.name]} = self.{attributes[node.name]}({argument})")
    call.append("        return outputs")
    return ModelParts("\n".join(init + call), "model = MyModel()")


# --- header, imports, seeds --------------------------------------------------------------------------

API_WORDS = {
    "sequential": "the Sequential API",
    "functional": "the Functional API",
    "subclassing": "a keras.Model subclass",
}
LOOP_WORDS = {"fit": "model.compile + model.fit", "tape": "a custom tf.GradientTape training loop",
              "train_step": "model.fit with a custom train_step (tf.GradientTape inside)"}


def _header(experiment, api, loop) -> str:
    # repr's escapes (newlines, backslashes, NUL) keep the docstring one valid string whatever the name.
    name = repr(experiment.name)[1:-1].replace('"""', "'''")
    return (f'"""{name}\n\n'
            f"The model written with {API_WORDS[api]},\n"
            f"trained with {LOOP_WORDS[loop]}.\n"
            f"Exported from Tapedeck; runs on its own with TensorFlow 2 (Keras 3) and NumPy.\n"
            f'"""')


# Import lines in the order a person would write them; data and training say which they need.
IMPORT_LINES = {
    "gzip": "import gzip",
    "io": "import io",
    "math": "import math",
    "pickle": "import pickle",
    "struct": "import struct",
    "tarfile": "import tarfile",
    "zipfile": "import zipfile",
    "pathlib": "from pathlib import Path",
    "types": "import types",
    "np": "import numpy as np",
    "tf": "import tensorflow as tf",
    "keras": "import keras",
    "layers": "from keras import layers",
    "load_digits": "from sklearn.datasets import load_digits",
}


def _imports(needed: set) -> str:
    needed = set(needed) | {"keras", "layers", "np"}
    std = [IMPORT_LINES[k] for k in ("gzip", "io", "math", "pickle", "struct", "tarfile", "types", "zipfile", "pathlib")
           if k in needed]
    third = [IMPORT_LINES[k] for k in ("np", "tf", "keras", "layers") if k in needed]
    extra = [IMPORT_LINES[k] for k in ("load_digits",) if k in needed]
    return "\n\n".join("\n".join(group) for group in (std, third + extra) if group)


def _precision_code(training) -> str:
    if training.precision == "float32":
        return ""
    return "\n".join([
        f"# {training.precision}: layers compute in 16 bits and keep float32 weights; the output layer",
        "# stays in float32 (softmax and the loss need the precision).",
        f"keras.config.set_dtype_policy({training.precision!r})",
    ])


def _seed_code(training) -> str:
    lines = []
    if training.seed is not None:
        lines.append("# One call seeds Python's random, NumPy and TensorFlow.")
        lines.append(f"keras.utils.set_random_seed({training.seed})")
    if training.deterministic:
        lines.append("# Same results on every run, at some cost in speed.")
        lines.append("tf.config.experimental.enable_op_determinism()")
    return "\n".join(lines)
