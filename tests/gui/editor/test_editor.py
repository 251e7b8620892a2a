"""Driving the editor: add, edit, reorder, drag, undo; problems on the right row; selectors."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QListWidget, QSpinBox

from tapedeck.engine.spec.experiment import load_preset


def types(window):
    return [layer.type for layer in window.document.experiment.model.layers]


def settle(qtbot, window):
    """Let the debounced check run."""
    window.checker.refresh()
    qtbot.wait(1)


def test_add_edit_reorder_and_undo(qtbot, window):
    start = types(window)
    assert start == ["Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dropout", "Dense"]

    window.editor.select_row(3)                       # Flatten
    row = window.editor.add_layer("Dense")
    assert row == 4 and types(window)[4] == "Dense"
    assert window.editor.current_row == 4
    settle(qtbot, window)
    assert window.checker.report.layers[4].output_shape == (128,)   # the catalogue's pre-filled units

    units = window.form.editors["units"]
    assert isinstance(units, QSpinBox) and units.minimum() == 1
    units.setValue(12)                                  # typed: every keystroke merges into one step
    units.setValue(16)
    assert window.document.experiment.model.layers[4].params["units"] == 16
    settle(qtbot, window)
    model = window.editor.model
    assert model.data(model.index(4, 3)) == "(16)"
    activation = window.form.editors["activation"]
    assert isinstance(activation, QComboBox) and activation.findData(None) >= 0
    activation.setCurrentIndex(activation.findData("tanh"))
    activation.activated.emit(activation.currentIndex())
    assert window.document.experiment.model.layers[4].params["activation"] == "tanh"

    window.editor.move_layer(4, 6)                      # reorder with the buttons' code path
    assert types(window)[6] == "Dense" and types(window)[4] == "Dense"
    assert window.document.experiment.model.layers[6].params["units"] == 16

    # drag and drop: row 1 (MaxPooling2D) dropped on top; the document moves it (queued)
    mime = model.mimeData([model.index(1, 0)])
    model.dropMimeData(mime, Qt.MoveAction, 0, 0, QModelIndex())
    qtbot.waitUntil(lambda: types(window)[0] == "MaxPooling2D")

    stack = window.document.undo_stack
    steps = stack.count()
    assert steps == 5        # add, units (merged), activation, move, drag
    for _ in range(steps):
        stack.undo()
    assert types(window) == start
    stack.redo()
    assert types(window)[4] == "Dense" and window.document.experiment.model.layers[4].params["units"] == 128
    stack.redo()
    assert window.document.experiment.model.layers[4].params["units"] == 16
    assert window.document.modified and window.windowTitle().startswith("Tapedeck — digits_cnn")


def test_shape_error_marks_its_row_and_disables_train(qtbot, window):
    assert window.train_action.isEnabled()
    window.editor.add_layer("Conv2D", row=3)            # after Flatten: needs (H, W, C)
    settle(qtbot, window)
    model = window.editor.model
    problems = model.data(model.index(4, 0), Qt.UserRole)
    assert problems and any("Flatten" in p or "(H, W, C)" in p or "image" in p for p in problems), problems
    assert model.data(model.index(4, 0), Qt.BackgroundRole) is not None
    assert all(not model.data(model.index(r, 0), Qt.UserRole) for r in range(4))
    assert not window.train_action.isEnabled()
    window.editor.select_row(4)
    assert window.editor.problem.isVisibleTo(window) and "⚠" in window.editor.problem.text()

    window.editor.remove_layer(4)
    settle(qtbot, window)
    assert window.train_action.isEnabled()
    window.document.undo_stack.undo()                   # the bad layer comes back, Train goes again
    settle(qtbot, window)
    assert not window.train_action.isEnabled()


def test_duplicate_and_totals(qtbot, window):
    before = window.checker.report.trainable
    assert f"{before:,}" in window.editor.totals.text()
    window.editor.duplicate_layer(5)                    # Dropout: no parameters, same shape
    settle(qtbot, window)
    assert types(window)[5:7] == ["Dropout", "Dropout"]
    assert window.checker.report.trainable == before
    window.editor.duplicate_layer(4)                    # Dense(64) after Dense(64): 64*64+64 more
    settle(qtbot, window)
    assert window.checker.report.trainable == before + 64 * 64 + 64
    assert f"{before + 4160:,}" in window.editor.totals.text()


def test_api_selector_refuses_sequential_for_branches(qtbot, make_window):
    window = make_window(load_preset("digits_residual"))
    selectors = window.selectors
    assert selectors.api_buttons["functional"].isChecked()
    selectors.api_buttons["sequential"].click()
    assert window.document.experiment.model.api == "functional"
    assert selectors.api_buttons["functional"].isChecked()
    assert "Sequential" in window.notice.text() and "Functional" in window.notice.text()
    assert window.notice.isVisibleTo(window)

    selectors.api_buttons["subclassing"].click()
    assert window.document.experiment.model.api == "subclassing"
    selectors.loop_buttons["tape"].click()
    assert window.document.experiment.training.loop == "tape"
    qtbot.waitUntil(lambda: "GradientTape" in window.code.editor.toPlainText(), timeout=5000)
    assert "keras.Model" in window.code.editor.toPlainText()
    assert window.code.error is None

    # the merge layer's inputs picker lists earlier layers, the chosen ones checked
    window.editor.select_row(3)
    picker = window.form.editors["inputs"]
    assert isinstance(picker, QListWidget)
    checked = [picker.item(i).text() for i in range(picker.count())
               if picker.item(i).checkState() == Qt.Checked]
    assert checked == ["stem", "conv_b"]
    picker.item(0).setCheckState(Qt.Checked)            # "input": shape (8, 8, 1) cannot be added
    assert window.document.experiment.model.layers[3].inputs == ["input", "stem", "conv_b"]
    settle(qtbot, window)
    assert window.checker.problems_for_row(3) and not window.train_action.isEnabled()
    # the graph drawing has a box per layer plus the input
    assert len([i for i in window.model_view.scene.items() if i.type() == 8]) >= 11   # text items


def test_sequential_chain_accepts_every_api(qtbot, window):
    for api in ("functional", "subclassing", "sequential"):
        window.selectors.api_buttons[api].click()
        assert window.document.experiment.model.api == api
    assert window.notice.text() == "" and not window.notice.isVisibleTo(window)
    qtbot.waitUntil(lambda: "keras.Sequential" in window.code.editor.toPlainText(), timeout=5000)


def test_rename_follows_references(qtbot, make_window):
    window = make_window(load_preset("digits_residual"))
    window.editor.select_row(0)
    name = window.form.editors["name"]
    name.setText("trunk")
    name.editingFinished.emit()
    layers = window.document.experiment.model.layers
    assert layers[0].name == "trunk" and layers[3].inputs == ["trunk", "conv_b"]
    settle(qtbot, window)
    assert window.checker.ok


def test_files_new_open_save_recent(qtbot, window, tmp_path):
    path = tmp_path / "mine.json"
    window.editor.add_layer("Dropout", row=5)
    assert window.isWindowModified()
    assert window.save_to(str(path))
    assert not window.isWindowModified()
    assert window.recent_files()[0] == str(path.resolve())
    window.new_experiment()
    assert window.windowTitle().startswith("Tapedeck — untitled")
    assert window.open_path(str(path)) is None
    assert types(window).count("Dropout") == 2 and window.document.path == str(path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "tapedeck/1", "name": "x", "model": {"layers": [{"type": "Dense", "units": -5}]}}')
    error = window.open_path(str(bad))
    assert error and "units" in error
    assert window.document.path == str(path)            # the open experiment is kept
    assert window.open_path(str(tmp_path / "missing.json"))
