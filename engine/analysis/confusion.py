"""Confusion counts, the images of one confusion cell, the surest mistakes and per-class scores: pure
functions of (true labels, probabilities), shared by a reopened run (``engine.analysis.reopen``) and each
head of a several-head run (``engine.analysis.heads``), which therefore need not import each other."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tapedeck.engine.text import percent

__all__ = ["Example", "ClassRow", "confusion_matrix", "confusion_cell", "most_confidently_wrong", "class_table",
           "format_class_table"]


@dataclass(frozen=True)
class Example:
    """One test image as the galleries show it."""

    index: int  # into the test set
    true_label: int
    predicted_label: int
    confidence: float  # probability of the predicted class
    probabilities: np.ndarray  # (classes,)


def confusion_matrix(true_labels, probabilities, num_classes: int) -> np.ndarray:
    """counts[true][predicted], as in metrics.json."""
    from tapedeck.engine.training.evaluation import confusion_metrics

    predicted = np.argmax(probabilities, axis=-1)
    _, _, confusion = confusion_metrics(true_labels, predicted, max(num_classes, np.shape(probabilities)[-1]))
    return np.asarray(confusion, dtype=np.int64)


def confusion_cell(true_labels, probabilities, true_class: int, predicted_class: int) -> list[Example]:
    """The test images of one confusion cell (true A, predicted B), most confident first."""
    true_labels = np.asarray(true_labels, dtype=np.int64)
    predicted = np.argmax(probabilities, axis=-1)
    indices = np.flatnonzero((true_labels == true_class) & (predicted == predicted_class))
    return _examples(indices, true_labels, predicted, probabilities)


def most_confidently_wrong(true_labels, probabilities, count: int = 16) -> list[Example]:
    """The ``count`` mistakes the model was surest of, across all classes."""
    true_labels = np.asarray(true_labels, dtype=np.int64)
    predicted = np.argmax(probabilities, axis=-1)
    wrong = np.flatnonzero(predicted != true_labels)
    return _examples(wrong, true_labels, predicted, probabilities)[:count]


@dataclass(frozen=True)
class ClassRow:
    name: str
    precision: float | None  # None when nothing was predicted as this class
    recall: float | None  # None when the test set holds none of this class
    f1: float | None
    support: int  # test images of this class
    predicted: int  # test images predicted as this class


def class_table(confusion, class_names) -> list[ClassRow]:
    """Per-class precision, recall and F1 from a confusion matrix (rows: true, columns: predicted)."""
    confusion = np.asarray(confusion, dtype=np.int64)
    rows = []
    for c in range(confusion.shape[0]):
        hits = int(confusion[c, c])
        support = int(confusion[c].sum())
        predicted = int(confusion[:, c].sum())
        precision = hits / predicted if predicted else None
        recall = hits / support if support else None
        f1 = (2 * precision * recall / (precision + recall)
              if precision is not None and recall is not None and precision + recall > 0 else
              (0.0 if precision is not None and recall is not None else None))
        name = str(class_names[c]) if c < len(class_names) else str(c)
        rows.append(ClassRow(name, precision, recall, f1, support, predicted))
    return rows


def format_class_table(rows: list[ClassRow]) -> str:
    headers = ("class", "precision", "recall", "f1", "support")
    table = [(r.name, percent(r.precision), percent(r.recall), percent(r.f1), str(r.support)) for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() for t in table]
    return "\n".join(lines)


def _examples(indices, true_labels, predicted, probabilities) -> list[Example]:
    probabilities = np.asarray(probabilities)
    confidence = probabilities[indices, predicted[indices]] if len(indices) else np.zeros(0)
    order = np.argsort(-confidence, kind="stable")
    return [Example(int(indices[i]), int(true_labels[indices[i]]), int(predicted[indices[i]]),
                    float(confidence[i]), probabilities[indices[i]]) for i in order]
