"""The window reopens the experiment it closed on (QSettings), saved or not."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from tapedeck.engine.spec.experiment import dumps, load_preset, save_experiment
from tests.gui.conftest import small_digits


def _window(qtbot, settings_path, runs):
    from tapedeck.gui.main_window import MainWindow

    window = MainWindow(None, settings=QSettings(str(settings_path), QSettings.IniFormat), runs_dir=str(runs))
    window.ask_to_save = False
    qtbot.addWidget(window)
    return window


def test_the_window_reopens_the_last_experiment(qtbot, tmp_path):
    settings = tmp_path / "settings.ini"
    first = _window(qtbot, settings, tmp_path / "runs")
    assert first.document.experiment.name == "digits_cnn"          # first start: the default preset
    path = tmp_path / "mine.json"
    experiment = small_digits(epochs=4)
    experiment.name = "mine"
    save_experiment(experiment, path)
    assert first.open_path(str(path)) is None
    first.close()

    second = _window(qtbot, settings, tmp_path / "runs")
    assert second.document.experiment.name == "mine" and second.document.path == str(path)
    assert not second.document.modified
    edited = second.document.edited()
    edited.training.epochs = 9                                      # unsaved when the window closes
    second.document.apply(edited, "epochs")
    second.close()

    third = _window(qtbot, settings, tmp_path / "runs")
    assert third.document.experiment.training.epochs == 9 and third.document.modified
    third.close()


def test_an_untouched_preset_reopens_unmodified_and_an_edited_one_modified(qtbot, tmp_path):
    """No file behind either: the closing window's word decides (it once said "modified" for any
    fileless session, so every later close asked to save, and Qt's quit hung behind the question)."""
    settings = tmp_path / "settings.ini"
    first = _window(qtbot, settings, tmp_path / "runs")
    assert first.document.path is None and not first.document.modified
    first.close()
    second = _window(qtbot, settings, tmp_path / "runs")
    assert second.document.experiment.name == "digits_cnn" and not second.document.modified
    edited = second.document.edited()
    edited.training.epochs = 7
    second.document.apply(edited, "epochs")
    second.close()
    third = _window(qtbot, settings, tmp_path / "runs")
    assert third.document.experiment.training.epochs == 7 and third.document.modified
    third.close()
    old = QSettings(str(settings), QSettings.IniFormat)   # a session written before the flag existed
    old.remove("session/modified")
    old.sync()
    assert _window(qtbot, settings, tmp_path / "runs").document.modified          # epochs 7: not the preset
    old.setValue("session/experiment", dumps(load_preset("digits_cnn")))   # the preset as shipped
    old.sync()
    assert not _window(qtbot, settings, tmp_path / "runs").document.modified


def test_a_fault_in_a_slot_shows_in_the_window(qtbot, tmp_path, capsys):
    window = _window(qtbot, tmp_path / "settings.ini", tmp_path / "runs")
    try:
        raise ValueError("the drawing broke")
    except ValueError as error:
        window.report_unexpected(type(error), error, error.__traceback__)
    assert "the drawing broke" in window.notice.text() and window.notice.isVisibleTo(window)
    assert "Traceback" in capsys.readouterr().err
    window.close()
