"""The experiment file as plain data: what to train on, which layers, how to train.

One JSON file serves the GUI, the command line and the tests. ``from_dict`` refuses anything it does
not understand (unknown keys, wrong types, out-of-range values) and lists every problem with its key
path at once, so a hand-edited file is fixed in one pass and nothing is silently dropped.
No Keras import here: the window loads experiments before TensorFlow is ready.
"""
from __future__ import annotations

import copy as _copy
import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.files import write_text_atomic
from tapedeck.engine.spec import catalogue
from tapedeck.engine.spec.heads import HeadSpec, InputSpec, read_inputs, read_outputs
from tapedeck.engine.spec.json_text import MAX_NESTING, DuplicateKeyError, TooDeepError, read_json_text
from tapedeck.engine.spec.objectives import OBJECTIVES, ObjectiveSpec, read_model_optimizer, read_objective
from tapedeck.engine.spec.value_rules import _bool, _choice, _float, _int, _int_or_auto, _size_pair, _text
from tapedeck.engine.text import shown

__all__ = [
    "FORMAT", "MIGRATIONS", "DEFAULT_PRESET", "ExperimentError",
    "LayerSpec", "DataSpec", "ModelSpec", "TrainingSpec", "Experiment",
    "load_experiment", "save_experiment", "loads", "dumps", "load_preset", "list_presets",
    "SOURCES", "FILE_SOURCES", "APIS", "LOOPS", "OPTIMIZERS", "LOSSES", "SCHEDULES", "MONITORS", "DISTRIBUTES",
    "EXECUTIONS", "PRECISIONS", "STREAMINGS",
]

FORMAT = "tapedeck/1"
DEFAULT_PRESET = "digits_cnn"
PRESET_PACKAGE = "tapedeck.resources.presets"

# Upgrades for older files: MIGRATIONS[old_format](dict) -> dict in a newer format (with its "format"
# set). from_dict applies them in turn until the file reads FORMAT. Empty while only one format exists.
MIGRATIONS: dict[str, Callable[[dict], dict]] = {}

SOURCES = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "idx", "cifar", "npz", "folder")
FILE_SOURCES = ("idx", "cifar", "npz", "folder")
APIS = ("sequential", "functional", "subclassing")
LOOPS = ("fit", "tape", "train_step")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")
SCHEDULES = ("constant", "step", "cosine", "plateau")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
HEAD_MONITOR = re.compile(r"(val_)?[A-Za-z_][A-Za-z0-9_]*_(loss|accuracy|mae)")   # one head's figure
DISTRIBUTES = ("none", "auto", "mirrored", "multi_worker")
EXECUTIONS = ("graph", "eager", "xla")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STREAMINGS = ("auto", "on", "off")


class ExperimentError(TapedeckError):
    """Every problem found in one experiment; each line names the key path (and the file, if any)."""

    def __init__(self, problems, source=None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = str(source) if source is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(prefix + p for p in self.problems)


# --- the dataclasses ----------------------------------------------------------------------------------

@dataclass
class LayerSpec:
    """One layer: a Keras class name and its constructor arguments (JSON values, lists not tuples)."""

    type: str
    params: dict = field(default_factory=dict)
    name: str | None = None
    inputs: list[str] | None = None
    trainable: bool = True   # false: the layer's weights stay as they are (frozen) in every loop
    lr_multiplier: float = 1.0   # this layer learns at lr × multiplier (GradientTape loop and train_step)

    def to_dict(self) -> dict:
        result = {"type": self.type}
        if self.name is not None:
            result["name"] = self.name
        if self.inputs is not None:
            result["inputs"] = list(self.inputs)
        if not self.trainable:
            result["trainable"] = False
        if self.lr_multiplier != 1.0:
            result["lr_multiplier"] = self.lr_multiplier
        result.update(_copy.deepcopy(self.params))
        return result


@dataclass
class DataSpec:
    source: str = "digits"
    path: str | None = None
    validation_split: float = 0.1
    limit: int | None = None
    normalize: bool = True
    label_mode: str = "fine"
    image_size: list[int] | None = None
    color_mode: str = "rgb"
    labels: str = "sparse"
    streaming: str = "auto"        # file sources: on = read from disk batch by batch (tf.data), off = load whole
    memory_budget_mb: int = 1024   # auto streams a set whose decoded float32 images exceed this many MiB
    cache: str | None = None       # streamed: decoded images cached to files with this path prefix


@dataclass
class ModelSpec:
    api: str = "sequential"
    layers: list[LayerSpec] = field(default_factory=list)
    inputs: list[InputSpec] = field(default_factory=list)   # empty: one input "input" fed by the images
    outputs: list[HeadSpec] = field(default_factory=list)   # empty: one head, the last layer, on the labels
    # One of several models (a GAN's generator): its own {"name", "learning_rate", "beta_1"}; None: training's
    optimizer: dict | None = None

    def to_dict(self) -> dict:
        """Inputs and outputs only when declared, so one-input, one-head files read as before."""
        d = {"api": self.api}
        if self.optimizer is not None:
            d["optimizer"] = dict(self.optimizer)
        if self.inputs:
            d["inputs"] = [i.to_dict() for i in self.inputs]
        d["layers"] = [layer.to_dict() for layer in self.layers]
        if self.outputs:
            d["outputs"] = [h.to_dict() for h in self.outputs]
        return d


@dataclass
class TrainingSpec:
    loop: str = "fit"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.004
    loss: str = "sparse_categorical_crossentropy"
    from_logits: bool = False
    batch_size: int = 32
    epochs: int = 5
    seed: int | None = 0
    deterministic: bool = False
    schedule: str = "constant"
    schedule_every: int = 5
    schedule_factor: float = 0.5
    schedule_patience: int = 2
    early_stopping: bool = False
    early_stopping_monitor: str = "val_loss"
    early_stopping_patience: int = 3
    restore_best_weights: bool = True
    distribute: str = "none"
    steps_per_execution: int | str = "auto"   # steps per compiled call; auto: measured so a call lasts ~50 ms
    tensorboard: bool = False
    execution: str = "graph"     # graph (tf.function), eager (Python every step) or xla (jit_compile)
    inspect_every: int = 25      # GradientTape loop: per-layer gradient norms every N steps; 0 = off
    clipnorm: float | None = None          # clip each gradient to this norm (at most one of the three)
    global_clipnorm: float | None = None   # clip all gradients together to this norm
    clipvalue: float | None = None         # clip every gradient entry to [-v, v]
    gradient_accumulation_steps: int = 1   # average the gradients of N batches, then update once
    precision: str = "float32"   # or mixed_bfloat16 / mixed_float16: compute in 16 bits, keep weights in 32
    fused_update: bool = False   # Adam / AdamW update in TensorFlow's one fused kernel (same formula)
    initial_weights: str | None = None   # a .weights.npz (tapedeck import --keep-weights): start from it


@dataclass
class Experiment:
    name: str = "untitled"
    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    # Several models (any objective but classify): role -> stack, in the objective's order; then
    # ``model`` is unused. A classify experiment keeps its one stack in ``model``.
    models: dict[str, ModelSpec] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The canonical file form: format first, then name, (objective,) data, model(s), training.

        A classify experiment writes no objective and one ``model``: files from before objectives
        existed save byte for byte as they were read."""
        d = {"format": FORMAT, "name": self.name}
        if not self.objective.is_classify:
            d["objective"] = self.objective.to_dict()
        d["data"] = _copy.deepcopy(dataclasses.asdict(self.data))
        if self.objective.is_classify:
            d["model"] = self.model.to_dict()
        else:
            d["models"] = {role: spec.to_dict() for role, spec in self.models.items()}
        d["training"] = dataclasses.asdict(self.training)
        return d

    def stacks(self) -> dict[str, ModelSpec]:
        """Every model this experiment trains, by role ({"model": ...} for classify)."""
        return {"model": self.model} if self.objective.is_classify else dict(self.models)

    @property
    def current_role(self) -> str | None:
        """With several models, ``model`` is the one being edited — the same object as one entry of
        ``models`` (copies keep it so) — and this is its role; None for a classifier."""
        return next((role for role, spec in self.models.items() if spec is self.model), None)

    def select_model(self, role: str) -> None:
        """Edit ``models[role]`` through ``model`` from now on (the window's model switcher)."""
        self.model = self.models[role]

    @classmethod
    def from_dict(cls, d) -> Experiment:
        """Validate everything and build the experiment, or raise ExperimentError listing ALL problems."""
        problems: list[str] = []
        experiment = _read_experiment(d, problems)
        if problems:
            raise ExperimentError(problems)
        return experiment

    def copy(self) -> Experiment:
        return _copy.deepcopy(self)

    def problems(self) -> list[str]:
        """What from_dict would refuse in this experiment as edited in memory (e.g. by the GUI)."""
        found: list[str] = []
        _read_experiment(self.to_dict(), found)
        return found


# --- validation: each rule returns None (fine) or the words after "expected" --------------------------


_DATA_RULES = {
    "source": _choice(SOURCES),
    "path": _text(optional=True),
    "validation_split": _float(0.0, 1.0, hi_open=True),
    "limit": _int(1, optional=True),
    "normalize": _bool,
    "label_mode": _choice(("fine", "coarse")),
    "image_size": _size_pair,
    "color_mode": _choice(("rgb", "grayscale")),
    "labels": _choice(("sparse", "one_hot")),
    "streaming": _choice(STREAMINGS),
    "memory_budget_mb": _int(1),
    "cache": _text(optional=True),
}

_TRAINING_RULES = {
    "loop": _choice(LOOPS),
    "optimizer": _choice(OPTIMIZERS),
    "learning_rate": _float(0.0, lo_open=True),
    "momentum": _float(0.0, 1.0, hi_open=True),
    "nesterov": _bool,
    "weight_decay": _float(0.0),
    "loss": _choice(LOSSES),
    "from_logits": _bool,
    "batch_size": _int(1),
    "epochs": _int(1),
    "seed": _int(0, optional=True),
    "deterministic": _bool,
    "schedule": _choice(SCHEDULES),
    "schedule_every": _int(1),
    "schedule_factor": _float(0.0, 1.0, lo_open=True, hi_open=True),
    "schedule_patience": _int(0),
    "early_stopping": _bool,
    "early_stopping_monitor": lambda value: None if value in MONITORS or (
        isinstance(value, str) and HEAD_MONITOR.fullmatch(value)) else (
        "one of " + ", ".join(shown(m) for m in MONITORS) + ", or a head's figure such as \"val_digit_accuracy\""),
    "early_stopping_patience": _int(0),
    "restore_best_weights": _bool,
    "distribute": _choice(DISTRIBUTES),
    "steps_per_execution": _int_or_auto,
    "tensorboard": _bool,
    "execution": _choice(EXECUTIONS),
    "inspect_every": _int(0),
    "clipnorm": _float(0.0, lo_open=True, optional=True),
    "global_clipnorm": _float(0.0, lo_open=True, optional=True),
    "clipvalue": _float(0.0, lo_open=True, optional=True),
    "gradient_accumulation_steps": _int(1),
    "precision": _choice(PRECISIONS),
    "fused_update": _bool,
    "initial_weights": _text(optional=True),
}

CLIPPINGS = ("clipnorm", "global_clipnorm", "clipvalue")

_FLOAT_FIELDS = {name for name, f in {**{f.name: f for f in dataclasses.fields(DataSpec)},
                                      **{f.name: f for f in dataclasses.fields(TrainingSpec)}}.items()
                 if f.type in ("float", float)}


def _unknown(key, known, path, problems):
    import difflib

    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)
    problems.append(f"{path}{key}: unknown key; {hint}")


def _read_section(cls, rules, d, path, problems):
    """Fill dataclass ``cls`` from mapping ``d``; missing keys keep their defaults."""
    if not isinstance(d, dict):
        problems.append(f"{path}: expected an object {{...}}, received {shown(d)}")
        return cls()
    values = {}
    for key, value in d.items():
        if key not in rules:
            _unknown(key, rules, f"{path}.", problems)
            continue
        expected = rules[key](value)
        if expected:
            problems.append(f"{path}.{key}: expected {expected}, received {shown(value)}")
            continue
        if key in _FLOAT_FIELDS and value is not None:
            value = float(value)
        values[key] = _copy.deepcopy(value)
    return cls(**values)


# A layer entry's own keys; everything else in it is a Keras constructor argument.
LAYER_KEYS = ("type", "name", "inputs", "trainable", "lr_multiplier")


def _read_layer(d, path, problems) -> LayerSpec | None:
    if not isinstance(d, dict):
        problems.append(f"{path}: expected a layer object {{\"type\": ...}}, received {shown(d)}")
        return None
    before = len(problems)
    kind = d.get("type")
    if "type" not in d:
        problems.append(f"{path}.type: missing; every layer needs a Keras layer type, e.g. \"Dense\"")
    elif not isinstance(kind, str):
        problems.append(f"{path}.type: expected a layer type name, received {shown(kind)}")
    name = d.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip() or "/" in name):
        problems.append(f"{path}.name: expected a non-empty name without '/', or null, "
                        f"received {shown(name)}")
    inputs = d.get("inputs")
    if inputs is not None and (not isinstance(inputs, list) or not inputs
                               or not all(isinstance(i, str) and i for i in inputs)):
        problems.append(f"{path}.inputs: expected a non-empty list of earlier layer names, "
                        f"received {shown(inputs)}")
    trainable = d.get("trainable", True)
    if not isinstance(trainable, bool):
        problems.append(f"{path}.trainable: expected true or false, received {shown(trainable)}")
    multiplier = d.get("lr_multiplier", 1.0)
    expected = _float(0.0, lo_open=True)(multiplier)
    if expected:
        problems.append(f"{path}.lr_multiplier: expected {expected}, received {shown(multiplier)}")
    params = {k: _copy.deepcopy(v) for k, v in d.items() if k not in LAYER_KEYS}
    spec = LayerSpec(type=kind, params=params, name=name, inputs=list(inputs) if inputs else None,
                     trainable=trainable is not False, lr_multiplier=float(multiplier) if not expected else 1.0)
    if isinstance(kind, str):
        problems.extend(catalogue.check_params(spec, path))
    return spec if len(problems) == before else None


def _read_model(d, path, problems, one_of_several=False) -> ModelSpec:
    if not isinstance(d, dict):
        problems.append(f"{path}: expected an object {{\"api\": ..., \"layers\": [...]}}, received {shown(d)}")
        return ModelSpec()
    model = ModelSpec()
    keys = ("api", "optimizer", "inputs", "layers", "outputs") if one_of_several else ("api", "inputs", "layers",
                                                                                         "outputs")
    if one_of_several and "optimizer" in d:
        model.optimizer = read_model_optimizer(d["optimizer"], f"{path}.optimizer", problems)
    for key in d:
        if key not in keys:
            _unknown(key, keys, f"{path}.", problems)
    model.inputs = read_inputs(d.get("inputs"), f"{path}.inputs", problems)
    model.outputs = read_outputs(d.get("outputs"), f"{path}.outputs", problems)
    if "api" in d:
        expected = _choice(APIS)(d["api"])
        if expected:
            problems.append(f"{path}.api: expected {expected}, received {shown(d['api'])}")
        else:
            model.api = d["api"]
    layers = d.get("layers", [])
    if not isinstance(layers, list):
        problems.append(f"{path}.layers: expected a list of layers, received {shown(layers)}")
        layers = []
    for index, item in enumerate(layers):
        spec = _read_layer(item, f"{path}.layers[{index}]", problems)
        if spec is not None:
            model.layers.append(spec)
    return model


def _read_experiment(d, problems) -> Experiment | None:
    if not isinstance(d, dict):
        problems.append(f"expected an experiment object {{\"format\": \"{FORMAT}\", ...}}, received {shown(d)}")
        return None
    d = _migrate(d, problems)
    if d is None:
        return None
    sections = ("format", "name", "objective", "data", "model", "models", "training")
    for key in d:
        if key not in sections:
            _unknown(key, sections, "", problems)
    experiment = Experiment()
    if "objective" in d:
        experiment.objective = read_objective(d["objective"], "objective", problems)
    if "name" in d:
        expected = _text()(d["name"])
        if expected:
            problems.append(f"name: expected {expected}, received {shown(d['name'])}")
        else:
            experiment.name = d["name"]
    if "data" in d:
        experiment.data = _read_section(DataSpec, _DATA_RULES, d["data"], "data", problems)
        source, path = experiment.data.source, d["data"].get("path") if isinstance(d["data"], dict) else None
        if source in FILE_SOURCES and path is None:
            problems.append(f"data.path: missing; source {shown(source)} reads a file or folder, "
                            f"give its location in \"path\"")
        problems.extend(_streaming_problems(experiment.data))
    _read_models(d, experiment, problems)
    if "training" in d:
        experiment.training = _read_section(TrainingSpec, _TRAINING_RULES, d["training"], "training", problems)
        chosen = [key for key in CLIPPINGS if getattr(experiment.training, key) is not None]
        if len(chosen) > 1:
            problems.append(f"training: {' and '.join(chosen)} are both set; Keras clips one way at a time, "
                            f"keep one (set the others to null)")
        if experiment.training.gradient_accumulation_steps > 1 and experiment.training.distribute != "none":
            problems.append("training.gradient_accumulation_steps: Keras cannot accumulate gradients under a "
                            "tf.distribute strategy; set distribute to \"none\" or accumulation to 1")
    return experiment


def _read_models(d, experiment, problems) -> None:
    """``model`` for classify; ``models`` (one stack per role the objective names) for the others."""
    objective = experiment.objective
    if objective.is_classify:
        if "models" in d:
            problems.append("models: only an objective with several models (e.g. \"objective\": {\"kind\": "
                            "\"gan\"}) reads \"models\"; a classifier's one stack goes in \"model\"")
        if "model" in d:
            experiment.model = _read_model(d["model"], "model", problems)
        return
    roles = OBJECTIVES[objective.kind].models
    if "model" in d:
        problems.append(f"model: objective {shown(objective.kind)} trains several models; put each stack in "
                        f"\"models\" under its role ({', '.join(roles)})")
    given = d.get("models")
    if not isinstance(given, dict):
        problems.append(f"models: expected an object with one stack per role ({', '.join(roles)}), "
                        f"received {shown(given)}")
        return
    for role in given:
        if role not in roles:
            problems.append(f"models.{role}: objective {shown(objective.kind)} has no model {shown(role)}; "
                            f"its models: {', '.join(roles)}")
    for role in roles:
        if role not in given:
            problems.append(f"models.{role}: missing; objective {shown(objective.kind)} trains "
                            f"{' and '.join(roles)}")
            continue
        experiment.models[role] = _read_model(given[role], f"models.{role}", problems, one_of_several=True)
    if roles[0] in experiment.models:
        experiment.select_model(roles[0])   # ``model`` is the stack being edited: the first role's


def _streaming_problems(data: DataSpec) -> list[str]:
    """Streaming reads files from disk; the named sets come whole from Keras, and only a stream is cached."""
    if data.streaming == "on" and data.source not in FILE_SOURCES:
        return [f"data.streaming: \"on\" streams the file sources ({', '.join(FILE_SOURCES)}); source "
                f"{shown(data.source)} is loaded into memory, so set streaming to \"auto\" or \"off\""]
    if data.cache is not None and data.streaming == "off":
        return ["data.cache: only a streamed set is cached to a file; set streaming to \"on\" or \"auto\", "
                "or cache to null"]
    return []


def _supported() -> str:
    return ", ".join(sorted({FORMAT, *MIGRATIONS}))


def _migrate(d, problems) -> dict | None:
    """Bring an older file up to FORMAT with MIGRATIONS; refuse newer or unknown formats."""
    if "format" not in d:
        # Still read the rest as the current format, so every other problem is reported too.
        problems.append(f"format: missing; add \"format\": \"{FORMAT}\" as the first key of the file")
        return d
    seen = set()
    while d.get("format") != FORMAT:
        fmt = d.get("format")
        if not isinstance(fmt, str) or fmt in seen or fmt not in MIGRATIONS:
            version = re.fullmatch(r"tapedeck/(\d+)", fmt) if isinstance(fmt, str) else None
            newer = version is not None and int(version[1]) > int(FORMAT.split("/")[1])
            why = ("a newer format than this Tapedeck reads; update Tapedeck" if newer
                   else "not an experiment format Tapedeck knows")
            problems.append(f"format: {shown(fmt)} is {why} (supported: {_supported()})")
            return None
        seen.add(fmt)
        d = MIGRATIONS[fmt](_copy.deepcopy(d))
    return d


# --- files ---------------------------------------------------------------------------------------

def _parse(text: str, source) -> dict:
    try:
        return read_json_text(text)
    except TooDeepError:
        raise ExperimentError([f"nested more than {MAX_NESTING} levels deep (objects within objects); "
                               "an experiment file nests about five, so this is not one"], source) from None
    except json.JSONDecodeError as error:
        raise ExperimentError([f"line {error.lineno} column {error.colno}: not valid JSON ({error.msg})"],
                              source) from None
    except DuplicateKeyError as error:
        raise ExperimentError([f"{error}; each key may appear once per object"], source) from None


def loads(text: str, source=None) -> Experiment:
    """Parse and validate experiment JSON text; ``source`` names it in messages."""
    d = _parse(text, source)
    try:
        return Experiment.from_dict(d)
    except ExperimentError as error:
        raise ExperimentError(error.problems, source) from None


def load_experiment(path) -> Experiment:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError(["no such file; check the path"], path) from None
    except IsADirectoryError:
        raise ExperimentError(["is a folder; expected an experiment .json file"], path) from None
    except UnicodeDecodeError:
        raise ExperimentError(["not UTF-8 text; expected an experiment .json file"], path) from None
    except OSError as error:
        raise ExperimentError([f"cannot be read ({error.strerror})"], path) from None
    return loads(text, path)


def dumps(experiment: Experiment) -> str:
    """The file text: two-space indentation, one line per layer so stacks read top to bottom."""
    d = experiment.to_dict()
    lines = {}
    stacks = [d["model"]] if "model" in d else list(d["models"].values())
    for number, stack in enumerate(stacks):
        for key in ("optimizer", "inputs", "layers", "outputs"):   # one line per input, layer and head
            if key in stack:
                entries = [stack[key]] if key == "optimizer" else stack[key]
                marks = [f"\x00{number}{key}{i}\x00" for i in range(len(entries))]
                stack[key] = marks[0] if key == "optimizer" else marks
                lines.update(zip(marks, entries))
    text = json.dumps(d, indent=2, ensure_ascii=False)
    for mark, entry in lines.items():
        text = text.replace(json.dumps(mark), json.dumps(entry, ensure_ascii=False), 1)
    return text + "\n"


def save_experiment(experiment: Experiment, path) -> None:
    write_text_atomic(path, dumps(experiment))


def list_presets() -> list[str]:
    folder = resources.files(PRESET_PACKAGE)
    return sorted(item.name[:-5] for item in folder.iterdir() if item.name.endswith(".json"))


def load_preset(name: str) -> Experiment:
    resource = resources.files(PRESET_PACKAGE) / f"{name}.json"
    if not resource.is_file():
        known = ", ".join(list_presets()) or "none installed"
        raise ExperimentError([f"no preset named {name!r}; presets: {known}"])
    return loads(resource.read_text(encoding="utf-8"), f"preset {name}")
