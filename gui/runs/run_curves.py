"""Several runs' epoch curves on one pair of plots (loss, accuracy), one colour and legend entry per run.

Used by the Runs panel (the selected runs) and by the queue dialogs (the runs of a comparison). The
curves come from each run's history.csv as ``engine.runs.index`` read it; validation is drawn solid
with the run's name in the legend, training dashed in the same colour (no second legend entry, so
the legend stays one line per run).
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from tapedeck.gui.widgets.plain_axes import plain_axes
from tapedeck.gui.widgets.theme import colours, palette_changed

# Colour-blind-safe qualitative palette (Okabe–Ito), dark enough on white.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#999933")


def history_series(history, key):
    """(epochs, values) of one history.csv column, skipping missing and non-finite values."""
    xs, ys = [], []
    for row in history:
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            xs.append(row["epoch"])
            ys.append(float(value))
    return xs, ys


TOTAL = ""   # the head selector's first entry: the total loss and the first head's accuracy


def history_heads(histories) -> list[str]:
    """The heads several-head runs' history columns name (``digit_loss``, ``val_parity_accuracy``), in order."""
    heads: dict[str, None] = {}
    for history in histories:
        for row in history[:1]:
            for key in row:
                if key.endswith("_loss") and not key.startswith("val_") and key != "loss":
                    heads[key[: -len("_loss")]] = None
    return list(heads)


def head_metric(histories, head: str) -> str:
    """A head's metric column: accuracy for classes, MAE for a regression head (as Keras names them)."""
    return "mae" if any(f"{head}_mae" in row for history in histories for row in history[:1]) else "accuracy"


class RunCurves(QWidget):
    """Importing pyqtgraph costs ~0.5 s, and the window builds this panel before its first paint:
    the plots are made the first time there is something to draw or the widget is shown."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loss_plot = self.acc_plot = None
        self.legends = []
        self.runs: list[str] = []  # the legend names, in drawing order
        self._plots = QHBoxLayout()
        self.key = QLabel("solid: validation · dashed: training", self)
        self.key.setStyleSheet(f"color: {colours()['muted']}")
        # Several-head runs: whose curves the plots show (the total, or one head's loss and accuracy / MAE).
        self.head_box = QComboBox(self)
        self.head_box.setToolTip("Several-head runs: the total loss, or one head's own loss and accuracy (MAE)")
        self.head_box.currentIndexChanged.connect(lambda _i: self._redraw())
        self._shown: list = []
        bottom = QHBoxLayout()
        bottom.addWidget(self.head_box)
        bottom.addStretch(1)
        bottom.addWidget(self.key)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._plots, 1)
        layout.addLayout(bottom)
        self.head_box.hide()

    def changeEvent(self, event) -> None:  # noqa: N802 — Qt's name
        super().changeEvent(event)
        if palette_changed(event) and self.loss_plot is not None:   # light ⇄ dark
            theme = colours()
            self.key.setStyleSheet(f"color: {theme['muted']}")
            for widget, legend in zip((self.loss_plot, self.acc_plot), self.legends):
                widget.setBackground(theme["background"])
                legend.setLabelTextColor(theme["text"])
            self._redraw()

    def showEvent(self, event) -> None:  # noqa: N802 — Qt's name
        super().showEvent(event)
        self._build()

    def _build(self) -> None:
        if self.loss_plot is not None:
            return
        import pyqtgraph as pg

        self.loss_plot = pg.PlotWidget(background=colours()["background"])
        self.acc_plot = pg.PlotWidget(background=colours()["background"])
        # The legend sits under each plot, outside its curves: in a corner it covered the curves of runs
        # that learn in different ways (issue 23, fault 12).
        for widget, title, label in ((self.loss_plot, "Loss", "loss"), (self.acc_plot, "Accuracy", "accuracy")):
            item = widget.getPlotItem()
            item.setTitle(title, color=colours()["text"], size="10pt")
            item.setLabel("bottom", "epoch")
            item.setLabel("left", label)
            plain_axes(item)   # no "loss (x0.001)" (issue 23)
            item.showGrid(x=True, y=True, alpha=0.25)
            legend = pg.LegendItem(labelTextColor=colours()["text"], colCount=1)
            item.layout.addItem(legend, 4, 1)     # the row under the bottom axis
            item.legend = legend                  # plot(name=…) adds its entry here
            self.legends.append(legend)
            widget.setMinimumHeight(90)   # docked below the window it may be short
            self._plots.addWidget(widget)
        self.acc_plot.setYRange(0, 1, padding=0.02)

    def plot_items(self) -> dict:
        """{name: PlotItem} for the exports (none before anything was drawn)."""
        if self.loss_plot is None:
            return {}
        return {"runs-loss": self.loss_plot.getPlotItem(), "runs-accuracy": self.acc_plot.getPlotItem()}

    def curve_count(self) -> int:
        if self.loss_plot is None:
            return 0
        return sum(len(w.getPlotItem().listDataItems()) for w in (self.loss_plot, self.acc_plot))

    def show_runs(self, runs) -> None:
        """``runs``: (legend name, history rows) pairs, e.g. from RunSummary.name / .history."""
        self._shown = list(runs)
        heads = history_heads([history for _name, history in self._shown])
        wanted = self.head_box.currentData()
        self.head_box.blockSignals(True)
        self.head_box.clear()
        self.head_box.addItem("Curves: total loss", TOTAL)
        for head in heads:
            self.head_box.addItem(f"Curves: head {head}", head)
        self.head_box.setCurrentIndex(max(0, self.head_box.findData(wanted)))
        self.head_box.blockSignals(False)
        self.head_box.setVisible(bool(heads))
        self._redraw()

    def set_head(self, head: str) -> None:
        """Show ``head``'s own curves ("" or TOTAL: the total loss)."""
        self.head_box.setCurrentIndex(max(0, self.head_box.findData(head)))

    def _redraw(self) -> None:
        runs = self._shown
        if self.loss_plot is None and not runs:
            self.runs = []
            return
        self._build()
        import pyqtgraph as pg

        head = self.head_box.currentData() or TOTAL
        metric = head_metric([h for _n, h in runs], head) if head else "accuracy"
        keys = (f"{head}_loss", f"{head}_{metric}") if head else ("loss", "accuracy")
        text = colours()["text"]
        self.loss_plot.getPlotItem().setTitle(f"Loss — {head}" if head else "Loss", color=text, size="10pt")
        self.acc_plot.getPlotItem().setTitle(f"{'MAE' if metric == 'mae' else 'Accuracy'}" + (f" — {head}" if head
                                             else ""), color=text, size="10pt")
        self.acc_plot.getPlotItem().setLabel("left", "MAE" if metric == "mae" else "accuracy")

        for widget in (self.loss_plot, self.acc_plot):
            widget.getPlotItem().clear()  # removes the curves and their legend entries
        for legend in self.legends:
            legend.clear()
            legend.setColumnCount(1 if len(runs) <= 3 else 2)   # many runs: the legend stays short
        self.runs = []
        for position, (name, history) in enumerate(runs):
            colour = PALETTE[position % len(PALETTE)]
            for widget, key in zip((self.loss_plot, self.acc_plot), keys):
                item = widget.getPlotItem()
                xs, ys = history_series(history, f"val_{key}")
                item.plot(xs, ys, pen=pg.mkPen(colour, width=2.5), symbol="o", symbolSize=6,
                          symbolBrush=colour, symbolPen=colour, name=name)
                xs, ys = history_series(history, key)
                item.plot(xs, ys, pen=pg.mkPen(colour, width=1.5, style=Qt.DashLine))
            self.runs.append(name)
        if metric == "mae":
            self.acc_plot.getPlotItem().enableAutoRange(axis="y")
        else:
            self.acc_plot.setYRange(0, 1, padding=0.02)
        epochs = max((row["epoch"] for _name, history in runs for row in history), default=0)
        for widget in (self.loss_plot, self.acc_plot):
            widget.getPlotItem().enableAutoRange(axis="x")
            axis = widget.getPlotItem().getAxis("bottom")
            if 0 < epochs <= 20:
                axis.setTickSpacing(major=1 if epochs <= 12 else 2, minor=1)  # whole epochs, not 1.5
            else:
                axis.setTickSpacing()
        self.loss_plot.getPlotItem().enableAutoRange(axis="y")
