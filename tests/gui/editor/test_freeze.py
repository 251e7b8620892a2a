"""Freezing a layer from the parameter form: the experiment, the undo stack and the layer table."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


def test_untick_train_these_weights_freezes_the_layer(qtbot, make_window):
    window = make_window()
    row = next(i for i, layer in enumerate(window.document.experiment.model.layers) if layer.type == "Dense")
    window.editor.select_row(row)
    window.form.show_row(row)
    box = window.form.editors["trainable"]
    assert box.isChecked()
    box.setChecked(False)
    assert window.document.experiment.model.layers[row].trainable is False
    qtbot.waitUntil(lambda: window.checker.report is not None and window.checker.report.layers[row].frozen,
                    timeout=30_000)
    assert window.checker.report.layers[row].params_text.endswith("frozen")
    window.document.undo_stack.undo()
    assert window.document.experiment.model.layers[row].trainable is True


def test_a_learning_rate_multiplier_from_the_form_is_checked_against_the_loop(qtbot, make_window):
    window = make_window()
    row = next(i for i, layer in enumerate(window.document.experiment.model.layers) if layer.type == "Dense")
    window.editor.select_row(row)
    window.form.show_row(row)
    window.form.editors["learning rate ×"].setValue(0.1)
    assert window.document.experiment.model.layers[row].lr_multiplier == 0.1
    qtbot.waitUntil(lambda: window.checker.report is not None and not window.checker.ok, timeout=30_000)
    assert any("model.fit applies one learning rate" in p for p in window.checker.report.problems)
    window.selectors.choose_loop("tape")
    qtbot.waitUntil(lambda: window.checker.ok, timeout=30_000)
