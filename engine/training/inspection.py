"""Taking a training step apart: per-layer gradient, weight and update norms.

The health signal practitioners read is the update ratio ||Δw|| / ||w|| per layer: around 1e-3 a
layer learns, far below it barely moves, far above it is blowing up. The share of exactly-zero
gradients shows dead ReLUs; non-finite entries show where a divergence starts.

The loops hand in one row of raw sums per trainable variable (see ``VARIABLE_COLUMNS``); this module
groups them by layer, decides which steps are inspected (every ``inspect_every`` steps for the live
Gradients view; the last step of a Step request in full), emits the events and appends
``gradients.csv`` in the run folder.
"""
from __future__ import annotations

import csv
import math
from collections import deque
from pathlib import Path

import keras
import numpy as np

from tapedeck.engine.training.callbacks import last_step
from tapedeck.engine.training.events import GradientRecord, LayerStats, StepInspected

__all__ = ["VARIABLE_COLUMNS", "layer_groups", "layer_stats", "weight_only_rows", "Inspector",
           "WeightInspectCallback", "GRADIENT_COLUMNS"]

# Per trainable variable: sum g², sum w² (before the update), sum Δw², #(g == 0), #entries, #non-finite g
VARIABLE_COLUMNS = ("grad_sq", "weight_sq", "update_sq", "zeros", "size", "nonfinite")
GRADIENT_COLUMNS = ("step", "epoch", "layer", "grad_norm", "weight_norm", "update_ratio",
                    "zero_grad_share", "nonfinite")
GROWTH = 1e3   # a gradient norm that grows this much between two records is named as the culprit


def _layer_name(variable) -> str:
    """Keras 3 paths read ``model/layer/kernel``: the layer is the part before the variable's name."""
    path = str(getattr(variable, "path", None) or variable.name)
    parts = path.split("/")
    return parts[-2] if len(parts) >= 2 else path


def layer_groups(variables) -> list[tuple[str, list[int]]]:
    """(layer name, indices of its variables) in the order the variables come (model order)."""
    groups: dict[str, list[int]] = {}
    for index, variable in enumerate(variables):
        groups.setdefault(_layer_name(variable), []).append(index)
    return list(groups.items())


def layer_stats(groups, rows: np.ndarray, gradients_visible: bool = True) -> tuple:
    """Sum each layer's variable rows and turn the sums into norms and ratios."""
    rows = np.asarray(rows, dtype=np.float64)
    stats = []
    for name, indices in groups:
        grad_sq, weight_sq, update_sq, zeros, size, nonfinite = rows[indices].sum(axis=0)
        weight_norm = math.sqrt(weight_sq)
        update_norm = math.sqrt(update_sq)
        ratio = update_norm / weight_norm if weight_norm > 0 else (math.inf if update_norm > 0 else 0.0)
        stats.append(LayerStats(
            name=name,
            weight_norm=weight_norm,
            update_ratio=ratio,
            grad_norm=math.sqrt(grad_sq) if gradients_visible else None,
            zero_grad_share=(zeros / size if size else 0.0) if gradients_visible else None,
            nonfinite=int(nonfinite) if gradients_visible else None,
        ))
    return tuple(stats)


def weight_only_rows(before: list, after: list) -> np.ndarray:
    """Rows from weights alone (plain ``fit`` shows no gradients): gradient columns stay zero."""
    rows = np.zeros((len(before), len(VARIABLE_COLUMNS)))
    for i, (b, a) in enumerate(zip(before, after)):
        b = np.asarray(b, dtype=np.float64)
        a = np.asarray(a, dtype=np.float64)
        rows[i, 1] = float(np.sum(b * b))
        rows[i, 2] = float(np.sum((a - b) ** 2))
        rows[i, 4] = b.size
    return rows


class Inspector:
    """Which steps to take apart, and what becomes of their figures.

    ``every`` > 0 records every ``every`` steps (and the first); a Step request inspects its last
    step in full. ``begin(step)`` is called once as each step starts (it tells the control that
    the step has begun, so a request that arrives mid-step is not taken by that step).
    """

    def __init__(self, emit, control, every: int, gradients_visible: bool, folder: Path | None = None):
        self.emit = emit
        self.control = control
        self.every = int(every or 0)
        self.gradients_visible = gradients_visible
        self.csv_path = Path(folder) / "gradients.csv" if folder is not None else None
        self.recorded = 0
        self.groups = None   # set by the loop: layer_groups(model.trainable_variables)
        self.current_full = False

    def begin(self, step: int) -> bool:
        """A step starts: True when it is to be inspected (``current_full``: in full, for Step)."""
        self.current_full = bool(self.control is not None and self.control.begin_step())
        return self.current_full or self.periodic(step)

    def periodic(self, step: int) -> bool:
        return self.every > 0 and (step == 1 or step % self.every == 0)

    def next_periodic(self, step: int) -> int | None:
        """The first step from ``step`` on that is recorded periodically (a loop that runs several
        steps per call ends its call before it); None when nothing is recorded periodically."""
        if self.every <= 0:
            return None
        return 1 if step <= 1 else -(-step // self.every) * self.every

    @property
    def stepping(self) -> bool:
        """A Step request is under way: the loops take one step per call, so it ends on its step."""
        return self.control is not None and self.control.steps_left is not None

    def record(self, step: int, epoch: int, rows, full: bool, loss: float | None = None,
               images=None, labels=None, before=None, after=None) -> tuple:
        """``rows``: one row of ``VARIABLE_COLUMNS`` per trainable variable, for the step just taken."""
        layers = layer_stats(self.groups, rows, self.gradients_visible)
        if self.periodic(step) or full:
            record = GradientRecord(step=step, epoch=epoch, layers=layers)
            self.recorded += 1
            self._append_csv(record)
            self.emit(record)
        if full:
            self.emit(StepInspected(step=step, epoch=epoch, loss=float("nan") if loss is None else float(loss),
                                    layers=layers, gradients_visible=self.gradients_visible,
                                    images=images, labels=labels, before=before, after=after))
        return layers

    def _append_csv(self, record: GradientRecord) -> None:
        if self.csv_path is None:
            return
        new = not self.csv_path.exists()
        with open(self.csv_path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(GRADIENT_COLUMNS)
            for layer in record.layers:
                writer.writerow([record.step, record.epoch, layer.name, _cell(layer.grad_norm),
                                 _cell(layer.weight_norm), _cell(layer.update_ratio),
                                 _cell(layer.zero_grad_share), "" if layer.nonfinite is None else layer.nonfinite])

    def diagnose(self, recent) -> str | None:
        """After a divergence, from ``recent`` [(step, per-variable sum g²)] of the last steps: the
        first step where a layer's gradient became non-finite or grew ``GROWTH``× in one step, and
        the layer that did so most; else the layer with the largest gradient at the last step."""
        if not recent or self.groups is None:
            return None
        norms = [(step, _layer_norms(self.groups, grad_sq)) for step, grad_sq in recent]
        for (_, old), (step, new) in zip(norms, norms[1:]):
            growth = {name: (math.inf if not math.isfinite(value) else value / old[name] if old[name] > 0 else 0.0)
                      for name, value in new.items()}
            name, factor = max(growth.items(), key=lambda item: item[1])
            if not math.isfinite(factor):
                return f"layer '{name}' was the first whose gradient became non-finite (step {step})"
            if factor >= GROWTH:
                return f"layer '{name}' was the first whose gradient grew {factor:.0e}× in one step (step {step})"
        step, last = norms[-1]
        name = max(last, key=lambda key: last[key] if math.isfinite(last[key]) else math.inf)
        return f"layer '{name}' had the largest gradient norm ({last[name]:.3g}) at step {step}"


def _layer_norms(groups, grad_sq) -> dict:
    grad_sq = np.asarray(grad_sq, dtype=np.float64)
    return {name: math.sqrt(float(np.sum(grad_sq[indices]))) for name, indices in groups}


def _cell(value) -> str:
    return "" if value is None else f"{value:.6g}"


class WeightInspectCallback(keras.callbacks.Callback):
    """``model.fit`` steps, seen from outside: the weights before and after an inspected step.

    Plain ``fit`` keeps the gradients and the batch inside its compiled step, so only weight norms
    and update ratios are shown and the gradient columns say to switch loops instead of
    pretending. With a custom ``train_step`` (``probe``), the step leaves its per-variable gradient
    figures in the probe and the rows are complete; the last steps' figures are kept for the
    divergence diagnosis.
    """

    def __init__(self, inspector: Inspector, steps_per_epoch: int, probe=None):
        """``probe``: (figures variable, flag variable) from ``bind_train_step``, or None for plain fit."""
        super().__init__()
        self.inspector = inspector
        self.steps_per_epoch = steps_per_epoch
        self.probe, self._wanted = probe if probe is not None else (None, None)
        self.recent: deque = deque(maxlen=4)
        self._last_step = 0
        self._asked = False
        self._epoch = 0
        self._before = None
        self._full = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)

    def _step(self, batch) -> int:
        return self._epoch * self.steps_per_epoch + last_step(batch, self.steps_per_epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.inspector.groups is None:
            self.inspector.groups = layer_groups(self.model.trainable_variables)
        wanted = self.inspector.begin(self._step(batch))
        self._full = self.inspector.current_full
        self._before = [np.array(v) for v in self.model.trainable_variables] if wanted else None
        if self._wanted is not None and wanted != self._asked:
            self._wanted.assign(wanted)   # only when it changes: an assign per step costs an op per step
            self._asked = wanted

    def on_train_batch_end(self, batch, logs=None):
        step = self._last_step = self._step(batch)
        if self._before is None:   # reading the probe would make every step wait for the device
            return
        figures = np.asarray(self.probe) if self.probe is not None else None
        if figures is not None:
            self.recent.append((step, figures[:, 0]))
        rows = weight_only_rows(self._before, [np.asarray(v) for v in self.model.trainable_variables])
        if figures is not None:
            rows[:, 0], rows[:, 3], rows[:, 5] = figures[:, 0], figures[:, 1], figures[:, 2]
        loss = (logs or {}).get("loss")
        self.inspector.record(step, self._epoch + 1, rows, full=self._full,
                              loss=None if loss is None else float(np.asarray(loss)))
        self._before = None

    def recent_squares(self) -> list:
        """The inspected steps' figures and, read now, the last step's (a divergence was just seen)."""
        if self.probe is None:
            return []
        last = [(self._last_step, np.asarray(self.probe)[:, 0])]
        return [item for item in self.recent if item[0] != self._last_step] + last
