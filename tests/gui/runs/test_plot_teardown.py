"""Off-screen export plots leave nothing live for the cyclic garbage collector.

A pyqtgraph item whose Qt half outlives its Python half's cleared attributes fails later, in whatever
test or user action is running when the collector happens to run: Qt's teardown called a legend label's
``sizeHint`` and raised "'LabelItem' object has no attribute '_sizeHint'" in unrelated tests.
"""
from __future__ import annotations

import gc

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

HISTORY = [{"epoch": 1, "loss": 1.0, "val_loss": 1.2, "accuracy": 0.5, "val_accuracy": 0.4, "learning_rate": 1e-3},
           {"epoch": 2, "loss": 0.5, "val_loss": 0.7, "accuracy": 0.7, "val_accuracy": 0.6, "learning_rate": 1e-3}]


def _live_graphics_items_in_garbage() -> list[str]:
    """Names of pyqtgraph items, Qt half still alive, that only the cyclic collector would free."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication, QGraphicsItem
    from shiboken6 import Shiboken

    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)   # what the event loop would do next
    QApplication.processEvents()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = [type(o).__name__ for o in gc.garbage
                 if isinstance(o, QGraphicsItem) and Shiboken.isValid(o) and type(o).__module__.startswith("pyqtgraph")]
    finally:
        gc.set_debug(0)
        del gc.garbage[:]
    gc.collect()
    return found


def test_exported_plots_are_deleted_whole(qtbot, tmp_path):
    from tapedeck.gui.runs.export_dialog import export_plot
    from tapedeck.gui.runs.run_plots import delete_plot_widgets, run_plot_widgets

    gc.collect()
    widgets = run_plot_widgets(HISTORY, "a run")
    for name, widget in widgets.items():
        export_plot(widget.getPlotItem(), tmp_path / f"{name}.png")
        export_plot(widget.getPlotItem(), tmp_path / f"{name}.svg")
    delete_plot_widgets(widgets.values())
    del widgets, widget
    assert _live_graphics_items_in_garbage() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"run-{k}.{x}" for k in ("loss", "accuracy", "learning-rate") for x in ("png", "svg"))
