"""A run's own plots, drawn from its history.csv for export.

Exporting what happens to be on screen exported another run's curves (the Training tab shows the
run trained last, whichever run was picked for export). These plots are made for the one run being
exported, at a fixed size and exported at that size (no scaling), so tick labels and legend keep
the proportions they have on screen. They are top-level widgets that are never put on screen
(``WA_DontShowOnScreen``): Qt still lays them out, which pyqtgraph's exporters need.
"""
from __future__ import annotations

from PySide6.QtCore import Qt

from tapedeck.gui.runs.run_curves import history_series
from tapedeck.gui.widgets.plain_axes import plain_axes

EXPORT_SIZE = (960, 560)
FONT_PT = 11
TRAIN_COLOUR, VAL_COLOUR, LR_COLOUR = "#1f5fa8", "#d9631e", "#2e8b57"


def _plot_widget(title: str, y_label: str, epochs: int):
    import pyqtgraph as pg
    from PySide6.QtGui import QFont

    widget = pg.PlotWidget(background="w")
    widget.setAttribute(Qt.WA_DontShowOnScreen)
    item = widget.getPlotItem()
    item.setTitle(title, color="#222", size=f"{FONT_PT + 2}pt")
    font = QFont()
    font.setPointSize(FONT_PT)
    for name, label in (("bottom", "epoch"), ("left", y_label)):
        axis = item.getAxis(name)
        axis.setLabel(label, **{"font-size": f"{FONT_PT}pt", "color": "#222"})
        axis.setTickFont(font)
        axis.setTextPen("#222")
    plain_axes(item)   # no "loss (x0.001)" in an exported figure either (issue 23)
    if 0 < epochs <= 12:
        item.getAxis("bottom").setTickSpacing(major=1, minor=1)   # whole epochs
    item.showGrid(x=True, y=True, alpha=0.25)
    item.addLegend(offset=(-10, 10), labelTextColor="#222", labelTextSize=f"{FONT_PT}pt",
                   brush=pg.mkBrush(255, 255, 255, 210))
    widget.resize(*EXPORT_SIZE)
    return widget


def run_plot_widgets(history, label: str) -> dict:
    """{file name: PlotWidget} for one run's history rows: loss, accuracy and (when recorded) the
    learning rate. The caller exports ``widget.getPlotItem()`` and then hands them to ``delete_plot_widgets``."""
    import pyqtgraph as pg

    epochs = max((row["epoch"] for row in history), default=0)
    plots = {}
    for key, title in (("loss", "Loss"), ("accuracy", "Accuracy")):
        widget = _plot_widget(f"{title} — {label}", key, epochs)
        item = widget.getPlotItem()
        item.plot(*history_series(history, key), pen=pg.mkPen(TRAIN_COLOUR, width=2.5), symbol="o", symbolSize=7,
                  symbolBrush=TRAIN_COLOUR, symbolPen=TRAIN_COLOUR, name="training")
        item.plot(*history_series(history, f"val_{key}"), pen=pg.mkPen(VAL_COLOUR, width=2.5), symbol="s",
                  symbolSize=7, symbolBrush=VAL_COLOUR, symbolPen=VAL_COLOUR, name="validation")
        if key == "accuracy":
            item.setYRange(0, 1, padding=0.02)
        plots[f"run-{key}"] = widget
    xs, ys = history_series(history, "learning_rate")
    if xs:
        widget = _plot_widget(f"Learning rate — {label}", "learning rate", epochs)
        widget.getPlotItem().plot(xs, ys, pen=pg.mkPen(LR_COLOUR, width=2.5), symbol="o", symbolSize=7,
                                  symbolBrush=LR_COLOUR, symbolPen=LR_COLOUR, name="learning rate")
        widget.getPlotItem().setYRange(0, max(ys) * 1.15 or 1.0, padding=0)
        plots["run-learning-rate"] = widget
    for widget in plots.values():
        widget.show()   # laid out, never on screen (WA_DontShowOnScreen)
    return plots


def delete_plot_widgets(widgets) -> None:
    """Delete the widgets at once, each with its scene and every item in it, while their Python halves are whole.

    Not pyqtgraph's ``PlotWidget.close()``: it takes the ViewBox (curves, legend) out of the scene, which leaves
    that tree to the cyclic GC; the GC cleared the items' attributes and the C++ teardown then called a legend
    label's sizeHint ("'LabelItem' object has no attribute '_sizeHint'", failing whichever test was running when
    the collector ran).
    """
    from shiboken6 import Shiboken

    for widget in list(widgets):
        Shiboken.delete(widget)
