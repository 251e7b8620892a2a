"""The Training and Predictions tabs as a new user saw them (issue 11): "Paused" and no stale ETA,
one Train/Pause/Stop row, a thin learning-rate strip with whole-epoch ticks, the confusion matrix
whole at 1280×800 and the sample grid as wide as the window."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtWidgets import QAbstractButton

from tapedeck.engine.training.events import Finished, TestResult
from tapedeck.gui.tabs.training_tab import LR_STRIP_PX, TrainingPanel
from tests.gui.conftest import small_digits, wait_run_over


def test_pause_says_paused_and_stop_leaves_no_eta(qtbot, make_window):
    window = make_window(small_digits(epochs=30, limit=1200, batch_size=8))
    window.train_action.trigger()
    qtbot.waitUntil(lambda: "ETA" in window.training.speed.text(), timeout=60_000)
    window.pause_action.trigger()
    time.sleep(0.3)
    qtbot.wait(400)                          # progress updates keep arriving from the timer
    assert "Paused" in window.training.progress.format()
    assert "ETA" not in window.training.speed.text()
    window.pause_action.trigger()
    qtbot.waitUntil(lambda: "ETA" in window.training.speed.text(), timeout=30_000)
    window.stop_action.trigger()
    finished = wait_run_over(qtbot, window, timeout=30_000)
    assert finished.reason == "stopped"
    status = window.training.status.text()
    assert status.startswith("Stopped") and "on request" not in status
    assert "ETA" not in window.training.speed.text() and "samples/s" in window.training.speed.text()


def test_a_failed_run_does_not_show_the_last_runs_test_score(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.handle(TestResult(accuracy=0.9, loss=0.3, confusion=np.eye(2), precision=[1, 1], recall=[1, 1]))
    panel.handle(Finished("completed", "1 epoch(s) trained", None, epoch=1))
    assert "test accuracy 0.9000" in panel.status.text()
    panel.handle(Finished("failed", "int() argument must be a string", None))   # failed before testing
    assert "Failed" in panel.status.text() and "test accuracy" not in panel.status.text()


def test_one_button_row_thin_lr_strip_and_predictions_that_fit(qtbot, make_window):
    window = make_window(small_digits(epochs=3, limit=300))
    window.resize(1280, 800)
    buttons = [b for b in window.findChildren(QAbstractButton)
               if getattr(b, "defaultAction", lambda: None)() is window.train_action]
    assert len(buttons) == 1                                   # the toolbar's, not a second row
    window.train()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed", finished.message
    qtbot.wait(50)
    training = window.training
    assert training.lr_plot.height() <= LR_STRIP_PX
    assert training.loss_plot.height() >= 2.5 * training.lr_plot.height()
    for plot in (training.loss_plot, training.lr_plot):
        axis = plot.getPlotItem().getAxis("bottom")
        assert all(spacing == 1 for spacing, _values in axis.tickValues(0, 3, 600))   # 1, 2, 3: no 1.5

    window.tabs.setCurrentWidget(window.predictions)
    qtbot.wait(100)
    confusion = window.predictions.confusion
    assert confusion.rowCount() == 10
    assert confusion.verticalScrollBar().maximum() == 0       # the last row is not clipped
    narrow = window.predictions.columns
    assert narrow >= 7                                        # the tiles fill the tab's width
    window.resize(1600, 1000)
    qtbot.wait(100)
    assert window.predictions.columns > narrow                # more tiles a row, not empty space
    assert confusion.verticalScrollBar().maximum() == 0


def test_docking_the_runs_panel_keeps_the_window_on_a_1280x800_screen(qtbot, window):
    window.resize(1280, 800)
    dock = window.analysis.runs_dock
    dock.show()
    dock.setFloating(False)
    qtbot.wait(100)
    assert window.minimumSizeHint().height() <= 800
    assert window.height() <= 800
