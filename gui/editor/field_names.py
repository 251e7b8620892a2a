"""File keys in the window's words: the engine's messages name fields as the experiment file does
("set data.labels to one_hot"), which the command line keeps; the window names them as its own
labels show them ("set “Label format” to one_hot"), so the person can find the field (issue 23)."""
from __future__ import annotations

import functools
import re

# fields the window shows outside the settings form (the selectors, the source row, the name)
_OTHER_LABELS = {"data.source": "Data source", "data.path": "Data path", "model.api": "Model",
                 "training.loop": "Training", "training.execution": "Execution", "name": "Name",
                 "model.layers": "Layer stack", "model.outputs": "Heads", "model.inputs": "Inputs"}
_KEY = re.compile(r"(?<![\w./-])(data|training|model)\.([a-z_]+)\b(?![./-]\w)")


@functools.cache
def window_labels() -> dict[str, str]:
    """'section.key' → the label the window shows for it, capitalised as a field name."""
    from tapedeck.gui.editor.settings_panel import DATA_FIELDS, TRAINING_FIELDS

    labels = {f"{spec.section}.{spec.key}": spec.label[:1].upper() + spec.label[1:]
              for spec in DATA_FIELDS + TRAINING_FIELDS}
    return {**_OTHER_LABELS, **labels}


def in_window_words(text: str | None) -> str | None:
    """`text` with each file key the window has a field for replaced by that field's label in quotes."""
    if not text:
        return text
    labels = window_labels()

    def label(match: re.Match) -> str:
        name = labels.get(match.group(0))
        return f"“{name}”" if name else match.group(0)
    return _KEY.sub(label, text)
