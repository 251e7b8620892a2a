"""Names that tell runs apart in legends and column headers.

Runs of one experiment all carry its name ("digits_cnn"), so overlaid curves and the differences
table read the same name N times. A run's label is its experiment's name when that is unique among
the runs shown; otherwise the name plus what differs (up to two settings, e.g. "lr 0.003"), and its
start time when nothing in the experiments differs (the same run trained twice).
"""
from __future__ import annotations

import json

from tapedeck.engine.spec.diff import MISSING, differences_among

MAX_SETTINGS = 2
_SHORT = {"training.learning_rate": "lr", "training.batch_size": "batch", "training.epochs": "epochs",
          "training.optimizer": "", "model.api": "", "training.loop": "", "data.limit": "limit",
          "training.seed": "seed"}


def _value(value) -> str:
    if value is MISSING:
        return "-"
    if isinstance(value, dict) and "type" in value:
        return str(value["type"])
    return value if isinstance(value, str) else json.dumps(value)


def _setting(path: str, value) -> str:
    short = _SHORT.get(path, path.rsplit(".", 1)[-1].replace("_", " "))
    return f"{short} {_value(value)}".strip()


def run_labels(summaries) -> list[str]:
    """One label per ``engine.runs.index.RunSummary``, in order; two runs never share one."""
    names = [s.name or s.path.name for s in summaries]
    labels = list(names)
    for name in set(names):
        group = [i for i, n in enumerate(names) if n == name]
        if len(group) < 2:
            continue
        experiments = [summaries[i].experiment for i in group]
        rows = [] if any(e is None for e in experiments) else differences_among(experiments)
        rows = [(path, values) for path, values in rows if path != "name"][:MAX_SETTINGS]
        for position, index in enumerate(group):
            parts = [_setting(path, values[position]) for path, values in rows]
            labels[index] = f"{name} · {', '.join(parts)}" if parts else name
    # Still the same (identical experiments): the start time tells them apart.
    shared = [labels.count(label) > 1 for label in labels]
    for index, repeated in enumerate(shared):
        if repeated:
            date = summaries[index].date or ""
            labels[index] = f"{labels[index]} · {date[11:] or summaries[index].path.name}"
    shared = [labels.count(label) > 1 for label in labels]
    for index, repeated in enumerate(shared):   # the same second too: the folder name is unique
        if repeated:
            labels[index] = f"{names[index]} · {summaries[index].path.name}"
    return labels
