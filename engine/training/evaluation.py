"""The test-set verdict at the end of a run, computed the same way whichever loop trained.

Raw model outputs → probabilities (softmax/sigmoid when the loss works on logits), then loss,
accuracy, per-class precision and recall and the confusion matrix with plain numpy.
"""
from __future__ import annotations

import numpy as np

from tapedeck.engine.training.events import TestResult

__all__ = ["probability_converter", "evaluate_test", "confusion_metrics"]


def probability_converter(training):
    """Map raw outputs (N, k) to class probabilities (N, classes); a single sigmoid unit → 2 columns."""
    from_logits = bool(training.from_logits)
    binary = training.loss == "binary_crossentropy"

    def to_probabilities(outputs) -> np.ndarray:
        outputs = np.asarray(outputs, dtype=np.float64)
        if outputs.ndim == 1:
            outputs = outputs[:, None]
        if binary or outputs.shape[-1] == 1:
            p = 1.0 / (1.0 + np.exp(-outputs)) if from_logits else outputs
            if p.shape[-1] == 1:
                p = np.concatenate([1.0 - p, p], axis=-1)
            return p.astype(np.float32)
        if from_logits:
            shifted = outputs - outputs.max(axis=-1, keepdims=True)
            e = np.exp(shifted)
            outputs = e / e.sum(axis=-1, keepdims=True)
        return outputs.astype(np.float32)

    return to_probabilities


def confusion_metrics(true_labels, predicted_labels, num_classes: int):
    true_labels = np.asarray(true_labels, dtype=np.int64)
    predicted_labels = np.asarray(predicted_labels, dtype=np.int64)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    inside = (true_labels < num_classes) & (predicted_labels < num_classes)
    np.add.at(confusion, (true_labels[inside], predicted_labels[inside]), 1)
    diagonal = np.diag(confusion).astype(np.float64)
    predicted_totals = confusion.sum(axis=0)
    true_totals = confusion.sum(axis=1)
    precision = np.divide(diagonal, predicted_totals, out=np.zeros_like(diagonal), where=predicted_totals > 0)
    recall = np.divide(diagonal, true_totals, out=np.zeros_like(diagonal), where=true_totals > 0)
    return precision.tolist(), recall.tolist(), confusion.tolist()


def evaluate_test(model, x_test, y_for_loss, true_labels, loss_fn, to_probabilities, num_classes: int,
                  batch_size: int) -> TestResult:
    """One pass over the test set in batches; the loss includes regularisation, as ``evaluate`` does."""
    batches = (x_test.batches(batch_size) if hasattr(x_test, "batches")   # streamed: read ahead in parallel
               else (x_test[start:start + batch_size] for start in range(0, len(x_test), batch_size)))
    outputs = [np.asarray(model(batch, training=False)) for batch in batches]
    raw = np.concatenate(outputs, axis=0)
    loss = float(np.asarray(loss_fn(y_for_loss, raw)))
    if model.losses:
        loss += float(sum(float(np.asarray(v)) for v in model.losses))
    probabilities = to_probabilities(raw)
    predicted = np.argmax(probabilities, axis=-1)
    true_labels = np.asarray(true_labels, dtype=np.int64)
    accuracy = float(np.mean(predicted == true_labels)) if len(true_labels) else float("nan")
    precision, recall, confusion = confusion_metrics(true_labels, predicted, max(num_classes, probabilities.shape[-1]))
    return TestResult(loss=loss, accuracy=accuracy, precision=precision, recall=recall, confusion=confusion)
