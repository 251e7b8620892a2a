"""Your own input: draw a digit with the mouse (grayscale sets) or open an image file (any set), and
see the trained model's class probabilities, live while drawing.

The canvas is white ink on black, as MNIST and the scikit-learn digits store strokes. The drawing
(or the file) is prepared by ``engine.analysis.own_input`` exactly as the run's data was: size, channels,
value range, and for handwritten digits the data set's own layout (size-normalised and centred); the
prepared input is shown beside the canvas, as the model sees it. An opened image replaces the drawing
on the canvas, so what is shown is what is predicted. One direct model call on one image costs a few
milliseconds, so prediction runs on the GUI thread, at most every ``PREDICT_MS`` while the mouse moves.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.errors import TapedeckError
from tapedeck.gui.widgets.draw_canvas import DrawCanvas
from tapedeck.gui.widgets.images import to_qimage

PREDICT_MS = 40


class OwnInputView(QWidget):
    """The canvas, Clear, Open image…, what the model sees, and one probability bar per class."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.analysed = None
        self.probabilities: np.ndarray | None = None
        self.canvas = DrawCanvas(parent=self)
        self.clear_button = QPushButton("Clear", self)
        self.open_button = QPushButton("Open image…", self)
        self.invert = QCheckBox("dark ink on light paper (invert)", self)
        self.invert.setToolTip("The data sets store light strokes on a dark background; tick this for a photo "
                               "or scan of dark ink on white")
        self.gradcam_button = QPushButton("Grad-CAM…", self)
        self.gradcam_button.setToolTip("Where in your input the evidence for the predicted class (and the runner-up) "
                                       "lies")
        self.gradcam_button.clicked.connect(lambda: self.open_gradcam())
        self.last_input: np.ndarray | None = None   # the prepared input last predicted (1, h, w, c)
        self.gradcam = None
        self.clear_button.clicked.connect(self.canvas.clear)
        self.open_button.clicked.connect(self._open_dialog)
        self.invert.toggled.connect(lambda _on: self._predict_again())
        self.seen = QLabel(self)  # the prepared input, as the model sees it
        self.seen.setFixedSize(168, 168)
        self.seen.setStyleSheet("border: 1px solid #aaa; background: black")
        self.seen.setAlignment(Qt.AlignCenter)
        self.status = QLabel("Open a run in the Analysis tab first.", self)
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(("class", "probability"))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREDICT_MS)
        self._timer.timeout.connect(self.predict_drawing)
        self.canvas.changed.connect(self._timer.start)
        self._source = "drawing"  # or the path of the opened image

        self.seen_caption = QLabel("What the model sees", self)
        self.seen_caption.setWordWrap(True)
        self.seen_caption.setFixedWidth(self.seen.width())
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Draw</b> (white on black, like the data set)", self))
        pictures = QHBoxLayout()
        pictures.addWidget(self.canvas, 0, Qt.AlignTop)
        seen_column = QVBoxLayout()
        seen_column.addWidget(self.seen_caption)
        seen_column.addWidget(self.seen)
        seen_column.addStretch(1)
        pictures.addLayout(seen_column)
        left.addLayout(pictures)
        row = QHBoxLayout()
        row.addWidget(self.clear_button)
        row.addWidget(self.open_button)
        row.addWidget(self.gradcam_button)
        row.addStretch(1)
        left.addLayout(row)
        left.addWidget(self.invert)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.status)
        right.addWidget(self.table, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        self.set_run(None)

    def set_run(self, analysed) -> None:
        self.analysed = analysed
        self.probabilities = None
        self.table.setRowCount(0)
        self.last_input = None
        self.gradcam_button.setEnabled(False)
        if analysed is None:
            self.canvas.setEnabled(False)
            self.clear_button.setEnabled(False)
            self.open_button.setEnabled(False)
            self.status.setText("Open a run in the Analysis tab first.")
            return
        channels = int(analysed.dataset.input_shape[-1])
        drawable = channels == 1
        self.canvas.setEnabled(drawable)
        self.clear_button.setEnabled(drawable)
        self.open_button.setEnabled(True)
        names = analysed.class_names
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            self.table.setItem(row, 0, QTableWidgetItem(str(name)))
            bar = QProgressBar(self.table)
            bar.setRange(0, 1000)
            bar.setFormat("")
            self.table.setCellWidget(row, 1, bar)
        self.status.setText("Draw a digit, or open an image file." if drawable else
                            f"This model takes {channels}-channel images: open an image file to see its prediction.")
        self.seen_caption.setText(self._seen_words())
        if drawable and not self.canvas.is_blank():
            self.predict_drawing()

    def _layout(self):
        from tapedeck.engine.analysis.own_input import digit_layout

        return digit_layout(self.analysed.experiment.data, self.analysed.dataset.input_shape)

    def _seen_words(self) -> str:
        if self.analysed is None:
            return "What the model sees"
        height, width = (int(s) for s in self.analysed.dataset.input_shape[:2])
        layout = self._layout()
        if layout is None:
            return f"What the model sees ({width}×{height})"
        box, by_mass = layout
        how = (f"digit in a {round(box * width)}×{round(box * height)} box, centred by mass" if by_mass
               else "digit scaled to fill the frame")
        return f"What the model sees ({width}×{height}: {how}, like the data set)"

    def predict_drawing(self) -> None:
        if self.analysed is None or self.canvas.is_blank() or not self.canvas.isEnabled():
            return
        from tapedeck.engine.analysis.own_input import pixel_scale, prepare_array

        self._source = "drawing"
        try:
            x = prepare_array(self.canvas.array(), self.analysed.dataset.input_shape,
                              pixel_scale(self.analysed.experiment.data), invert=self.invert.isChecked(),
                              layout=self._layout())
        except TapedeckError as error:
            self._say(str(error))
            return
        self._predict(x, "your drawing")

    def _say(self, problem: str) -> None:
        self.status.setText(f"<span style='color:#b02a37'>{problem}</span>")

    def open_image(self, path: str) -> bool:
        """Predict an image file; a file that is no image gives one message in the status line."""
        if self.analysed is None:
            return False
        from tapedeck.engine.analysis.own_input import pixel_scale, prepare_image_file

        try:
            x = prepare_image_file(path, self.analysed.dataset.input_shape,
                                   pixel_scale(self.analysed.experiment.data), invert=self.invert.isChecked(),
                                   layout=self._layout())
        except TapedeckError as error:
            self._say(str(error))
            return False
        self._source = str(path)
        self._timer.stop()
        picture = QImage(str(path))
        if not picture.isNull():
            grayscale = int(self.analysed.dataset.input_shape[-1]) == 1
            if grayscale:
                picture = picture.convertToFormat(QImage.Format_Grayscale8)
                if self.invert.isChecked():
                    picture.invertPixels()
            self.canvas.show_picture(picture, grayscale)
        self._predict(x, str(path))
        return True

    def _open_dialog(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open an image", "",
                                                    "Images (*.png *.jpg *.jpeg *.bmp *.gif);;All files (*)")
        if path:
            self.open_image(path)

    def _predict_again(self) -> None:
        if self._source == "drawing":
            self.predict_drawing()
        else:
            self.open_image(self._source)

    def _predict(self, x: np.ndarray, what: str) -> None:
        from tapedeck.engine.analysis.own_input import predict_one

        probabilities = np.asarray(predict_one(self.analysed.model, self.analysed.experiment.training, x))
        self.probabilities = probabilities
        self.last_input = x
        self.gradcam_button.setEnabled(True)
        scale = float(np.max(x)) or 1.0
        pixmap = QPixmap.fromImage(to_qimage(x[0] / scale))
        self.seen.setPixmap(pixmap.scaled(self.seen.size(), Qt.KeepAspectRatio, Qt.FastTransformation))
        best = int(np.argmax(probabilities))
        names = self.analysed.class_names
        for row in range(min(self.table.rowCount(), len(probabilities))):
            bar = self.table.cellWidget(row, 1)
            bar.setValue(int(round(1000 * float(probabilities[row]))))
            bar.setFormat(f"{probabilities[row]:.1%}")
            bar.setTextVisible(True)
            font = self.table.item(row, 0).font()
            font.setBold(row == best)
            self.table.item(row, 0).setFont(font)
        self.status.setText(f"<b>{names[best]}</b> ({probabilities[best]:.1%}) for {what}")

    def open_gradcam(self):
        """Grad-CAM of the input last predicted, for the predicted class and the runner-up."""
        if self.analysed is None or self.last_input is None:
            return None
        from tapedeck.gui.analysis.gradcam_view import open_gradcam

        what = "your drawing" if self._source == "drawing" else self._source
        self.gradcam = open_gradcam(self, self.analysed, self.last_input[0], None, what)
        return self.gradcam
