"""install_analysis on the real MainWindow: Runs dock, Analysis tab and Runs menu, fed by a real run."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.gui.conftest import small_digits, wait_run_over  # noqa: E402


def installed(window):
    from tapedeck.gui.runs.runs_menu import AnalysisInstall, install_analysis

    existing = getattr(window, "analysis", None)  # once the window calls install_analysis itself
    return existing if isinstance(existing, AnalysisInstall) else install_analysis(window)


def test_window_run_appears_in_runs_and_analysis(qtbot, make_window):
    window = make_window(small_digits(epochs=1, limit=120))
    analysis = installed(window)
    menus = {action.text().replace("&", ""): action.menu() for action in window.menuBar().actions()}
    assert "Runs" in menus
    entries = [a.text().replace("&", "") for a in menus["Runs"].actions() if a.text()]
    assert {"Compare the three APIs…", "Sweep…", "Export…", "Runs panel"} <= set(entries)
    assert window.tabs.indexOf(analysis.analysis_tab) >= 0
    assert analysis.runs_panel.table.rowCount() == 0

    window.train()
    finished = wait_run_over(qtbot, window)
    assert finished.reason == "completed"
    qtbot.waitUntil(lambda: analysis.runs_panel.table.rowCount() == 1)  # listed again when the run ended
    assert analysis.analysis_tab.analysed is None  # not loaded while nobody looks at it
    window.tabs.setCurrentWidget(analysis.analysis_tab)
    qtbot.waitUntil(lambda: analysis.analysis_tab.analysed is not None, timeout=60_000)
    assert str(analysis.analysis_tab.analysed.run_dir) == str(finished.run_dir)

    # a run's experiment back into the editor
    edited = window.document.edited()
    edited.training.epochs = 7
    window.document.apply(edited, "epochs")
    analysis.runs_panel.select_paths([str(finished.run_dir)])
    analysis.runs_panel.open_selected()
    assert window.document.experiment.training.epochs == 1 and not window.document.modified

    dialog = analysis.sweep()
    assert dialog is not None and dialog.isVisible()
    dialog.close()

    # a stack that does not check: the queues refuse with a message instead of a dialog
    broken = window.document.edited()
    broken.model.layers = []
    window.document.apply(broken, "empty")
    qtbot.waitUntil(lambda: not window.checker.ok, timeout=10_000)
    assert analysis.compare_apis() is None
    assert "fix the marked layers" in window.notice.text()

    # closing the window mid-load waits for the loading thread (none may outlive the window)
    analysis.analysis_tab.open_run(finished.run_dir)
    assert analysis.analysis_tab.loading
    window.close()
    assert not analysis.analysis_tab.loading
