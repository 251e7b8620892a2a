"""The input and head dialogs offer what the data set holds and refuse a bad name before OK."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialogButtonBox  # noqa: E402

from tapedeck.engine.data.targets import Feeds  # noqa: E402
from tapedeck.engine.spec.heads import HeadSpec  # noqa: E402

FEEDS = Feeds({"x": (8, 8, 1), "x_extra": (5,)},
              {"label": ("classes", [str(i) for i in range(10)], 10, False),
               "parity": ("classes", ["even", "odd"], 2, True), "size": ("values", [], 1, False)})


def test_input_dialog_lists_the_data_arrays_and_checks_the_name(qtbot):
    from tapedeck.gui.editor.io_dialogs import InputDialog

    dialog = InputDialog(FEEDS, lambda name: None if name == "extra" else "taken", "extra", "x_extra")
    qtbot.addWidget(dialog)
    assert [dialog.data.itemData(i) for i in range(dialog.data.count())] == ["x", "x_extra"]
    assert dialog.data.itemText(1) == "x_extra  (5)" and dialog.values() == ("extra", "x_extra")
    ok = dialog.buttons.button(QDialogButtonBox.Ok)
    assert ok.isEnabled()
    dialog.name.setText("image")
    assert not ok.isEnabled() and dialog.problem.text() == "taken"


def test_head_dialog_offers_targets_and_suggests_a_regression_loss(qtbot):
    from tapedeck.gui.editor.io_dialogs import HeadDialog

    dialog = HeadDialog(FEEDS, "parity", HeadSpec("parity", "parity", None, 0.5), "sparse_categorical_crossentropy")
    qtbot.addWidget(dialog)
    assert [dialog.target.itemData(i) for i in range(dialog.target.count())] == ["label", "parity", "size"]
    assert dialog.target.currentText() == "parity — 2 classes, derived"
    assert dialog.values() == ("parity", None, 0.5)
    dialog.target.setCurrentIndex(2)                    # a number target: a regression loss is chosen
    assert dialog.values()[1] == "mean_squared_error"
    dialog.target.setCurrentIndex(0)                    # back to classes: back to the training loss
    assert dialog.values()[1] is None
    assert dialog.loss.itemText(0) == "training loss (sparse_categorical_crossentropy)"
