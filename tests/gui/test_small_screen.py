"""Issue 23, fault 2: the window fits a 1024x700 screen with every control reachable."""
from __future__ import annotations

from PySide6.QtWidgets import QToolBar


def _toolbar_actions(window):
    for toolbar in window.findChildren(QToolBar):
        for action in toolbar.actions():
            if action.isVisible() and not action.isSeparator():
                yield toolbar, action


def test_the_window_fits_1024_by_700_with_every_toolbar_control_on_screen(window, qtbot):
    assert window.minimumSizeHint().width() <= 1024
    assert window.minimumSizeHint().height() <= 700
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    qtbot.wait(50)
    shown = list(_toolbar_actions(window))
    assert {window.train_action, window.pause_action, window.step_action, window.stop_action} <= \
        {action for _bar, action in shown}
    for toolbar, action in shown:
        widget = toolbar.widgetForAction(action)
        assert widget is not None and widget.isVisible(), f"{action.text()!r} is behind the overflow button"
        right = widget.mapTo(window, widget.rect().topRight()).x()
        assert right <= window.width(), f"{action.text()!r} is off the right edge"
    for page in range(window.tabs.count()):   # no tab needs more width than the window leaves it
        window.tabs.setCurrentIndex(page)
        qtbot.wait(10)
        assert window.tabs.widget(page).width() >= window.tabs.widget(page).minimumSizeHint().width() - 1
    assert window.width() == 1024


def test_a_wide_window_keeps_one_toolbar_row(window, qtbot):
    window.resize(1400, 800)
    qtbot.wait(20)
    assert not window.toolBarBreak(window.run_toolbar)
    window.resize(1024, 700)
    qtbot.wait(20)
    assert window.toolBarBreak(window.run_toolbar)


def test_step_is_in_the_run_menu(window):
    run_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Run")
    assert window.step_action in run_menu.actions()


def test_docks_and_toolbars_come_back_where_they_were_left(make_window, qtbot):
    from PySide6.QtCore import Qt

    first = make_window(wait=False)
    first.addDockWidget(Qt.RightDockWidgetArea, first.settings_dock)
    first.addToolBar(Qt.BottomToolBarArea, first.run_toolbar)
    first.close()
    again = make_window(wait=False)
    assert again.dockWidgetArea(again.settings_dock) == Qt.RightDockWidgetArea
    assert again.toolBarArea(again.run_toolbar) == Qt.BottomToolBarArea
    again.close()


def test_the_training_plots_fill_the_tab_at_every_size(window, qtbot):
    window.training.build_plots()
    for width, height in ((1024, 700), (1280, 800), (1920, 1080)):
        window.resize(width, height)
        qtbot.wait(30)
        plots = window.training.loss_plot.height() + window.training.lr_plot.height()
        assert plots >= 0.6 * window.training.height(), (width, height, plots, window.training.height())


def test_the_model_summary_is_not_clipped_and_the_graph_keeps_its_room(window, qtbot):
    view = window.model_view
    for width, height in ((1280, 800), (1920, 1080)):
        window.resize(width, height)
        window.tabs.setCurrentWidget(view)
        qtbot.wait(30)
        table = view.table
        needed = sum(table.horizontalHeader().sectionSize(c) for c in range(table.columnCount() - 1))
        assert table.viewport().width() >= needed, (width, table.viewport().width(), needed)
        assert view.view.width() >= view.view.minimumWidth()


def test_layer_names_stay_whole_at_1024_a_bad_row_included(window, qtbot):
    window.resize(1024, 700)
    editor = window.editor
    flatten = next(i for i, layer in enumerate(window.document.experiment.model.layers) if layer.type == "Flatten")
    editor.add_layer("Conv2D", row=flatten + 1)          # after Flatten: a marked row
    window.checker.refresh()
    qtbot.waitUntil(lambda: not window.checker.ok, timeout=10_000)
    qtbot.wait(30)
    table, model = editor.table, editor.model
    metrics = table.fontMetrics()
    bad = [r for r in range(model.rowCount()) if model.data(model.index(r, 0), 0x0100)]   # Qt.UserRole: problems
    assert bad
    for row in range(model.rowCount()):
        text = model.data(model.index(row, 1))
        assert table.columnWidth(1) >= metrics.horizontalAdvance(text), text
    assert table.columnViewportPosition(4) + table.columnWidth(4) <= table.viewport().width()   # Params shows
