"""The Analysis tab on a real two-head run (digit + parity): a head selector over the confusion matrix,
galleries and per-class table, and a regression head's predicted-vs-true scatter instead of a matrix."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.support.run_support import two_head_run  # noqa: E402


@pytest.fixture(scope="module")
def analysed():
    from tapedeck.engine.analysis.reopen import open_run

    return open_run(two_head_run())


def matrix_of(view):
    n = view.matrix.rowCount()
    return [[int(view.matrix.item(r, c).text() or 0) for c in range(n)] for r in range(n)]


def test_the_head_selector_switches_matrix_table_and_galleries(qtbot, analysed):
    from tapedeck.gui.analysis.confusion_view import ConfusionView

    view = ConfusionView()
    qtbot.addWidget(view)
    view.show()
    view.show_run(analysed)
    assert view.head_box.isVisible() and view.head_box.count() == 2
    assert view.head.name == "digit" and view.matrix.rowCount() == 10
    saved = json.loads((analysed.run_dir / "metrics.json").read_text())["test"]["heads"]
    assert matrix_of(view) == saved["digit"]["confusion"]

    view.head_box.setCurrentIndex(1)                        # parity, as a click would
    assert view.head.name == "parity" and matrix_of(view) == saved["parity"]["confusion"]
    assert [view.matrix.horizontalHeaderItem(c).text() for c in range(2)] == ["even", "odd"]
    assert view.classes.rowCount() == 2 and "head <b>parity</b>" in view.matrix_title.text()
    view.show_cell(0, 1)                                    # even images called odd
    assert view.cell_gallery.count() == saved["parity"]["confusion"][0][1]
    assert all(analysed.head("parity").true_labels[i] == 0 for i in view.cell_gallery.indices())
    wrong = analysed.head("parity").most_confidently_wrong(48)
    assert view.wrong_gallery.indices() == [e.index for e in wrong]
    view.cell_gallery.setCurrentRow(0)                      # Grad-CAM names the first head's classes only
    assert not view.gradcam_button.isEnabled() and view.open_gradcam(0) is None
    assert "pick that head" in view.gradcam_button.toolTip()
    view.set_head("digit")
    view.wrong_gallery.setCurrentRow(0)
    view.galleries.setCurrentIndex(1)
    assert view.gradcam_button.isEnabled()


def test_a_regression_head_shows_a_scatter_and_its_largest_errors(qtbot, analysed):
    from tapedeck.engine.analysis.heads import HeadAnalysis
    from tapedeck.gui.analysis.confusion_view import ConfusionView

    n = len(analysed.dataset.y_test)
    true = np.linspace(0.0, 1.0, n, dtype=np.float32)
    values = (true + np.where(np.arange(n) == 7, 0.5, 0.01)).astype(np.float32)[:, None]
    size = HeadAnalysis("size", "size", "values", true=true, values=values)
    run = dataclasses.replace(analysed, heads={**analysed.heads, "size": size})
    view = ConfusionView()
    qtbot.addWidget(view)
    view.show()
    view.show_run(run)
    view.set_head("size")
    assert view.left_pages.currentIndex() == 1 and view.scatter is not None
    points = view.scatter.getPlotItem().listDataItems()[-1].getData()
    assert np.allclose(points[0], true) and np.allclose(points[1], values[:, 0])
    assert "mean absolute error" in view.scatter_title.text()
    assert view.wrong_gallery.indices()[0] == 7 and view.galleries.tabText(1).startswith("Largest errors")
    assert not view.galleries.isTabVisible(0)
    view.set_head("digit")                                   # back to a classification head
    assert view.left_pages.currentIndex() == 0 and view.galleries.isTabVisible(0)


def test_the_analysis_tab_opens_a_two_head_run_folder(qtbot):
    from tapedeck.gui.analysis.analysis_tab import AnalysisTab

    tab = AnalysisTab()
    qtbot.addWidget(tab)
    tab.show()
    tab.open_run(two_head_run())
    qtbot.waitUntil(lambda: tab.analysed is not None or tab.error is not None, timeout=60_000)
    assert tab.error is None, tab.error
    assert "heads digit (10 classes), parity (2 classes)" in tab.title.text()
    assert tab.confusion.head_box.count() == 2
    assert tab.shutdown()
