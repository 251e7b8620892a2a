"""What differs between two experiments, as dotted key paths (``training.learning_rate``,
``model.layers[2].filters``), so two runs side by side show only the settings that changed.

Both sides are compared in their canonical file form (``Experiment.to_dict``), so a default written
out in one file and left implicit in the other is not a difference. Layers are compared position by
position: a layer added or removed shows as ``model.layers[i]`` present on one side only. A parameter
that one layer sets and the other leaves to Keras's default shows with ``MISSING`` on the other side.
No TensorFlow here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Difference", "MISSING", "experiment_differences", "flatten", "format_differences", "differences_among",
           "format_differences_among",
           "load_experiment_dict"]


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


MISSING = _Missing()  # the key exists on the other side only


@dataclass(frozen=True)
class Difference:
    path: str  # "training.batch_size", "model.layers[3].units", "model.layers[5]"
    left: object
    right: object


def experiment_differences(left, right) -> list[Difference]:
    """Keys whose values differ, in file order (name first, then data, model, training).

    ``left``/``right``: an Experiment, its dict form, or a run folder / experiment file path.
    """
    a, b = _canonical(left), _canonical(right)
    flat_a, flat_b = flatten(a), flatten(b)
    order = list(flat_a) + [key for key in flat_b if key not in flat_a]
    differences = []
    for key in order:
        va, vb = flat_a.get(key, MISSING), flat_b.get(key, MISSING)
        if not _same(va, vb):
            differences.append(Difference(key, _unwrap(va), _unwrap(vb)))
    return differences


def flatten(value, prefix: str = "") -> dict:
    """Nested dicts and the layer list as {dotted path: leaf}; a layer is one level ``layers[i]``.

    Each layer also gets a leaf ``model.layers[i]`` standing for "a layer of this type is here": a layer
    added, removed or replaced by another type is then one difference whose sides are the layer entries.
    """
    out: dict = {}
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if path == "model.layers" and isinstance(item, list):
                for index, layer in enumerate(item):
                    layer_path = f"{path}[{index}]"
                    if isinstance(layer, dict):
                        out[layer_path] = _LayerMarker(layer)
                        for name, param in layer.items():
                            out[f"{layer_path}.{name}"] = param
                    else:
                        out[layer_path] = layer
            elif isinstance(item, dict):
                out.update(flatten(item, path))
            else:
                out[path] = item
    else:
        out[prefix] = value
    return out


def format_differences(differences: list[Difference], left_title: str = "left", right_title: str = "right") -> str:
    """Three columns: key path, left value, right value (what ``tapedeck compare`` prints)."""
    if not differences:
        return "the experiments are identical"
    rows = [(d.path, _described(d.left), _described(d.right)) for d in differences
            if not _layer_detail_of_added(d, differences)]
    headers = ("setting", left_title, right_title)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def load_experiment_dict(path) -> dict:
    """The experiment file of a run folder (or the file itself) as validated canonical JSON."""
    from tapedeck.engine.spec.experiment import load_experiment

    path = Path(path)
    if path.is_dir():
        path = path / "experiment.json"
    return load_experiment(path).to_dict()


class _LayerMarker:
    """Stands for "a layer of this type is here", so an added/removed layer is one difference."""

    def __init__(self, layer: dict):
        self.layer = layer
        self.type = layer.get("type")

    def __eq__(self, other):
        return isinstance(other, _LayerMarker) and other.type == self.type

    def __hash__(self):
        return hash(self.type)

    def __repr__(self):
        return f"<{self.type} layer>"


def _canonical(value) -> dict:
    from tapedeck.engine.spec.experiment import Experiment

    if isinstance(value, Experiment):
        return value.to_dict()
    if isinstance(value, dict):
        try:
            return Experiment.from_dict(value).to_dict()
        except Exception:  # noqa: BLE001 — a foreign or half-valid dict is still worth comparing as is
            return json.loads(json.dumps(value))
    return load_experiment_dict(value)


def _unwrap(value):
    """A whole layer that differs is reported as its file entry (a dict), not as the marker."""
    return dict(value.layer) if isinstance(value, _LayerMarker) else value


def _same(a, b) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b  # 3 == 3.0 is the same setting; lists compare element-wise


def _layer_detail_of_added(d: Difference, all_differences) -> bool:
    """Hide ``model.layers[i].units`` when ``model.layers[i]`` itself is added or removed (or retyped)."""
    if not d.path.startswith("model.layers[") or "." not in d.path[len("model.layers["):]:
        return False
    head = d.path[: d.path.index("]") + 1]
    return any(o.path == head for o in all_differences)


def _described(value) -> str:
    if value is MISSING:
        return "(absent)"
    if isinstance(value, dict) and "type" in value:
        params = ", ".join(f"{k}={json.dumps(v)}" for k, v in value.items() if k != "type")
        return f"{value['type']}({params})"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def differences_among(experiments) -> list[tuple[str, list]]:
    """For three or more runs: every key path on which any of them differs, with each one's value.

    Values are ``MISSING`` where a run lacks the key; a whole added layer is one row as in
    :func:`experiment_differences`.
    """
    flats = [flatten(_canonical(e)) for e in experiments]
    order: list[str] = []
    for flat in flats:
        order += [key for key in flat if key not in order]
    rows = []
    for key in order:
        values = [flat.get(key, MISSING) for flat in flats]
        if any(not _same(values[0], v) for v in values[1:]):
            rows.append((key, [_unwrap(v) for v in values]))
    layer_heads = {key for key, _ in rows if key.startswith("model.layers[") and key.endswith("]")}
    return [(key, values) for key, values in rows
            if not (key.startswith("model.layers[") and not key.endswith("]")
                    and key[: key.index("]") + 1] in layer_heads)]


def format_differences_among(rows: list[tuple[str, list]], titles: list[str]) -> str:
    """One column per run; what ``tapedeck compare`` prints for three or more runs."""
    if not rows:
        return "the experiments are identical"
    headers = ["setting", *titles]
    table = [[key, *(_described(v) for v in values)] for key, values in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() for t in table]
    return "\n".join(lines)
