"""Skipped image files are shown in the window as the run starts, not only kept in metrics.json (issue 12)."""
from __future__ import annotations

import numpy as np

from tapedeck.engine.training.events import RunStarted


def test_skipped_files_are_shown_in_the_notice(window):
    warning = "photos: skipped 2 image file(s) that do not decode: cat/broken.png (cannot identify); dog/bomb.png"
    event = RunStarted(run_dir="runs/x", name="net", summary="", trainable=1, non_trainable=0, epochs=1,
                       steps_per_epoch=1, batch_size=1, num_classes=2, class_names=["cat", "dog"],
                       sample_images=np.zeros((1, 8, 8, 1), np.float32), sample_labels=np.zeros(1, np.int64),
                       warnings=(warning,))
    window._on_event(event)
    assert window.notice.isVisible()
    assert "cat/broken.png" in window.notice.text() and "skipped 2" in window.notice.text()
