"""Training from the window with the real engine: a short run fills plots and predictions; pause,
resume and stop; a failed run leaves the window usable. Waits are on main-thread state."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from tests.gui.conftest import small_digits, wait_run_over


def test_one_short_epoch_fills_plots_and_predictions(qtbot, window):
    assert window.train_action.isEnabled()
    window.train_action.trigger()
    assert window.controller.running and not window.editor.isEnabled()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed", finished.message

    training = window.training
    assert training.batch_loss.size >= 1
    assert training.epoch_loss.size == 1 and training.epoch_val_loss.size == 1
    x, y = training.loss_curve.getData()
    assert len(x) == 1 and np.isfinite(y).all()
    bx, by = training.batch_loss_curve.getData()
    assert len(bx) == training.batch_loss.size
    rate = window.document.experiment.training.learning_rate
    rates = training.lr_curve.getData()[1]
    assert len(rates) == 1 and abs(rates[0] - rate) < 1e-8
    assert "Finished" in training.status.text()
    assert training.progress.value() == training.progress.maximum()

    predictions = window.predictions
    assert not predictions.tiles and predictions.confusion.rowCount() == 0   # a hidden tab waits to be shown
    window.tabs.setCurrentWidget(predictions)
    assert 16 <= len(predictions.tiles) <= 64
    assert all(not tile.picture.pixmap().isNull() for tile in predictions.tiles)
    assert all(tile.picture.pixmap().width() >= 64 for tile in predictions.tiles)   # 8x8 scaled up
    assert all(tile.correct is not None for tile in predictions.tiles)
    assert predictions.confusion.rowCount() == 10 and predictions.confusion.columnCount() == 10
    total = sum(int(predictions.confusion.item(r, c).text()) for r in range(10) for c in range(10))
    assert total == window.checker.dataset.test_size
    assert "accuracy" in predictions.test_label.text()

    run_dir = Path(finished.run_dir)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"
    assert window.train_action.isEnabled() and window.editor.isEnabled()


def test_pause_resume_then_stop_mid_epoch(qtbot, make_window):
    window = make_window(small_digits(epochs=30, limit=1200, batch_size=8))
    window.train_action.trigger()
    qtbot.waitUntil(lambda: window.training.batch_loss.size >= 2, timeout=60_000)

    window.pause_action.trigger()
    assert window.controller.paused and window.pause_action.isChecked()
    # paused, Train continues the run and says so (issue 23, fault 4)
    assert window.train_action.isEnabled() and window.train_action.text() == "Continue"
    assert "Continue" in window.train_action.toolTip() and "Cannot" not in window.train_action.toolTip()
    time.sleep(0.3)                      # a step in flight may still report
    qtbot.wait(50)
    seen = window.training.batch_loss.size
    qtbot.wait(700)
    assert window.training.batch_loss.size == seen, "batches kept coming while paused"
    assert window.controller.running

    window.pause_action.trigger()
    assert not window.controller.paused and not window.pause_action.isChecked()
    assert window.train_action.text() == "Train"
    qtbot.waitUntil(lambda: window.training.batch_loss.size > seen + 1, timeout=30_000)

    window.stop_action.trigger()
    started = time.perf_counter()
    finished = wait_run_over(qtbot, window, timeout=30_000)
    assert finished.reason == "stopped", finished.message
    assert time.perf_counter() - started < 10
    assert window.training.epoch_loss.size < 30
    assert "Stopped" in window.training.status.text()
    assert json.loads((Path(finished.run_dir) / "metrics.json").read_text())["status"] == "stopped"


def test_stop_while_paused(qtbot, make_window):
    window = make_window(small_digits(epochs=30, limit=1200, batch_size=8))
    window.train_action.trigger()
    qtbot.waitUntil(lambda: window.training.batch_loss.size >= 1, timeout=60_000)
    window.pause_action.trigger()
    window.stop_action.trigger()
    finished = wait_run_over(qtbot, window, timeout=30_000)
    assert finished.reason == "stopped"
    assert not window.pause_action.isEnabled() and not window.pause_action.isChecked()
    assert window.train_action.text() == "Train"


def test_failed_run_shows_its_message_and_the_window_stays_usable(qtbot, make_window, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=rng.integers(0, 255, (120, 8, 8), dtype=np.uint8),
             y_train=np.arange(120) % 10, x_test=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8),
             y_test=np.arange(40) % 10)
    experiment = small_digits()
    experiment.data.source, experiment.data.path, experiment.data.limit = "npz", str(path), None
    window = make_window(experiment)
    assert window.checker.ok, window.checker.report.all_problems()
    assert "train 108" in window.settings_panel.data_info.text()
    path.unlink()                                      # gone between the check and the run
    window.train_action.trigger()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "failed"
    assert "tiny.npz" in window.training.status.text()
    assert "Failed" in window.training.status.text()
    assert window.train_action.isEnabled() and window.editor.isEnabled()
    window.editor.add_layer("Dropout", row=4)          # still editable
    assert window.document.experiment.model.layers[5].type == "Dropout"


def test_missing_data_is_named_and_blocks_train(qtbot, make_window, tmp_path):
    experiment = small_digits()
    experiment.data.source, experiment.data.path = "npz", str(tmp_path / "absent.npz")
    window = make_window(experiment, wait=False)
    window.start_background_loading()
    qtbot.waitUntil(lambda: window.checker.data_error is not None, timeout=60_000)
    assert "absent.npz" in window.notice.text()                       # said once, above the tabs
    assert "absent.npz" in window.settings_panel.data_info.toolTip()
    assert not window.train_action.isEnabled()
    assert "absent.npz" in window.train_action.toolTip()
    window.train()                                     # refused with the reason, no run
    assert not window.controller.running


def test_keyboard_shortcuts(qtbot, make_window):
    window = make_window(small_digits(epochs=30, limit=1200, batch_size=8))
    window.activateWindow()
    table = window.editor.table
    table.setFocus()
    count = len(window.document.experiment.model.layers)
    qtbot.keyClick(table, Qt.Key_Delete)
    assert len(window.document.experiment.model.layers) == count - 1
    qtbot.keyClick(table, Qt.Key_Z, Qt.ControlModifier)
    assert len(window.document.experiment.model.layers) == count
    qtbot.keyClick(table, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(window.document.experiment.model.layers) == count - 1
    qtbot.keyClick(table, Qt.Key_Z, Qt.ControlModifier)
    window.checker.refresh()
    qtbot.waitUntil(lambda: window.can_train, timeout=10_000)
    qtbot.keyClick(table, Qt.Key_Return, Qt.ControlModifier)      # Ctrl+Enter trains
    assert window.controller.running
    qtbot.waitUntil(lambda: window.training.batch_loss.size >= 1, timeout=60_000)
    qtbot.keyClick(table, Qt.Key_Escape)                          # Esc stops
    assert window.controller.control.stop_requested
    assert wait_run_over(qtbot, window, timeout=30_000).reason == "stopped"


def test_tape_loop_with_functional_model_reports_the_same_events(qtbot, make_window):
    experiment = small_digits("digits_residual", epochs=2, limit=300)
    experiment.training.loop = "tape"
    window = make_window(experiment)
    window.train_action.trigger()                          # shows the Training tab
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed", finished.message
    assert window.training.epoch_loss.size == 2 and window.training.batch_loss.size >= 2
    window.tabs.setCurrentWidget(window.predictions)      # drawn when shown: the last epoch's predictions
    assert window.predictions.summary.text().startswith("Epoch 2:")
    ran = json.loads((Path(finished.run_dir) / "experiment.json").read_text())
    assert ran["training"]["loop"] == "tape" and ran["model"]["api"] == "functional"


def test_diverging_run_says_so(qtbot, make_window):
    experiment = small_digits(epochs=3, limit=300)
    experiment.training.optimizer, experiment.training.learning_rate = "sgd", 1e6
    window = make_window(experiment)
    window.train_action.trigger()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "diverged", finished
    assert "Diverged" in window.training.status.text()
    assert window.train_action.isEnabled()
