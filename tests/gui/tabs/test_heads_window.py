"""A two-head model trained through the window (digits, 300 examples, 1 epoch): the per-head curves,
the Predictions head selector on the real sample (a dict of inputs) and the run's folder in the Runs table."""
from __future__ import annotations

from tests.gui.conftest import small_digits, wait_run_over


def test_train_a_two_head_model_from_the_window(qtbot, make_window):
    window = make_window(small_digits("digits_two_heads_functional", limit=300))
    assert window.can_train
    window.train()
    finished = wait_run_over(qtbot, window, timeout=120_000)
    assert finished.reason == "completed", finished
    curves = window.training.head_curves
    assert not curves.isHidden() and len(curves.curve_data("val_parity_accuracy")[1]) == 1
    assert "parity" in window.training.status.text() and "digit" in window.training.status.text()
    window.tabs.setCurrentWidget(window.predictions)
    qtbot.waitUntil(lambda: window.predictions.confusion.rowCount() == 10)
    window.predictions.set_head("parity")
    assert window.predictions.confusion.rowCount() == 2
    assert len(window.predictions.tiles) > 0 and "true" in window.predictions.tiles[0].caption.text()
    panel = window.analysis.runs_panel
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.listing)   # the runs folder is listed in the background
    column = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())].index("test acc")
    assert panel.table.item(0, column).text().startswith("digit ") and "· parity " in panel.table.item(0, column).text()
