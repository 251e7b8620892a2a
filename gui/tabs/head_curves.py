"""Per-head curves for a several-head run, under the Training tab's total-loss plots.

The main plots show what every run has (the weighted total loss; the first classification head's
accuracy). A several-head run adds a row: each head's loss, and its accuracy (MAE for a regression head),
one colour per head, validation solid with the head's name in the legend and training dashed. Figures come
from Keras's per-head names in the events (``digit_loss``, ``val_parity_accuracy``, ``<head>_mae``).
They arrive once an epoch, so the curves are plain pyqtgraph items set on each epoch (nothing per batch).
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QWidget

from tapedeck.engine.training.events import EpochEnd, RunStarted, TestResult
from tapedeck.gui.widgets.plain_axes import plain_axes

__all__ = ["HeadCurves", "test_summary", "head_keys"]

# Okabe–Ito, as the runs panel: colour-blind-safe and dark enough on white.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
KEY = " <span style='color:#666'>(solid: validation, dashed: training)</span>"
LOSS_TITLE = f"Loss per head{KEY}"


def head_keys(head) -> tuple[str, str]:
    """(loss key, metric key) of a head (engine.training.events.HeadInfo) in the events and history."""
    return f"{head.layer}_loss", f"{head.layer}_{head.metric}"


def test_summary(event: TestResult, heads) -> str:
    """One line of test figures per head: "digit 96.1 % · parity 98.3 %" (MAE for regression heads)."""
    parts = []
    for head in heads:
        figures = (event.heads or {}).get(head.layer, {})
        if "accuracy" in figures:
            parts.append(f"{head.layer} {100 * figures['accuracy']:.1f} %")
        elif "mae" in figures:
            parts.append(f"{head.layer} MAE {figures['mae']:.4g}")
    return " · ".join(parts)


class HeadCurves(QWidget):
    """Two plots (loss per head; accuracy or MAE per head); hidden for one-head runs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.heads: tuple = ()
        self.values: dict[str, tuple[list, list]] = {}   # event key → (epochs, values)
        self.loss_plot = self.metric_plot = None
        self._curves: dict[str, object] = {}
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self.hide()

    def _build(self) -> None:
        if self.loss_plot is not None:
            return
        import pyqtgraph as pg

        self.loss_plot = pg.PlotWidget(background="w")
        self.metric_plot = pg.PlotWidget(background="w")
        for widget, title, label, corner in ((self.loss_plot, LOSS_TITLE, "loss", (-8, 8)),
                                             (self.metric_plot, "Accuracy per head", "accuracy", (-8, -8))):
            item = widget.getPlotItem()
            item.setTitle(title, color="#222", size="10pt")
            item.setLabel("bottom", "epoch")
            item.setLabel("left", label)
            plain_axes(item)
            item.showGrid(x=True, y=True, alpha=0.25)
            item.addLegend(offset=corner, labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 200))
            widget.setMinimumHeight(140)
            self._row.addWidget(widget)

    def handle(self, event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        elif isinstance(event, EpochEnd) and self.heads:
            for key, value in (event.heads or {}).items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    epochs, values = self.values.setdefault(key, ([], []))
                    epochs.append(event.epoch)
                    values.append(float(value))
            self._redraw()

    def _start(self, event: RunStarted) -> None:
        self.heads = tuple(event.heads or ())
        self.values = {}
        self.setVisible(bool(self.heads))
        if not self.heads:
            return
        self._build()
        import pyqtgraph as pg

        for widget in (self.loss_plot, self.metric_plot):
            widget.getPlotItem().clear()   # the curves and their legend entries
            widget.getPlotItem().legend.clear()
            widget.setXRange(max(0, event.initial_epoch), event.epochs, padding=0.02)
            span = event.epochs - max(0, event.initial_epoch)
            axis = widget.getPlotItem().getAxis("bottom")
            if 0 < span <= 12:      # whole epochs (1, 2, 3 — not 1.5), as the plots above
                axis.setTickSpacing(major=1, minor=1)
            else:
                axis.setTickSpacing()
        self._curves = {}
        regression = any(head.metric == "mae" for head in self.heads)
        classes = any(head.metric == "accuracy" for head in self.heads)
        label = "accuracy · MAE" if regression and classes else "MAE" if regression else "accuracy"
        what = "Accuracy" if not regression else "Accuracy / MAE" if classes else "MAE"
        self.metric_plot.getPlotItem().setTitle(f"{what} per head", color="#222", size="10pt")
        self.metric_plot.getPlotItem().setLabel("left", label)
        for position, head in enumerate(self.heads):
            colour = PALETTE[position % len(PALETTE)]
            for widget, key in zip((self.loss_plot, self.metric_plot), head_keys(head)):
                item = widget.getPlotItem()
                name = f"{head.layer} ({head.target})" + (" MAE" if key.endswith("_mae") else "")
                self._curves[f"val_{key}"] = item.plot([], [], pen=pg.mkPen(colour, width=2.5), symbol="o",
                                                       symbolSize=6, symbolBrush=colour, symbolPen=colour, name=name)
                self._curves[key] = item.plot([], [], pen=pg.mkPen(colour, width=1.5, style=Qt.DashLine))
        if classes and not regression:
            self.metric_plot.setYRange(0, 1, padding=0.02)

    def _redraw(self) -> None:
        for key, curve in self._curves.items():
            epochs, values = self.values.get(key, ([], []))
            curve.setData(epochs, values)

    def curve_data(self, key: str) -> tuple[list, list]:
        """What the curve for ``key`` (e.g. "val_parity_accuracy") shows: epochs and values."""
        curve = self._curves.get(key)
        if curve is None:
            return [], []
        xs, ys = curve.getData()
        return ([] if xs is None else list(xs)), ([] if ys is None else list(ys))

    def plot_items(self) -> dict:
        if self.loss_plot is None or not self.heads:
            return {}
        return {"heads-loss": self.loss_plot.getPlotItem(), "heads-metric": self.metric_plot.getPlotItem()}
