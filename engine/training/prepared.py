"""A data set's arrays in the form a run trains on: labels one-hot when the loss wants them, plus the integer
labels the metrics count (a several-head run fills the same fields with dicts, engine.training.heads_io).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Prepared", "prepare"]


@dataclass
class Prepared:
    """Arrays in the form the loss wants (one-hot when asked), plus the integer labels for metrics."""

    x_train: object
    y_train: object
    x_val: object
    y_val: object
    x_test: object
    y_test: object
    test_labels: object
    has_validation: bool


def prepare(dataset, experiment) -> Prepared:
    """One input, one head: the arrays as loaded, the labels shaped for the loss."""
    import numpy as np

    training = experiment.training
    one_hot = getattr(experiment.data, "labels", "sparse") == "one_hot" or training.loss == "categorical_crossentropy"

    def labels(y):
        y = np.asarray(y, dtype=np.int64)
        if one_hot:
            return np.eye(dataset.num_classes, dtype=np.float32)[y]
        if training.loss == "binary_crossentropy":
            return y.astype(np.float32)
        return y

    has_validation = dataset.x_val is not None and len(dataset.x_val) > 0
    return Prepared(
        x_train=dataset.x_train,
        y_train=labels(dataset.y_train),
        x_val=dataset.x_val if has_validation else None,
        y_val=labels(dataset.y_val) if has_validation else None,
        x_test=dataset.x_test,
        y_test=labels(dataset.y_test),
        test_labels=np.asarray(dataset.y_test, dtype=np.int64),
        has_validation=has_validation,
    )
