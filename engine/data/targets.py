"""Data for models with several inputs or several heads: the named arrays beside the images and labels.

A data set always has the images (data ``x``) and, but for the npz case below, the labels (target ``label``).
Besides them:
- ``npz`` files may hold ``x_train_<input>`` / ``x_test_<input>`` (data ``x_<input>``) and
  ``y_train_<target>`` / ``y_test_<target>`` (target ``<target>``), with optional ``class_names_<target>``;
  with such named targets the plain ``y_train`` / ``y_test`` may be left out (no target ``label`` then);
- CIFAR-100 (``cifar100`` and the ``cifar`` file source) holds ``fine`` (100 classes) and ``coarse``
  (20 superclasses) at once, the canonical real two-output task;
- ``digits``, ``mnist`` and ``fashion_mnist`` get a derived target ``parity`` (label even or odd), so the
  offline default can train a two-head model with nothing to download.
A target is ``classes`` (integer labels, accuracy) or ``values`` (float numbers, mean absolute error).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Target", "Feeds", "DERIVED", "PARITY_NAMES", "derived_targets", "target_kind", "values_of"]

PARITY_NAMES = ["even", "odd"]
DERIVED = {"parity": ("digits", "mnist", "fashion_mnist")}   # target → sources it is derived for


@dataclass
class Target:
    """One target's arrays for the three splits, and what kind of answer it is."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    kind: str                       # "classes" or "values"
    class_names: list[str] = field(default_factory=list)
    derived: bool = False

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.kind == "classes" else None

    @property
    def width(self) -> int:
        """What a head's last axis must be: one unit per class, or the values' own width."""
        if self.kind == "classes":
            return len(self.class_names)
        return 1 if self.train.ndim == 1 else int(self.train.shape[-1])


@dataclass
class Feeds:
    """What the check needs without loading the data: data shapes and targets (kind, classes, width)."""

    shapes: dict          # data key ("x", "x_<input>") → shape without the batch axis
    targets: dict         # target → (kind, class names, width, derived)

    def describe(self) -> str:
        parts = [f"{key} {tuple(shape)}" for key, shape in self.shapes.items()]
        for name, (kind, names, width, derived) in self.targets.items():
            what = f"{len(names)} classes" if kind == "classes" else f"values of width {width}"
            parts.append(f"{name}: {what}" + (" (derived)" if derived else ""))
        return "; ".join(parts)


def target_kind(y: np.ndarray) -> str:
    """Integer-valued labels are classes; anything with a fraction is a regression target."""
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_):
        return "classes"
    if np.issubdtype(y.dtype, np.floating) and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)) \
            and y.min() >= 0 and y.ndim <= 2 and (y.ndim == 1 or y.shape[1] == 1):
        return "classes"
    return "values"


def values_of(y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=np.float32)


def derived_targets(source: str) -> list[str]:
    return [name for name, sources in DERIVED.items() if source in sources]


def parity(y: np.ndarray) -> np.ndarray:
    return (np.asarray(y) % 2).astype(np.int64)
