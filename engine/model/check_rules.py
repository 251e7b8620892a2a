"""The plain-word rules of the shape check: the mistakes people make, and the fix for each.

Keras accepts some of these stacks and only fails inside fit (Dense on an image,
a loss that double-applies softmax), and for others it answers in terms of tensors
and kernels. These rules run before Keras and speak in the words of the layer form.
Every function here returns messages; none raises, none imports Keras.
"""
from __future__ import annotations

from tapedeck.engine.spec import catalogue, graph
from tapedeck.engine.text import is_number

SPARSE_LOSS = "sparse_categorical_crossentropy"
ONE_HOT_LOSS = "categorical_crossentropy"
BINARY_LOSS = "binary_crossentropy"

# Layers whose output carries their input's activation unchanged (for finding the output activation).
_PASS_THROUGH = {"Dropout", "SpatialDropout2D", "Flatten", "Reshape", "GaussianNoise", "GaussianDropout",
                 "ActivityRegularization"}
# Activation layers with parameters of their own: the activation each applies.
_ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "ELU": "elu",
                      "Softmax": "softmax"}
# Layers whose window grows the image rather than shrinking it: no "window larger than the input" rule.
_GROWING = {"Conv2DTranspose"}
# Layers whose `kernel_size` / `pool_size` window slides over height and width.
_WINDOW_PARAMS = ("kernel_size", "pool_size")
_UNKNOWN = object()


def shape_text(shape) -> str:
    dims = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def param_value(spec, layer_type, name):
    """The value a layer will get: the file's, else the catalogue's default."""
    if name in spec.params:
        return spec.params[name]
    param = layer_type.param(name)
    return None if param is None else param.default


def _has_param(layer_type, name) -> bool:
    return layer_type.param(name) is not None



def _pair(value):
    if isinstance(value, (list, tuple)):
        return tuple(value) if len(value) == 2 else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    return None


# ---------------------------------------------------------------- one layer


def shape_problems(node, layer_type, inputs) -> list[str]:
    """Problems of one layer with valid values, given its inputs [(name, shape)] (no batch axis)."""
    problems = _axis_problems(node.spec, layer_type, inputs[0][1])
    if problems:
        return problems
    if layer_type.spatial:
        problems += _spatial_problems(node.spec.type, inputs[0])
    if not problems and node.spec.type not in _GROWING:
        problems += _window_problems(node.spec, layer_type, inputs[0][1])
    if not problems:
        problems += _size_problems(node.spec, layer_type, inputs[0][1])
    if layer_type.merge and layer_type.max_inputs and len(inputs) > layer_type.max_inputs:
        return problems + [f"{node.spec.type} takes exactly {layer_type.max_inputs} inputs, but it receives "
                           f"{len(inputs)}; keep {layer_type.max_inputs} in its inputs (for more, chain "
                           f"several {node.spec.type} layers)."]
    if layer_type.merge and len(inputs) >= 2 and node.spec.type != "Dot":   # Dot: Keras checks its axes
        problems += _merge_problems(node.spec, layer_type, inputs)
    return problems


def _size_problems(spec, layer_type, shape) -> list[str]:
    """Cropping that leaves nothing, channel groups that do not divide the channels."""
    if spec.type == "Cropping2D" and len(shape) == 3 and None not in shape[:2]:
        value = param_value(spec, layer_type, "cropping")
        try:
            (top, bottom), (left, right) = catalogue.as_pairs(value)
        except (TypeError, ValueError):
            return []
        if top + bottom >= shape[0] or left + right >= shape[1]:
            return [f"cropping removes {top + bottom} rows and {left + right} columns from a "
                    f"{shape[0]}×{shape[1]} input (height × width), so nothing is left; crop less, or crop "
                    f"before the pooling that shrank the image."]
    if spec.type == "GroupNormalization" and shape and shape[-1] is not None:
        groups, channels = param_value(spec, layer_type, "groups"), shape[-1]
        axis = param_value(spec, layer_type, "axis")
        if axis in (-1, len(shape)) and isinstance(groups, int) and groups > 0 and channels % groups:
            divisors = [d for d in range(1, channels + 1) if channels % d == 0]
            return [f"groups {groups} does not divide the input's {channels} channels, so they cannot be "
                    f"split into equal groups; use one of {', '.join(map(str, divisors))}."]
    return []


def value_problems(spec, layer_type) -> dict[str, str]:
    """Sizes and rates that cannot work, by parameter name, in words that say what the value means."""
    problems = {}
    sizes = {"units": "the number of values this layer outputs",
             "filters": "the number of feature maps this layer outputs"}
    for name, meaning in sizes.items():
        value = spec.params.get(name)
        if _has_param(layer_type, name) and is_number(value) and value <= 0:
            problems[name] = (f"{name} must be a positive whole number ({meaning}); received {value}. "
                            f"Set {name} to 1 or more.")
    rate = spec.params.get("rate")
    if _has_param(layer_type, "rate") and is_number(rate) and not 0 <= rate < 1:
        problems["rate"] = (f"rate is the fraction of values dropped during training and must be "
                            f"from 0 up to (not including) 1; received {rate}. Try 0.2 to 0.5.")
    return problems


def _axis_problems(spec, layer_type, shape) -> list[str]:
    if not _has_param(layer_type, "axis"):
        return []
    axis = param_value(spec, layer_type, "axis")
    if not isinstance(axis, int) or isinstance(axis, bool):
        return []
    rank = len(shape)
    if 1 <= axis <= rank or -rank <= axis <= -1:
        return []
    axes = f"1 to {rank}, or -1 to -{rank} counting from the end; -1 is the channels (last) axis"
    if axis in (0, -(rank + 1)):
        return [f"axis {axis} is the batch axis (one entry per example); use an axis of the example "
                f"itself: {axes}."]
    return [f"axis {axis} does not exist: the input {shape_text(shape)} has axes {axes} "
            f"(0 is the batch)."]


def _spatial_problems(type_name, source) -> list[str]:
    name, shape = source
    if len(shape) == 3:
        return []
    where = "the model input" if name == graph.INPUT else f"'{name}'"
    if len(shape) == 1:
        return [f"{type_name} needs an image-shaped input (height, width, channels), but {where} gives "
                f"a flat vector {shape_text(shape)}: after Flatten (or a Dense on a vector) the image is "
                f"gone. Move this layer before the Flatten."]
    return [f"{type_name} needs an image-shaped input (height, width, channels), but {where} gives "
            f"shape {shape_text(shape)}; add a Reshape to (height, width, channels) before it."]


def _window_problems(spec, layer_type, shape) -> list[str]:
    if len(shape) != 3 or shape[0] is None or shape[1] is None:
        return []
    if param_value(spec, layer_type, "padding") == "same":
        return []
    for param in _WINDOW_PARAMS:
        if not _has_param(layer_type, param):
            continue
        window = _pair(param_value(spec, layer_type, param))
        if window is None:
            return []
        dilation = _pair(param_value(spec, layer_type, "dilation_rate")) or (1, 1)
        reach = tuple(d * (k - 1) + 1 for k, d in zip(window, dilation))
        if reach[0] > shape[0] or reach[1] > shape[1]:
            what = f"{param} {window[0]}×{window[1]}"
            if reach != window:
                what += f" (dilated to {reach[0]}×{reach[1]})"
            return [f"{what} is larger than its {shape[0]}×{shape[1]} input (height × width), so no "
                    f"output is left; use a smaller {param}, padding=\"same\", or less pooling before "
                    f"this layer."]
    return []


def _merge_problems(spec, layer_type, inputs) -> list[str]:
    listing = ", ".join(f"{'the model input' if n == graph.INPUT else repr(n)} {shape_text(s)}"
                        for n, s in inputs)
    shapes = [s for _, s in inputs]
    if spec.type == "Concatenate":
        axis = param_value(spec, layer_type, "axis")
        axis = -1 if axis is None else axis
        if _concatenable(shapes, axis):
            return []
        return [f"Concatenate joins its inputs along axis {axis}, so they must agree on every other "
                f"axis, but it receives {listing}. Give both branches the same height and width "
                f"(same padding and pooling), or Flatten each branch before joining."]
    if all(_same_shape(shapes[0], s) for s in shapes[1:]):
        return []
    return [f"{spec.type} combines its inputs element by element, so they must have one shape, but "
            f"it receives {listing}. Make the branches match: for a skip connection use "
            f"padding=\"same\" and the same number of filters, or a 1×1 Conv2D on the shortcut."]


def _same_shape(a, b) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _concatenable(shapes, axis) -> bool:
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        return False
    axis %= rank + 1  # Keras counts the batch axis as 0; _axis_problems has ruled out 0
    others = [tuple(d for i, d in enumerate(s) if i != axis - 1) for s in shapes]
    return all(_same_shape(others[0], o) for o in others[1:])


# ---------------------------------------------------------------- whole model


def training_problems(experiment, num_classes) -> list[str]:
    """Loss against labels and class count: nothing to do with shapes, so always checked."""
    loss = experiment.training.loss
    labels = experiment.data.labels
    problems = []
    if loss == BINARY_LOSS and num_classes is not None and num_classes > 2:
        problems.append(f"training.loss is {BINARY_LOSS}, which is for two classes, but the data has "
                        f"{num_classes} classes; use {SPARSE_LOSS} (or {ONE_HOT_LOSS} with one-hot "
                        f"labels).")
    if loss == SPARSE_LOSS and labels == "one_hot":
        problems.append(f"training.loss {SPARSE_LOSS} expects integer class labels, but data.labels is "
                        f"one_hot; set data.labels to sparse, or training.loss to {ONE_HOT_LOSS}.")
    scaled = [spec.name or spec.type for spec in experiment.model.layers if spec.lr_multiplier != 1.0]
    if scaled and experiment.training.loop == "fit":
        problems.append(f"lr_multiplier on {', '.join(scaled)}: model.fit applies one learning rate to every "
                        f"layer; choose the GradientTape loop or a custom train_step, or set it back to 1")
    if loss == ONE_HOT_LOSS and labels == "sparse":
        problems.append(f"training.loss {ONE_HOT_LOSS} expects one-hot labels, but data.labels is sparse "
                        f"(integer labels); set training.loss to {SPARSE_LOSS}, or data.labels to "
                        f"one_hot.")
    from tapedeck.engine.spec.backbones import backbone_problems  # the fine-tuning schedule's rules

    return problems + backbone_problems(experiment)


def output_rank_problem(nodes, shapes, num_classes):
    """(layer index, message) when the output is not one vector per example, else None.

    Keras accepts Dense on a 4-D input and only fails inside fit, so this is checked here.
    The blame goes to the first Dense that received an image (the forgotten Flatten), or
    else to the last layer.
    """
    output = nodes[-1]
    out_shape = shapes[output.name]
    if len(out_shape) == 1:
        return None
    ancestors = _ancestors(nodes, output.name)
    for node in nodes:
        if node.spec.type == "Dense" and node.name in ancestors:
            in_shape = shapes.get(node.inputs[0])
            if in_shape is not None and len(in_shape) >= 2:
                kind = "an image-shaped" if len(in_shape) == 3 else "a multi-axis"
                return node.index, (
                    f"Dense receives {kind} input {shape_text(in_shape)} and acts on its last axis "
                    f"only, so the model's output stays {shape_text(out_shape)} per example instead of "
                    f"one vector of class scores; add a Flatten (or GlobalAveragePooling2D) layer "
                    f"before this Dense.")
    classes = f"{num_classes} " if num_classes else ""
    units = num_classes if num_classes else "the number of classes"
    return output.index, (
        f"the model's last layer outputs shape {shape_text(out_shape)} per example, but a classifier "
        f"must output one vector of {classes}class scores per example; end the stack with Flatten "
        f"(or GlobalAveragePooling2D) and a Dense layer with units={units}.")


def _ancestors(nodes, name) -> set[str]:
    by_name = {node.name: node for node in nodes}
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in by_name:
            continue
        seen.add(current)
        todo += by_name[current].inputs
    return seen


def output_problems(nodes, width, experiment, num_classes) -> list[str]:
    """Width (None when unknown) and activation of the last layer against the classes and the loss.

    The activation does not depend on shapes, so it is checked even when an earlier layer failed.
    """
    output = nodes[-1]
    training = experiment.training
    activation = output_activation(nodes)
    label = f"The last layer '{output.name}' ({output.spec.type})"
    problems = []
    binary = training.loss == BINARY_LOSS
    if width == 1 and activation == "softmax":
        fix = ('use activation="sigmoid" for a single output with binary_crossentropy' if binary
               else f"set units to {num_classes}, one per class" if num_classes
               else "set units to the number of classes")
        problems.append(f"{label} outputs 1 value through softmax, and softmax over one value is "
                        f"always 1.0, so the model cannot learn; {fix}.")
    elif num_classes and width is not None and not (binary and num_classes > 2):
        expected = 1 if binary and experiment.data.labels == "sparse" else num_classes
        if width != expected:
            set_units = ("set its units to" if _has_units(output)
                         else "end the stack with a Dense layer with units =")
            why = (f"{BINARY_LOSS} with integer labels needs 1 output (the probability of class 1)"
                   if expected == 1 and binary else f"the data has {num_classes} classes")
            problems.append(f"{label} outputs {width} values per example, but {why}; "
                            f"{set_units} {expected}.")
    problems += _logits_problems(label, activation, training, binary)
    return problems


def _has_units(node) -> bool:
    try:
        return _has_param(catalogue.layer_type(node.spec.type), "units")
    except KeyError:
        return False


def _logits_problems(label, activation, training, binary) -> list[str]:
    if activation is _UNKNOWN:
        return []
    probability = "sigmoid" if binary else "softmax"
    if training.from_logits and activation in ("softmax", "sigmoid"):
        return [f"{label} applies {activation}, so it already outputs probabilities, but "
                f"training.from_logits is true and the loss would apply {probability} a second time; "
                f"set training.from_logits to false, or remove the layer's activation."]
    if not training.from_logits and activation == "linear":
        return [f"{label} has no activation, so it outputs raw scores (logits), but "
                f"training.from_logits is false and the loss expects probabilities; set "
                f"training.from_logits to true, or give the last layer activation=\"{probability}\"."]
    if not training.from_logits and activation not in ("softmax", "sigmoid", "linear"):
        return [f"{label} ends with {activation}, which does not give probabilities, but the loss "
                f"expects them (training.from_logits is false); use activation=\"{probability}\" on "
                f"the last layer."]
    return []


def output_activation(nodes):
    """The activation the model's output passes through last; _UNKNOWN when it cannot be told."""
    by_name = {node.name: node for node in nodes}
    node = nodes[-1]
    while True:
        try:
            layer_type = catalogue.layer_type(node.spec.type)
        except KeyError:
            return _UNKNOWN
        if node.spec.type in _ACTIVATION_LAYERS:
            return _ACTIVATION_LAYERS[node.spec.type]
        if node.spec.type == "Activation" or _has_param(layer_type, "activation"):
            value = param_value(node.spec, layer_type, "activation")
            return "linear" if value is None else value
        if node.spec.type not in _PASS_THROUGH or len(node.inputs) != 1:
            return _UNKNOWN
        if node.inputs[0] not in by_name:
            return _UNKNOWN
        node = by_name[node.inputs[0]]


def precision_warning(precision: str) -> str | None:
    """16-bit precisions pay off only on hardware that computes them: float16 on GPUs, bfloat16 on
    GPUs and on CPUs with bfloat16 units (engine.model.cpu); elsewhere they are emulated and slower."""
    if precision == "float32":
        return None
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        return None
    from tapedeck.engine.model import cpu

    slow_bf16 = cpu.bfloat16_slow_note()
    if precision == "mixed_bfloat16":
        return f"training.precision mixed_bfloat16: {slow_bf16}" if slow_bf16 else None
    if slow_bf16:
        return ("training.precision mixed_float16 without a GPU runs slower than float32 on this CPU, "
                "and so would mixed_bfloat16 (no bfloat16 units); use float32")
    return ("training.precision mixed_float16 without a GPU runs slower than float32 on this CPU; "
            "mixed_bfloat16 is the 16-bit choice for CPUs (fast where they have AMX or AVX512-BF16)")
