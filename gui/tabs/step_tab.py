"""The "Inside the step" tab: what the GradientTape loop takes out of ``model.fit``'s hidden step.

Top: how the step runs (graph, eager or XLA), its median time and how often it was traced, and a
warning when it is traced again. Left: the Gradients view, one curve per trainable layer over the
steps (gradient norm or update ratio, log axis), fed every ``training.inspect_every`` steps and
redrawn at most five times a second. Right: the step inspector for the step just taken with Step —
per layer gradient, weight and update norms, the update ratio with its verdict, dead gradients and
non-finite values — and the batch with its predictions before and after the update.
"""
from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.training.events import (
    GradientRecord,
    RunNote,
    RunStarted,
    StepInspected,
    StepTiming,
)
from tapedeck.engine.training.health import band, judged, verdict, what_to_look_at
from tapedeck.gui.tabs.predictions_tab import LEGEND, RIGHT, WRONG
from tapedeck.gui.widgets.field_names import in_window_words
from tapedeck.gui.widgets.images import to_qimage
from tapedeck.gui.widgets.plain_axes import plain_axes

COLUMNS = ("layer", "grad norm", "weight norm", "update / weight", "zero grads", "non-finite", "verdict")
VERDICT_COLOURS = {"ok": "#146c43", "low": "#8a6d00", "high": "#b02a37", "nonfinite": "#b02a37", "dead": "#b02a37"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
TILE_PX = 56
TILE_CELL_PX = 96    # a tile with its three-line caption ("p 0.99 → 0.99")
MAX_TILES = 16
REDRAW_MS = 200
METRICS = (("grad_norm", "gradient norm"), ("update_ratio", "update / weight"))


def _number(value) -> str:
    return "–" if value is None else f"{value:.3g}"


def _coloured(name: str, right: bool) -> str:
    return f"<b style='color:{RIGHT if right else WRONG}'>{html.escape(name)}</b>"


class StepPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.loop = "fit"
        self.optimizer: str | None = None   # the run's: the verdict's healthy band depends on it
        self.class_names: list = []
        self.history: dict[str, list] = {}      # layer -> [(step, LayerStats)]
        self.inspected: StepInspected | None = None
        self._curves: dict = {}
        self._plot = None
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)

        self.timing = QLabel("Step time and traces appear once an epoch has run.", self)
        self.timing.setWordWrap(True)
        self._per_call = ""   # the run's steps_per_execution note
        self.warning = QLabel(self)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b02a37;")
        self.warning.hide()
        self.metric = QComboBox(self)
        for key, label in METRICS:
            self.metric.addItem(label, key)
        self.metric.currentIndexChanged.connect(self._metric_changed)
        self.gradients_hint = QLabel(self)
        self.gradients_hint.setWordWrap(True)
        self.plot_host = QVBoxLayout()

        self.title = QLabel("Press Step (F10) to take one training step apart.", self)
        self.title.setWordWrap(True)
        self.guide = QLabel(self)     # how to read the verdicts for this optimizer
        self.guide.setWordWrap(True)
        self.guide.setStyleSheet("color: #555;")
        self.guide.hide()
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.Stretch)
        # As tall as its rows: the space below belongs to the Gradients view and the batch.
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Maximum)
        self.table.setMinimumWidth(320)    # narrower than its columns: it scrolls (a 1024-px screen)
        self.batch = QWidget(self)
        self.batch_grid = QGridLayout(self.batch)
        self.batch_grid.setContentsMargins(0, 0, 0, 0)
        self.batch_grid.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        scroll = self.batch_scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.batch)

        gradients = QWidget(self)
        gradients_layout = QVBoxLayout(gradients)
        gradients_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Gradients</b> per layer:", self))
        row.addWidget(self.metric)
        row.addStretch(1)
        gradients_layout.addLayout(row)
        gradients_layout.addWidget(self.gradients_hint)   # under the choice: beside it, it was a narrow column
        gradients_layout.addLayout(self.plot_host, 1)
        inspector = QWidget(self)
        inspector_layout = QVBoxLayout(inspector)
        inspector_layout.setContentsMargins(0, 0, 0, 0)
        inspector_layout.addWidget(self.title)
        inspector_layout.addWidget(self.table)
        inspector_layout.addWidget(self.guide)
        batch = QWidget(self)
        batch_layout = QVBoxLayout(batch)
        batch_layout.setContentsMargins(0, 0, 0, 0)
        batch_title = QLabel(f"The batch: true class · predicted before → after the update "
                             f"({LEGEND}) · p of the true class, ▲ rose ▼ fell", self)
        batch_title.setWordWrap(True)
        batch_layout.addWidget(batch_title)
        batch_layout.addWidget(scroll, 1)
        bottom = QSplitter(Qt.Horizontal, self)
        bottom.addWidget(gradients)
        bottom.addWidget(batch)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.timing)
        layout.addWidget(self.warning)
        layout.addWidget(inspector)
        layout.addWidget(bottom, 1)
        self._set_hint()

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event) -> None:
        if isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, GradientRecord):
            self._record(event)
        elif isinstance(event, StepInspected):
            self.show_step(event)
        elif isinstance(event, StepTiming):
            traces = ("eager: no graph, Python runs every step" if event.traces is None
                      else f"{event.traces} trace(s) of the step function")
            self.timing.setText(f"Execution {event.execution} · step {event.step_ms:.1f} ms (median) · {traces}"
                                + (f"\n{self._per_call}" if self._per_call else ""))
        elif isinstance(event, RunNote) and event.kind == "steps_per_execution":
            self._per_call = event.message   # information, not a warning: shown with the step time
            self.timing.setText(event.message)
        elif isinstance(event, RunNote) and event.kind != "data_plan":   # where the data is read: not a warning
            self.warning.setText(f"⚠ {in_window_words(event.message)}")
            self.warning.show()

    def _run_started(self, event: RunStarted) -> None:
        self.loop = event.loop
        self.class_names = list(event.class_names)
        self.history.clear()
        self._per_call = ""
        self.warning.hide()
        for curve in self._curves.values():
            curve.setData([], [])
        self._curves.clear()
        if self._plot is not None:
            self._plot.getPlotItem().clear()
            self._add_reference()
        self._set_hint()

    def clear_run(self) -> None:
        """Another experiment opened: the last run's step, curves and notes go."""
        self.inspected = None
        self.history.clear()
        self._per_call = ""
        self.warning.hide()
        for curve in self._curves.values():
            curve.setData([], [])
        self._curves.clear()
        if self._plot is not None:
            self._plot.getPlotItem().clear()
            self._add_reference()
        self.timing.setText("Step time and traces appear once an epoch has run.")
        self.title.setText("Press Step (F10) to take one training step apart.")
        self.table.setRowCount(0)
        self.guide.hide()
        while self.batch_grid.count():
            self.batch_grid.takeAt(0).widget().deleteLater()

    def _set_hint(self) -> None:
        if self.loop in ("tape", "train_step"):
            self.gradients_hint.setText("sampled every inspect_every steps")
        else:
            self.gradients_hint.setText("model.fit keeps its gradients inside Keras: choose GradientTape to "
                                        "watch them (Step still shows weights and updates).")

    def _record(self, event: GradientRecord) -> None:
        for layer in event.layers:
            self.history.setdefault(layer.name, []).append((event.step, layer))
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    # -- the Gradients view -----------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._ensure_plot()
        self.redraw()

    def _ensure_plot(self) -> None:
        if self._plot is not None:
            return
        import pyqtgraph as pg

        self._plot = pg.PlotWidget(background="w")
        item = self._plot.getPlotItem()
        item.setLogMode(y=True)
        plain_axes(item)   # "2·10²" with a "(x0.001)" label reads wrong; the step axis neither
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setLabel("bottom", "step")
        item.addLegend(offset=(-8, 8), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 200))
        self._add_reference()
        self.plot_host.addWidget(self._plot)

    def _add_reference(self) -> None:
        """While update ratios are shown: SGD's healthy 1e-3 as a grey dashed line, and the top of the
        run's optimizer's healthy band (health.band: 0.2 for Adam, 0.03 for SGD) as a red one."""
        import pyqtgraph as pg

        item = self._plot.getPlotItem()
        item.setLabel("left", self.metric.currentText())
        if self.metric.currentData() == "update_ratio":
            item.addItem(pg.InfiniteLine(pos=-3, angle=0, pen=pg.mkPen("#999", style=Qt.DashLine)))
            top = math.log10(band(self.optimizer)[1])
            item.addItem(pg.InfiniteLine(pos=top, angle=0, pen=pg.mkPen(VERDICT_COLOURS["high"], style=Qt.DashLine)))

    def _metric_changed(self) -> None:
        if self._plot is not None:
            self._plot.getPlotItem().clear()
            self._curves.clear()
            self._add_reference()
        self._dirty = True
        self.redraw()

    def redraw(self) -> None:
        if self._plot is None or not self._dirty or not self.isVisible():
            return
        self._dirty = False
        key = self.metric.currentData()
        item = self._plot.getPlotItem()
        for index, (name, points) in enumerate(self.history.items()):
            steps = np.array([step for step, _ in points], dtype=float)
            values = np.array([np.nan if getattr(s, key) is None else getattr(s, key) for _, s in points], float)
            keep = np.isfinite(values) & (values > 0)
            if name not in self._curves:
                colour = PALETTE[index % len(PALETTE)]
                self._curves[name] = item.plot(pen=colour, name=name, symbol="o", symbolSize=4,
                                               symbolBrush=colour, symbolPen=None)
            self._curves[name].setData(steps[keep], values[keep])
        last = max((points[-1][0] for points in self.history.values() if points), default=0)
        axis = item.getAxis("bottom")
        if 0 < last <= 12:
            axis.setTickSpacing(major=1, minor=1)   # whole steps: no 1.5
        else:
            axis.setTickSpacing()

    # -- the step inspector -----------------------------------------------------------------------
    def show_step(self, event: StepInspected) -> None:
        self.inspected = event
        visible = "" if event.gradients_visible else " · gradients are not visible in plain model.fit"
        self.title.setText(f"Step {event.step} (epoch {event.epoch}) · batch loss {event.loss:.4f}{visible}")
        self.table.setRowCount(len(event.layers))
        for row, layer in enumerate(event.layers):
            zero = None if layer.zero_grad_share is None else f"{100 * layer.zero_grad_share:.1f}%"
            cells = (layer.name, _number(layer.grad_norm), _number(layer.weight_norm), _number(layer.update_ratio),
                     zero or "–", "–" if layer.nonfinite is None else str(layer.nonfinite),
                     verdict(layer.update_ratio, self.optimizer, layer.zero_grad_share))
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column:
                    cell.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter if column < len(cells) - 1
                                          else Qt.AlignLeft | Qt.AlignVCenter)
                if column == len(cells) - 1:
                    kind = judged(layer.update_ratio, self.optimizer, layer.zero_grad_share)
                    cell.setForeground(QBrush(QColor(VERDICT_COLOURS[kind])))
                self.table.setItem(row, column, cell)
        self.guide.setText(what_to_look_at(self.optimizer))
        self.guide.show()
        self._show_batch(event)

    def _show_batch(self, event: StepInspected) -> None:
        while self.batch_grid.count():
            self.batch_grid.takeAt(0).widget().deleteLater()
        if event.images is None:
            note = QLabel("model.fit does not show its batches; the GradientTape loop does.", self.batch)
            note.setWordWrap(True)
            self.batch_grid.addWidget(note, 0, 0)
            return
        width = self.batch_scroll.viewport().width()
        columns = max(1, (width - 8) // TILE_CELL_PX) if width > 100 else 4
        for index in range(min(len(event.images), MAX_TILES)):
            self.batch_grid.addWidget(self._tile(event, index), index // columns, index % columns)

    def _tile(self, event: StepInspected, index: int) -> QWidget:
        tile = QWidget(self.batch)
        layout = QVBoxLayout(tile)
        layout.setContentsMargins(2, 2, 2, 2)
        picture = QLabel(tile)
        picture.setPixmap(QPixmap.fromImage(to_qimage(event.images[index])).scaled(
            TILE_PX, TILE_PX, Qt.KeepAspectRatio, Qt.FastTransformation))
        picture.setAlignment(Qt.AlignCenter)
        before, after = event.before[index], event.after[index]
        truth = int(event.labels[index])
        was, now = int(before.argmax()), int(after.argmax())
        # One meaning per colour, as in Predictions: green predicted right, red wrong. Whether the true
        # class's probability rose is an arrow: it was green even for a prediction still wrong.
        arrow = "▲" if after[truth] > before[truth] else "▼" if after[truth] < before[truth] else "="
        caption = QLabel(f"<span style='color:#555'>{self._name(truth)}</span><br>"
                         f"{_coloured(self._name(was), was == truth)} → {_coloured(self._name(now), now == truth)}"
                         f"<br><span style='color:#555'>p {before[truth]:.2f} → {after[truth]:.2f} {arrow}</span>",
                         tile)
        caption.setTextFormat(Qt.RichText)
        caption.setAlignment(Qt.AlignCenter)
        caption.setStyleSheet("font-size: 9pt;")
        caption.setToolTip("true class · predicted before → after this step (green right, red wrong) · "
                           "probability of the true class, ▲ rose ▼ fell")
        layout.addWidget(picture)
        layout.addWidget(caption)
        return tile

    def _name(self, index: int) -> str:
        return str(self.class_names[index]) if 0 <= index < len(self.class_names) else str(index)
