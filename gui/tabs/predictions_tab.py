"""The Predictions tab: the run's fixed test sample, scaled up crisply (nearest neighbour), each with
its true and predicted class and confidence, refreshed every epoch; after the run the test
accuracy, per-class precision/recall and the confusion matrix.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.training.events import Predictions, RunStarted, TestResult
from tapedeck.gui.widgets.images import to_qimage

TILE_PX = 64
COLUMNS = 8          # before the tab has a width; then as many as fit
RIGHT = "#146c43"
WRONG = "#b02a37"
# the one meaning of the two colours, in every tab that uses them
LEGEND = (f"<b style='color:{RIGHT}'>green</b> predicted right, "
          f"<b style='color:{WRONG}'>red</b> wrong")


class Tile(QFrame):
    def __init__(self, image: np.ndarray, parent=None):
        super().__init__(parent)
        self.setObjectName("tile")
        self.setFrameShape(QFrame.StyledPanel)
        self.picture = QLabel(self)
        self.picture.setAlignment(Qt.AlignCenter)
        self.caption = QLabel(self)
        self.caption.setAlignment(Qt.AlignCenter)
        self.caption.setWordWrap(True)
        self.caption.setMinimumWidth(TILE_PX + 14)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(1)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)
        self.correct: bool | None = None
        self.set_image(image)

    def set_image(self, image: np.ndarray) -> None:
        """A new sample in this tile, verdict cleared: a new run reuses the tiles of the last one."""
        pixmap = QPixmap.fromImage(to_qimage(image))
        self.picture.setPixmap(pixmap.scaled(TILE_PX, TILE_PX, Qt.KeepAspectRatio, Qt.FastTransformation))
        if self.correct is not None:
            self.setStyleSheet("")
            self.correct = None

    def show_prediction(self, true_name: str, predicted_name: str, confidence: float) -> None:
        correct = true_name == predicted_name
        colour = RIGHT if correct else WRONG
        self.caption.setText(f"<span style='color:#555'>true {true_name}</span><br>"
                             f"<b style='color:{colour}'>{predicted_name}</b> "
                             f"<span style='color:{colour}'>{confidence:.0%}</span>")
        if correct != self.correct:   # re-styling costs a re-polish: only when the verdict flips
            self.setStyleSheet(f"QFrame#tile {{ border: 2px solid {colour}; border-radius: 4px; }}")
        self.correct = correct

    def show_value(self, true_value, predicted_value) -> None:
        """A regression head: the true and predicted numbers (no right or wrong, so no coloured frame)."""
        self.caption.setText(f"<span style='color:#555'>true {_number(true_value)}</span><br>"
                             f"<b>{_number(predicted_value)}</b>")
        if self.correct is not None:
            self.setStyleSheet("")
            self.correct = None


def _shown_images(samples) -> np.ndarray:
    """The tiles' pictures: a several-input run's samples are a dict by input; the first that holds images
    (N, H, W, C) is shown."""
    if isinstance(samples, dict):
        arrays = [np.asarray(a) for a in samples.values()]
        return next((a for a in arrays if a.ndim == 4), arrays[0] if arrays else np.zeros((0, 1, 1, 1)))
    return np.asarray(samples)


def _number(value) -> str:
    values = np.asarray(value, dtype=float).reshape(-1)
    return ", ".join(f"{v:.3g}" for v in values[:3]) + ("…" if values.size > 3 else "")


class PredictionsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.tiles: list[Tile] = []
        self.class_names: list[str] = []
        self._samples: RunStarted | None = None    # a new run's sample images, shown when visible
        self._pending: Predictions | None = None   # the latest predictions, shown when visible
        self.summary = QLabel("Sample predictions appear here after the first epoch of a run.", self)
        self.summary.setWordWrap(True)
        # A several-head run: which head the tiles and the test set show (hidden for one head).
        self.head_box = QComboBox(self)
        self.head_box.setToolTip("The head whose predictions the sample images and the test set show")
        self.head_box.currentIndexChanged.connect(lambda _i: self.set_head(self.head_box.currentData()))
        self.head_label = QLabel("Head:", self)
        self._heads: dict = {}               # head layer → engine.training.events.HeadInfo
        self.head: str | None = None
        self._latest: Predictions | None = None
        self._latest_test: TestResult | None = None
        self._test_due = False                     # _latest_test arrived while hidden: shown when visible
        self._grid_host = QWidget(self)
        self._grid = QGridLayout(self._grid_host)
        self._grid.setSpacing(4)
        self._grid.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._grid_host)
        self._scroll = scroll
        self.columns = COLUMNS

        self.test_label = QLabel("", self)
        self.test_label.setWordWrap(True)
        self.test_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.confusion = QTableWidget(self)
        self.confusion.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.confusion.setToolTip("Rows: true class · columns: predicted class")
        self.confusion.horizontalHeader().setMinimumSectionSize(26)
        self.confusion.verticalHeader().setDefaultSectionSize(20)
        below = QWidget(self)
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Test set</b> — confusion matrix (rows: true class with its precision P and "
                       "recall R; columns: predicted class)", below)
        title.setWordWrap(True)
        below_layout.addWidget(title)
        below_layout.addWidget(self.test_label)
        below_layout.addWidget(self.confusion, 1)

        splitter = QSplitter(Qt.Vertical, self)
        splitter.addWidget(scroll)
        splitter.addWidget(below)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([480, 240])
        self._splitter = splitter
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(0)
        self._refit.timeout.connect(self._fit_columns)
        self._refit.timeout.connect(self._fit_confusion)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.head_label)
        top.addWidget(self.head_box)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self._show_heads(())

    def handle(self, event) -> None:
        if isinstance(event, RunStarted):
            # Laying out the tiles on a hidden tab would stall the event loop as training starts.
            self._samples, self._pending = event, None
            self._latest = self._latest_test = None
            self._test_due = False
            self._show_heads(event.heads)
            if self.isVisible():
                self.flush()
        elif isinstance(event, Predictions):
            # Refreshing 32 tiles on a hidden tab would only take time from training.
            self._pending = event
            if self.isVisible():
                self.flush()
        elif isinstance(event, TestResult):
            self._latest_test = event
            # A hidden tab draws the tiles and the matrix when shown: done at a run's end on the Training
            # tab, they were most of a 40-70 ms event-loop stall as the run finished.
            self._test_due = not self.isVisible()
            if not self._test_due:
                self.flush()
                self._show_test(event)

    def _show_heads(self, heads) -> None:
        self._heads = {head.layer: head for head in heads or ()}
        first = next((h.layer for h in heads or () if h.metric == "accuracy"), None) or next(iter(self._heads), None)
        self.head = first
        self.head_box.blockSignals(True)
        self.head_box.clear()
        for head in heads or ():
            kind = "values" if head.metric == "mae" else f"{len(head.class_names)} classes"
            self.head_box.addItem(f"{head.layer} — {head.target} ({kind})", head.layer)
        self.head_box.setCurrentIndex(max(0, self.head_box.findData(first)))
        self.head_box.blockSignals(False)
        for widget in (self.head_box, self.head_label):
            widget.setVisible(bool(self._heads))

    def set_head(self, name: str | None) -> None:
        """Show head ``name``'s predictions on the samples and its test figures (several-head runs)."""
        if name not in self._heads:
            return
        self.head = name
        if self.head_box.currentData() != name:
            self.head_box.blockSignals(True)
            self.head_box.setCurrentIndex(self.head_box.findData(name))
            self.head_box.blockSignals(False)
        if self._latest is not None and self._pending is None:   # a pending event shows with this head
            self._show(self._latest)
        if self._latest_test is not None:
            self._show_test(self._latest_test)

    def flush(self) -> None:
        """Show the run's samples and the latest predictions, if they arrived since the last time."""
        if self._samples is not None:
            event, self._samples = self._samples, None
            self._set_samples(event)
        if self._pending is not None:
            event, self._pending = self._pending, None
            self._show(event)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.flush()
        if self._test_due and self._latest_test is not None:
            self._test_due = False
            self._show_test(self._latest_test)
        self._fit_columns()
        self._fit_confusion()

    def clear_run(self) -> None:
        """Another experiment opened: no tiles or test results of the last run's."""
        self._samples = self._pending = self._latest = self._latest_test = None
        self._test_due = False
        self._keep_tiles(np.zeros((0, 1, 1, 1), np.float32))
        self.summary.setText("Sample predictions appear here after the first epoch of a run.")
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        self.test_label.setText("")
        self._show_heads(())

    def _set_samples(self, event: RunStarted) -> None:
        self.class_names = [str(n) for n in event.class_names]
        images = _shown_images(event.sample_images)
        labels = np.asarray(event.sample_labels).reshape(-1)
        self._keep_tiles(images)
        for i, tile in enumerate(self.tiles):
            tile.caption.setText(f"<span style='color:#555'>true {self._name(int(labels[i]))}</span><br>…")
        self.summary.setText(f"{len(self.tiles)} fixed test images; predictions refresh each epoch · {LEGEND}.")
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        self.test_label.setText("The test accuracy and the confusion matrix appear when the run ends.")

    def _keep_tiles(self, images) -> None:
        """One tile per image, reusing the last run's tiles: creating and laying out 32 new frames
        took ~40 ms of GUI thread as a run started, stalling the event loop."""
        for tile in self.tiles[len(images):]:
            tile.setParent(None)
            tile.deleteLater()
        del self.tiles[len(images):]
        for tile, image in zip(self.tiles, images):
            tile.set_image(image)
        for i in range(len(self.tiles), len(images)):
            tile = Tile(images[i], self._grid_host)
            self._grid.addWidget(tile, i // self.columns, i % self.columns)
            self.tiles.append(tile)
        self._fit_columns()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._refit.start()   # once the splitter and the scroll area have their new sizes

    def _fit_columns(self) -> None:
        """As many tiles a row as the width holds (8 at 1280 px wide, more on a wider window)."""
        if not self.tiles or not self.isVisible():
            return      # laid out when shown: a hidden tab's viewport has no width yet
        tile = self.tiles[0].sizeHint().width() + self._grid.spacing()
        width = self._scroll.viewport().width() - 2 * self._grid.contentsMargins().left()
        if width < tile:
            return
        columns = max(1, min(len(self.tiles), width // max(1, tile)))
        if columns == self.columns and self._grid.itemAtPosition(0, 0) is not None:
            return
        self.columns = columns
        for tile in self.tiles:
            self._grid.removeWidget(tile)
        for i, tile in enumerate(self.tiles):
            self._grid.addWidget(tile, i // columns, i % columns)

    def _fit_confusion(self) -> None:
        """Give the matrix the height of all its rows (the sample grid scrolls instead), as far as
        the tab leaves the grid at least a row of tiles."""
        rows = self.confusion.rowCount()
        if not rows:
            return
        table = (self.confusion.horizontalHeader().height() + 2 * self.confusion.frameWidth()
                 + sum(self.confusion.rowHeight(r) for r in range(rows)))
        if self.confusion.horizontalScrollBar().isVisible():
            table += self.confusion.horizontalScrollBar().height()
        below = table + self._below_extra()
        total = sum(self._splitter.sizes())
        keep = max(TILE_PX + 60, total - below)   # at least one row of sample tiles
        self._splitter.setSizes([keep, max(0, total - keep)])

    def _below_extra(self) -> int:
        below = self._splitter.widget(1)
        layout = below.layout()
        width = below.width()
        extra = sum(_height(layout.itemAt(i).widget(), width) for i in range(layout.count())
                    if layout.itemAt(i).widget() is not self.confusion)
        return extra + layout.spacing() * max(0, layout.count() - 1) + 4

    def _name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def _show(self, event: Predictions) -> None:
        self._latest = event
        true, predicted, probabilities = event.true_labels, event.predicted_labels, event.probabilities
        if event.heads and self.head in event.heads:
            true, predicted, probabilities = event.heads[self.head]
            self.class_names = [str(n) for n in self._heads[self.head].class_names]
            if probabilities is None:   # a regression head: numbers, not classes
                self._show_values(event.epoch, true, predicted)
                return
        true = np.asarray(true).reshape(-1)
        predicted = np.asarray(predicted).reshape(-1)
        probabilities = np.asarray(probabilities)
        for i, tile in enumerate(self.tiles[: len(predicted)]):
            confidence = float(probabilities[i, predicted[i]]) if probabilities.ndim == 2 else float("nan")
            tile.show_prediction(self._name(int(true[i])), self._name(int(predicted[i])), confidence)
        right = int((true[: len(predicted)] == predicted).sum())
        which = f" for head {self.head}" if self._heads else ""
        self.summary.setText(f"Epoch {event.epoch}: {right} of {len(predicted)} sample images right{which} "
                             f"({LEGEND}; the percentage is the model's confidence).")

    def _show_values(self, epoch: int, true, predicted) -> None:
        true, predicted = np.asarray(true, dtype=float), np.asarray(predicted, dtype=float)
        for i, tile in enumerate(self.tiles[: len(predicted)]):
            tile.show_value(true[i], predicted[i])
        n = min(len(true), len(predicted))
        mae = float(np.mean(np.abs(predicted[:n].reshape(n, -1) - true[:n].reshape(n, -1)))) if n else float("nan")
        self.summary.setText(f"Epoch {epoch}: head {self.head} predicts numbers; mean absolute error on these "
                             f"{n} sample images {mae:.4g}.")

    def _show_test(self, event: TestResult) -> None:
        figures = {"accuracy": event.accuracy, "loss": event.loss, "confusion": event.confusion,
                   "precision": event.precision, "recall": event.recall}
        prefix = ""
        if event.heads and self.head in event.heads:
            figures = event.heads[self.head]
            self.class_names = [str(n) for n in self._heads[self.head].class_names]
            others = " · ".join(f"{name} {100 * f['accuracy']:.1f} %" if "accuracy" in f else
                                f"{name} MAE {f.get('mae', float('nan')):.4g}" for name, f in event.heads.items())
            prefix = f"head <b>{self.head}</b> ({others}; total loss {event.loss:.4f}) — "
            if "confusion" not in figures:   # a regression head has no confusion matrix
                self.test_label.setText(f"{prefix}MAE <b>{figures.get('mae', float('nan')):.4g}</b> · "
                                        f"loss {figures.get('loss', float('nan')):.4f}; a head that predicts numbers "
                                        f"has no confusion matrix")
                self.confusion.clear()
                self.confusion.setRowCount(0)
                self.confusion.setColumnCount(0)
                return
        matrix = np.asarray(figures["confusion"], dtype=np.int64)
        n = matrix.shape[0] if matrix.ndim == 2 else 0
        names = [self._name(i) for i in range(n)]
        precision = np.asarray(figures["precision"], dtype=float)
        recall = np.asarray(figures["recall"], dtype=float)
        self.test_label.setText(
            f"{prefix}accuracy <b>{figures['accuracy']:.4f}</b> · loss {figures['loss']:.4f} · "
            f"mean precision {np.nanmean(precision) if precision.size else float('nan'):.3f} · "
            f"mean recall {np.nanmean(recall) if recall.size else float('nan'):.3f}")
        self.confusion.setRowCount(n)
        self.confusion.setColumnCount(n)
        self.confusion.setHorizontalHeaderLabels(names)
        self.confusion.setVerticalHeaderLabels(
            [f"{name}  (P {precision[i]:.2f} R {recall[i]:.2f})" if i < len(precision) and i < len(recall)
             else name for i, name in enumerate(names)])
        top = max(1, int(matrix.max()) if matrix.size else 1)
        for r in range(n):
            for c in range(n):
                count = int(matrix[r, c])
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignCenter)
                strength = count / top
                base = (20, 108, 67) if r == c else (176, 42, 55)
                if count:
                    alpha = int(40 + 200 * strength)
                    item.setBackground(QBrush(QColor(*base, alpha)))
                    if strength > 0.6:
                        item.setForeground(QBrush(QColor("white")))
                self.confusion.setItem(r, c, item)
        self.confusion.resizeRowsToContents()
        self._fit_confusion()


def _height(widget, width: int) -> int:
    """A widget's height at ``width`` (a word-wrapped label's size hint assumes another width)."""
    if widget.hasHeightForWidth() and width > 0:
        return widget.heightForWidth(width)
    return widget.sizeHint().height()
