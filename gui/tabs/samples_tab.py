"""Samples: what a generative run's generator makes, and whether it is any good.

The grid comes from the same noise every epoch (one row per class for a conditional GAN), so what
changes is the generator; a slider scrubs back through the epochs. Beside it the two players'
figures — each model's loss, and D's mean output on real images D(x) and on generated ones
D(G(z)), measured before each update — and the judge's verdict (Fréchet distance to real images,
classes covered, class entropy): the losses say who is winning, the judge whether the images are
good. Diagnoses in words (the discriminator winning, mode collapse) appear under them.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.objectives.samples import grid_array
from tapedeck.engine.spec.objectives import OBJECTIVES, image_maker
from tapedeck.engine.training.events import (
    BatchEnd,
    EpochEnd,
    Finished,
    GanStepInspected,
    RunNote,
    RunStarted,
    SampleGrid,
)
from tapedeck.gui.widgets.images import to_qimage
from tapedeck.gui.widgets.layer_gradients import gradient_words
from tapedeck.gui.widgets.plain_axes import plain_axes

__all__ = ["SamplesPanel"]

# Curves per plot: (figure name, legend, colour).
LOSSES = (("d_loss", "discriminator loss", "#c0392b"), ("g_loss", "generator loss", "#2c6fbb"),
          ("reconstruction", "reconstruction (VAE)", "#2c6fbb"))
OUTPUTS = (("d_real", "D(x): real images", "#27ae60"), ("d_fake", "D(G(z)): generated", "#8e44ad"),
           ("kl", "KL of the code (VAE)", "#8e44ad"))
# The pictures a run may send (SampleGrid.kind), as the selector names them.
KINDS = {"samples": "Generated from fixed noise", "nearest_real": "The nearest real image to each sample",
         "step": "The last Step, taken apart", "drawn": "Drawn from the saved model",
         "own_input": "Your image and its reconstruction",
         "reconstructions": "Test images above their reconstructions", "latent_plane": "The latent plane, decoded"}
QUALITY = (("quality_frechet", "Fréchet distance to real", "#d35400"),)


def _plot(title: str, y_label: str):
    import pyqtgraph as pg

    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(title, color="#222", size="10pt")
    item.setLabel("bottom", "epoch")
    item.setLabel("left", y_label)
    plain_axes(item)
    item.showGrid(x=True, y=True, alpha=0.25)
    item.addLegend(offset=(-8, 8), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 200))
    widget.setMinimumHeight(130)
    return widget


class SamplesPanel(QWidget):
    step_requested = Signal(str)   # "d", "g" or "both": one step of that model, then pause

    def __init__(self, parent=None):
        super().__init__(parent)
        self.objective = ""   # the shown run's (or the experiment's) objective
        self.steps_row = QHBoxLayout()
        self.step_buttons = {}
        for part, text, tip in (("d", "Step D", "One discriminator step, then pause: its outputs move apart"),
                                ("g", "Step G", "One generator step, then pause: its images change"),
                                ("both", "Step both", "One full step (the discriminator's, then the generator's)")):
            button = QPushButton(text, self)
            button.setToolTip(tip + " (the GradientTape loop; fit's train_step always steps both)")
            button.clicked.connect(lambda _checked=False, p=part: self.step_requested.emit(p))
            self.steps_row.addWidget(button)
            self.step_buttons[part] = button
        self.steps_row.addStretch(1)
        self.step_words = ""
        self._draw_row()
        self.grids: list[SampleGrid] = []          # the shown kind's, epoch by epoch
        self.by_kind: dict[str, list[SampleGrid]] = {}
        self.kind = QComboBox(self)
        self.kind.setToolTip("Which picture of the generative model to show")
        self.kind.activated.connect(lambda _index: self._choose_kind(self.kind.currentData()))
        self.history: dict[str, list] = {}
        self.class_names: list = []
        self.picture = QLabel("The generator's samples appear here after each epoch.", self)
        self.picture.setAlignment(Qt.AlignCenter)
        self.picture.setMinimumSize(200, 200)
        self.picture.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)   # the pixmap follows the label, not back
        self.slider = QSlider(Qt.Horizontal, self)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._show_grid)
        self.slider.setToolTip("Scrub through the epochs: the same noise each time, so what changes is the generator")
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.verdict = QLabel(self)
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.plots = {"losses": _plot("Losses of the two models", "loss"),
                      "outputs": _plot("What the discriminator says", "mean D output"),
                      "quality": _plot("The judge: how far from real images", "lower is better")}
        self.curves = {}   # made as the run sends their figures: a GAN's legend lists no VAE term
        self._styles = {name: (key, legend, colour) for key, table in
                        (("losses", LOSSES), ("outputs", OUTPUTS), ("quality", QUALITY))
                        for name, legend, colour in table}
        left = QVBoxLayout()
        left.addLayout(self.steps_row)
        left.addLayout(self.draw_row)
        left.addWidget(self.kind)
        left.addWidget(self.picture, 1)
        left.addWidget(self.slider)
        left.addWidget(self.caption)
        layout = QGridLayout(self)
        layout.addLayout(left, 0, 0, 3, 1)
        layout.addWidget(self.plots["losses"], 0, 1)
        layout.addWidget(self.plots["outputs"], 1, 1)
        layout.addWidget(self.plots["quality"], 2, 1)
        layout.addWidget(self.verdict, 3, 0, 1, 2)
        layout.setColumnStretch(0, 1)
        layout.setColumnStretch(1, 1)

    # -- events ------------------------------------------------------------------------------
    def handle(self, event) -> None:
        if isinstance(event, RunStarted):
            self.clear_run()
            self.class_names = list(event.class_names)
            self.draw_class.clear()
            for index, name in enumerate(self.class_names):
                self.draw_class.addItem(name, index)
            self.set_objective(event.objective)
            controls = _controls(event.objective)
            self.draw_class.setVisible("class_prompt" in controls)   # asked for a class: the conditional one
            self.encode_button.setVisible("encode" in controls)   # an encoder to put an image through
            shape = np.shape(event.sample_images) if isinstance(event.sample_images, np.ndarray) else ()
            grey = event.sample_images is None or shape[-1:] == (1,)   # reopened: reconstruct says
            self.sketch_button.setVisible("encode" in controls and grey)   # a drawing is grey
            self._finished(Finished("started", "", None))
            self.caption.setText(f"{event.name}: {event.objective} · {event.loop} · {event.api}")
        elif isinstance(event, EpochEnd):
            self._epoch(event)
        elif isinstance(event, SampleGrid):
            self._grid(event)
        elif isinstance(event, GanStepInspected):
            self._stepped(event)
        elif isinstance(event, Finished):
            self._finished(event)
        elif isinstance(event, RunNote) and event.kind in ("diagnosis", "diagnosis_over"):   # the latest word
            colour = "#1e7b34" if event.kind == "diagnosis_over" else "#b03a2e"
            self.verdict.setText(f"<span style='color:{colour}'><b>{event.message}</b></span>")
        elif isinstance(event, BatchEnd):
            pass   # the epoch's means are what these curves show

    def set_objective(self, kind: str) -> None:
        """The Step buttons are a GAN's (one model or the other); a VAE's one step is the toolbar's Step."""
        self.objective = kind
        for button in self.step_buttons.values():
            button.setVisible("step_models" in _controls(kind))

    def clear_run(self) -> None:
        self._reopened = None
        self.grids = []
        self.by_kind.clear()
        self.kind.clear()
        self.kind.setVisible(False)
        self.history.clear()
        for name, curve in self.curves.items():
            self.plots[self._styles[name][0]].getPlotItem().removeItem(curve)
        self.curves.clear()
        self.slider.setEnabled(False)
        self.picture.setPixmap(QPixmap())
        self.picture.setText("The generator's samples appear here after each epoch.")
        self.caption.setText("")
        self.verdict.setText("")

    def _epoch(self, event: EpochEnd) -> None:
        if event.epoch == 1 or not self.history:   # the plots say what this run's figures are
            vae = "kl" in event.heads
            self.plots["losses"].getPlotItem().setTitle("The two terms of the loss" if vae else
                                                        "Losses of the two models", color="#222", size="10pt")
            self.plots["outputs"].getPlotItem().setTitle("How far the codes are from N(0, 1)" if vae else
                                                         "What the discriminator says", color="#222", size="10pt")
            self.plots["outputs"].getPlotItem().setLabel("left", "KL" if vae else "mean D output")
        for name, value in event.heads.items():
            self.history.setdefault(name, []).append((event.epoch, value))
        for name, (key, legend, colour) in self._styles.items():
            points = [(x, y) for x, y in self.history.get(name, []) if isinstance(y, (int, float)) and math.isfinite(y)]
            if not points:
                continue
            if name not in self.curves:
                self.curves[name] = self.plots[key].plot([], [], name=legend, pen=colour, symbol="o", symbolSize=4,
                                                         symbolBrush=colour, symbolPen=None)
            self.curves[name].setData([x for x, _ in points], [y for _, y in points])

    def _grid(self, event: SampleGrid) -> None:
        kind = getattr(event, "kind", "samples")
        if kind not in self.by_kind:
            self.by_kind[kind] = []
            self.kind.addItem(KINDS.get(kind, kind), kind)
            self.kind.setVisible(self.kind.count() > 1)
        self.by_kind[kind].append(event)
        if self.kind.currentData() == kind:
            self._follow()

    # -- drawing from the saved model --------------------------------------------------------------
    def _draw_row(self) -> None:
        """After a run: N images from its saved generator (a conditional GAN's of the class chosen), off the
        GUI thread (engine.objectives.draw reads the run folder's model)."""
        from tapedeck.gui.threads.jobs import Job

        self.draw_row = QHBoxLayout()
        self.draw_class = QComboBox(self)
        self.draw_class.setToolTip("The class the conditional generator is asked to draw")
        self.draw_count = QSpinBox(self)
        self.draw_count.setRange(1, 100)
        self.draw_count.setValue(16)
        self.draw_count.setToolTip("How many images to draw")
        self.draw_button = QPushButton("Draw from the saved model", self)
        self.draw_button.setToolTip("New images from the run's saved generator (or decoder), with new noise")
        self.draw_button.clicked.connect(self.draw)
        self.encode_button = QPushButton("Encode an image…", self)
        self.encode_button.setToolTip("A VAE: your image prepared as the data set's were, encoded and decoded back, "
                                      "with where it falls in the latent space")
        self.encode_button.clicked.connect(self._choose_image)
        self.sketch_button = QPushButton("Draw and encode…", self)
        self.sketch_button.setToolTip("A VAE: draw a digit with the mouse; it is prepared as the data set's digits "
                                      "were, encoded and decoded back")
        self.sketch_button.clicked.connect(self._sketch)
        for widget in (self.draw_class, self.draw_count, self.draw_button):
            self.draw_row.addWidget(widget)
        for widget in (self.encode_button, self.sketch_button):   # a VAE's, where a GAN's Step buttons are
            self.steps_row.insertWidget(self.steps_row.count() - 1, widget)
        for widget in (self.draw_class, self.draw_count, self.draw_button, self.encode_button, self.sketch_button):
            widget.setEnabled(False)
        self.encode_button.setVisible(False)
        self.sketch_button.setVisible(False)
        self.own_words = ""
        self.draw_row.addStretch(1)
        self.draw_class.setVisible(False)
        self._draw_job = Job("tapedeck-draw", self)
        self._reopened = None
        self._draw_seed = 0
        self.run_dir = None

    def _finished(self, event: Finished) -> None:
        self.run_dir = event.run_dir if event.reason in ("completed", "stopped", "early_stopped") else None
        for widget in (self.draw_class, self.draw_count, self.draw_button, self.encode_button, self.sketch_button):
            widget.setEnabled(self.run_dir is not None)

    def draw(self) -> None:
        if self.run_dir is None or self._draw_job.running:
            return
        from tapedeck.engine.objectives.draw import draw

        run_dir, count, seed = self.run_dir, self.draw_count.value(), self._draw_seed
        label = self.draw_class.currentData() if self.draw_class.isVisible() else None
        self._draw_seed += 1
        self.draw_button.setEnabled(False)
        self._draw_job.start(lambda: (draw(run_dir, count, label, seed), label), self._drawn)

    def _drawn(self, result, error) -> None:
        self.draw_button.setEnabled(True)
        if error:
            self.verdict.setText(f"<span style='color:#b03a2e'>{error}</span>")
            return
        images, label = result
        columns = min(8, len(images))
        self.by_kind.pop("drawn", None)
        self._grid(SampleGrid(epoch=self.grids[-1].epoch if self.grids else 0, images=images, columns=columns,
                              labels=None if label is None else np.full(len(images), label), kind="drawn"))
        self.kind.setCurrentIndex(self.kind.findData("drawn"))
        self._choose_kind("drawn")

    def _choose_image(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _filter = QFileDialog.getOpenFileName(self, "Encode an image", "", "Images (*.png *.jpg *.jpeg *.bmp "
                                                    "*.gif);;All files (*)")
        if path:
            self.encode_file(path)

    def _sketch(self) -> None:
        from tapedeck.gui.widgets.draw_canvas import DrawDialog

        dialog = DrawDialog("Draw and encode", "Encode", "Draw a digit, white on black as the data set's are; "
                            "Encode shows what the VAE keeps of it.", self)
        dialog.drawn.connect(self.encode_drawing)
        dialog.finished.connect(dialog.deleteLater)
        self.sketch_dialog = dialog
        dialog.open()

    def encode_file(self, path) -> None:
        """Your image through the VAE run's encoder and decoder (engine.analysis.reconstruct), off the GUI thread."""
        self._encode(path, None, "image")

    def encode_drawing(self, drawing) -> None:
        """Your drawing (H, W) in [0, 1] through the VAE, as an image file goes."""
        self._encode(None, drawing, "drawing")

    def _encode(self, path, drawing, what: str) -> None:
        if self.run_dir is None or self._draw_job.running:
            return
        from tapedeck.engine.analysis.reconstruct import reconstruct

        run_dir = self.run_dir
        self.encode_button.setEnabled(False)
        self.sketch_button.setEnabled(False)
        self._own_what = what
        self._draw_job.start(lambda: reconstruct(run_dir, path, drawing), self._encoded)

    def _encoded(self, result, error) -> None:
        self.encode_button.setEnabled(True)
        self.sketch_button.setEnabled(True)
        if error:
            self.verdict.setText(f"<span style='color:#b03a2e'>{error}</span>")
            return
        image, rebuilt, code = result
        what = getattr(self, "_own_what", "image")
        self.own_words = (f"Your {what} (left) as the data set's images were prepared, and the VAE's reconstruction "
                          f"(right); its code's mean: ({', '.join(f'{v:.2f}' for v in code)}).")
        self.by_kind.pop("own_input", None)
        self._grid(SampleGrid(epoch=self.grids[-1].epoch if self.grids else 0, images=np.stack([image, rebuilt]),
                              columns=2, kind="own_input"))
        self.kind.setCurrentIndex(self.kind.findData("own_input"))
        self._choose_kind("own_input")

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        return self._draw_job.shutdown(timeout_ms)

    # -- a finished run, reopened ---------------------------------------------------------------------
    @property
    def showing_run(self) -> bool:
        """A run reopened from its folder is on show (the window keeps the tab then, whatever is edited)."""
        return self._reopened is not None

    def open_run(self, run_dir) -> None:
        """Show a finished generative run from its folder (its figures and pictures per epoch), read off the
        GUI thread; Draw then asks its saved model."""
        from tapedeck.engine.objectives.reopen import reopen

        run_dir = str(run_dir)
        self.caption.setText(f"Opening {run_dir}…")
        self._draw_job.start(lambda: reopen(run_dir), self._reopened_run)

    def _reopened_run(self, run, error) -> None:
        if error:
            self.caption.setText(f"Cannot show {error}")
            return
        objective = run.experiment.objective.kind
        self.handle(RunStarted(run_dir=str(run.run_dir), name=run.experiment.name, summary="", trainable=0,
                               non_trainable=0, epochs=len(run.history), steps_per_epoch=1, batch_size=0,
                               num_classes=len(run.class_names), class_names=run.class_names, sample_images=None,
                               sample_labels=None, loop=run.experiment.training.loop, objective=objective))
        self._reopened = run
        for row in run.history:
            figures = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k not in (
                "epoch", "loss", "accuracy", "learning_rate", "seconds", "val_loss", "val_accuracy")}
            self._epoch(EpochEnd(epoch=int(row["epoch"]), loss=row.get("loss") or math.nan, accuracy=math.nan,
                                 val_loss=None, val_accuracy=None, learning_rate=math.nan, seconds=0.0, heads=figures))
        for kind, pictures in run.pictures.items():
            for epoch, picture in pictures:
                self._grid(SampleGrid(epoch=epoch, images=picture[None], columns=1, kind=kind))
        self._finished(Finished("completed", "", str(run.run_dir)))
        self.caption.setText(f"{run.experiment.name} ({run.run_dir.name}), reopened: {len(run.history)} epoch(s) "
                             f"of {objective}. " + self.caption.text())

    def _stepped(self, event: GanStepInspected) -> None:
        """The step taken apart, as a picture of three rows and the discriminator's verdicts in words."""
        images = np.concatenate([event.real, event.fake_before, event.fake_after])
        moved = {"d": "the discriminator stepped", "g": "the generator stepped", "both": "both models stepped"}
        layers = gradient_words(event.layers, limit=8)   # as an RL Step's (the Environment tab)
        self.step_words = (
            f"Step {event.step} ({moved[event.part]}): real images (top), generated from the same noise before "
            f"(middle) and after (bottom). D(x) {np.mean(event.d_real_before):.3f} → "
            f"{np.mean(event.d_real_after):.3f}; D(G(z)) {np.mean(event.d_fake_before):.3f} → "
            f"{np.mean(event.d_fake_after):.3f}. Gradient norms before the update: {layers}.")
        grid = SampleGrid(epoch=event.epoch, images=images, columns=len(event.real), kind="step")
        self.by_kind.pop("step", None)
        index = self.kind.findData("step")
        if index >= 0:
            self.kind.removeItem(index)
        self._grid(grid)
        self.kind.setCurrentIndex(self.kind.findData("step"))
        self._choose_kind("step")

    def _choose_kind(self, kind) -> None:
        self.grids = self.by_kind.get(kind, [])
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self.grids) - 1))
        self.slider.setValue(len(self.grids) - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.grids) > 1)
        self._show_grid(self.slider.value())

    def _follow(self) -> None:
        """The shown kind's grids grew: follow the run unless the person has scrubbed back."""
        self.grids = self.by_kind.get(self.kind.currentData(), [])
        at_end = self.slider.value() >= len(self.grids) - 2
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.grids) - 1)
        if at_end:   # following the run unless the person has scrubbed back
            self.slider.setValue(len(self.grids) - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.grids) > 1)
        self._show_grid(self.slider.value())

    def _show_grid(self, index: int) -> None:
        if not 0 <= index < len(self.grids):
            return
        grid = self.grids[index]
        self.shown_epoch = grid.epoch
        picture = grid_array(grid.images, grid.columns)
        self._pixmap = QPixmap.fromImage(to_qimage(picture))
        self._scale()
        self.caption.setText(self._words(grid))

    def _words(self, grid: SampleGrid) -> str:
        if getattr(grid, "kind", "") == "step":
            return self.step_words
        if getattr(grid, "kind", "") == "own_input":
            return self.own_words
        if getattr(grid, "kind", "") == "drawn":
            asked = f" of class {self.class_names[int(grid.labels[0])]}" if grid.labels is not None else ""
            return f"{len(grid.images)} new images{asked} from the run's saved model ({self.run_dir})."
        text = {"reconstructions": f"Epoch {grid.epoch}: test images (top) and their reconstructions (below)",
                "latent_plane": f"Epoch {grid.epoch}: the decoder's image at each point of the 2-D code plane",
                "nearest_real": f"Epoch {grid.epoch}: the training image nearest to each sample, in the same place "
                                "(the same image here as there would be memorisation, not generation)"}.get(
            getattr(grid, "kind", "samples"), f"Epoch {grid.epoch}: the decoder's images of the fixed codes"
            if _maker(self.objective) == "decoder" else f"Epoch {grid.epoch}: the generator's images from the "
            "fixed noise")
        if grid.labels is not None and self.class_names:
            rows = [self.class_names[int(label)] for label in np.asarray(grid.labels)[::grid.columns]]
            text += " — one row per class asked for: " + ", ".join(rows)
        quality = grid.quality
        if quality:
            text += (f". Judge: Fréchet distance {quality['frechet']:.2f}, {quality['classes_covered']} classes "
                     f"covered, class entropy {quality['class_entropy']:.2f} bits, confidence "
                     f"{quality['confidence']:.2f}")
            if "label_accuracy" in quality:
                text += f", drawn as the class asked for {quality['label_accuracy']:.0%}"
        return text + "."

    def _scale(self) -> None:
        pixmap = getattr(self, "_pixmap", None)
        if pixmap is None or pixmap.isNull():
            return
        size = self.picture.size()
        self.picture.setPixmap(pixmap.scaled(size, Qt.KeepAspectRatio, Qt.FastTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._scale()


def _controls(objective: str) -> tuple:
    """The Samples tab's controls this objective's runs offer (the objectives table's views); none for a name
    the table does not know (a run folder from another version)."""
    return OBJECTIVES[objective].views if objective in OBJECTIVES else ()


def _maker(objective: str) -> str | None:
    return image_maker(OBJECTIVES[objective]) if objective in OBJECTIVES else None
