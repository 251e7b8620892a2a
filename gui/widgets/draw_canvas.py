"""A square canvas the mouse paints white ink on black, as MNIST and the scikit-learn digits store strokes:
the classifier's own input (gui.analysis.own_input_view) and a VAE's drawing to encode (gui.tabs.samples_tab)
draw on the same one. ``array()`` is the drawing in [0, 1]; engine.analysis.own_input prepares it as the data
set's images were."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["DrawCanvas", "DrawDialog", "CANVAS_PX", "PEN_FRACTION"]

CANVAS_PX = 280
PEN_FRACTION = 0.085  # stroke width as a share of the canvas: about an MNIST pen at 28 px


class DrawCanvas(QWidget):
    """A square black image the mouse paints white on; ``array()`` is the drawing in [0, 1]."""

    changed = Signal()

    def __init__(self, size: int = CANVAS_PX, parent=None):
        super().__init__(parent)
        self.image = QImage(size, size, QImage.Format_Grayscale8)
        self.image.fill(0)
        self.setFixedSize(size, size)
        self.setCursor(Qt.CrossCursor)
        self.setToolTip("Draw with the mouse; Clear starts over")
        self._last: QPoint | None = None

    def clear(self) -> None:
        if self.image.format() != QImage.Format_Grayscale8:
            self.image = QImage(self.width(), self.height(), QImage.Format_Grayscale8)
        self.image.fill(0)
        self.update()
        self.changed.emit()

    def show_picture(self, picture: QImage, grayscale: bool) -> None:
        """An opened image in place of the drawing (fitted, centred on black); no ``changed``: it is
        predicted from its file, not from these pixels."""
        size = self.width()
        canvas = QImage(size, size, QImage.Format_Grayscale8 if grayscale else QImage.Format_RGB32)
        canvas.fill(0)
        fitted = picture.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        painter = QPainter(canvas)
        painter.drawImage((size - fitted.width()) // 2, (size - fitted.height()) // 2, fitted)
        painter.end()
        self.image = canvas
        self.update()

    def array(self) -> np.ndarray:
        image = self.image if self.image.format() == QImage.Format_Grayscale8 else \
            self.image.convertToFormat(QImage.Format_Grayscale8)
        width, height = image.width(), image.height()
        raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
        rows = raw.reshape(height, image.bytesPerLine())[:, :width]
        return rows.astype(np.float32) / 255.0

    def is_blank(self) -> bool:
        return not bool(self.array().any())

    def draw_stroke(self, points) -> None:
        """Paint a polyline through ``points`` ((x, y) in widget pixels) — what a mouse drag does."""
        points = [QPoint(int(x), int(y)) for x, y in points]
        if self.image.format() != QImage.Format_Grayscale8:   # drawing over an opened colour image
            self.image = self.image.convertToFormat(QImage.Format_Grayscale8)
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.Antialiasing)
        pen = QPen(QColor("white"), max(2.0, PEN_FRACTION * self.image.width()), Qt.SolidLine, Qt.RoundCap,
                   Qt.RoundJoin)
        painter.setPen(pen)
        if len(points) == 1:
            painter.drawPoint(points[0])
        for a, b in zip(points, points[1:]):
            painter.drawLine(a, b)
        painter.end()
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event) -> None:  # noqa: N802 — Qt's name
        if event.button() == Qt.LeftButton:
            self._last = event.position().toPoint()
            self.draw_stroke([(self._last.x(), self._last.y())])

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._last is not None:
            point = event.position().toPoint()
            self.draw_stroke([(self._last.x(), self._last.y()), (point.x(), point.y())])
            self._last = point

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._last = None

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawImage(0, 0, self.image)
        painter.setPen(QColor("#888"))
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)
        painter.end()


class DrawDialog(QDialog):
    """A canvas in a dialog of its own, with Clear and an action button (``action``: "Encode"): accepted with
    a drawing, ``drawn`` carries it; a blank canvas cannot be accepted."""

    drawn = Signal(object)   # the drawing (H, W) in [0, 1]

    def __init__(self, title: str, action: str, words: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.canvas = DrawCanvas(parent=self)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self.canvas.clear)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel, self)
        self.action = buttons.addButton(action, QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        note = QLabel(words, self)
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.canvas, 0, Qt.AlignHCenter)
        row = QHBoxLayout()
        row.addWidget(clear)
        row.addStretch(1)
        row.addWidget(buttons)
        layout.addLayout(row)

    def accept(self) -> None:
        if self.canvas.is_blank():
            return   # nothing drawn: nothing to encode
        self.drawn.emit(self.canvas.array())
        super().accept()
