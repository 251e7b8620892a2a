"""Start a run from weights an imported model brought along (``training.initial_weights``).

The file is the ``.weights.npz`` that ``engine.model.importer.save_weights`` writes: every layer's
weights as ``<layer name>:<index>`` arrays, read back with ``allow_pickle=False``. They are matched by
layer name, so they load whichever API builds the model. A layer of the stack the file does not name
starts fresh (a new head for fine-tuning); a layer the file names with other shapes is refused, with
its name and both shapes, instead of training from a half-loaded model. The file is copied into the
run folder, so the run records exactly what it started from.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

__all__ = ["start_from_weights", "RUN_COPY"]

RUN_COPY = "initial.weights.npz"


def start_from_weights(model, path, folder=None) -> str | None:
    """Load ``path`` into ``model`` (after it is built); returns a sentence for the run's notes, or None
    when the experiment names no weights. Raises UserProblemError for a missing or mismatched file."""
    if not path:
        return None
    import numpy as np

    from tapedeck.engine.training.problems import UserProblemError

    path = Path(path).expanduser()
    where = "training.initial_weights"
    if not path.is_file():
        raise UserProblemError([f"{where}: {path} does not exist; import the model again with --keep-weights "
                                "or set initial_weights to null to start from fresh weights"])
    fix = ("make one with `tapedeck import MODEL.keras -o EXP.json --keep-weights`, or set initial_weights to null "
           "to start from fresh weights")
    try:
        loaded_file = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserProblemError([f"{where}: {path} is not a weights file Tapedeck wrote ({error}); {fix}"]) from None
    if not isinstance(loaded_file, np.lib.npyio.NpzFile):   # a .npy holds one bare array
        raise UserProblemError([f"{where}: {path} holds one array, not a weights file Tapedeck wrote (a .weights.npz "
                                f"of arrays named <layer>:<index>); {fix}"])
    try:
        with loaded_file as archive:
            stored = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise UserProblemError([f"{where}: {path} is not a weights file Tapedeck wrote ({error}); {fix}"]) from None
    foreign = [key for key in stored if not re.fullmatch(r".+:\d+", key)]
    if foreign or not stored:
        what = f"arrays named {', '.join(foreign[:3])}" if foreign else "no arrays"
        raise UserProblemError([f"{where}: {path} holds {what}, not a weights file Tapedeck wrote (arrays named "
                                f"<layer>:<index>); {fix}"])
    by_layer: dict[str, list] = {}
    for key, value in stored.items():
        name, _, index = key.rpartition(":")
        by_layer.setdefault(name, []).append((int(index), value))
    loaded, fresh, problems = [], [], []
    for layer in list(getattr(model, "stack", None) or model.layers):
        current = layer.get_weights()
        if not current:
            continue
        if layer.name not in by_layer:
            fresh.append(layer.name)
            continue
        values = [value for _index, value in sorted(by_layer[layer.name], key=lambda item: item[0])]
        shapes = [tuple(v.shape) for v in values]
        wanted = [tuple(v.shape) for v in current]
        if shapes != wanted:
            problems.append(f"{where}: layer {layer.name!r} holds weights of shapes {shapes} in {path.name}, the "
                            f"model now has {wanted}; rename the layer to start it fresh, or undo the change")
            continue
        if not all(np.all(np.isfinite(v)) for v in values if np.issubdtype(v.dtype, np.floating)):
            # a damaged file: the run would "diverge" at its first step, blaming the learning rate
            problems.append(f"{where}: layer {layer.name!r} holds NaN or infinite weights in {path.name}; the file "
                            f"is damaged: {fix}")
            continue
        layer.set_weights(values)
        loaded.append(layer.name)
    if problems:
        raise UserProblemError(problems)
    if folder is not None:
        shutil.copyfile(path, Path(folder.path) / RUN_COPY)
    note = f"started from the weights in {path.name}: {len(loaded)} layer(s) loaded"
    if fresh:
        note += f"; new layer(s) with fresh weights: {', '.join(fresh)}"
    return note
