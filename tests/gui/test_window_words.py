"""Issue 23, faults 13 and 15: the window names fields as it labels them (the command line keeps the
file keys), and shows no parameter count for a stack that does not check."""
from __future__ import annotations

import tapedeck.gui.editor.settings_panel  # noqa: F401 - the settings form registers its labels
from tapedeck.gui.widgets.field_names import in_window_words


def test_file_keys_become_the_window_labels_and_nothing_else_changes():
    text = in_window_words("training.loss x expects integer labels, but data.labels is one_hot; "
                           "set data.labels to sparse. /home/me/data.npz stays, data.nothing stays")
    assert "“Loss” x" in text and "set “Label format” to sparse" in text
    assert "/home/me/data.npz" in text and "data.nothing" in text and "training.loss" not in text


def test_a_loss_that_does_not_suit_the_labels_is_said_in_the_windows_words(window, qtbot):
    edited = window.document.edited()
    edited.training.loss = "categorical_crossentropy"       # the digits' labels are sparse
    window.document.apply(edited, "loss")
    window.checker.refresh()
    qtbot.waitUntil(lambda: not window.checker.ok, timeout=10_000)
    said = window.editor.problem.text()
    assert "“Loss”" in said and "“Label format”" in said, said
    assert "training.loss" not in said and "data.labels" not in said
    assert "counted once the stack checks" in window.editor.totals.text()
    assert "training.labels" not in window.editor.totals.text()
    fix = window.settings_panel.editors["data.labels"]       # the field the message names is there
    fix.setCurrentIndex(fix.findText("one_hot"))
    fix.activated.emit(fix.currentIndex())                    # as a person's choice arrives
    qtbot.waitUntil(lambda: window.document.experiment.data.labels == "one_hot", timeout=5000)
    window.checker.refresh()
    qtbot.waitUntil(lambda: window.checker.ok, timeout=30_000)
    assert "Parameters:" in window.editor.totals.text() and "—" not in window.editor.totals.text()
