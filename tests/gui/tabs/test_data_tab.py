"""The Data tab: class counts and a page of images per class, and the augmentation preview — both
computed off the GUI thread."""
from __future__ import annotations

import threading

from tapedeck.engine.spec.experiment import LayerSpec


def test_data_page_and_augmentation_preview(qtbot, window):
    tab = window.data_tab
    assert tab.loaded is None                       # nothing loaded while the tab is hidden
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.loaded is not None, timeout=30_000)
    assert tab._load_job.thread_name == "tapedeck-data-page" != threading.current_thread().name
    counts = tab.loaded["counts"]
    assert len(counts) == 10 and int(counts.sum()) == window.checker.dataset.train_size
    assert "10 classes" in tab.title.text() and f"{int(counts.sum()):,} images" in tab.title.text()
    assert all(len(page) == min(10, int(n)) for page, n in zip(tab.loaded["pages"], counts))

    assert tab.preview_augmentation()               # the stack has no Random* layer: said why
    qtbot.waitUntil(lambda: tab.preview_button.isEnabled(), timeout=30_000)
    assert "no augmentation layer" in tab.preview_status.text()

    experiment = window.document.edited()
    experiment.model.layers.insert(0, LayerSpec("RandomRotation", {"factor": 0.25}))
    window.document.apply(experiment, "Add RandomRotation")
    assert tab.preview_augmentation()
    assert not tab.preview_button.isEnabled()        # busy: the GUI thread is free meanwhile
    qtbot.waitUntil(lambda: tab.preview is not None, timeout=30_000)
    assert tab._augment_job.thread_name == "tapedeck-augment-preview"
    assert tab.preview.shape[:2] == (6, 6) and tab.preview.shape[2:] == (8, 8, 1)
    assert "RandomRotation" in tab.preview_status.text()
