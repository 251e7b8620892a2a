"""Feature maps: pick a test image and a layer with image-shaped output; its activation maps as a grid.

The maps come from ``engine.analysis.feature_maps`` (one sub-model per layer, kept; one image costs a few
milliseconds), tiled by ``feature_map_grid`` with each map scaled on its own; gaps are NaN and are
drawn transparent. Shown with pyqtgraph's ImageItem in a plot whose aspect is locked.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from tapedeck.gui.widgets.images import to_qimage


class FeatureMapsView(QWidget):
    """The plot (pyqtgraph, ~0.5 s to import) is made when a run arrives or the page is first shown,
    not with the window."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.analysed = None
        self.maps: np.ndarray | None = None
        self.image_index = QSpinBox(self)
        self.image_index.setPrefix("test image #")
        self.image_index.setMinimumWidth(150)
        self.layer = QComboBox(self)
        self.layer.setMinimumWidth(200)
        self.preview = QLabel(self)
        self.preview.setFixedSize(56, 56)
        self.preview.setStyleSheet("border: 1px solid #aaa")
        self.info = QLabel("Open a run in the Analysis tab first.", self)
        self.info.setWordWrap(True)
        self.plot = self.image = None
        self.image_index.valueChanged.connect(lambda _v: self.refresh())
        self.layer.currentIndexChanged.connect(lambda _i: self.refresh())

        controls = QHBoxLayout()
        controls.addWidget(self.image_index)
        controls.addWidget(self.preview)
        controls.addWidget(QLabel("layer:", self))
        controls.addWidget(self.layer)
        controls.addWidget(self.info, 1)
        self._layout = QVBoxLayout(self)
        self._layout.addLayout(controls)
        self.set_run(None)

    def showEvent(self, event) -> None:  # noqa: N802 — Qt's name
        super().showEvent(event)
        self._build()

    def _build(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setAspectLocked(True)
        item.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        item.addItem(self.image)
        self._layout.addWidget(self.plot, 1)

    def set_run(self, analysed) -> None:
        self.analysed = analysed
        self.maps = None
        self.layer.blockSignals(True)
        self.image_index.blockSignals(True)
        self.layer.clear()
        if analysed is not None:
            self._build()
        if self.image is not None:
            self.image.clear()
        enabled = analysed is not None
        self.layer.setEnabled(enabled)
        self.image_index.setEnabled(enabled)
        if analysed is not None:
            from tapedeck.engine.analysis.feature_maps import FeatureMapError, conv_layer_names, spatial_layer_names

            conv = conv_layer_names(analysed.model)
            try:
                spatial = spatial_layer_names(analysed.model)
            except FeatureMapError:
                spatial = conv
            names = list(spatial) + [n for n in conv if n not in spatial]   # model order
            self.layer.addItems(names)
            self.image_index.setRange(0, max(0, len(analysed.dataset.x_test) - 1))
            self.image_index.setValue(0)
            if not names:
                self.info.setText("This model has no layer with image-shaped output (no convolutions): "
                                  "add a Conv2D layer to see feature maps.")
        else:
            self.info.setText("Open a run in the Analysis tab first.")
        self.layer.blockSignals(False)
        self.image_index.blockSignals(False)
        if analysed is not None and self.layer.count():
            self.refresh()

    def select(self, image_index: int | None = None, layer_name: str | None = None) -> None:
        """Pick the image and/or the layer, as the two controls do."""
        if image_index is not None:
            self.image_index.setValue(image_index)
        if layer_name is not None:
            self.layer.setCurrentText(layer_name)

    def refresh(self) -> None:
        if self.analysed is None or not self.layer.currentText():
            return
        from tapedeck.engine.analysis.feature_maps import FeatureMapError, feature_map_grid, feature_maps

        index = self.image_index.value()
        image = self.analysed.dataset.x_test[index]
        pixmap = QPixmap.fromImage(to_qimage(image))
        self.preview.setPixmap(pixmap.scaled(self.preview.size(), Qt.KeepAspectRatio, Qt.FastTransformation))
        name = self.layer.currentText()
        try:
            self.maps = feature_maps(self.analysed.model, name, image)
        except FeatureMapError as error:
            self.maps = None
            self.image.clear()
            self.info.setText(str(error))
            return
        grid = feature_map_grid(self.maps)
        self.image.setImage(grid, levels=(0.0, 1.0))
        self.plot.getPlotItem().autoRange(padding=0.01)
        height, width, count = self.maps.shape
        true = self.analysed.class_names[int(self.analysed.true_labels[index])]
        predicted = self.analysed.class_names[int(self.analysed.predicted_labels[index])]
        self.info.setText(f"<b>{name}</b>: {count} maps of {height}×{width} (each scaled to its own range; "
                          f"bright = strong) · image true {true}, predicted {predicted}")

    @property
    def channels(self) -> int | None:
        return None if self.maps is None else int(self.maps.shape[-1])
