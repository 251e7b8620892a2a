"""The check for models with declared inputs and heads (``model.inputs`` / ``model.outputs``).

Each head is checked as the single output is today (its width against its target's classes, its
activation against its loss), on the part of the stack that ends at the head's layer; besides that,
what only several inputs and heads can get wrong: a target the data does not hold, a regression loss on
class labels (and the reverse), a layer that reaches no head.
"""
from __future__ import annotations

import copy

from tapedeck.engine.model import check_rules
from tapedeck.engine.spec import graph, heads

__all__ = ["input_shapes", "head_problems", "dead_branch_warnings", "monitor_problem", "unlabelled_problem"]


def input_shapes(model, feeds, problems) -> dict:
    """Input name → shape from the data arrays each input reads; a missing array is a problem."""
    shapes = {}
    for spec in heads.inputs_of(model):
        if spec.data in feeds.shapes:
            shapes[spec.name] = tuple(feeds.shapes[spec.data])
            continue
        have = ", ".join(sorted(feeds.shapes))
        train, test = spec.data.replace("x_", "x_train_", 1), spec.data.replace("x_", "x_test_", 1)
        problems.append(f"model.inputs: input {spec.name!r} reads data {spec.data!r}, which this data set does "
                        f"not hold (it has: {have}); an npz file feeds it with arrays {train} and {test}")
    return shapes


def _target_problem(head, feeds) -> str | None:
    if head.target in feeds.targets:
        kind = feeds.targets[head.target][0]
        if heads.is_regression(head.loss) and kind == "classes":
            return (f"head {head.layer!r}: loss {head.loss} is for numbers, but target {head.target!r} holds class "
                    f"labels; use sparse_categorical_crossentropy (or give the head a target of values)")
        if not heads.is_regression(head.loss) and kind == "values":
            return (f"head {head.layer!r}: loss {head.loss} is for class labels, but target {head.target!r} holds "
                    f"numbers with fractions; use mean_squared_error or mean_absolute_error")
        return None
    have = ", ".join(feeds.targets)
    if head.target == heads.DEFAULT_TARGET:   # an npz of named targets only: the plain pair is left out
        return (f"head {head.layer!r}: target 'label' is not in this data set (it has: {have}); the plain "
                f"y_train and y_test arrays are target 'label': give the head one of those targets, or save them")
    return (f"head {head.layer!r}: target {head.target!r} is not in this data set (it has: {have}); an npz file "
            f"adds one with arrays y_train_{head.target} and y_test_{head.target}")


def unlabelled_problem(data) -> str | None:
    """A model of one output reads target ``label``; an npz of named targets only has none to give it.

    Called where the data was described with no classes, which only such a set is.
    """
    from tapedeck.engine.data import datasets

    try:
        targets = sorted(datasets.describe_feeds(data).targets)
    except datasets.DataError:
        return None   # the data's own problem is reported where it is read
    if heads.DEFAULT_TARGET in targets:
        return None
    named = f"; it has the targets {', '.join(targets)}: declare heads (model.outputs) that read them, or" \
        if targets else ": "
    return (f"{data.path}: holds no plain y_train / y_test (target 'label'), which the model's single output "
            f"reads{named} save y_train and y_test in the file")


def head_problems(nodes, shapes, experiment, feeds, by_index, model_problems) -> None:
    """Per head: on the head layer's row when its shape is known, else among the model's problems."""
    names = [node.name for node in nodes]
    position = {node.name: i for i, node in enumerate(nodes)}
    for head in heads.heads_of(experiment.model, names, experiment.training):
        if head.layer not in position:
            continue   # graph.resolve reported the unknown name
        node = nodes[position[head.layer]]
        found = [p for p in [_target_problem(head, feeds)] if p]
        if not found and head.layer in shapes:
            found = _shape_problems(nodes[:position[head.layer] + 1], shapes, experiment, head, feeds)
        row = by_index.get(node.index)
        for message in found:
            target = row.problems if row is not None and head.layer in shapes else model_problems
            if message not in target:
                target.append(message)


def _shape_problems(chain, shapes, experiment, head, feeds) -> list[str]:
    kind, names, width, _derived = feeds.targets[head.target]
    shape = shapes[head.layer]
    if kind == "values":
        if tuple(shape) != (width,):
            return [f"head {head.layer!r} outputs {check_rules.shape_text(shape)} per example, but target "
                    f"{head.target!r} has {width} value(s) per example; end the head with a Dense with "
                    f"units={width} (no activation)"]
        return []
    if width < 2:   # "has 1 classes; set its units to 1" was advice the softmax check then refused
        only = f" ({names[0]})" if names else ""
        return [f"head {head.layer!r}: target {head.target!r} holds one class{only}; a target needs two or more "
                f"classes to learn, so add examples of the others or give the head another target"]
    own = copy.deepcopy(experiment)
    own.training.loss, own.training.from_logits = head.loss, head.from_logits
    rank = check_rules.output_rank_problem(chain, shapes, width)
    if rank is not None:
        return [rank[1]]
    problems = check_rules.output_problems(chain, shape[-1], own, width)
    problems += [p for p in check_rules.training_problems(own, width) if "lr_multiplier" not in p]
    return [p.replace("The last layer", f"Head {head.layer!r}: the layer").replace(
        "the data has", f"target {head.target!r} has") for p in problems]


def monitor_problem(experiment, nodes) -> str | None:
    """``training.early_stopping_monitor`` naming one head's figure: that head must exist and have it."""
    monitor = experiment.training.early_stopping_monitor
    if monitor in ("val_loss", "val_accuracy", "loss", "accuracy"):
        return None
    names = [node.name for node in nodes]
    declared = heads.heads_of(experiment.model, names, experiment.training) if experiment.model.outputs else []
    figure = monitor.removeprefix("val_")
    for head in declared:
        for suffix in ("loss", heads.metric_name(head)):
            if figure == f"{head.layer}_{suffix}":
                return None
    known = [f"val_{h.layer}_{s}" for h in declared for s in ("loss", heads.metric_name(h))]
    hint = f"; a head's figures are {', '.join(known)}" if known else "; with one head use val_loss or val_accuracy"
    return f"training.early_stopping_monitor: {monitor!r} is not a figure of this model{hint}"


def dead_branch_warnings(nodes, experiment) -> list[str]:
    declared = [h.layer for h in experiment.model.outputs]
    if not declared:
        return []
    return [f"layer {node.index} '{node.name}' reaches no head, so nothing trains it; connect it to a head or "
            f"remove it" for node in graph.dead_branches(nodes, declared)]
