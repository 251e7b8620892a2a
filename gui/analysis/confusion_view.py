"""After training: the test set's confusion matrix as a heat map with counts; a click on a cell shows
those test images (true A, predicted B) most confident first, with their probabilities; per-class
precision and recall; and the model's most confident mistakes overall.

A several-head run has a head selector: each classification head has its own matrix, galleries and
table; a regression head (numbers, no classes) shows predicted against true values as a scatter, and its
largest errors in place of the mistakes.

Everything indexes one ``engine.analysis.reopen.AnalysedRun`` (the test set predicted once), so clicking
through cells costs no model call.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.text import percent
from tapedeck.gui.widgets.images import to_qimage
from tapedeck.gui.widgets.table_items import SortItem

TILE_PX = 72
INDEX_ROLE = Qt.UserRole + 3
GRADCAM_TIP = ("Where the evidence for the predicted and the true class lies in the image "
               "(double-click a tile does the same)")


def heat(fraction: float, diagonal: bool) -> QColor:
    """White → blue for the diagonal (right), white → red off it (mistakes); by share of the true class."""
    fraction = max(0.0, min(1.0, fraction))
    target = (31, 95, 168) if diagonal else (200, 40, 50)
    return QColor(*(round(255 + (t - 255) * fraction) for t in target))


class Gallery(QListWidget):
    """Test images as tiles: picture, true → predicted, confidence; all probabilities on hover."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setIconSize(QSize(TILE_PX, TILE_PX))
        self.setGridSize(QSize(TILE_PX + 64, TILE_PX + 58))
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SingleSelection)

    def show_examples(self, examples, images, class_names) -> None:
        self.clear()
        for example in examples:
            pixmap = QPixmap.fromImage(to_qimage(images[example.index]))
            pixmap = pixmap.scaled(TILE_PX, TILE_PX, Qt.KeepAspectRatio, Qt.FastTransformation)
            true, predicted = class_names[example.true_label], class_names[example.predicted_label]
            second = _runner_up(example.probabilities, example.predicted_label)
            text = f"{true} → {predicted}\n{example.confidence:.0%}"
            if second is not None:
                text += f" · next {class_names[second]}: {example.probabilities[second]:.0%}"
            item = QListWidgetItem(QIcon(pixmap), text)
            item.setData(INDEX_ROLE, example.index)
            order = np.argsort(-example.probabilities)[:5]
            item.setToolTip(f"test image #{example.index}: true {true}, predicted {predicted}\n"
                            + "\n".join(f"{class_names[c]}: {example.probabilities[c]:.1%}" for c in order))
            self.addItem(item)

    def show_values(self, indices, true, predicted, images) -> None:
        """A regression head's test images: true → predicted value, with the error."""
        self.clear()
        for index in indices:
            pixmap = QPixmap.fromImage(to_qimage(images[index]))
            pixmap = pixmap.scaled(TILE_PX, TILE_PX, Qt.KeepAspectRatio, Qt.FastTransformation)
            t, p = float(np.ravel(true[index])[0]), float(np.ravel(predicted[index])[0])
            item = QListWidgetItem(QIcon(pixmap), f"{t:.3g} → {p:.3g}\nerror {p - t:+.3g}")
            item.setData(INDEX_ROLE, int(index))
            item.setToolTip(f"test image #{index}: true {np.ravel(true[index])}, "
                            f"predicted {np.ravel(predicted[index])}")
            self.addItem(item)

    def indices(self) -> list[int]:
        return [self.item(i).data(INDEX_ROLE) for i in range(self.count())]


def _runner_up(probabilities, predicted):
    if len(probabilities) < 2:
        return None
    order = [int(c) for c in np.argsort(-probabilities) if int(c) != predicted]
    return order[0] if order else None


class ConfusionView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.analysed = None
        self.head = None   # engine.analysis.heads.HeadAnalysis shown (a one-head run's only head)
        self.head_box = QComboBox(self)
        self.head_box.setToolTip("Which head's predictions: each head has its own target and classes")
        self.head_box.currentIndexChanged.connect(lambda _i: self.set_head(self.head_box.currentData()))
        self.head_label = QLabel("<b>Head</b>", self)
        self.scatter = None   # predicted vs true for a regression head, made when first needed (pyqtgraph)
        self.scatter_title = QLabel("", self)
        self.scatter_title.setWordWrap(True)
        self.matrix = QTableWidget(0, 0, self)
        self.matrix.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SingleSelection)
        self.matrix.setToolTip("Rows: true class · columns: predicted class · click a cell to see its images")
        self.matrix.cellClicked.connect(self.show_cell)
        self.matrix_title = QLabel("<b>Confusion matrix</b> (rows: true, columns: predicted) — click a cell", self)
        self.matrix_title.setWordWrap(True)
        self.per_row = QCheckBox("% of each true class (recall)", self)
        self.per_row.setToolTip("Each row divided by its total: the diagonal is the class's recall, the rest "
                                "where its images went")
        self.per_row.toggled.connect(lambda _on: self._fill_matrix())

        self.classes = QTableWidget(0, 5, self)
        self.classes.setHorizontalHeaderLabels(("class", "precision", "recall", "F1", "support"))
        self.classes.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.classes.verticalHeader().hide()
        self.classes.setSortingEnabled(True)
        self.classes.sortItems(0, Qt.AscendingOrder)
        self.classes.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)

        self.cell_gallery = Gallery(self)
        self.wrong_gallery = Gallery(self)
        self.cell_title = QLabel("Click a cell of the matrix.", self)
        self.cell_title.setWordWrap(True)
        cell_page = QWidget(self)
        cell_column = QVBoxLayout(cell_page)
        cell_column.setContentsMargins(2, 2, 2, 2)
        cell_column.addWidget(self.cell_title)
        cell_column.addWidget(self.cell_gallery, 1)
        self.galleries = QTabWidget(self)
        self.galleries.addTab(cell_page, "Cell")
        self.galleries.addTab(self.wrong_gallery, "Most confidently wrong")
        self.galleries.setUsesScrollButtons(False)
        self.gradcam_button = QPushButton("Grad-CAM of the selected image…", self)
        self.gradcam_button.setToolTip(GRADCAM_TIP)
        self.gradcam_button.setEnabled(False)
        self.gradcam_button.clicked.connect(lambda: self.open_gradcam())
        for gallery in (self.cell_gallery, self.wrong_gallery):
            gallery.itemActivated.connect(lambda item: self.open_gradcam(item.data(INDEX_ROLE)))
            gallery.itemSelectionChanged.connect(self._selection_changed)
        self.galleries.currentChanged.connect(lambda _i: self._selection_changed())
        self.gradcam = None   # the last Grad-CAM dialog opened

        left = QWidget(self)
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        self._classes_page = left
        self._values_page = QWidget(self)
        values_column = QVBoxLayout(self._values_page)
        values_column.setContentsMargins(0, 0, 0, 0)
        values_column.addWidget(self.scatter_title)
        self._values_column = values_column
        self.left_pages = QStackedWidget(self)
        self.left_pages.addWidget(left)
        self.left_pages.addWidget(self._values_page)
        left_column.addWidget(self.matrix_title)
        left_column.addWidget(self.per_row)   # its own line: beside the title it wrapped the title to 4
        left_column.addWidget(self.matrix, 3)
        left_column.addWidget(QLabel("<b>Per class</b> (test set)", self))
        left_column.addWidget(self.classes, 2)
        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(self.left_pages)   # the matrix and table, or a regression head's scatter
        right = QWidget(self)
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(0, 0, 0, 0)
        right_column.addWidget(self.galleries, 1)
        right_column.addWidget(self.gradcam_button, 0, Qt.AlignRight)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([480, 420])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        heads_row = QHBoxLayout()
        heads_row.addWidget(self.head_label)
        heads_row.addWidget(self.head_box)
        heads_row.addStretch(1)
        layout.addLayout(heads_row)
        layout.addWidget(splitter)
        for widget in (self.head_label, self.head_box):
            widget.hide()

    def show_run(self, analysed) -> None:
        self.analysed = analysed
        names = analysed.head_names
        several = bool(analysed.heads)
        self.head_box.blockSignals(True)
        self.head_box.clear()
        for name in names:
            head = analysed.head(name)
            kind = "values" if head.regression else f"{len(head.class_names)} classes"
            self.head_box.addItem(f"{name} — {head.target} ({kind})" if several else name, name)
        self.head_box.blockSignals(False)
        for widget in (self.head_label, self.head_box):
            widget.setVisible(several)
        main = analysed.main_head if several and analysed.main_head else names[0]
        self.head_box.setCurrentIndex(max(0, self.head_box.findData(main)))
        self.set_head(main)

    def set_head(self, name) -> None:
        """Show head ``name`` of the run (its matrix, galleries and table, or a regression head's scatter)."""
        if self.analysed is None or name not in self.analysed.head_names:
            return
        if self.head_box.currentData() != name:
            self.head_box.blockSignals(True)
            self.head_box.setCurrentIndex(self.head_box.findData(name))
            self.head_box.blockSignals(False)
        self.head = self.analysed.head(name)
        self.cell_gallery.clear()
        self._selection_changed()
        if self.head.regression:
            self._show_values()
            return
        self.left_pages.setCurrentIndex(0)
        self.galleries.setTabVisible(0, True)
        self._show_classes()

    def _show_classes(self) -> None:
        head = self.head
        confusion = head.confusion()
        names = head.class_names
        count = confusion.shape[0]
        self.matrix.setRowCount(count)
        self.matrix.setColumnCount(count)
        self.matrix.setHorizontalHeaderLabels([str(n) for n in names[:count]])
        self.matrix.setVerticalHeaderLabels([str(n) for n in names[:count]])
        for axis in (self.matrix.horizontalHeader(), self.matrix.verticalHeader()):
            axis.setMinimumSectionSize(20)  # CIFAR-100's 100 classes scroll; 10 fill the space
            axis.setSectionResizeMode(QHeaderView.Stretch)
        self._fill_matrix()
        self.classes.setSortingEnabled(False)
        rows = head.class_table()
        self.classes.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (SortItem(row.name, r), SortItem(percent(row.precision), row.precision),
                     SortItem(percent(row.recall), row.recall), SortItem(percent(row.f1), row.f1),
                     SortItem(str(row.support), row.support))
            for c, item in enumerate(cells):
                item.setTextAlignment(Qt.AlignCenter)
                self.classes.setItem(r, c, item)
        self.classes.setSortingEnabled(True)
        self.classes.resizeRowsToContents()
        wrong = head.most_confidently_wrong(48)
        self.wrong_gallery.show_examples(wrong, self.analysed.dataset.x_test, names)
        accuracy = float(np.mean(head.predicted_labels == head.true_labels)) if len(head.true_labels) else 0
        which = f" of head <b>{head.name}</b> (target {head.target})" if self.analysed.heads else ""
        self.matrix_title.setText(f"<b>Confusion matrix</b>{which} — {len(head.true_labels)} test images, "
                                  f"accuracy {accuracy:.1%}<br>rows: true class, columns: predicted — "
                                  "click a cell to see its images")
        self.galleries.setTabText(1, f"Most confidently wrong ({len(wrong)})")
        self.cell_gallery.clear()
        self.cell_title.setText("Click a cell of the matrix.")

    def _show_values(self) -> None:
        """A regression head: predicted against true (the diagonal is a perfect answer) and the largest errors."""
        import pyqtgraph as pg

        head = self.head
        if self.scatter is None:
            self.scatter = pg.PlotWidget(background="w")
            item = self.scatter.getPlotItem()
            item.setLabel("bottom", "true value")
            item.setLabel("left", "predicted value")
            item.showGrid(x=True, y=True, alpha=0.25)
            self._values_column.addWidget(self.scatter, 1)
        self.left_pages.setCurrentIndex(1)
        n = len(head.true)
        true = np.asarray(head.true, dtype=float).reshape(n, -1)[:, 0]
        predicted = np.asarray(head.values, dtype=float).reshape(n, -1)[:, 0]
        item = self.scatter.getPlotItem()
        item.clear()
        finite = np.isfinite(true) & np.isfinite(predicted)
        if finite.any():
            low = float(min(true[finite].min(), predicted[finite].min()))
            high = float(max(true[finite].max(), predicted[finite].max()))
            item.plot([low, high], [low, high], pen=pg.mkPen("#888", width=1.5, style=Qt.DashLine))
        item.plot(true, predicted, pen=None, symbol="o", symbolSize=5, symbolBrush=pg.mkBrush(0, 114, 178, 150),
                  symbolPen=None)
        self.scatter_title.setText(f"<b>Predicted against true</b> — head <b>{head.name}</b> (target {head.target}), "
                                   f"{n} test images, mean absolute error {head.mae:.4g}<br>on the dashed line the "
                                   f"prediction is exact; a head that predicts numbers has no confusion matrix")
        errors = np.abs(head.errors()).max(axis=1) if n else np.zeros(0)
        worst = np.argsort(-errors, kind="stable")[:48]
        self.wrong_gallery.show_values(worst, head.true, head.values, self.analysed.dataset.x_test)
        self.galleries.setTabText(1, f"Largest errors ({len(worst)})")
        self.galleries.setTabVisible(0, False)
        self.galleries.setCurrentIndex(1)

    def _fill_matrix(self) -> None:
        """Counts, or each row as a share of its true class (the diagonal then reads as recall)."""
        if self.analysed is None or self.head is None or self.head.regression:
            return
        confusion = self.head.confusion()
        names = self.head.class_names
        count = confusion.shape[0]
        per_row = self.per_row.isChecked()
        totals = confusion.sum(axis=1)
        for r in range(count):
            for c in range(count):
                value = int(confusion[r, c])
                fraction = value / totals[r] if totals[r] else 0.0
                text = (f"{100 * fraction:.0f}%" if per_row else str(value)) if value else ""
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignCenter)
                colour = heat(fraction, r == c)
                item.setBackground(QBrush(colour))
                item.setForeground(QBrush(QColor("white" if colour.lightness() < 140 else "#222")))
                item.setToolTip(f"true {names[r]}, predicted {names[c]}: {value} image(s), "
                                f"{fraction:.1%} of the true {names[r]}")
                self.matrix.setItem(r, c, item)

    def show_cell(self, true_class: int, predicted_class: int) -> None:
        if self.analysed is None or self.head is None or self.head.regression:
            return
        names = self.head.class_names
        examples = self.head.cell(true_class, predicted_class)
        self.cell_gallery.show_examples(examples, self.analysed.dataset.x_test, names)
        verdict = "right" if true_class == predicted_class else "wrong"
        self.cell_title.setText(f"<b>true {names[true_class]}, predicted {names[predicted_class]}</b> "
                                f"({verdict}): {len(examples)} image(s), most confident first")
        self.galleries.setCurrentIndex(0)

    def _current_gallery(self) -> Gallery:
        return self.cell_gallery if self.galleries.currentIndex() == 0 else self.wrong_gallery

    def _gradcam_head(self) -> bool:
        """Grad-CAM looks at the run's first classification head (its class names); another head's
        classes it would misname, so there it is off."""
        return self.head is None or not self.analysed.heads or self.head.name == self.analysed.main_head

    def _selection_changed(self) -> None:
        self.gradcam_button.setEnabled(bool(self._current_gallery().selectedItems()) and self._gradcam_head())
        self.gradcam_button.setToolTip(
            GRADCAM_TIP if self._gradcam_head() else
            f"Grad-CAM shows head {self.analysed.main_head}'s classes: pick that head above to use it")

    def open_gradcam(self, index: int | None = None):
        """Grad-CAM of test image ``index`` (default: the selected tile) for its predicted and true class."""
        if self.analysed is None or not self._gradcam_head():
            return None
        if index is None:
            selected = self._current_gallery().selectedItems()
            if not selected:
                return None
            index = selected[0].data(INDEX_ROLE)
        from tapedeck.gui.analysis.gradcam_view import open_gradcam

        names = self.analysed.class_names
        true = int(self.analysed.true_labels[index])
        self.gradcam = open_gradcam(self, self.analysed, self.analysed.dataset.x_test[index], true,
                                    f"test image #{index} (true {names[true]})")
        return self.gradcam
