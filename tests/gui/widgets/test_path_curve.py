"""The live training curves: Qt path items under pyqtgraph axes, painted with no Python."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from tapedeck.gui.tabs.training_tab import TrainingPanel
from tapedeck.gui.widgets.path_curve import _decimate


def shown_panel(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 700)
    panel.show()
    panel.build_plots()
    qtbot.waitExposed(panel)
    return panel


def test_range_changes_reach_the_view_without_pyqtgraphs_paint_hook(qtbot):
    panel = shown_panel(qtbot)
    view = panel.loss_plot.getPlotItem().getViewBox()
    panel.loss_plot.setXRange(0, 10, padding=0)
    panel.loss_plot.setYRange(0, 2, padding=0)
    # No paint has happened yet: the data -> pixel transform must already be the new one.
    corner = view.childGroup.mapToItem(view, QPointF(10, 0))
    assert abs(corner.x() - view.width()) < 1.5 and abs(corner.y() - view.height()) < 1.5


def test_epoch_markers_follow_data_log_axis_and_the_legend(qtbot):
    panel = shown_panel(qtbot)
    curve = panel.val_loss_curve
    panel.loss_plot.setXRange(0, 4, padding=0)
    panel.loss_plot.setYRange(0, 2, padding=0)
    curve.setData([1, 2, 3], [1.5, np.nan, 0.5])
    assert curve.marks.path().elementCount() == 2 * 5          # two squares (NaN skipped)
    width = curve.marks.path().boundingRect().width()
    pixel = curve.view.viewPixelSize()[0]
    assert abs(width - (2 + 8 * pixel)) < 1e-6                 # 8-pixel markers around x=1..3

    panel.log_loss.setChecked(True)
    top = curve.marks.path().boundingRect().bottom()           # data y grows upward: "bottom" is max
    assert abs(top - (np.log10(1.5) + 4 * curve.view.viewPixelSize()[1])) < 1e-6

    legend = panel.loss_plot.getPlotItem().legend
    sample = next(s for s, label in legend.items if label.text == "validation")
    sample.item.setVisible(False)                              # what a click on the legend does
    assert not curve.line.isVisible() and not curve.marks.isVisible()


def test_a_long_series_is_decimated_to_its_peaks():
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 50)
    y[54_321] = 40.0
    y[70_000:70_100] = np.nan
    dx, dy = _decimate(x, y, 1600)
    assert len(dx) <= 1700 and np.nanmax(dy) == 40.0 and np.nanmin(dy) == np.nanmin(y)
    assert np.all(np.diff(dx) >= 0)
    small = np.arange(10.0)
    assert _decimate(small, small, 1600)[0] is small


def test_auto_range_fits_the_curves(qtbot):
    panel = shown_panel(qtbot)
    panel.loss_plot.setXRange(0, 100, padding=0)
    panel.loss_plot.setYRange(0, 100, padding=0)
    panel.batch_loss_curve.setData(np.linspace(0, 3, 50), np.linspace(2.0, 0.5, 50))
    panel.val_loss_curve.setData([1, 2, 3], [1.8, 1.2, 0.9])
    panel.loss_plot.getPlotItem().getViewBox().enableAutoRange()   # the plot's "A" button
    (x0, x1), (y0, y1) = panel.loss_plot.getPlotItem().viewRange()
    assert -0.5 < x0 <= 0 and 3 <= x1 < 3.5 and 0.3 < y0 <= 0.5 and 2.0 <= y1 < 2.3


def test_zooming_in_redraws_the_visible_stretch_in_full_detail(qtbot):
    panel = shown_panel(qtbot)
    x = np.linspace(0, 100, 50_000)
    y = np.sin(x * 40)
    panel.loss_plot.setXRange(0, 100, padding=0)
    panel.loss_plot.setYRange(-1, 1, padding=0)
    panel.batch_loss_curve.setData(x, y)
    whole = panel.batch_loss_curve.line.path().elementCount()
    assert whole <= 2 * panel.batch_loss_curve.view.width() + 2
    panel.loss_plot.setXRange(10, 10.5, padding=0)                 # 250 points in view
    path = panel.batch_loss_curve.line.path()
    assert 250 <= path.elementCount() <= 254
    first, last = path.elementAt(0).x, path.elementAt(path.elementCount() - 1).x
    assert 9.99 < first < 10.0 <= path.elementAt(1).x and 10.5 <= last < 10.51   # one point beyond each end
