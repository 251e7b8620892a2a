"""Grad-CAM of one image: the heat map for the predicted class beside the one for the true class.

Opened from a gallery tile (the confusion cell, the most confident mistakes) or from your own drawing.
Each side has its class picker (predicted and true by default; for a drawing, which has no true class,
the runner-up), and the layer picker offers every layer with (H, W, C) maps, the last convolution
first. The maps come from ``engine.analysis.gradcam`` (a GradientTape pass per class) and are computed
in a ``Job`` thread: a large backbone takes a second, and the window stays responsive meanwhile.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QComboBox, QDialog, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from tapedeck.gui.threads.jobs import Job
from tapedeck.gui.widgets.images import to_qimage

PICTURE_PX = 240


class GradCamDialog(QDialog):
    """``image``: one preprocessed input (H, W, C) as the model takes it; ``true_label`` None for a drawing."""

    def __init__(self, analysed, image, true_label=None, title: str = "", parent=None):
        super().__init__(parent)
        from tapedeck.engine.analysis.gradcam import GradCamError, default_gradcam_layer, gradcam_layer_names

        self.setWindowTitle(f"Grad-CAM — {title}" if title else "Grad-CAM")
        self.analysed = analysed
        self.image = np.asarray(image, dtype=np.float32)
        self.result = None          # (first, second) GradCam of the last finished job
        self.error: str | None = None
        self._again = False         # a control changed while a job ran: compute once more at its end
        self._job = Job("tapedeck-gradcam", self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.layer = QComboBox(self)
        names = analysed.class_names
        probabilities = np.asarray(analysed_probabilities(analysed, self.image))
        self.probabilities = probabilities
        order = [int(c) for c in np.argsort(-probabilities)]
        predicted = order[0]
        second = true_label if true_label is not None else (order[1] if len(order) > 1 else order[0])
        self.classes = []
        self.pictures = []
        self.captions = []
        grid = QGridLayout()
        for column, (label, default) in enumerate((("predicted", predicted),
                                                   ("true" if true_label is not None else "runner-up", second))):
            picker = QComboBox(self)
            picker.addItems([f"{names[c]} ({probabilities[c]:.0%})" for c in range(len(names))])
            picker.setCurrentIndex(int(default))
            picker.currentIndexChanged.connect(lambda _i: self.compute())
            picture = QLabel(self)
            picture.setFixedSize(PICTURE_PX, PICTURE_PX)
            picture.setAlignment(Qt.AlignCenter)
            picture.setStyleSheet("border: 1px solid #aaa; background: #111")
            caption = QLabel(f"<b>{label}</b>", self)
            caption.setWordWrap(True)
            caption.setFixedWidth(PICTURE_PX)
            grid.addWidget(caption, 0, column)
            grid.addWidget(picker, 1, column)
            grid.addWidget(picture, 2, column)
            self.classes.append(picker)
            self.pictures.append(picture)
            self.captions.append(caption)
        self._labels = ("predicted", "true" if true_label is not None else "runner-up")
        self.original = QLabel(self)
        self.original.setFixedSize(PICTURE_PX // 2, PICTURE_PX // 2)
        self.original.setStyleSheet("border: 1px solid #aaa")
        self.original.setPixmap(QPixmap.fromImage(to_qimage(_unit(self.image))).scaled(
            self.original.size(), Qt.KeepAspectRatio, Qt.FastTransformation))
        try:
            self.layer.addItems(gradcam_layer_names(analysed.model))
            self.layer.setCurrentText(default_gradcam_layer(analysed.model))
        except GradCamError as error:
            self.error = str(error)
        self.layer.currentIndexChanged.connect(lambda _i: self.compute())
        top = QHBoxLayout()
        top.addWidget(self.original)
        words = QVBoxLayout()
        explanation = QLabel("Red: where the evidence for the class lies, from the layer's maps weighted by the "
                             "class score's gradient; each heat map is scaled to its own maximum.", self)
        explanation.setWordWrap(True)
        words.addWidget(explanation)
        pick = QHBoxLayout()
        pick.addWidget(QLabel("layer:", self))
        pick.addWidget(self.layer, 1)
        words.addLayout(pick)
        words.addWidget(self.status)
        top.addLayout(words, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid)
        if self.error:
            self.status.setText(f"<span style='color:#b02a37'>{self.error}</span>")
            for widget in (self.layer, *self.classes):
                widget.setEnabled(False)
        else:
            self.compute()

    @property
    def thread_name(self) -> str | None:
        return self._job.thread_name

    @property
    def busy(self) -> bool:
        return self._job.running

    def compute(self) -> None:
        """Both heat maps for the chosen classes and layer, in the job's thread."""
        if self.error and self.result is None and not self.layer.count():
            return
        if self._job.running:
            self._again = True
            return
        from tapedeck.engine.analysis.gradcam import gradcam_pair

        model, image, layer = self.analysed.model, self.image, self.layer.currentText() or None
        first, second = (picker.currentIndex() for picker in self.classes)
        self.status.setText("Computing the heat maps…")
        self._job.start(lambda: gradcam_pair(model, image, first, second, layer), self._done)

    def _done(self, result, error) -> None:
        if error:
            self.status.setText(f"<span style='color:#b02a37'>{error}</span>")
        else:
            from tapedeck.engine.analysis.gradcam import overlay

            self.result = result
            names = self.analysed.class_names
            for picture, caption, label, cam in zip(self.pictures, self.captions, self._labels, result):
                pixmap = QPixmap.fromImage(to_qimage(overlay(self.image, cam.heatmap)))
                picture.setPixmap(pixmap.scaled(picture.size(), Qt.KeepAspectRatio, Qt.FastTransformation))
                caption.setText(f"<b>{label}</b>: {names[cam.class_index]} ({cam.probability:.1%})")
            self.status.setText(f"Grad-CAM at layer <b>{result[0].layer}</b>")
        if self._again:
            self._again = False
            self.compute()

    def done(self, code) -> None:  # noqa: D401 — QDialog's name: closing waits for a running job
        self._job.shutdown()
        super().done(code)


def analysed_probabilities(analysed, image) -> np.ndarray:
    from tapedeck.engine.analysis.own_input import predict_one

    return predict_one(analysed.model, analysed.experiment.training, np.asarray(image)[np.newaxis])


def _unit(image: np.ndarray) -> np.ndarray:
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def open_gradcam(parent: QWidget, analysed, image, true_label=None, title: str = "") -> GradCamDialog:
    """Show the dialog (non-modal: a second image can be opened beside it)."""
    dialog = GradCamDialog(analysed, image, true_label, title, parent)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.show()
    return dialog
