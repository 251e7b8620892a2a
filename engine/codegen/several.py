"""Code export for a model of several inputs or several heads (``engine.spec.heads.is_multi``): the model
written with dicts, and the data as dicts of the named arrays its inputs and heads read.

The tutorial's reason for the Functional API is exactly this model, so the script says it plainly: a
``keras.Input`` per input and ``keras.Model(inputs={...}, outputs={...})``, or a subclass whose ``call``
takes a dict by input name and returns a dict by head name. The data part loads the same arrays the app
feeds (npz ``x_train_<input>`` / ``y_train_<target>``, CIFAR-100's fine and coarse labels, the derived
``parity`` written out as ``label % 2``) and cuts them with the same limit and validation split, so the
script trains on the same examples. Sequential is one input to one output and is refused in words.
One input and one head never come here: their scripts stay as they always were.
"""
from __future__ import annotations

from dataclasses import dataclass

from tapedeck.engine.codegen import data as data_code_module
from tapedeck.engine.codegen.data import SEED, DataCode, literal, section
from tapedeck.engine.spec import graph, heads

__all__ = ["HeadCode", "head_codes", "several_words", "functional_code", "subclassing_parts", "several_data_code",
           "MULTI_NAMES"]

# Module-level names the several-head script adds; a layer variable must not shadow them.
MULTI_NAMES = frozenset("""
    train val test features model_inputs model_targets input_shapes num_train loss_objects loss_weights
    train_metrics test_metrics total_loss results metrics inputs targets per_example_loss values part key name
    head metric input
""".split())

LOSSES = {
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
    "mean_squared_error": "MeanSquaredError",
    "mean_absolute_error": "MeanAbsoluteError",
}
ACCURACIES = {
    "sparse_categorical_crossentropy": "SparseCategoricalAccuracy",
    "categorical_crossentropy": "CategoricalAccuracy",
    "binary_crossentropy": "BinaryAccuracy",
}


@dataclass
class HeadCode:
    """One head as the script spells it: its name (the dict key and the layer's name), target, loss and weight."""

    name: str
    target: str
    loss: str
    loss_weight: float
    from_logits: bool

    @property
    def regression(self) -> bool:
        return heads.is_regression(self.loss)

    @property
    def metric(self) -> str:
        """Keras's name for the head's figure: ``accuracy``, or ``mae`` for a regression head."""
        return "mae" if self.regression else "accuracy"

    @property
    def words(self) -> str:
        return "MAE" if self.regression else "accuracy"

    def loss_expression(self, per_example: bool = False) -> str:
        args = ["from_logits=True"] if self.from_logits and not self.regression else []
        if per_example:
            args.append("reduction=None")
        return f"keras.losses.{LOSSES[self.loss]}({', '.join(args)})"

    def fit_metric(self) -> str:
        """What ``compile(metrics={head: [...]})`` lists: Keras names it ``<head>_accuracy`` / ``<head>_mae``."""
        if self.regression:
            return '"mae"'
        if self.loss == "binary_crossentropy" and self.from_logits:
            return 'keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)'
        return '"accuracy"'

    def metric_expression(self) -> str:
        """The tape loop's running metric, named as fit names it (``digit_accuracy``)."""
        name = f'name="{self.name}_{self.metric}"'
        if self.regression:
            return f"keras.metrics.MeanAbsoluteError({name})"
        extra = ", threshold=0.0" if self.loss == "binary_crossentropy" and self.from_logits else ""
        return f"keras.metrics.{ACCURACIES[self.loss]}({name}{extra})"


def head_codes(experiment) -> list[HeadCode]:
    nodes, _problems = graph.resolve_model(experiment.model)
    return [HeadCode(h.layer, h.target, h.loss, float(h.loss_weight), bool(h.from_logits))
            for h in heads.heads_of(experiment.model, [n.name for n in nodes], experiment.training)]


several_words = heads.several_words   # one wording for the check, the builders and the export


def _variables(nodes, input_names, head_names, identifier, reserved) -> dict[str, str]:
    """Which variable holds each value: each input and head under its own name, ``x`` for a value only the
    very next layer reads, the layer's name for one a later layer reaches back to."""
    consumers: dict[str, list[int]] = {}
    for node in nodes:
        for ref in node.inputs:
            consumers.setdefault(ref, []).append(node.index)
    taken: set = set()
    names = {name: identifier(name, taken, reserved) for name in input_names}
    for node in nodes:
        if node.name in head_names or consumers.get(node.name, []) != [node.index + 1]:
            names[node.name] = identifier(node.name, taken, reserved)
        else:
            names[node.name] = "x"
    return names


def _dict_lines(pairs, indent: str) -> list[str]:
    return [f"{indent}{literal(key)}: {value}," for key, value in pairs]


def functional_code(nodes, input_names, head_names, expression, identifier, reserved) -> str:
    names = _variables(nodes, input_names, head_names, identifier, reserved | MULTI_NAMES)
    lines = ["# One keras.Input per input, named as the data dicts are keyed."]
    lines += [f"{names[n]} = keras.Input(shape=input_shapes[{literal(n)}], name={literal(n)})" for n in input_names]
    for node in nodes:
        args = [names[ref] for ref in node.inputs]
        argument = f"[{', '.join(args)}]" if len(args) > 1 else args[0]
        lines.append(f"{names[node.name]} = {expression(node)}({argument})")
    lines += ["# Dicts in and out: fit matches each head's loss and target by these names.", "model = keras.Model(",
              "    inputs={", *_dict_lines([(n, names[n]) for n in input_names], " " * 8), "    },",
              "    outputs={", *_dict_lines([(h, names[h]) for h in head_names], " " * 8), "    },", ")"]
    return "\n".join(lines)


def subclassing_parts(nodes, input_names, head_names, expression, identifier, attributes, training_aware) -> tuple:
    """(class text, build text) of the subclass whose ``call`` takes and returns dicts."""
    names = _variables(nodes, input_names, head_names, identifier, {"self", "training", "inputs", "x"})
    training = any(node.spec.type in training_aware for node in nodes)
    init = ["class MyModel(keras.Model):", "    def __init__(self):", "        super().__init__()"]
    init += [f"        self.{attributes[node.name]} = {expression(node)}" for node in nodes]
    signature = "self, inputs, training=False" if training else "self, inputs"
    call = ["", f"    def call({signature}):",
            "        # inputs: a dict by input name; the result: a dict by head name."]
    call += [f"        {names[n]} = inputs[{literal(n)}]" for n in input_names]
    for node in nodes:
        args = [names[ref] for ref in node.inputs]
        argument = f"[{', '.join(args)}]" if len(args) > 1 else args[0]
        if node.spec.type in training_aware:
            argument += ", training=training"
        call.append(f"        {names[node.name]} = self.{attributes[node.name]}({argument})")
    call += ["        return {", *_dict_lines([(h, names[h]) for h in head_names], " " * 12), "        }"]
    return "\n".join(init + call), "model = MyModel()"


# --- the data ----------------------------------------------------------------------------------------------

def _source_code(data, wanted_x: list[str], wanted_y: list[str], labels: bool = True):
    """The source's own lines (as for one head) with the named arrays loaded beside the images and labels
    (``labels=False``: an npz read without its plain y_train / y_test, which no head reads)."""
    source = data.source
    if source == "digits":
        lines, imports, scale, _ = data_code_module._digits()
    elif source in data_code_module.KERAS_MODULES:
        lines, imports, scale, _ = data_code_module._keras_set(data)
        for target in wanted_y:   # cifar100: the other label mode is a second load
            lines += [f"(_, y_train_{target}), (_, y_test_{target}) = keras.datasets.cifar100.load_data("
                      f"label_mode={literal(target)})",
                      f"y_train_{target}, y_test_{target} = y_train_{target}.reshape(-1), y_test_{target}.reshape(-1)"]
    elif source == "npz":
        lines, imports, scale, _ = data_code_module._npz(data, labels)
        named = [f'    x_train_{k[2:]}, x_test_{k[2:]} = archive["x_train_{k[2:]}"], archive["x_test_{k[2:]}"]'
                 for k in wanted_x]
        named += [f"    y_train_{t}, y_test_{t} = archive[\"y_train_{t}\"], archive[\"y_test_{t}\"]" for t in wanted_y]
        if named:
            named.insert(0, "    # The named arrays this model's other inputs and heads read.")
        lines = lines[:3] + named + lines[3:]
    elif source == "idx":
        lines, imports, scale, _ = data_code_module._idx(data)
    elif source == "cifar":
        lines, imports, scale, _ = data_code_module._cifar(data)
        if wanted_y:
            at = lines.index('if "test_batch" in files:  # CIFAR-10: data_batch_1 ... data_batch_5 and test_batch') + 1
            lines.insert(at, '    raise SystemExit("this model reads CIFAR-100\'s fine and coarse labels; '
                             'data.path holds CIFAR-10 files")')
            for target in wanted_y:
                key = repr(f"{target}_labels".encode())
                lines += [f'    _, y_train_{target} = cifar_batch("train", {key})',
                          f'    _, y_test_{target} = cifar_batch("test", {key})']
    else:
        return data_code_module.data_code(data)   # raises the unknown-source message
    return lines, imports, scale


def _target_key(data, target: str) -> str:
    """Which stored array a target is: the labels (``label``, or CIFAR-100's label mode), else its own name."""
    if target == heads.DEFAULT_TARGET or (data.source in ("cifar100", "cifar") and target == data.label_mode):
        return heads.DEFAULT_TARGET
    return target


def _derived(data, target: str) -> bool:
    from tapedeck.engine.data.targets import DERIVED

    return data.source in DERIVED.get(target, ())


def _classes(data, target: str) -> str:
    """The class count of a one-hot target, as the app counts it."""
    if _derived(data, target):
        return "2"
    key = _target_key(data, target)
    known = {"fine": "100", "coarse": "20"}
    if key == heads.DEFAULT_TARGET:
        if data.source in ("digits", "mnist", "fashion_mnist", "cifar10"):
            return "10"
        if data.source in ("cifar100", "cifar") and data.label_mode in known:
            return known[data.label_mode]
    if key in known and data.source in ("cifar100", "cifar"):
        return known[key]
    return f'int(max(train["{key}"].max(), test["{key}"].max())) + 1'


def _target_expression(data, head: HeadCode) -> tuple[list[str], str]:
    """(comment lines, expression on ``part``) for a head's target."""
    if _derived(data, head.target):
        comment = [f"# {head.target} is derived, not stored in the data set: the label modulo 2 (0 even, 1 odd)."]
        values = 'part["label"].astype(np.int64) % 2'
    else:
        comment, values = [], f'part["{_target_key(data, head.target)}"]'
    if head.regression:
        return comment, f'{values}.astype("float32")'
    if not _derived(data, head.target):
        values += ".astype(np.int64)"
    if head.loss == "categorical_crossentropy":
        return comment, f"keras.utils.to_categorical({values}, {_classes(data, head.target)})"
    if head.loss == "binary_crossentropy":
        return comment, f'{values}.astype("float32")'
    return comment, values


def several_data_code(data, inputs, head_list: list[HeadCode]) -> DataCode:
    """The data section: ``x_train`` / ``y_train`` (and val, test) as dicts by input and head name."""
    wanted_x = list(dict.fromkeys(i.data for i in inputs if i.data != heads.DEFAULT_DATA))
    stored = [_target_key(data, h.target) for h in head_list if not _derived(data, h.target)]
    wanted_y = list(dict.fromkeys(t for t in stored if t != heads.DEFAULT_TARGET))
    # The labels are loaded where a head reads them (or a target derived from them), and always from the
    # sources that have them anyway; an npz whose heads all name their own targets may lack them.
    labels = data.source != "npz" or heads.DEFAULT_TARGET in stored or len(stored) < len(head_list)
    lines, imports, scale = _source_code(data, wanted_x, wanted_y, labels)
    imports = set(imports) | {"np"}
    arrays = [("x", "x_train", "x_test"), *[(k, f"x_train_{k[2:]}", f"x_test_{k[2:]}") for k in wanted_x],
              *[("label", "y_train", "y_test")] * labels, *[(t, f"y_train_{t}", f"y_test_{t}") for t in wanted_y]]
    lines = [section("Data"), *lines, "",
             "# Every array by name: the limit and the validation split below cut them all alike."]
    for index, split in ((1, "train"), (2, "test")):
        lines.append(f"{split} = {{{', '.join(f'{literal(entry[0])}: {entry[index]}' for entry in arrays)}}}")
    if data.limit is not None:
        lines += ["", f"# Only the first {data.limit} training examples.",
                  f"train = {{key: values[:{data.limit}] for key, values in train.items()}}"]
    split = data.validation_split
    if split > 0:
        lines += [
            "",
            f"# Hold out {split:.0%} of the training examples (a fixed random choice) for validation.",
            f'num_val = max(1, round(len(train["x"]) * {split!r}))',
            f'val_index = np.sort(np.random.default_rng({SEED}).permutation(len(train["x"]))[:num_val])',
            'train_index = np.setdiff1d(np.arange(len(train["x"])), val_index)',
            "val = {key: values[val_index] for key, values in train.items()}",
            "train = {key: values[train_index] for key, values in train.items()}",
        ]
    scale_text = scale if isinstance(scale, str) else repr(float(scale))
    if data.normalize:
        prepare = [f'    """float32 pixels in [0, 1] (divided by {scale_text}), with a channel axis (N, H, W, C)."""',
                   f'    images = images.astype("float32") / {scale_text}']
        feature = ['    """A named input as float32; 8-bit values are scaled to [0, 1] like the images."""',
                   '    return values.astype("float32") / (255.0 if values.dtype == np.uint8 else 1.0)']
    else:
        prepare = ['    """float32 pixels with a channel axis (N, H, W, C)."""',
                   '    images = images.astype("float32")']
        feature = ['    """A named input as float32."""', '    return values.astype("float32")']
    lines += ["", "", "def prepare(images):", *prepare,
              "    return images[..., np.newaxis] if images.ndim == 3 else images"]
    if wanted_x:
        lines += ["", "", "def features(values):", *feature]
    lines += ["", "", "def model_inputs(part):", '    """The model\'s inputs by input name."""', "    return {"]
    for spec in inputs:
        value = 'prepare(part["x"])' if spec.data == heads.DEFAULT_DATA else f'features(part["{spec.data}"])'
        lines.append(f"        {literal(spec.name)}: {value},")
    lines += ["    }", "", "", "def model_targets(part):", '    """Each head\'s target by head name."""',
              "    return {"]
    for head in head_list:
        comment, value = _target_expression(data, head)
        lines += [f"        {line}" for line in comment] + [f"        {literal(head.name)}: {value},"]
    lines += ["    }", "", ""]
    parts = ("train", "val", "test") if split > 0 else ("train", "test")
    lines += [f"x_{p}, y_{p} = model_inputs({p}), model_targets({p})" for p in parts]
    lines += ["input_shapes = {name: values.shape[1:] for name, values in x_train.items()}",
              'num_train = len(train["x"])']
    if any(h.loss == "categorical_crossentropy" for h in head_list):
        imports.add("keras")
    return DataCode(text="\n".join(lines), imports=imports)
