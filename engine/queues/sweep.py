"""A small grid search: up to three settings, each with a few values, expanded into named experiments.

A setting is a key path in the same spelling as the experiment differences (``engine.spec.diff``):
``training.learning_rate``, ``training.batch_size``, ``model.layers[4].units`` (Dense),
``model.layers[0].filters`` (convolutions), ``model.layers[5].rate`` (the dropout layers). Every
expanded experiment is validated like a file the person wrote, so a bad value is refused before the
first run starts, naming the setting and the value. The runs themselves go through
``engine.queues.queue.run_queue``; :func:`ranking` orders the finished runs by best validation accuracy.
No TensorFlow here.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.text import percent

__all__ = ["SweepAxis", "SweepError", "MAX_AXES", "MAX_RUNS", "LAYER_PARAMS", "sweepable_settings",
           "expand", "parse_axis", "ranking", "RankedRun", "format_ranking"]

MAX_AXES = 3
MAX_RUNS = 64  # a small grid on a desktop; more is a job for a cluster and a real tuner
TRAINING_SETTINGS = ("learning_rate", "batch_size")
LAYER_PARAMS = ("units", "filters", "rate")
_SHORT = {"learning_rate": "lr", "batch_size": "bs"}
_LAYER_PATH = re.compile(r"^model\.layers\[(\d+)\]\.(\w+)$")


class SweepError(TapedeckError):
    """The grid cannot be expanded; ``problems`` lists every reason, each naming its setting."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class SweepAxis:
    setting: str  # key path, e.g. "training.learning_rate"
    values: tuple

    def __init__(self, setting: str, values):
        object.__setattr__(self, "setting", setting)
        object.__setattr__(self, "values", tuple(values))


def sweepable_settings(experiment) -> list[tuple[str, str, object]]:
    """(key path, label, current value) for every setting a sweep may vary in this experiment."""
    from tapedeck.engine.spec import catalogue, graph

    found = [(f"training.{name}", name.replace("_", " "), getattr(experiment.training, name))
             for name in TRAINING_SETTINGS]
    nodes, _problems = graph.resolve(experiment.model.layers)
    # An output layer's units are the class count (or the target's width): the data fix them, so a
    # sweep over them only trains runs that fail the check.
    heads = {head.layer for head in experiment.model.outputs} or ({nodes[-1].name} if nodes else set())
    for node in nodes:
        kind = catalogue.CATALOGUE.get(node.spec.type)
        for param in LAYER_PARAMS:
            if param == "units" and node.name in heads:
                continue
            if kind is not None and kind.param(param) is not None:
                current = node.spec.params.get(param, kind.param(param).default)
                found.append((f"model.layers[{node.index}].{param}", f"{node.name} {param}", current))
    return found


def parse_axis(text: str) -> SweepAxis:
    """``"training.learning_rate=0.001,0.003"`` → SweepAxis (for a command line or a text field)."""
    import json

    setting, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise SweepError([f"{text!r}: expected SETTING=V1,V2,… e.g. training.learning_rate=0.001,0.003"])
    parsed = []
    for item in values.split(","):
        try:
            parsed.append(json.loads(item.strip()))
        except ValueError:
            raise SweepError([f"{setting.strip()}: {item.strip()!r} is not a number"]) from None
    return SweepAxis(setting.strip(), parsed)


def expand(experiment, axes) -> list:
    """Every combination of the axes' values as its own experiment, named after the values it sets.

    The first axis varies slowest. Raises SweepError listing every problem (unknown setting, a value
    the experiment would refuse, too many axes or runs).
    """
    from tapedeck.engine.spec.experiment import ExperimentError

    axes = list(axes)
    problems = _axis_problems(experiment, axes)
    if problems:
        raise SweepError(problems)
    experiments = []
    for combination in itertools.product(*(axis.values for axis in axes)):
        candidate = experiment.copy()
        parts = []
        for axis, value in zip(axes, combination):
            _set(candidate, axis.setting, value)
            parts.append(_label(experiment, axis.setting, value))
        candidate.name = "-".join([experiment.name] + parts)
        found = candidate.problems()
        found += _layer_problems(candidate, axes)
        if found:
            problems += [f"{', '.join(f'{a.setting}={v!r}' for a, v in zip(axes, combination))}: {p}" for p in found]
        experiments.append(candidate)
    if problems:
        raise SweepError(_unique(problems))
    try:
        return [type(experiment).from_dict(e.to_dict()) for e in experiments]
    except ExperimentError as error:  # problems() and from_dict agree; this is a second line of defence
        raise SweepError(error.problems) from None


@dataclass
class RankedRun:
    rank: int
    name: str
    run_dir: str
    values: dict  # setting → value this run used
    best_val_accuracy: float | None
    best_epoch: int | None
    test_accuracy: float | None
    status: str


def ranking(run_dirs, axes=()) -> list[RankedRun]:
    """Finished runs, best validation accuracy first (runs without one last, then by test accuracy)."""
    from tapedeck.engine.runs.index import read_run
    from tapedeck.engine.spec.diff import flatten

    rows = []
    for run_dir in run_dirs:
        if run_dir is None:
            continue
        summary = read_run(run_dir)
        flat = flatten(summary.experiment or {})
        values = {axis.setting: flat.get(axis.setting) for axis in axes}
        rows.append(RankedRun(0, summary.name, str(summary.path), values, summary.best_val_accuracy,
                              summary.best_epoch, summary.test_accuracy, summary.status))
    rows.sort(key=lambda r: (r.best_val_accuracy is None, -(r.best_val_accuracy or 0.0),
                             r.test_accuracy is None, -(r.test_accuracy or 0.0)))
    for position, row in enumerate(rows, start=1):
        row.rank = position
    return rows


def format_ranking(rows: list[RankedRun]) -> str:
    if not rows:
        return "no finished runs"
    settings = list(rows[0].values)
    headers = ["#", *settings, "best val acc", "epoch", "test acc", "status", "run"]
    table = [[str(r.rank), *(_setting(r.values.get(s)) for s in settings), percent(r.best_val_accuracy),
              "-" if r.best_epoch is None else str(r.best_epoch), percent(r.test_accuracy), r.status, r.run_dir]
             for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in table]
    return "\n".join(lines)


# --- helpers ----------------------------------------------------------------------------------------

def _axis_problems(experiment, axes) -> list[str]:
    from tapedeck.engine.spec import catalogue

    problems = []
    if not axes:
        problems.append("a sweep needs at least one setting with values")
    if len(axes) > MAX_AXES:
        problems.append(f"a sweep varies at most {MAX_AXES} settings, received {len(axes)}")
    seen = set()
    total = 1
    for axis in axes:
        if axis.setting in seen:
            problems.append(f"{axis.setting}: appears twice; give each setting once with all its values")
        seen.add(axis.setting)
        if not axis.values:
            problems.append(f"{axis.setting}: no values given")
        total *= max(1, len(axis.values))
        match = _LAYER_PATH.match(axis.setting)
        if axis.setting.startswith("training."):
            if axis.setting[len("training."):] not in TRAINING_SETTINGS:
                problems.append(f"{axis.setting}: a sweep varies "
                                f"{', '.join('training.' + s for s in TRAINING_SETTINGS)} or a layer's "
                                f"{'/'.join(LAYER_PARAMS)} (model.layers[i].units)")
        elif match:
            index, param = int(match.group(1)), match.group(2)
            layers = experiment.model.layers
            if index >= len(layers):
                problems.append(f"{axis.setting}: the model has {len(layers)} layers (0 to {len(layers) - 1})")
            elif param not in LAYER_PARAMS:
                problems.append(f"{axis.setting}: a sweep varies a layer's {', '.join(LAYER_PARAMS)}, not {param!r}")
            else:
                kind = catalogue.CATALOGUE.get(layers[index].type)
                if kind is None or kind.param(param) is None:
                    problems.append(f"{axis.setting}: layer {index} is {layers[index].type}, which has no {param!r}")
        else:
            problems.append(f"{axis.setting}: not a setting a sweep can vary; use training.learning_rate, "
                            "training.batch_size or model.layers[i].units/filters/rate")
    if total > MAX_RUNS:
        problems.append(f"the grid has {total} combinations; at most {MAX_RUNS} — use fewer values")
    return problems


def _set(experiment, setting: str, value) -> None:
    match = _LAYER_PATH.match(setting)
    if match:
        experiment.model.layers[int(match.group(1))].params[match.group(2)] = value
    else:
        setattr(experiment.training, setting[len("training."):], value)


def _layer_problems(experiment, axes) -> list[str]:
    from tapedeck.engine.spec import catalogue

    problems = []
    for axis in axes:
        match = _LAYER_PATH.match(axis.setting)
        if match:
            index = int(match.group(1))
            problems += catalogue.check_params(experiment.model.layers[index], f"model.layers[{index}]")
    return problems


def _label(experiment, setting: str, value) -> str:
    match = _LAYER_PATH.match(setting)
    if match:
        from tapedeck.engine.spec import graph

        nodes, _ = graph.resolve(experiment.model.layers)
        name = nodes[int(match.group(1))].name
        return f"{name}.{match.group(2)}{_setting(value)}"
    return f"{_SHORT[setting[len('training.'):]]}{_setting(value)}"


def _setting(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)



def _unique(items):
    return list(dict.fromkeys(items))
