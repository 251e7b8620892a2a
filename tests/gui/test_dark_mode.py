"""Dark mode: the code highlighter, the runs plots and the status words follow the colour scheme (here
the application palette, as offscreen Qt reports no system scheme) and switch when it changes."""
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from tapedeck.engine.spec.experiment import load_preset
from tests.support.fake_runs import fake_run


@pytest.fixture
def dark(qapp):
    before = qapp.palette()
    palette = QPalette(before)
    for role, colour in ((QPalette.Window, "#202124"), (QPalette.Base, "#1b1b1d"), (QPalette.Text, "#e8e8e8"),
                         (QPalette.WindowText, "#e8e8e8")):
        palette.setColor(role, QColor(colour))

    def switch(on: bool):
        QApplication.setPalette(palette if on else before)
        QApplication.processEvents()
    yield switch
    switch(False)


def test_highlighter_plots_and_status_follow_the_scheme(qtbot, tmp_path, dark):
    from tapedeck.gui.document import Document
    from tapedeck.gui.runs.runs_panel import RunsPanel
    from tapedeck.gui.tabs.code_tab import SYNTAX_DARK, SYNTAX_LIGHT, CodeView
    from tapedeck.gui.widgets.theme import DARK, LIGHT, is_dark

    assert not is_dark()
    code = CodeView(Document(load_preset("digits_cnn"), None))
    qtbot.addWidget(code)
    fake_run(tmp_path, "20261206-120000-a", status="failed")
    panel = RunsPanel(str(tmp_path))
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: not panel.listing)
    panel.select_paths([str(tmp_path / "20261206-120000-a")])
    status = panel.table.item(0, panel.table.columnCount() - 1)
    assert status.foreground().color().name() == LIGHT["bad"]
    assert code.highlighter._rules[0][1].foreground().color().name() == SYNTAX_LIGHT["keyword"]

    dark(True)
    assert is_dark()
    assert code.highlighter.dark and code.highlighter._rules[0][1].foreground().color().name() == SYNTAX_DARK["keyword"]
    assert panel.curves.loss_plot.backgroundBrush().color().name() == DARK["background"]
    assert panel.table.item(0, panel.table.columnCount() - 1).foreground().color().name() == DARK["bad"]
    panel.grab().save(str(tmp_path / "runs-dark.png"))

    dark(False)
    assert not code.highlighter.dark
    assert panel.curves.loss_plot.backgroundBrush().color().name() == LIGHT["background"]


def test_every_plot_of_the_window_follows_the_scheme(qtbot, make_window, dark):
    import pyqtgraph as pg

    from tapedeck.gui.widgets.theme import DARK, LIGHT

    window = make_window()
    for index in range(window.tabs.count()):   # plots are built as their tabs first show
        window.tabs.setCurrentIndex(index)
    def backgrounds():
        return {plot.backgroundBrush().color().name() for plot in window.findChildren(pg.PlotWidget)}

    assert len(window.findChildren(pg.PlotWidget)) >= 5
    dark(True)
    assert backgrounds() == {DARK["background"]}
    assert window.training.loss_plot.getPlotItem().getAxis("left").textPen().color().name() == DARK["text"]
    dark(False)
    assert backgrounds() == {LIGHT["background"]}
