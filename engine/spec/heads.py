"""A model's inputs and heads (``model.inputs`` / ``model.outputs`` in the experiment file).

The Functional API exists for models with several inputs and several outputs, which Sequential cannot
build. Both lists are optional: absent, a model has today's single input named ``input`` fed by the data
set's images, and a single head (its last layer, trained on the data set's labels with ``training.loss``).
Other tools can write these files, so the key names are fixed here and validated with key paths.
"""
from __future__ import annotations

import copy as _copy
import difflib
import re
from dataclasses import dataclass

from tapedeck.engine.text import shown

__all__ = ["InputSpec", "HeadSpec", "DEFAULT_INPUT", "DEFAULT_TARGET", "CLASS_LOSSES", "REGRESSION_LOSSES",
           "HEAD_LOSSES", "read_inputs", "read_outputs", "inputs_of", "heads_of", "is_multi", "metric_name",
           "is_regression", "several_words"]

DEFAULT_INPUT = "input"
DEFAULT_DATA = "x"
DEFAULT_TARGET = "label"
CLASS_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")
REGRESSION_LOSSES = ("mean_squared_error", "mean_absolute_error")
HEAD_LOSSES = CLASS_LOSSES + REGRESSION_LOSSES
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class InputSpec:
    """One model input: its name (what layers list in ``inputs``) and the data array that feeds it."""

    name: str = DEFAULT_INPUT
    data: str = DEFAULT_DATA   # "x" = the images; "x_<name>" = npz arrays x_train_<name> / x_test_<name>

    def to_dict(self) -> dict:
        return {"name": self.name, "data": self.data}


@dataclass
class HeadSpec:
    """One output: the layer it reads, the target it learns, its loss and that loss's weight in the total."""

    layer: str
    target: str = DEFAULT_TARGET
    loss: str | None = None          # None: training.loss
    loss_weight: float = 1.0
    from_logits: bool | None = None  # None: training.from_logits

    def to_dict(self) -> dict:
        d = {"layer": self.layer, "target": self.target}
        if self.loss is not None:
            d["loss"] = self.loss
        d["loss_weight"] = self.loss_weight
        if self.from_logits is not None:
            d["from_logits"] = self.from_logits
        return d


def is_regression(loss: str) -> bool:
    return loss in REGRESSION_LOSSES


def _unknown(key, known, path, problems) -> None:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)
    problems.append(f"{path}.{key}: unknown key; {hint}")


def _name_problem(value) -> str | None:
    if isinstance(value, str) and _NAME.match(value):
        return None
    return "a name of letters, digits and _ (not starting with a digit)"


def _entries(value, path, problems, what) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        problems.append(f"{path}: expected a non-empty list of {what}, or leave it out, received {shown(value)}")
        return []
    good = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            good.append((f"{path}[{index}]", item))
        else:
            problems.append(f"{path}[{index}]: expected an object {{...}}, received {shown(item)}")
    return good


def read_inputs(value, path, problems) -> list[InputSpec]:
    """``model.inputs``: names unique; ``data`` is ``x`` or ``x_<name>``."""
    result, seen = [], set()
    for where, item in _entries(value, path, problems, "inputs {\"name\": ..., \"data\": ...}"):
        for key in item:
            if key not in ("name", "data"):
                _unknown(key, ("name", "data"), where, problems)
        name, data = item.get("name"), item.get("data", DEFAULT_DATA)
        expected = _name_problem(name)
        if expected:
            problems.append(f"{where}.name: expected {expected}, received {shown(name)}")
            continue
        if name in seen:
            problems.append(f"{where}.name: input {name!r} is declared twice; input names must be unique")
            continue
        if not (isinstance(data, str) and (data == DEFAULT_DATA or re.fullmatch(r"x_[A-Za-z0-9_]+", data))):
            problems.append(f"{where}.data: expected \"x\" (the images) or \"x_<name>\" (npz arrays "
                            f"x_train_<name> / x_test_<name>), received {shown(data)}")
            continue
        seen.add(name)
        result.append(InputSpec(name=name, data=data))
    return result


def _read_head(where, item, problems) -> HeadSpec | None:
    keys = ("layer", "target", "loss", "loss_weight", "from_logits")
    before = len(problems)
    for key in item:
        if key not in keys:
            _unknown(key, keys, where, problems)
    layer, target = item.get("layer"), item.get("target", DEFAULT_TARGET)
    if not isinstance(layer, str) or not layer.strip():
        problems.append(f"{where}.layer: expected the name of the layer this head reads, received {shown(layer)}")
    expected = _name_problem(target)
    if expected:
        problems.append(f"{where}.target: expected {expected} (e.g. \"label\", \"parity\"), received {shown(target)}")
    loss = item.get("loss")
    if loss is not None and loss not in HEAD_LOSSES:
        problems.append(f"{where}.loss: expected one of {', '.join(HEAD_LOSSES)} or leave it out "
                        f"(training.loss), received {shown(loss)}")
    weight = item.get("loss_weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0 or weight > 1e6:
        problems.append(f"{where}.loss_weight: expected a number ≥ 0, received {shown(weight)}")
    logits = item.get("from_logits")
    if logits is not None and not isinstance(logits, bool):
        problems.append(f"{where}.from_logits: expected true or false, received {shown(logits)}")
    if len(problems) > before:
        return None
    return HeadSpec(layer=layer, target=target, loss=loss, loss_weight=float(weight), from_logits=logits)


def read_outputs(value, path, problems) -> list[HeadSpec]:
    """``model.outputs``: each head names a layer; a layer heads at most one output."""
    result, seen = [], {}
    for where, item in _entries(value, path, problems, "heads {\"layer\": ..., \"target\": ...}"):
        head = _read_head(where, item, problems)
        if head is None:
            continue
        if head.layer in seen:
            problems.append(f"{where}.layer: layer {head.layer!r} already heads output {seen[head.layer]}; "
                            f"two heads on one layer would learn the same output twice; give each head its "
                            f"own layer (e.g. a Dense after it)")
            continue
        seen[head.layer] = len(result)
        result.append(head)
    if result and len(result) == len(value) and not any(head.loss_weight for head in result):
        # the weighted sum of the heads' losses is then 0: a run "trains" to loss 0.0000 and learns nothing
        problems.append(f"{path}: every head's loss_weight is 0, so the total loss is always 0 and nothing "
                        f"trains; give at least one head a loss_weight above 0")
    return result


def inputs_of(model) -> list[InputSpec]:
    """The model's inputs, today's single ``input`` when the file declares none."""
    declared = getattr(model, "inputs", None) or []
    return [_copy.copy(i) for i in declared] or [InputSpec()]


def heads_of(model, names, training) -> list[HeadSpec]:
    """The heads with defaults filled in (loss and from_logits from ``training``); ``names`` are the layer
    names in stack order (graph.resolve), whose last one is the single default head."""
    declared = getattr(model, "outputs", None) or []
    heads = [_copy.copy(h) for h in declared] or ([HeadSpec(layer=names[-1])] if names else [])
    for head in heads:
        head.loss = head.loss or training.loss
        head.from_logits = training.from_logits if head.from_logits is None else head.from_logits
    return heads


def is_multi(model) -> bool:
    """True where the model takes and returns dicts and metrics are named per head (``fine_loss``): several
    inputs or heads, or one input or head that reads a named array (data other than the images, a target
    other than the labels), which the plain path, feeding only those two, would silently replace. One
    input of the images and one head of the labels keep today's plain tensors and names."""
    inputs = list(getattr(model, "inputs", None) or [])
    outputs = list(getattr(model, "outputs", None) or [])
    if len(inputs) > 1 or len(outputs) > 1:
        return True
    return any(i.data != DEFAULT_DATA for i in inputs) or any(h.target != DEFAULT_TARGET for h in outputs)


def several_words(model, fallback: str = "named inputs and heads") -> str:
    """What makes the model more than Sequential can hold ("2 inputs and 2 heads"), for its refusal."""
    parts = [f"{len(model.inputs)} inputs"] if len(model.inputs) > 1 else []
    parts += [f"{len(model.outputs)} heads"] if len(model.outputs) > 1 else []
    if not parts:   # one input or head reading a named array
        parts = [f"an input reading data {i.data!r} (not the images)" for i in model.inputs if i.data != DEFAULT_DATA]
        parts += [f"a head reading target {h.target!r} (not the labels)" for h in model.outputs
                  if h.target != DEFAULT_TARGET]
    return " and ".join(parts) or fallback


def metric_name(head: HeadSpec) -> str:
    """What a head's metric is called: accuracy for classes, MAE for regression (as Keras names them)."""
    return "mae" if is_regression(head.loss or "") else "accuracy"
