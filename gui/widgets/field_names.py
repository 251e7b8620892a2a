"""File keys in the window's words: the engine's messages name fields as the experiment file does
("set data.labels to one_hot"), which the command line keeps; the window names them as its own
labels show them ("set “Label format” to one_hot"), so the person can find the field (issue 23).

The labels belong to the forms that show them: the settings form registers its own (`register`)
when it is imported, which the window does before any message is shown; the fields shown outside
that form are named here.
"""
from __future__ import annotations

import re

_labels = {"data.source": "Data source", "data.path": "Data path", "model.api": "Model",
           "training.loop": "Training", "training.execution": "Execution",
           "model.layers": "Layer stack", "model.outputs": "Heads", "model.inputs": "Inputs"}
_KEY = re.compile(r"(?<![\w./-])(data|training|model)\.([a-z_]+)\b(?![./-]\w)")


def register(labels: dict[str, str]) -> None:
    """'section.key' → the label a form shows for it (capitalised here, as a field's name)."""
    _labels.update({key: label[:1].upper() + label[1:] for key, label in labels.items()})


def window_labels() -> dict[str, str]:
    return dict(_labels)


def in_window_words(text: str | None) -> str | None:
    """`text` with each file key the window has a field for replaced by that field's label in quotes."""
    if not text:
        return text

    def label(match: re.Match) -> str:
        name = _labels.get(match.group(0))
        return f"“{name}”" if name else match.group(0)
    return _KEY.sub(label, text)
