"""The data browser's engine side: class counts, a page per class, the augmentation preview."""
from __future__ import annotations

import numpy as np
import pytest

from tapedeck.engine.analysis.data_pages import (
    AugmentationError,
    augment_preview,
    augmentation_specs,
    class_counts,
    examples_per_class,
)
from tapedeck.engine.spec.experiment import LayerSpec, load_preset


def test_counts_and_pages_per_class():
    labels = np.array([0, 2, 2, 1, 2, 0])
    assert class_counts(labels, 4).tolist() == [2, 1, 3, 0]
    pages = examples_per_class(labels, 4, 2)
    assert [p.tolist() for p in pages] == [[0, 5], [3], [1, 2], []]


def test_augmentation_preview_runs_the_stacks_random_layers():
    experiment = load_preset("digits_cnn")
    with pytest.raises(AugmentationError, match="no augmentation layer"):
        augment_preview(experiment, np.zeros((2, 8, 8, 1), np.float32))
    experiment.model.layers.insert(0, LayerSpec("RandomFlip", {"mode": "horizontal"}))
    experiment.model.layers.insert(1, LayerSpec("RandomRotation", {"factor": 0.2}))
    assert [s.type for s in augmentation_specs(experiment)] == ["RandomFlip", "RandomRotation"]
    images = np.zeros((3, 8, 8, 1), np.float32)
    images[:, 1:7, 2, 0] = 1.0                 # a vertical bar off centre: a flip or a turn moves it
    out = augment_preview(experiment, images, copies=5, seed=1)
    assert out.shape == (3, 5, 8, 8, 1)
    assert not all(np.allclose(out[0, k], images[0]) for k in range(5))
    assert len({out[0, k].tobytes() for k in range(5)}) > 1   # different draws
