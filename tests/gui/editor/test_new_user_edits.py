"""What a new user hit in the editor (issue 11): epochs / batch size of 1, the unmarked last layer, the
Code tab of a stack that does not check, Edit-menu words, undo's selection, preset titles."""
from __future__ import annotations

from PySide6.QtCore import Qt

from tapedeck.engine.spec.experiment import list_presets
from tapedeck.engine.spec.presets import preset_note
from tests.gui.conftest import small_digits, wait_run_over


def settle(qtbot, window):
    window.checker.refresh()
    qtbot.wait(1)


def test_epochs_and_batch_size_of_one_are_numbers_and_train(qtbot, make_window):
    window = make_window(small_digits(epochs=2, limit=40, batch_size=8))
    editors = window.settings_panel.editors
    editors["training.epochs"].setValue(1)          # the spin box's lowest value
    editors["training.batch_size"].setValue(1)
    training = window.document.experiment.training
    assert training.epochs == 1 and training.batch_size == 1
    qtbot.waitUntil(lambda: "epochs = 1" in window.code.editor.toPlainText(), timeout=5000)
    assert "batch_size = 1" in window.code.editor.toPlainText()
    editors["data.limit"].setValue(0)                # still "all" for limit, "none" for the seed
    editors["training.seed"].setValue(-1)
    assert window.document.experiment.data.limit is None and window.document.experiment.training.seed is None
    editors["data.limit"].setValue(40)
    editors["training.tensorboard"].setChecked(True)  # the experiment file's switch, now in the form
    assert window.document.experiment.training.tensorboard is True
    editors["training.tensorboard"].setChecked(False)
    settle(qtbot, window)
    window.train()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed", finished.message
    assert window.training.epoch_loss.size == 1


def test_last_dense_with_the_wrong_units_marks_its_row(qtbot, window):
    last = len(window.document.experiment.model.layers) - 1
    window.editor.select_row(last)
    window.form.editors["units"].setValue(5)
    settle(qtbot, window)
    model = window.editor.model
    problems = model.data(model.index(last, 0), Qt.UserRole)
    assert problems and "set its units to 10" in problems[0], problems
    assert model.data(model.index(last, 1)).startswith("⚠")
    assert not window.train_action.isEnabled()


def test_code_tab_of_a_stack_that_does_not_check_says_so(qtbot, window):
    code = window.code
    assert code.copy_button.isEnabled() and "Runs with plain" in code.caption.text()
    window.editor.add_layer("Conv2D", row=3)            # after Flatten: does not check
    settle(qtbot, window)
    code.regenerate()
    assert "does not check" in code.caption.text() and "Runs with plain" not in code.caption.text()
    assert not code.copy_button.isEnabled() and not code.save_button.isEnabled()
    window.document.undo_stack.undo()
    settle(qtbot, window)
    code.regenerate()
    assert code.copy_button.isEnabled() and code.save_button.isEnabled()
    assert code.default_name() == "digits_cnn_sequential_fit.py"
    window.selectors.loop_buttons["tape"].click()
    assert code.default_name() == "digits_cnn_sequential_tape.py"   # the two scripts do not collide


def test_edit_menu_says_what_the_arrows_do_and_undo_selects_the_layer_edited(qtbot, window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    entries = [a.text().replace("&", "") for a in menus["Edit"].actions() if a.text()]
    assert "Move layer up" in entries and "Move layer down" in entries
    assert window.editor.up_action.iconText() == "▲"      # the button beside the table keeps its arrow

    window.editor.select_row(4)
    window.editor.move_layer(4, 6)
    assert window.editor.current_row == 6
    window.document.undo_stack.undo()
    assert window.editor.current_row == 4                 # the layer, back where it was
    window.document.undo_stack.redo()
    assert window.editor.current_row == 6
    window.editor.select_row(2)
    window.editor.add_layer("Dropout")
    assert window.editor.current_row == 3
    window.document.undo_stack.undo()
    assert window.editor.current_row == 2


def test_presets_are_listed_by_title_with_what_they_teach(qtbot, window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    file_menu = menus["File"]
    presets = next(a.menu() for a in file_menu.actions() if a.text().replace("&", "") == "Open preset")
    groups = {a.text(): a.menu() for a in presets.actions()}   # by data set, then one entry per model
    assert {"Digits (offline)", "MNIST", "CIFAR-100"} <= set(groups)
    digits = [a.text() for a in groups["Digits (offline)"].actions()]
    assert "Digits CNN (offline default)" in digits and "Digits GAN (DCGAN, two models)" in digits
    mnist = {a.text(): a for a in groups["MNIST"].actions()}
    assert "MNIST CNN" in mnist and not any(" — " in title and "GradientTape" in title for title in mnist)
    assert all(preset_note(name).teaches for name in list_presets())
    entries = [a for menu in groups.values() for a in menu.actions()]
    assert all(a.toolTip() and a.toolTip() != a.text() for a in entries)
    # the API and loop come from the selectors: functional + GradientTape opens that variant
    window.selectors.choose_api("functional")
    window.selectors.choose_loop("tape")
    window.ask_to_save = False
    mnist["MNIST CNN"].trigger()
    assert window.document.experiment.name == "mnist_cnn_functional_tape"
    from tapedeck.gui.threads.jobs import running_jobs

    qtbot.waitUntil(lambda: not running_jobs(), timeout=60_000)   # the MNIST data's (offline) load ends
