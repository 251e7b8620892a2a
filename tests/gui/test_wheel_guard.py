"""Issue 23, fault 1: the mouse wheel over a form scrolls it and never edits a spin box or combo box
the person has not focused — everywhere in the window and its dialogs."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QScrollArea


def _wheel(widget, notches: int) -> None:
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _value(widget):
    return widget.currentIndex() if isinstance(widget, QComboBox) else widget.text()


def _editable(root) -> list:
    widgets = root.findChildren(QAbstractSpinBox) + root.findChildren(QComboBox)
    return [w for w in widgets if w.isEnabled() and (isinstance(w, QAbstractSpinBox) or w.count() > 1)]


def _assert_wheel_changes_nothing(widgets) -> None:
    for widget in widgets:
        widget.clearFocus()
        before = _value(widget)
        for notches in (-3, 3, -1):
            _wheel(widget, notches)
        assert _value(widget) == before, f"the wheel changed {widget.objectName() or widget!r}"
        assert widget.focusPolicy() != Qt.WheelFocus, f"the wheel would focus {widget!r}"


def test_wheel_edits_no_spin_or_combo_box_of_the_window(window, qtbot):
    window.resize(1024, 700)
    # every page that holds spin or combo boxes: the layer form on a layer with many settings, the
    # data and training settings, the tabs
    row = next(i for i, layer in enumerate(window.document.experiment.model.layers) if layer.type == "Conv2D")
    window.editor.select_row(row)
    widgets = _editable(window)
    kinds = {type(w).__name__ for w in widgets}
    assert len(widgets) >= 8 and {"QComboBox"} <= kinds and kinds & {"QSpinBox", "QDoubleSpinBox"}, kinds
    experiment = window.document.experiment.to_dict()
    _assert_wheel_changes_nothing(widgets)
    assert window.document.experiment.to_dict() == experiment


def test_a_focused_box_still_takes_the_wheel(window, qtbot):
    """The guard only applies without focus: clicked or tabbed into, the wheel edits as Qt's does."""
    combo = next(w for w in _editable(window.settings_panel) if isinstance(w, QComboBox))
    window.settings_dock.raise_()
    window.activateWindow()
    combo.setFocus(Qt.TabFocusReason)
    qtbot.waitUntil(combo.hasFocus, timeout=2000)
    before = combo.currentIndex()
    _wheel(combo, -1 if before < combo.count() - 1 else 1)
    assert combo.currentIndex() != before


def test_the_wheel_over_a_box_scrolls_the_settings_panel(window, qtbot):
    window.resize(1024, 700)
    window.settings_dock.raise_()
    qtbot.waitUntil(window.settings_panel.isVisible, timeout=2000)
    scroll = window.settings_panel.findChild(QScrollArea)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0, "at 1024x700 the settings need scrolling"
    bar.setValue(0)
    box = next(w for w in _editable(window.settings_panel) if w.isVisible()
               and w.mapTo(scroll.viewport(), QPoint(0, 0)).y() < scroll.viewport().height())
    before = _value(box)
    _wheel(box, -2)
    assert bar.value() > 0, "the panel did not scroll"
    assert _value(box) == before


def test_dialogs_take_no_wheel_either(window, qtbot, tmp_path):
    from tapedeck.gui.editor.io_dialogs import HeadDialog, InputDialog, fallback_feeds
    from tapedeck.gui.runs.export_dialog import ExportDialog
    from tapedeck.gui.runs.queue_dialogs import CompareApisDialog, SweepDialog
    from tests.support.run_support import trained_run

    experiment = window.document.experiment
    feeds = window.checker.feeds or fallback_feeds(experiment)
    last = experiment.model.layers[-1].params.get("name") or "dense_1"
    dialogs = [InputDialog(feeds, lambda name: None, "extra", "x"),     # no parent: qtbot closes them
               HeadDialog(feeds, last, None, experiment.training.loss),
               SweepDialog(experiment, str(tmp_path / "runs")),
               CompareApisDialog(experiment, str(tmp_path / "runs")),
               ExportDialog(trained_run())]
    boxes = 0
    for dialog in dialogs:
        qtbot.addWidget(dialog)
        dialog.show()
        widgets = _editable(dialog)
        boxes += len(widgets)
        _assert_wheel_changes_nothing(widgets)
        dialog.reject()
    assert boxes >= 3
