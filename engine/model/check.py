"""Shape and parameter inference over a layer stack, before any training.

The check runs our own plain-word rules first (engine.model.check_rules): they catch the
mistakes people actually make and say how to fix them, where Keras would either
accept the stack and fail later inside fit, or fail with a message about tensors.
Whatever passes the rules is then called symbolically through Keras (the real layer
on a KerasTensor of its input shape), so the shapes and parameter counts are Keras's
own numbers, not a re-implementation that could drift. A layer that fails leaves its
output unknown; layers after it show no shape instead of a second, misleading error.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
from dataclasses import dataclass, field

from tapedeck.engine.model import check_heads, check_rules
from tapedeck.engine.spec import catalogue, graph, heads


@dataclass
class LayerReport:
    index: int
    name: str
    type: str
    output_shape: tuple | None  # no batch dimension; None when unknown
    params: int | None
    problems: list[str] = field(default_factory=list)
    frozen: bool = False   # trainable: false, with weights: the table says so

    @property
    def params_text(self) -> str:
        if self.params is None:
            return "?"
        return f"{self.params:,}" + (" frozen" if self.frozen and self.params else "")


@dataclass
class CheckReport:
    layers: list[LayerReport]
    problems: list[str]  # model-level: empty stack, API, loss, labels, output width
    trainable: int
    non_trainable: int
    input_shape: tuple
    num_classes: int | None
    warnings: list[str] = field(default_factory=list)   # worth knowing, not a reason to refuse training
    inputs: dict = field(default_factory=dict)          # input name → shape
    heads: list = field(default_factory=list)           # (head layer, shape, loss, weight, target, target text)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(layer.problems for layer in self.layers)

    def all_problems(self) -> list[str]:
        """Every problem on one line each, layer problems first in stack order."""
        lines = []
        for layer in self.layers:
            lines += [f"layer {layer.index} '{layer.name}' ({layer.type}): {p}" for p in layer.problems]
        return lines + list(self.problems)

    def format_table(self) -> str:
        """The table `tapedeck check` prints: one row per layer, then the totals."""
        inputs = self.inputs or {graph.INPUT: self.input_shape}
        rows = [("#", "name", "type", "output shape", "params")]
        rows += [("", name, "Input", check_rules.shape_text(shape), "0") for name, shape in inputs.items()]
        for layer in self.layers:
            if layer.output_shape is not None:
                shape = check_rules.shape_text(layer.output_shape) + (" !" if layer.problems else "")
            else:
                shape = "error" if layer.problems else "?"
            rows.append((str(layer.index), layer.name, layer.type, shape, layer.params_text))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = []
        for row in rows:
            cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                     row[3].ljust(widths[3]), row[4].rjust(widths[4])]
            lines.append("  ".join(cells).rstrip())
        lines.insert(1, "-" * len(lines[0]))
        total = self.trainable + self.non_trainable
        lines.append(f"Total params: {total:,} (trainable: {self.trainable:,}, "
                     f"non-trainable: {self.non_trainable:,})")
        lines += self._io_lines()
        lines += [f"warning: {w}" for w in self.warnings]
        if not self.ok:
            count = len(self.all_problems())
            lines.append(f"{count} problem{'s' if count != 1 else ''}; the model cannot be trained yet.")
        return "\n".join(lines)


    def _io_lines(self) -> list[str]:
        """With declared inputs or heads: each input and each head (shape, loss, weight, target and classes)."""
        if len(self.heads) <= 1 and len(self.inputs) <= 1:
            return []
        lines = ["Inputs: " + ", ".join(f"{n} {check_rules.shape_text(s)}" for n, s in self.inputs.items())]
        for layer, shape, loss, weight, target, what in self.heads:
            shown_shape = check_rules.shape_text(shape) if shape is not None else "?"
            lines.append(f"Head {layer}: {shown_shape}, loss {loss} × {weight:g}, target {target} ({what})")
        return lines


def known_input_shape(data_spec) -> tuple[tuple, int] | None:
    """(input shape, class count) of a named dataset without loading it; None for file sources.

    The datasets module owns these figures; asking it keeps one table of them.
    """
    from tapedeck.engine.data import datasets

    if data_spec.source in datasets.FILE_SOURCES:
        return None
    try:
        shape, num_classes, _names = datasets.describe(data_spec)
    except datasets.DataError:
        return None
    return tuple(shape), num_classes


def check(experiment, input_shape, num_classes, api=None, feeds=None, classify=True) -> CheckReport:
    """Infer every layer's output shape and parameters; collect every problem, never raise for them.

    A model with declared inputs or heads needs ``feeds`` (engine.data.targets.Feeds: the data arrays'
    shapes and the targets); without it they are asked of the data set described by the experiment.
    ``classify=False``: one of several models (a GAN's generator); its objective checks what it outputs
    (engine.model.check_models), so the classifier's rules on loss, labels and output width stay out.
    """
    api = api or experiment.model.api
    input_shape = tuple(int(d) if d is not None else None for d in input_shape)
    report = CheckReport(layers=[], problems=[], trainable=0, non_trainable=0,
                         input_shape=input_shape, num_classes=num_classes)
    declared = bool(experiment.model.inputs or experiment.model.outputs)
    if declared and feeds is None:
        feeds = _feeds(experiment, input_shape, num_classes, report)
    nodes, graph_problems = graph.resolve_model(experiment.model)
    for node in nodes:
        report.layers.append(LayerReport(node.index, node.name, node.spec.type, None, None, []))
    by_index = {layer.index: layer for layer in report.layers}
    for index, message in graph_problems:
        if index is None or index not in by_index:
            if message not in report.problems:
                report.problems.append(message)
        else:
            by_index[index].problems.append(message)
    if api == "sequential" and heads.is_multi(experiment.model):
        report.problems.append(graph.SEQUENTIAL_MULTI_REFUSAL.format(what=heads.several_words(experiment.model)))
    elif api == "sequential" and nodes and not graph.is_chain(nodes) and not graph_problems:
        report.problems.append(graph.SEQUENTIAL_REFUSAL)
    if declared:
        report.inputs = check_heads.input_shapes(experiment.model, feeds, report.problems)
    else:
        report.inputs = {graph.INPUT: input_shape}
        unlabelled = classify and num_classes == 0 and check_heads.unlabelled_problem(experiment.data)
        if unlabelled:   # the rules on classes would only repeat it in other words
            report.problems.append(unlabelled)
            classify = False
        report.problems += check_rules.training_problems(experiment, num_classes) if classify else []

    shapes, report.trainable, report.non_trainable = _infer(nodes, report.layers, report.inputs)
    if report.trainable == 0 and any(not node.spec.trainable for node in nodes):
        report.problems.append("every layer with weights is frozen (trainable: false): nothing would learn; "
                               "unfreeze at least one layer")
    budget = _budget_problem(report)
    if budget is not None:
        report.problems.append(budget)
    monitor = check_heads.monitor_problem(experiment, nodes)
    if monitor is not None:
        report.problems.append(monitor)
    if declared:
        check_heads.head_problems(nodes, shapes, experiment, feeds, by_index, report.problems)
        report.warnings += check_heads.dead_branch_warnings(nodes, experiment)
        report.heads = _head_rows(nodes, shapes, experiment, feeds)
    elif classify:
        _output_problems(nodes, report, shapes, experiment, num_classes)
    return report


def _feeds(experiment, input_shape, num_classes, report):
    """The data set's arrays and targets; when they cannot be told, only the images and the labels."""
    from tapedeck.engine.data import datasets
    from tapedeck.engine.data.targets import Feeds

    try:
        return datasets.describe_feeds(experiment.data)
    except datasets.DataError as error:
        report.problems.append(str(error))
        names = [str(i) for i in range(num_classes or 0)]
        return Feeds({"x": input_shape}, {"label": ("classes", names, len(names), False)})


def _head_rows(nodes, shapes, experiment, feeds) -> list:
    rows = []
    for head in heads.heads_of(experiment.model, [n.name for n in nodes], experiment.training):
        kind, names, width, derived = feeds.targets.get(head.target, ("?", [], None, False))
        what = (f"{len(names)} classes" if kind == "classes" else f"{width} value(s)" if kind == "values"
                else "not in the data") + (", derived" if derived else "")
        rows.append((head.layer, shapes.get(head.layer), head.loss, head.loss_weight, head.target, what))
    return rows


def _infer(nodes, layer_reports, input_shapes) -> tuple[dict, int, int]:
    """Run the rules, then Keras, layer by layer.

    Returns name → output shape (known ones only) and the trainable / non-trainable totals.
    """
    shapes = dict(input_shapes)
    trainable_total = frozen_total = 0
    for node, layer_report in zip(nodes, layer_reports):
        if layer_report.problems:  # a wiring problem: Keras cannot be asked
            continue
        if any(name not in shapes for name in node.inputs):
            continue  # an earlier layer failed; no second error here
        try:
            layer_type = catalogue.layer_type(node.spec.type)
        except KeyError as error:
            layer_report.problems.append(_key_error_text(error))
            continue
        own = check_rules.value_problems(node.spec, layer_type)
        problems = list(own.values()) + [
            _param_text(p) for p in catalogue.check_params(node.spec, "")
            if _param_text(p).split(":", 1)[0] not in own]
        inputs = [(name, shapes[name]) for name in node.inputs]
        if not problems:
            problems = check_rules.shape_problems(node, layer_type, inputs)
        if problems:
            layer_report.problems += problems
            continue
        shape, trainable, frozen, problem = _keras_layer(node, layer_type.merge,
                                                         tuple(s for _, s in inputs))
        if problem is not None:
            layer_report.problems.append(problem)
            continue
        layer_report.output_shape = shape
        layer_report.params = trainable + frozen
        layer_report.frozen = not node.spec.trainable
        trainable_total += trainable
        frozen_total += frozen
        shapes[node.name] = shape
    return shapes, trainable_total, frozen_total


# (layer JSON, name, merge, input shapes) → what Keras answered. The window re-checks the whole
# stack on every edit; with this, only the edited layer and those whose input shape changed are
# built again, and Keras (the slow part) is not asked twice about the same layer.
_ANSWERS: dict = {}
_ANSWERS_MAX = 4096


def _keras_layer(node, merge, input_shapes):
    """(output shape, trainable, non-trainable, problem) from Keras's symbolic call of one layer."""
    key = (json.dumps(node.spec.to_dict(), sort_keys=True, default=repr), node.name, merge, input_shapes)
    answer = _ANSWERS.get(key)
    if answer is None:
        answer = _ask_keras(node, merge, input_shapes)
        if len(_ANSWERS) >= _ANSWERS_MAX:
            _ANSWERS.clear()
        _ANSWERS[key] = answer
    return answer


def clear_cache() -> None:
    """Forget Keras's answers (for measuring the check's real cost)."""
    _ANSWERS.clear()


def _ask_keras(node, merge, input_shapes):
    import keras

    try:
        layer = catalogue.make_layer(node.spec, node.name)
        args = [keras.KerasTensor((None, *shape)) for shape in input_shapes]
        with _unallocated():
            output = layer(args if merge else args[0])
    except Exception as error:  # noqa: BLE001 — Keras refuses what our rules let through
        return None, 0, 0, keras_message(error)
    if isinstance(output, (list, tuple)):
        return None, 0, 0, "returns several outputs; Tapedeck layers must return one."
    trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    return tuple(output.shape[1:]), int(trainable), int(frozen), None


@contextlib.contextmanager
def _unallocated():
    """Build layers with their weights' shapes only: nothing is allocated or initialised.

    Keras defers a variable's initialisation inside a ``StatelessScope``; with ``initialize_variables``
    off the deferred weights are never drawn, so a Dense layer of 10**12 units is counted, not
    allocated. Keras keeps the deferred variables in a per-thread list that a later scope would
    initialise; those made here are dropped from it on the way out.
    """
    import keras
    from keras.src.backend.common import global_state

    pending = global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)
    before = len(pending)
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        del pending[before:]


# Training holds about four float32 copies of every parameter (weights, gradients, two Adam moments).
BYTES_PER_PARAMETER = 16


def parameter_budget() -> int:
    """Parameters this machine can train: half its physical memory at BYTES_PER_PARAMETER each."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        memory = 16 * 2**30   # no sysconf (Windows): assume a 16 GiB machine
    return memory // 2 // BYTES_PER_PARAMETER


def _budget_problem(report: CheckReport) -> str | None:
    """Refuse a model too big to train here, with the figures, before anything allocates it."""
    total = report.trainable + report.non_trainable
    budget = parameter_budget()
    if total <= budget:
        return None
    largest = max((layer for layer in report.layers if layer.params), key=lambda layer: layer.params)
    return (f"the model has {total:,} parameters (~{_bytes(total * BYTES_PER_PARAMETER)} to train at "
            f"{BYTES_PER_PARAMETER} bytes each), beyond this machine's budget of {budget:,} (half its memory); "
            f"make layer {largest.index} '{largest.name}' ({largest.params:,} parameters) smaller")


def _bytes(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return str(count)


def _output_problems(nodes, report, shapes, experiment, num_classes) -> None:
    """Rules about the model's output: one vector per example, its width, its activation."""
    if not nodes:
        return
    output = nodes[-1]
    width = None
    if output.name in shapes:  # unknown after an earlier error, which says why
        rank_problem = check_rules.output_rank_problem(nodes, shapes, num_classes)
        if rank_problem is None:
            width = shapes[output.name][-1]
        else:
            index, message = rank_problem
            next(layer for layer in report.layers if layer.index == index).problems.append(message)
    problems = check_rules.output_problems(nodes, width, experiment, num_classes)
    if output.name in shapes:
        # About the last layer, whose shape is known: on its row, marked like every other layer's problem.
        last = next(layer for layer in report.layers if layer.index == output.index)
        last.problems += [p for p in problems if p not in last.problems]
    else:   # the layer was not reached (an earlier one failed): no second mark on it
        report.problems += problems


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NOISE = ("Exception encountered when calling", "Arguments received by", "•", "Call arguments received")


def keras_message(error: BaseException) -> str:
    """Keras's own message, without terminal escape codes, cut down to the sentence that helps."""
    text = _ANSI.sub("", str(error)).strip()
    lines = [line.strip() for line in text.splitlines()]
    useful = [line for line in lines if line and not line.startswith(_NOISE)]
    message = useful[0] if useful else (lines[0] if lines and lines[0] else type(error).__name__)
    if len(message) > 300:
        message = message[:297].rstrip() + "..."
    return message


def _key_error_text(error: KeyError) -> str:
    # str(KeyError) wraps its message in quotes; show the message itself.
    return str(error.args[0]) if error.args else str(error)


def _param_text(problem: str) -> str:
    # check_params was given an empty path, so its key paths start with "." or the param name.
    return problem[1:] if problem.startswith(".") else problem
