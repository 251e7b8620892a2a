"""A reopened several-head run, one head at a time.

A several-input / several-head model takes a dict by input name and returns a dict by head layer name, so
the one-head path (one array of probabilities) cannot describe it. Here the test set is predicted once for
all heads; each :class:`HeadAnalysis` then answers what the analysis views ask of a head: its confusion
matrix, a cell's images, the surest mistakes and the per-class table for a classification head, or the
predicted and true values (and their error) for a regression head, which has no confusion matrix. The
conversion to probabilities is the run's own (``evaluation.probability_converter`` with each head's
loss), so the counts equal metrics.json's ``test.heads``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tapedeck.engine.analysis.confusion import class_table, confusion_cell, confusion_matrix, most_confidently_wrong

__all__ = ["HeadAnalysis", "predict_heads", "single_head"]


@dataclass
class HeadAnalysis:
    """One head's test-set predictions. ``probabilities`` for a classification head (N, classes); for a
    regression head ``values`` holds the predictions (N, width) and ``true`` the true values."""

    name: str                      # the head's layer (Keras's output name)
    target: str                    # the data set's target it learns ("label", "parity", …)
    kind: str                      # "classes" or "values"
    class_names: list = field(default_factory=list)
    true: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None

    @property
    def regression(self) -> bool:
        return self.kind == "values"

    @property
    def true_labels(self) -> np.ndarray:
        return np.asarray(self.true, dtype=np.int64)

    @property
    def predicted_labels(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=-1)

    @property
    def accuracy(self) -> float | None:
        if self.regression or not len(self.true):
            return None
        return float(np.mean(self.predicted_labels == self.true_labels))

    @property
    def mae(self) -> float | None:
        """Mean absolute error of a regression head (as Keras's ``<head>_mae``)."""
        if not self.regression or not len(self.true):
            return None
        return float(np.mean(np.abs(self.errors())))

    def errors(self) -> np.ndarray:
        """Predicted minus true, (N, width)."""
        n = len(self.true)
        return (np.asarray(self.values, dtype=np.float64).reshape(n, -1)
                - np.asarray(self.true, dtype=np.float64).reshape(n, -1))

    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.true_labels, self.probabilities, len(self.class_names))

    def cell(self, true_class: int, predicted_class: int):
        return confusion_cell(self.true_labels, self.probabilities, true_class, predicted_class)

    def most_confidently_wrong(self, count: int = 16):
        return most_confidently_wrong(self.true_labels, self.probabilities, count)

    def class_table(self):
        return class_table(self.confusion(), self.class_names)


def single_head(name: str, true, probabilities, class_names) -> HeadAnalysis:
    """The one head of a one-head run, so the views ask every run the same way."""
    return HeadAnalysis(name, "label", "classes", list(class_names), np.asarray(true), np.asarray(probabilities))


def predict_heads(model, experiment, dataset, batch_size: int = 256) -> dict[str, HeadAnalysis]:
    """Every head's test-set predictions from one pass (dict in, dict out), in the experiment's head order."""
    from tapedeck.engine.spec import heads as head_specs
    from tapedeck.engine.training.evaluation import probability_converter
    from tapedeck.engine.training.heads_io import plan_heads

    plan = plan_heads(experiment, dataset)
    x = {spec.name: np.asarray(dataset.data_arrays(spec.data)[2], dtype=np.float32)
         for spec in head_specs.inputs_of(experiment.model)}
    n = len(next(iter(x.values())))
    chunks = [model({k: v[start:start + batch_size] for k, v in x.items()}, training=False)
              for start in range(0, n, batch_size)]
    out = {p.name: np.concatenate([np.asarray(c[p.name], dtype=np.float32) for c in chunks]) if chunks
           else np.zeros((0, p.target.width), dtype=np.float32) for p in plan}
    result = {}
    for p in plan:
        true = np.asarray(p.target.test)
        if p.regression:
            result[p.name] = HeadAnalysis(p.name, p.spec.target, "values", [], true.astype(np.float32),
                                          values=np.asarray(out[p.name], dtype=np.float32))
            continue
        probabilities = np.asarray(probability_converter(p.training)(out[p.name]), dtype=np.float32)
        result[p.name] = HeadAnalysis(p.name, p.spec.target, "classes", list(p.target.class_names),
                                      true.astype(np.int64), probabilities)
    return result
