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


def test_a_notice_that_expires_mid_run_is_hidden_when_the_run_ends(window, monkeypatch):
    """Hiding the notice re-lays out the window (an event-loop stall): not while training."""
    running = {"now": True}
    monkeypatch.setattr(type(window.controller), "running", property(lambda self: running["now"]))
    window.show_notice("steps_per_execution auto: 4 training step(s) per call")
    window._notice_timer.timeout.emit()          # the notice's time is up, mid-run
    assert window.notice.isVisible() and "auto: 4" in window.notice.text()
    running["now"] = False
    window._running_changed(False)
    assert not window.notice.isVisible()
    window.show_notice("a new notice")           # expiring with no run: hidden at once
    window._notice_timer.timeout.emit()
    assert not window.notice.isVisible()


def test_what_auto_chose_goes_to_the_status_line_not_the_notice(window):
    """Every run on "auto" says it: in the status line (and Inside the step), not in a notice that
    re-lays out the window as each run starts."""
    from tapedeck.engine.training.events import RunNote

    window.statusBar().showMessage("Run folder: runs/x")
    window._on_event(RunNote("steps_per_execution", "steps_per_execution auto: 3 training step(s) per call "
                                                    "(a step ≈ 16.0 ms estimated, calls of ≈ 50 ms, at most 64)"))
    assert not window.notice.isVisible()
    assert window.statusBar().currentMessage() == ("Run folder: runs/x · steps_per_execution auto: 3 training "
                                                   "step(s) per call (more in Inside the step)")
    window._on_event(RunNote("data_plan", "data: in memory (decoded ≈ 0.1 MiB, within data.memory_budget_mb 1,024)"))
    assert not window.notice.isVisible()
    assert window.statusBar().currentMessage().endswith(
        "(more in Inside the step) · data: in memory")
    assert window.step_panel.warning.isHidden()   # not a warning in Inside the step either
    window._on_event(RunNote("precision", "mixed_float16 without a GPU"))   # a warning: the notice
    assert window.notice.isVisible() and "float16" in window.notice.text()
