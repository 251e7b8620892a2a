"""The Training tab: live loss / accuracy curves, a thin learning-rate strip, progress and speed.

Train, Pause and Stop live once, in the window's toolbar (and the Run menu); this tab shows what
they do: the progress bar says "Paused" while paused and the ETA is only shown while steps run.

Events only append to arrays; a 10 Hz timer pushes them to curves that were created once, and
only while the tab is in view. The loss, accuracy and learning-rate curves are
gui.widgets.path_curve's Qt path items (clipped to the view and peak-downsampled, painted without
Python, so drawing takes next to no time from the training thread); the legends are cached as
pixmaps. A huge finite loss switches the loss axis to log scale.

An agent's run (reinforcement learning) has no batches and no accuracy: its right-hand plot is the episode
return of each update, its speed the environment steps per second, its progress counted in updates.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.spec.objectives import OBJECTIVES
from tapedeck.engine.training.events import BatchEnd, EpochEnd, Finished, RunStarted, TestResult
from tapedeck.engine.training.progress import duration_text, eta_text
from tapedeck.gui.tabs.head_curves import HeadCurves, test_summary
from tapedeck.gui.widgets.field_names import in_window_words
from tapedeck.gui.widgets.path_curve import PathCurve
from tapedeck.gui.widgets.plain_axes import plain_axes

# Curves move 10 times a second: each redraw repaints both plots (axes, grid, legend: Python
# paint and boundingRect calls that take the GIL from the training thread); at 30 a second that was
# ~5% of a CPU beside training, for no difference a person sees in a curve that grows each batch.
REDRAW_MS = 100
# The progress bar repaints synchronously on every new value (0.5-4 ms with the speed label, the
# GIL held throughout): twice a second reads the same and leaves the training thread the time.
PROGRESS_S = 0.5
LR_STRIP_PX = 96         # the learning-rate strip's height: the rate is usually one flat line
LOG_SWITCH = 1e6          # a finite loss above this turns the loss axis logarithmic
BATCH_COLOR = "#8fb3d9"
TRAIN_COLOR = "#1f5fa8"
VAL_COLOR = "#d9631e"
LR_COLOR = "#2e8b57"


class Series:
    """A growing (x, y) array with amortised appends; `view()` is what setData gets. It keeps the
    extremes of its finite y (and the smallest positive one, for a log axis) as values arrive, so
    fitting an axis each frame does not rescan an hour of batches."""

    def __init__(self):
        self._x = np.empty(256)
        self._y = np.empty(256)
        self.size = 0
        self.version = 0      # bumped on every change: redraw only what changed
        self._reset_extremes()

    def _reset_extremes(self) -> None:
        self.low, self.high, self.low_positive = math.inf, -math.inf, math.inf

    def append(self, x: float, y) -> None:
        if self.size == len(self._x):
            self._x = np.resize(self._x, self.size * 2)
            self._y = np.resize(self._y, self.size * 2)
        self._x[self.size] = x
        value = math.nan if y is None else float(y)
        self._y[self.size] = value
        self.size += 1
        self.version += 1
        if math.isfinite(value):
            self.low, self.high = min(self.low, value), max(self.high, value)
            if value > 0:
                self.low_positive = min(self.low_positive, value)

    def clear(self) -> None:
        self.size = 0
        self.version += 1
        self._reset_extremes()

    def view(self):
        return self._x[: self.size], self._y[: self.size]


def _plot(title: str | None, y_label: str, legend_offset=(-8, 8), legend: bool = True):
    import pyqtgraph as pg

    widget = _live_plot_class()(background="w")
    item = widget.getPlotItem()
    if title:
        item.setTitle(title, color="#222", size="10pt")
        item.setLabel("bottom", "epoch")
    item.setLabel("left", y_label)
    plain_axes(item)          # "loss (×0.001)" with ticks 100-600 read wrong
    item.showGrid(x=True, y=True, alpha=0.25)
    if legend:
        item.addLegend(offset=legend_offset, labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 200))
    view = item.getViewBox()
    for signal in (view.sigRangeChanged, view.sigStateChanged):   # see _live_plot_class
        signal.connect(view.prepareForPaint)
    widget.setMinimumHeight(150 if title else 70)
    for name in ("left", "bottom"):
        # Painting an axis (its text) costs more than the curves; cache it as a pixmap until
        # its range changes.
        item.getAxis(name).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
    return widget


def _cache_legend(plot_item) -> None:
    """Once its entries are in: the legend (box, samples and labels, painted in Python) as pixmaps,
    repainted only when it changes. It lies over the curves, so each redraw beneath repainted it."""
    legend = plot_item.legend
    if legend is None:
        return
    pending = [legend]
    while pending:
        item = pending.pop()
        item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        pending.extend(item.childItems())


def _lr_strip():
    """The learning rate as a strip under the loss and accuracy plots: ~90 px, no legend or title."""
    widget = _plot(None, "lr", legend=False)
    widget.setMinimumHeight(70)
    widget.setMaximumHeight(LR_STRIP_PX)
    return widget


def whole_epoch_ticks(axis, epochs: int) -> None:
    """Epoch axes tick at whole epochs (1, 2, 3 — not 1.5) while there are few enough to read."""
    if 0 < epochs <= 12:
        axis.setTickSpacing(major=1, minor=1)
    elif 0 < epochs <= 30:
        axis.setTickSpacing(major=5, minor=1)
    else:
        axis.setTickSpacing()


@functools.cache
def _live_plot_class():
    """A PlotWidget painted by Qt's own QGraphicsView.paintEvent. pyqtgraph overrides it in
    Python to let its view boxes apply pending range changes first; PySide keeps the GIL for the
    whole C++ render beneath such an override (~1-2 ms a frame), time the training thread waits
    for. The plots apply range changes as they happen instead (`_plot` connects the signals)."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QGraphicsView

    class LivePlot(pg.PlotWidget):
        paintEvent = QGraphicsView.paintEvent   # noqa: N815 - Qt's name

    return LivePlot


class TrainingPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.batch_loss, self.batch_acc = Series(), Series()
        self.epoch_loss, self.epoch_val_loss = Series(), Series()
        self.epoch_acc, self.epoch_val_acc = Series(), Series()
        self.lr = Series()
        self.epoch_return = Series()   # an agent's run: the mean return of each update's episodes
        self.acting = False            # the run is an agent's (RunStarted's objective takes no data set)
        self._acting_since = 0.0
        self._dirty = False
        self._started: RunStarted | None = None
        self._test_text = ""
        self._last_batch: BatchEnd | None = None
        self._progress_shown: BatchEnd | None = None
        self._progress_at = 0.0
        self.paused = False
        self.redraws = 0

        buttons = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("not started")
        self.progress.setTextVisible(True)
        buttons.addWidget(self.progress, 1)
        self.speed = QLabel("", self)
        # A fixed size keeps its ~30 Hz text changes from re-laying out the whole window.
        self.speed.setFixedSize(max(220, self.speed.fontMetrics().horizontalAdvance(
            "888,888 samples/s · ETA 88h 88m") + 8), self.speed.sizeHint().height())
        buttons.addWidget(self.speed)

        self.status = QLabel("Press Train (Ctrl+Enter) to start.", self)
        self.status.setObjectName("runStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # Room for two lines from the start: the run's summary wrapping to a second line would
        # otherwise shrink and repaint every plot just as training starts.
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing())

        self.log_loss = QCheckBox("log scale", self)
        self.log_loss.setToolTip("Logarithmic loss axis: keeps a diverging (huge) loss readable")
        self.log_loss.toggled.connect(self._set_log)
        self._pairs: tuple = ()
        self._drawn: dict[int, int] = {}
        self._loss_range: tuple[float, float] | None = None
        self.loss_plot = self.acc_plot = self.lr_plot = self.return_plot = None

        self._grid = QGridLayout()
        self._grid.setRowStretch(0, 1)
        self._grid.setRowStretch(1, 0)
        self.head_curves = HeadCurves(self)   # a several-head run: loss and accuracy per head, under the total
        self._grid.addWidget(self.head_curves, 2, 0, 1, 2)
        self._grid.setRowStretch(2, 0)   # 1 while the head plots show (_fit_rows); an empty stretched
        # row kept the lower half of the tab blank at 1280x800 and 1920x1080 (issue 23)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.log_loss)
        layout.addLayout(status_row)
        layout.addLayout(self._grid, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self._timer.start()

    @property
    def plots_built(self) -> bool:
        return self.loss_plot is not None

    def build_plots(self) -> None:
        """Create the plots. Importing pyqtgraph costs ~0.5 s, so the window calls this just after
        it is on screen instead of before."""
        if self.plots_built:
            return
        self.loss_plot = _plot("Loss", "loss")
        self.acc_plot = _plot("Accuracy", "accuracy", legend_offset=(-8, -8))   # accuracy rises: legend low
        self.lr_plot = _lr_strip()
        # a short title: a longer one widened the plot past its cell at 1024 px, clipping it
        self.return_plot = _plot("Episode return", "mean return of the update's episodes", legend=False)
        self.return_curve = PathCurve(self.return_plot.getPlotItem(), TRAIN_COLOR, None, width=2, symbol="o")
        self.acc_plot.setYRange(0, 1, padding=0.02)
        loss_item, acc_item, lr_item = (p.getPlotItem() for p in (self.loss_plot, self.acc_plot, self.lr_plot))
        self.batch_loss_curve = PathCurve(loss_item, BATCH_COLOR, "train (batch)")
        self.loss_curve = PathCurve(loss_item, TRAIN_COLOR, "train (epoch)", width=3, symbol="o")
        self.val_loss_curve = PathCurve(loss_item, VAL_COLOR, "validation", width=3, symbol="s")
        self.batch_acc_curve = PathCurve(acc_item, BATCH_COLOR, "train (batch)")
        self.acc_curve = PathCurve(acc_item, TRAIN_COLOR, "train (epoch)", width=3, symbol="o")
        self.val_acc_curve = PathCurve(acc_item, VAL_COLOR, "validation", width=3, symbol="s")
        # A PathCurve too: pyqtgraph's scatter painted the rate's markers in Python, ~11 ms each epoch.
        self.lr_curve = PathCurve(lr_item, LR_COLOR, None, width=2, symbol="o", size=6)
        for plot_item in (loss_item, acc_item):
            _cache_legend(plot_item)
        self._pairs = ((self.batch_loss_curve, self.batch_loss, False), (self.loss_curve, self.epoch_loss, False),
                       (self.val_loss_curve, self.epoch_val_loss, True), (self.batch_acc_curve, self.batch_acc, False),
                       (self.acc_curve, self.epoch_acc, False), (self.val_acc_curve, self.epoch_val_acc, True),
                       (self.lr_curve, self.lr, False), (self.return_curve, self.epoch_return, True))
        self._grid.addWidget(self.loss_plot, 0, 0)
        self._grid.addWidget(self.acc_plot, 0, 1)
        self._grid.addWidget(self.return_plot, 0, 1)   # in the accuracy's place for an agent's run
        self._show_acting()
        self._grid.addWidget(self.lr_plot, 1, 0, 1, 2)   # a thin strip: the rate is usually flat
        self._set_log(self.log_loss.isChecked())
        if self._started is not None:
            self._fix_x_axes(self._started)
        self._dirty = True

    def _set_log(self, on: bool) -> None:
        if self.plots_built:
            self.loss_plot.getPlotItem().setLogMode(y=on)
            for curve in (self.batch_loss_curve, self.loss_curve, self.val_loss_curve):
                curve.set_log(on)
            self._loss_range = None
            self._fit_loss_axis()

    def _fit_loss_axis(self) -> None:
        """Re-range the loss axis only when the loss leaves it or comes to fill under half of it:
        an axis that re-ranges with every batch repaints its labels every frame (the costliest
        paint). Linear from 0; on a log axis, the decades the positive losses span."""
        if not self.plots_built:
            return
        series = (self.batch_loss, self.epoch_loss, self.epoch_val_loss)
        top = max(s.high for s in series)
        log = self.log_loss.isChecked()
        low = min(s.low_positive if log else s.low for s in series)
        if not (math.isfinite(low) and math.isfinite(top)) or (log and top <= 0):
            return
        if log:
            low, top = math.log10(low), math.log10(top)
        else:
            low = min(0.0, low)
        current = self._loss_range
        if current is not None and current[0] <= low and top <= current[1] and \
                top - low >= 0.5 * (current[1] - current[0]):
            return
        if log:
            low, top = low - 0.1, top + 0.1
        else:
            top = top * 1.08 if top > 0 else 1.0
        self._loss_range = (low, top)
        self.loss_plot.setYRange(low, top, padding=0)

    # -- events --------------------------------------------------------------------------
    def handle(self, event) -> None:
        self.head_curves.handle(event)
        if isinstance(event, RunStarted):
            self._fit_rows()
            self._run_started(event)
        elif isinstance(event, BatchEnd):
            self._batch(event)
        elif isinstance(event, EpochEnd):
            self._epoch(event)
        elif isinstance(event, TestResult):
            self._test_text = f"test accuracy {event.accuracy:.4f}, test loss {event.loss:.4f}"
            if event.heads and self._started is not None:
                self._test_text += f" ({test_summary(event, self._started.heads)})"
        elif isinstance(event, Finished):
            self._finished(event)

    def _run_started(self, event: RunStarted) -> None:
        for series in (self.batch_loss, self.batch_acc, self.epoch_loss, self.epoch_val_loss,
                       self.epoch_acc, self.epoch_val_acc, self.lr, self.epoch_return):
            series.clear()
        self._started = event
        kind = OBJECTIVES.get(event.objective)
        self.acting = kind is not None and kind.data == "environment"
        self._acting_since = time.monotonic()
        self._show_acting()
        self._earlier_epochs(event)
        self._last_batch = None
        self._test_text = ""
        self.paused = False
        self.progress.setRange(0, max(1, event.epochs * event.steps_per_epoch))
        self.progress.setValue(event.initial_epoch * event.steps_per_epoch)
        self.progress.setFormat(f"{self._unit} {event.initial_epoch + 1}/{event.epochs}")
        self.status.setStyleSheet("")
        per_epoch = (f"{event.epochs} updates, each learning from {event.batch_size:,} steps of play" if self.acting
                     else f"{event.steps_per_epoch} steps per epoch, batch {event.batch_size}")
        self.status.setText(f"Training {event.name}: {event.trainable:,} trainable parameters, {per_epoch}"
                            f" · {event.loop} · {event.api}")
        self.speed.setText("")
        self._title_for_heads(event)
        self._fix_x_axes(event)
        self._loss_range = None
        self._dirty = True

    @property
    def _unit(self) -> str:
        return "update" if self.acting else "epoch"

    def _show_acting(self) -> None:
        """An agent's run: the episode return where the accuracy was (it has none), and its axes in updates."""
        if not self.plots_built:
            return
        self.acc_plot.setVisible(not self.acting)
        self.return_plot.setVisible(self.acting)
        legend = self.loss_plot.getPlotItem().legend   # batches and validation: an agent has neither
        if legend is not None:
            legend.setVisible(not self.acting)
        for plot in (self.loss_plot, self.acc_plot, self.return_plot):
            plot.getPlotItem().setLabel("bottom", self._unit)
        if not self.acting:
            self.loss_plot.getPlotItem().setTitle("Loss", color="#222", size="10pt")
            return
        weighted = self._started is not None and OBJECTIVES[self._started.objective].models != ("policy",)
        self.loss_plot.getPlotItem().setTitle("Loss (policy + weighted value)" if weighted else "Policy loss",
                                              color="#222", size="10pt")

    def _fit_rows(self) -> None:
        """The head plots' row takes height only while they show."""
        self._grid.setRowStretch(2, 0 if self.head_curves.isHidden() else 1)

    def clear_run(self) -> None:
        """Another experiment opened: the last run's curves and words go (they stayed under the new one)."""
        for series in (self.batch_loss, self.batch_acc, self.epoch_loss, self.epoch_val_loss,
                       self.epoch_acc, self.epoch_val_acc, self.lr, self.epoch_return):
            series.clear()
        self._started = self._last_batch = self._progress_shown = None
        self.acting = False
        self._show_acting()
        self._test_text = ""
        self.paused = False
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("not started")
        self.status.setStyleSheet("")
        self.status.setText("Press Train (Ctrl+Enter) to start.")
        self.speed.setText("")
        self.head_curves.values = {}
        self.head_curves.hide()
        self._fit_rows()
        self._dirty = True
        self.redraw()

    def _earlier_epochs(self, event: RunStarted) -> None:
        """A resumed run's curves start with the epochs trained before (its history.csv): they began
        at the resumed epoch, so its first epochs were missing."""
        if event.initial_epoch <= 0 or not event.run_dir:
            return
        from tapedeck.engine.runs.folder import HISTORY_COLUMNS, RunFolder

        for row in RunFolder(event.run_dir).history_until(event.initial_epoch):
            figures = {k: v for k, v in row.items() if k not in HISTORY_COLUMNS} if self.acting else {}   # the return
            self._epoch(EpochEnd(epoch=int(row["epoch"]), loss=row.get("loss"), accuracy=row.get("accuracy"),
                                 val_loss=row.get("val_loss"), val_accuracy=row.get("val_accuracy"),
                                 learning_rate=row.get("learning_rate"), seconds=row.get("seconds") or 0.0,
                                 heads=figures))

    def _title_for_heads(self, event: RunStarted) -> None:
        """A several-head run's main plots: the weighted total loss, its first classification head's accuracy."""
        if not self.plots_built or self.acting:   # an agent's titles: _show_acting
            return
        first = next((head.layer for head in event.heads if head.metric == "accuracy"), None)
        named = getattr(event, "figures", {}) or {}   # another objective's meaning of loss and accuracy
        self.loss_plot.getPlotItem().setTitle(named.get("loss") or ("Total loss (weighted sum of the heads)"
                                                                    if event.heads else "Loss"),
                                              color="#222", size="10pt")
        self.acc_plot.getPlotItem().setTitle(named.get("accuracy") or (f"Accuracy — {first}" if event.heads and first
                                                                       else "Accuracy"),
                                             color="#222", size="10pt")

    def _fix_x_axes(self, event: RunStarted) -> None:
        """A fixed epoch axis: growing data then never re-lays out the x axes (the costly part)."""
        if not self.plots_built:
            return
        first = 0 if self.epoch_loss.size else max(0, event.initial_epoch)   # a resumed run's history shows
        for plot in (self.loss_plot, self.acc_plot, self.return_plot):
            plot.setXRange(first, event.epochs, padding=0.02)
        self.lr_plot.setXRange(first + 0.5, event.epochs + 0.5, padding=0)
        for plot in (self.loss_plot, self.acc_plot, self.return_plot, self.lr_plot):
            whole_epoch_ticks(plot.getPlotItem().getAxis("bottom"), event.epochs - first)

    def _batch(self, event: BatchEnd) -> None:
        x = event.epoch - 1 + event.step / max(1, event.steps)
        self.batch_loss.append(x, event.loss)
        self.batch_acc.append(x, event.accuracy)
        self._last_batch = event
        if not self.log_loss.isChecked() and event.loss is not None and math.isfinite(event.loss) \
                and abs(event.loss) > LOG_SWITCH:
            self.log_loss.setChecked(True)
        self._dirty = True

    def _epoch(self, event: EpochEnd) -> None:
        self.epoch_loss.append(event.epoch, event.loss)
        self.epoch_acc.append(event.epoch, event.accuracy)
        self.epoch_val_loss.append(event.epoch, event.val_loss)
        self.epoch_val_acc.append(event.epoch, event.val_accuracy)
        self.lr.append(event.epoch, event.learning_rate)
        self._dirty = True
        started = self._started
        if self.acting:
            self.epoch_return.append(event.epoch, event.heads.get("episode_return"))
            self._acting_speed(event)
        if self._last_batch is None and started is not None and not self.paused:   # a run without batches
            self.progress.setValue(min(event.epoch * started.steps_per_epoch, self.progress.maximum()))   # (RL)
            self.progress.setFormat(f"{self._unit} {event.epoch}/{started.epochs}")

    def _acting_speed(self, event: EpochEnd) -> None:
        """An agent's speed: environment steps per second of its last update (it has no batches, hence no
        samples/s), and the time the updates left would take at this run's pace so far."""
        speed = event.heads.get("steps_per_second")
        started = self._started
        if speed is None or not math.isfinite(speed) or self.paused or started is None or \
                event.epoch <= started.initial_epoch:   # a resumed run's earlier updates: not this session's pace
            return
        done = event.epoch - started.initial_epoch
        left = max(0, started.epochs - event.epoch)
        pace = (time.monotonic() - self._acting_since) / max(1, done)
        eta = f" · ETA {duration_text(left * pace)}" if left else ""
        self.speed.setText(f"{speed:,.0f} env steps/s{eta}")

    def set_paused(self, paused: bool) -> None:
        """Paused: the progress bar says so and the ETA goes (no step runs, so there is none)."""
        self.paused = paused
        if paused:
            self.progress.setFormat("Paused — Continue or Stop in the toolbar")
            self.speed.setText("paused")
        else:
            self._progress_shown = None
            self._show_progress()

    def _finished(self, event: Finished) -> None:
        self.paused = False
        colours = {"completed": "#146c43", "early_stopped": "#146c43", "stopped": "#7a5c00"}
        colour = colours.get(event.reason, "#b02a37")
        words = {"completed": "Finished", "early_stopped": "Stopped early", "stopped": "Stopped",
                 "diverged": "Diverged", "failed": "Failed"}.get(event.reason, event.reason)
        if event.reason == "stopped":
            words = f"Stopped after epoch {event.epoch}" if event.epoch else "Stopped before the first epoch ended"
            text = words
        else:
            message = in_window_words(event.message)     # fields as the window labels them
            text = f"{words}: {message}" if message and event.message != event.reason else words
        if self._test_text:
            text += f" — {self._test_text}"
        self._test_text = ""   # this run's: a next run that fails before testing must not show it
        if event.run_dir:
            text += f"\nRun folder: {event.run_dir}"
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {colour};")
        self._dirty = True
        self.redraw()
        self._show_progress(final=True)
        if self.acting:   # the run is over: its speed stays, an ETA would be stale
            self.speed.setText(self.speed.text().split(" · ETA")[0])
        if event.reason in ("completed", "early_stopped"):
            self.progress.setValue(self.progress.maximum())

    # -- drawing -------------------------------------------------------------------------
    def redraw(self) -> None:
        """Push changed series to their curves. Each plot repaints only when one of its curves
        changed, so the learning-rate plot repaints once per epoch, not with every batch."""
        if self._last_batch is not self._progress_shown and time.monotonic() - self._progress_at >= PROGRESS_S:
            self._show_progress()
        if not self._dirty or not self.plots_built or self._behind_another_tab():
            return
        self._dirty = False
        self.redraws += 1
        for curve, series, finite_only in self._pairs:
            if self._drawn.get(id(curve)) == series.version:
                continue
            self._drawn[id(curve)] = series.version
            curve.setData(*(_finite(*series.view()) if finite_only else series.view()))
            if series is self.lr:
                rates = series.view()[1]
                rates = rates[np.isfinite(rates)]
                if rates.size:   # a constant rate would auto-range to a meaningless band around it
                    self.lr_plot.setYRange(0, float(rates.max()) * 1.15, padding=0)
        self._fit_loss_axis()

    def _behind_another_tab(self) -> bool:
        """The window shows another tab: nothing here is painted, so the curves wait (showEvent)."""
        return not self.isVisible() and self.window() is not self and self.window().isVisible()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.redraw()

    def _show_progress(self, final: bool = False) -> None:
        started, batch = self._started, self._last_batch
        if started is None or batch is None or (self.paused and not final):
            return
        self._progress_shown, self._progress_at = batch, time.monotonic()
        done = (batch.epoch - 1) * batch.steps + batch.step
        self.progress.setMaximum(max(1, started.epochs * batch.steps))
        self.progress.setValue(min(done, self.progress.maximum()))
        self.progress.setFormat(f"epoch {batch.epoch}/{started.epochs} · step {batch.step}/{batch.steps}")
        speed = batch.samples_per_second or 0.0
        if final:   # the run is over: its speed stays, an ETA would be stale
            self.speed.setText(f"{speed:,.0f} samples/s")
            return
        # the same figure as `tapedeck train`'s progress line (engine.training.progress)
        self.speed.setText(f"{speed:,.0f} samples/s · ETA {eta_text(batch, started.epochs, started.batch_size)}")


def _finite(x, y):
    keep = np.isfinite(y)
    return x[keep], y[keep]
