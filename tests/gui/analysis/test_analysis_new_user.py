"""The Analysis tab as a new user met it (issue 11): an opened image replaces the drawing and the
prepared input is shown; a missing Pillow is said in the window; the matrix per row; feature-map
layers in model order."""
from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.support.run_support import trained_run  # noqa: E402


@pytest.fixture(scope="module")
def analysed():
    from tapedeck.engine.analysis.reopen import open_run

    return open_run(trained_run())


def test_open_image_replaces_the_drawing_and_the_prepared_input_is_shown(qtbot, analysed, tmp_path):
    from PIL import Image

    from tapedeck.gui.analysis.own_input_view import OwnInputView

    view = OwnInputView()
    qtbot.addWidget(view)
    view.show()
    view.set_run(analysed)
    assert "8×8" in view.seen_caption.text() and "fill the frame" in view.seen_caption.text()
    view.canvas.draw_stroke([(20, 20), (60, 20)])                 # a stroke in the top-left corner
    view.predict_drawing()
    assert view.probabilities is not None and not view.seen.pixmap().isNull()

    ring = np.zeros((64, 64), np.uint8)
    ys, xs = np.indices(ring.shape)
    ring[np.abs(np.hypot(ys - 32, xs - 32) - 20) < 4] = 255        # a 0, centred
    path = tmp_path / "zero.png"
    Image.fromarray(ring).save(path)
    assert view.open_image(str(path))
    shown = view.canvas.array()
    assert shown[140, 140] < 0.1 and shown[140, 140 + 88] > 0.5  # the ring is on the canvas…
    assert shown[20, 40] < 0.1                                   # …and the old stroke is gone
    assert "zero.png" in view.status.text()


def test_without_pillow_the_drawing_says_so_in_the_window(qtbot, analysed, monkeypatch):
    from tapedeck.gui.analysis.own_input_view import OwnInputView

    view = OwnInputView()
    qtbot.addWidget(view)
    view.set_run(analysed)
    monkeypatch.setitem(sys.modules, "PIL", None)                # `import PIL` now fails
    view.canvas.draw_stroke([(100, 40), (100, 240)])
    view.predict_drawing()
    assert "Pillow" in view.status.text() and "pip install pillow" in view.status.text()


def test_confusion_matrix_per_row_reads_as_recall(qtbot, analysed):
    from tapedeck.gui.analysis.confusion_view import ConfusionView

    view = ConfusionView()
    qtbot.addWidget(view)
    view.show_run(analysed)
    confusion = analysed.confusion()
    assert view.matrix.item(0, 0).text() == (str(confusion[0, 0]) if confusion[0, 0] else "")
    view.per_row.setChecked(True)
    for r in range(confusion.shape[0]):
        total = confusion[r].sum()
        if total and confusion[r, r]:
            assert view.matrix.item(r, r).text() == f"{100 * confusion[r, r] / total:.0f}%"
    view.per_row.setChecked(False)
    assert view.matrix.item(0, 0).text() == (str(confusion[0, 0]) if confusion[0, 0] else "")


def test_analysis_pages_come_to_the_front_scroll_area_or_not(qtbot):
    from tapedeck.gui.analysis.analysis_tab import AnalysisTab

    tab = AnalysisTab()
    qtbot.addWidget(tab)
    for view in (tab.own_input, tab.feature_maps, tab.confusion):
        tab.show_page(view)
        page = tab.pages.currentWidget()
        assert page is view or page.widget() is view


def test_feature_map_layers_are_listed_in_model_order(qtbot, analysed):
    from tapedeck.gui.analysis.feature_maps_view import FeatureMapsView

    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.set_run(analysed)
    listed = [view.layer.itemText(i) for i in range(view.layer.count())]
    order = [layer.name for layer in analysed.model.layers]
    assert listed == sorted(listed, key=order.index)
    assert listed[:3] == ["conv2d", "max_pooling2d", "conv2d_1"]
