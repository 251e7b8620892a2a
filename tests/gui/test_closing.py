"""Issue 23, fault 5: closing mid-run asks about the run; Discard discards; the next start says a
run was interrupted and offers Resume."""
from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from tapedeck.engine.runs.folder import RunFolder
from tests.gui.conftest import small_digits, wait_checked, wait_run_over


def _window(qtbot, tmp_path, experiment=None):
    from tapedeck.gui.main_window import MainWindow

    window = MainWindow(experiment, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                        runs_dir=str(tmp_path / "runs"))
    qtbot.addWidget(window)
    window.show()
    return window


def test_closing_mid_run_asks_and_cancel_keeps_it_running(qtbot, tmp_path, monkeypatch):
    window = _window(qtbot, tmp_path, small_digits(epochs=40, limit=1200, batch_size=8))
    wait_checked(qtbot, window)
    asked = []
    monkeypatch.setattr(type(window), "_ask_about_run", lambda self, text: asked.append(text) or False)
    window.train()
    qtbot.waitUntil(lambda: window._run_epoch >= 1, timeout=60_000)
    window.close()
    assert asked and "still training" in asked[0] and "Resume" in asked[0]
    assert window.isVisible() and window.controller.running      # Cancel: nothing stopped
    monkeypatch.setattr(type(window), "_ask_about_run", lambda self, text: True)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    run_dir = window._run_dir
    window.close()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)
    assert not window.isVisible()
    assert RunFolder(run_dir).checkpoint_epoch() >= 1

    again = _window(qtbot, tmp_path)            # the next start: said, with Resume
    assert "did not finish: Tapedeck closed during it" in again.notice.text() and again.notice.isVisibleTo(again)
    resume = again.notice.button("Resume")
    assert resume is not None
    wait_checked(qtbot, again)
    resume.click()
    qtbot.waitUntil(lambda: again._run_dir is not None, timeout=30_000)
    assert again._run_dir == run_dir            # the same folder goes on
    again.stop()
    wait_run_over(qtbot, again)
    again.close()
    third = _window(qtbot, tmp_path)            # said once
    assert "did not finish" not in third.notice.text()


def test_discard_on_closing_really_discards(qtbot, tmp_path, monkeypatch):
    window = _window(qtbot, tmp_path)
    epochs = window.document.experiment.training.epochs
    edited = window.document.edited()
    edited.training.epochs = epochs + 7
    window.document.apply(edited, "epochs")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    window.close()
    again = _window(qtbot, tmp_path)
    assert again.document.experiment.training.epochs == epochs and not again.document.modified
    again.ask_to_save = False
    again.close()


def test_discard_of_changes_reopened_unsaved_opens_no_stale_copy(qtbot, tmp_path, monkeypatch):
    window = _window(qtbot, tmp_path)
    window.ask_to_save = False                  # closes keeping the unsaved edit
    edited = window.document.edited()
    edited.training.epochs = 77
    window.document.apply(edited, "epochs")
    window.close()
    again = _window(qtbot, tmp_path)
    assert again.document.modified and again.document.experiment.training.epochs == 77
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    again.close()
    third = _window(qtbot, tmp_path)
    assert third.document.experiment.training.epochs != 77 and not third.document.modified
    third.ask_to_save = False
    third.close()


def test_a_run_is_noted_until_it_finishes_so_a_crash_is_said_too(qtbot, tmp_path):
    window = _window(qtbot, tmp_path, small_digits(epochs=1, limit=200))
    window.ask_to_save = False
    wait_checked(qtbot, window)
    window.train()
    qtbot.waitUntil(lambda: window._run_dir is not None, timeout=30_000)
    outside = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)   # what a crash would leave
    assert outside.value("session/interrupted_run") == window._run_dir
    assert wait_run_over(qtbot, window).reason == "completed"
    outside.sync()
    assert not outside.value("session/interrupted_run")
    window.close()


def test_closing_while_a_sweep_trains_asks_too(qtbot, tmp_path, monkeypatch):
    from types import SimpleNamespace

    window = _window(qtbot, tmp_path)
    asked = []
    monkeypatch.setattr(type(window), "_ask_about_run", lambda self, text: asked.append(text) or False)
    sweep = SimpleNamespace(running=True, controller=object())   # what the Runs menu keeps of an open sweep
    window.analysis.dialogs.append(sweep)
    window.close()
    assert asked and "sweep or comparison" in asked[0] and window.isVisible()
    window.analysis.dialogs.remove(sweep)
    window.ask_to_save = False
    window.close()


def test_an_edit_just_before_closing_starts_no_data_load_after_the_window_is_gone(make_window, qtbot,
                                                                                    monkeypatch):
    """The checker waits a moment after an edit before it checks (and loads a changed data set in a QThread);
    closing in that moment left the wait to fire after the window had closed: a load started then was a
    QThread running while the window went (found by a wheel test that changed the data source to MNIST,
    whose offline load takes from a fraction of a second to seconds to fail)."""
    import time

    from tapedeck.engine.data import streaming
    from tapedeck.gui.threads.jobs import running_jobs

    window = make_window()
    loads = []
    monkeypatch.setattr(streaming, "load_for", lambda *a, **k: loads.append(a) or time.sleep(1.0) or 1 / 0)
    window.document.experiment.data.source = "mnist"   # what the wheel over the data source box did
    window.checker.schedule()
    assert window.checker._timer.isActive()
    window.close()
    qtbot.wait(window.checker.DEBOUNCE_MS + 200)   # past the moment the check would have run
    assert not loads and not running_jobs() and not window.checker.data_loading
