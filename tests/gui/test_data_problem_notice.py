"""Issue 23, fault 6: a data set that does not load is said once, above the tabs, in the window's
words and with its fixes as buttons; the layer list keeps its rows."""
from __future__ import annotations

from tests.gui.conftest import small_digits


def test_a_data_set_that_does_not_load_is_said_once_with_a_button_to_digits(make_window, qtbot, tmp_path):
    experiment = small_digits()
    experiment.data.source, experiment.data.path = "npz", str(tmp_path / "missing.npz")
    window = make_window(experiment, wait=False)
    window.resize(1280, 800)
    window.start_background_loading()
    qtbot.waitUntil(lambda: window.checker.data_error is not None, timeout=120_000)
    qtbot.waitUntil(lambda: window.notice.isVisibleTo(window), timeout=5000)
    said = window.notice.text()
    assert said.startswith("The data did not load") and "missing.npz" in said
    assert "data.source" not in said and "data.path" not in said
    # once: the layer list and the settings point to it in a line, not a second copy
    assert "missing.npz" not in window.editor.problem.text()
    assert "missing.npz" not in window.settings_panel.data_info.text()
    assert "missing.npz" in window.settings_panel.data_info.toolTip()
    problem = window.editor.problem
    assert problem.heightForWidth(problem.width()) <= 3 * problem.fontMetrics().lineSpacing() + 4
    assert window.notice.button("Open the downloaded file…") is not None
    window.notice.button("Use digits instead").click()
    assert window.document.experiment.data.source == "digits"
    qtbot.waitUntil(lambda: window.checker.dataset is not None and window.checker.ok, timeout=120_000)
    assert not window.notice.isVisibleTo(window)
