"""The panels on their own: plots with a diverging loss, settings edits with undo, opening data
by path, code copy/save, the graph layout."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QSpinBox

from tapedeck.engine.data.sources import guess_source
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import BatchEnd, EpochEnd, Finished, Predictions, RunStarted
from tapedeck.gui.tabs.model_tab import layout_levels
from tapedeck.gui.tabs.predictions_tab import PredictionsPanel
from tapedeck.gui.tabs.training_tab import Series, TrainingPanel


def started(epochs=3, steps=10):
    return RunStarted(run_dir="r", name="n", summary="", trainable=10, non_trainable=0, epochs=epochs,
                      steps_per_epoch=steps, batch_size=4, num_classes=2, class_names=["a", "b"],
                      sample_images=np.zeros((2, 4, 4, 1), np.float32), sample_labels=np.array([0, 1]))


def test_huge_loss_switches_to_log_axis_and_nan_is_survived(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.build_plots()
    panel.handle(started())
    for step, loss in enumerate([2.0, 1e5, 1e38, float("nan")], start=1):
        panel.handle(BatchEnd(1, step, 10, loss, 0.1, step * 4, 100.0))
    assert panel.log_loss.isChecked()
    assert panel.loss_plot.getPlotItem().getAxis("left").logMode
    panel.handle(EpochEnd(1, float("nan"), 0.1, None, None, 0.01, 1.0))
    panel.redraw()
    x, y = panel.batch_loss_curve.getData()
    assert len(x) == 4
    (low, high) = panel.loss_plot.getPlotItem().viewRange()[1]
    assert np.isfinite(low) and np.isfinite(high)
    panel.handle(Finished("diverged", "loss became NaN at step 4", None, step=4))
    assert "Diverged" in panel.status.text() and "step 4" in panel.status.text()


def test_redraw_pushes_only_changed_curves(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.build_plots()
    panel.handle(started())
    panel.handle(BatchEnd(1, 1, 10, 1.0, 0.5, 4, 100.0))
    panel.redraw()
    lr_version = panel._drawn[id(panel.lr_curve)]
    panel.handle(BatchEnd(1, 2, 10, 0.9, 0.5, 8, 100.0))
    panel.redraw()
    assert panel._drawn[id(panel.lr_curve)] == lr_version          # untouched by batches
    assert len(panel.batch_loss_curve.getData()[0]) == 2
    panel.handle(EpochEnd(1, 0.9, 0.5, 0.8, 0.6, 0.001, 1.0))
    panel.redraw()
    assert panel._drawn[id(panel.lr_curve)] != lr_version
    assert "epoch 1/3" in panel.progress.format() and "ETA" in panel.speed.text()


def test_series_keeps_its_extremes_for_the_axis():
    series = Series()
    for i, value in enumerate([2.0, None, float("nan"), -0.5, 0.25, float("inf"), 7.0] * 60):
        series.append(i, value)
    assert (series.low, series.high, series.low_positive) == (-0.5, 7.0, 0.25)
    assert series.size == 420 and np.isnan(series.view()[1][1])
    series.clear()
    assert series.high == -np.inf and series.size == 0


def test_predictions_wait_for_their_tab_and_a_new_run_reuses_the_tiles(qtbot):
    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    panel.handle(started())
    panel.handle(Predictions(1, np.array([0, 1]), np.array([0, 0]), np.array([[0.9, 0.1], [0.6, 0.4]])))
    assert panel.tiles == []                      # hidden: nothing laid out while training
    panel.show()
    qtbot.waitUntil(lambda: len(panel.tiles) == 2)
    first = list(panel.tiles)
    assert [tile.correct for tile in first] == [True, False]
    assert "1 of 2" in panel.summary.text()

    bright = started()
    bright = RunStarted(**{**bright.__dict__, "sample_images": np.ones((3, 4, 4, 1), np.float32),
                           "sample_labels": np.array([1, 0, 1])})
    panel.handle(bright)                          # visible: shown at once
    assert panel.tiles[:2] == first and len(panel.tiles) == 3
    assert all(tile.correct is None and tile.styleSheet() == "" for tile in panel.tiles)
    assert panel.tiles[0].picture.pixmap().toImage().pixelColor(5, 5).lightness() == 255
    assert "true b" in panel.tiles[0].caption.text()


def test_speed_text_does_not_relayout_the_panel(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    width = panel.speed.width()
    panel.speed.setText("123,456 samples/s · ETA 12h 34m")
    assert panel.speed.width() == width and panel.speed.minimumWidth() == panel.speed.maximumWidth()
    assert panel.speed.fontMetrics().horizontalAdvance(panel.speed.text()) <= width


def test_settings_edit_and_undo(qtbot, window):
    epochs = window.settings_panel.editors["training.epochs"]
    assert isinstance(epochs, QSpinBox)
    epochs.setValue(7)
    epochs.setValue(8)
    assert window.document.experiment.training.epochs == 8
    optimizer = window.settings_panel.editors["training.optimizer"]
    assert isinstance(optimizer, QComboBox)
    momentum = window.settings_panel.editors["training.momentum"]
    assert not momentum.isVisibleTo(window.settings_panel)       # adam has no momentum
    optimizer.setCurrentIndex(optimizer.findText("sgd"))
    optimizer.activated.emit(optimizer.currentIndex())
    assert window.document.experiment.training.optimizer == "sgd"
    assert momentum.isVisibleTo(window.settings_panel)
    limit = window.settings_panel.editors["data.limit"]
    limit.setValue(0)                                              # the lowest value means "all"
    assert window.document.experiment.data.limit is None
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert window.document.experiment.training.epochs == 1         # the typed 7, 8 were one step
    assert window.document.experiment.training.optimizer == "adam"
    assert epochs.value() == 1


def test_steps_per_call_reads_auto_at_its_lowest_value_and_says_what_stop_does(qtbot, window):
    editor = window.settings_panel.editors["training.steps_per_execution"]
    assert isinstance(editor, QSpinBox) and "within this many steps" in editor.toolTip()
    editor.setValue(8)
    assert window.document.experiment.training.steps_per_execution == 8
    editor.setValue(0)
    assert window.document.experiment.training.steps_per_execution == "auto"
    assert editor.text() == "auto" and not window.document.experiment.problems()


def test_open_data_folder_guesses_the_format_and_names_a_bad_file(qtbot, window, tmp_path):
    idx = tmp_path / "idx"
    idx.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (idx / name).write_bytes(b"\x00\x00\x08\x01")              # a header cut short
    assert guess_source(str(idx)) == ("idx", "")
    (tmp_path / "x.npz").write_bytes(b"")
    assert guess_source(str(tmp_path / "x.npz")) == ("npz", "")
    window.settings_panel.open_path(str(idx))
    assert window.document.experiment.data.source == "idx"
    assert window.document.experiment.data.path == str(idx)
    qtbot.waitUntil(lambda: window.checker.data_error is not None, timeout=30_000)
    assert "idx" in window.notice.text() and "idx" in window.settings_panel.data_info.toolTip()   # said once
    assert not window.train_action.isEnabled()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    source, why = guess_source(str(text_file))
    assert source is None and "notes.txt" in why


def test_code_copy_and_save(qtbot, window, tmp_path):
    code = window.code
    qtbot.waitUntil(lambda: "model.fit" in code.editor.toPlainText(), timeout=5000)
    code.copy()
    assert QGuiApplication.clipboard().text() == code.editor.toPlainText()
    target = tmp_path / "script.py"
    code.save(str(target))
    assert target.read_text() == code.editor.toPlainText()
    compile(target.read_text(), str(target), "exec")              # the export is valid Python


def test_graph_levels_put_merges_below_their_inputs():
    from tapedeck.engine.spec.graph import resolve

    nodes, problems = resolve(load_preset("digits_residual").model.layers)
    assert not problems
    placed = layout_levels(nodes)
    assert placed["skip"][0] > placed["conv_b"][0] > placed["stem"][0] > placed["input"][0]
    assert placed["classes"][0] == max(level for level, _column in placed.values())
