"""The Data tab: the training set as it will be trained on, before training — each class's count (its
balance, as a bar) beside a page of its first images, and on demand the augmentation preview: a few
images through the experiment's Random* layers, several times over.

Loading the data set and running the augmentation layers both happen off the GUI thread
(``gui.threads.jobs.Job``); the page is only (re)loaded while the tab is on screen and the data section
changed, so editing the stack costs nothing here. An agent (reinforcement learning) has no data set: the tab
says so, and what it learns from instead — its environment's observations and actions.
"""
from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.spec.objectives import objective_kind
from tapedeck.gui.threads.jobs import Job
from tapedeck.gui.widgets.field_names import in_window_words
from tapedeck.gui.widgets.images import to_qimage

PER_CLASS = 10        # images shown per class
PREVIEW_IMAGES = 6    # images run through the augmentation
PREVIEW_COPIES = 6    # augmented copies of each
MAX_CLASSES = 20      # CIFAR-100: the first 20 classes' rows, and the counts of all
THUMB_PX = 40


def _picture(image, size: int = THUMB_PX) -> QLabel:
    label = QLabel()
    pixmap = QPixmap.fromImage(to_qimage(image))
    label.setPixmap(pixmap.scaled(size, size, Qt.KeepAspectRatio, Qt.FastTransformation))
    label.setFixedSize(size, size)
    return label


def _load(data):
    """Worker thread: the arrays the page shows (training images and labels, class names)."""
    from tapedeck.engine.analysis.data_pages import class_counts, examples_per_class
    from tapedeck.engine.data.streaming import load_for

    dataset = load_for(data, check_training=False)[0]   # streamed: only the images shown are read
    counts = class_counts(dataset.y_train, dataset.num_classes)
    picks = examples_per_class(dataset.y_train, dataset.num_classes, PER_CLASS)
    return {"names": [str(n) for n in dataset.class_names], "counts": counts,
            "pages": [dataset.x_train[p] for p in picks[:MAX_CLASSES]],
            "preview": dataset.x_train[:PREVIEW_IMAGES].copy()}


def _environment_words(objective) -> str:
    """Worker thread (gymnasium makes the environment once): what an agent learns from, in place of a data set."""
    from tapedeck.engine.objectives.environments import env_spaces
    from tapedeck.gui.widgets.env_drawing import OBSERVATION_NAMES, action_names

    spaces = env_spaces(objective.env)
    observation = spaces.observation[0] if len(spaces.observation) == 1 else spaces.observation
    named = OBSERVATION_NAMES.get(spaces.env_id, ())
    meaning = f" ({', '.join(named)})" if len(named) == observation else ""
    names = ", ".join(action_names(spaces.env_id, spaces.actions))
    limits = [f"an episode ends after at most {spaces.max_steps:,} steps"] if spaces.max_steps else []
    if spaces.threshold is not None:
        limits.append(f"a mean return of {spaces.threshold:g} counts as solved")
    return (f"<b>{spaces.env_id}</b>: this experiment has no data set — its examples come from acting in the "
            f"environment, the episodes the policy plays (shown in the Environment tab). Each observation is "
            f"{observation} values{meaning}; at each step the policy chooses one of {spaces.actions} actions ({names})"
            + (f"; {' and '.join(limits)}." if limits else "."))


class DataTab(QWidget):
    def __init__(self, document, parent=None):
        super().__init__(parent)
        self._document = document
        self._key: str | None = None
        self.loaded: dict | None = None
        self.preview: np.ndarray | None = None
        self._load_job = Job("tapedeck-data-page", self)
        self._augment_job = Job("tapedeck-augment-preview", self)
        self.title = QLabel("The training images appear here once the data has loaded.", self)
        self.title.setWordWrap(True)
        self.preview_button = QPushButton("Preview augmentation", self)
        self.preview_button.setToolTip("Run a few training images through the stack's Random* layers, "
                                       "six times each (press again for new draws)")
        self.preview_button.clicked.connect(self.preview_augmentation)
        self.preview_status = QLabel("", self)
        self.preview_status.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.preview_button)

        self._page = QWidget(self)
        self._grid = QGridLayout(self._page)
        self._grid.setSpacing(3)
        self._grid.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self._preview_host = QWidget(self)
        self._preview_grid = QGridLayout(self._preview_host)
        self._preview_grid.setSpacing(3)
        self._preview_grid.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.addWidget(self._page)
        column.addWidget(self.preview_status)
        column.addWidget(self._preview_host)
        column.addStretch(1)
        scroll = self._scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(scroll, 1)
        layout.addStretch(0)   # takes the height only while the page is hidden (an agent's experiment)
        document.changed.connect(self._maybe_reload)

    @property
    def loading(self) -> bool:
        return self._load_job.running

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._maybe_reload()

    def _maybe_reload(self) -> None:
        experiment = self._document.experiment
        acting = objective_kind(experiment.objective).data == "environment"
        data, objective = experiment.data, experiment.objective
        key = json.dumps(["environment", objective.settings.get("env")] if acting else asdict(data), sort_keys=True)
        if not self.isVisible() or key == self._key or self._load_job.running:
            return
        self._key = key
        self.preview_button.setVisible(not acting)   # an agent has no images to augment
        self._scroll.setVisible(not acting)          # nor a page of them
        if acting:
            self.title.setText("Asking the environment what it observes and does…")
            self._load_job.start(lambda: _environment_words(objective), self._described)
            return
        self.title.setText("Loading the training images…")
        self._load_job.start(lambda: _load(data), self._loaded)

    def _described(self, words, error) -> None:
        """An agent's experiment: no images, no counts — its environment in words."""
        self.loaded = self.preview = None
        self._clear(self._grid)
        self._clear(self._preview_grid)
        self.preview_status.setText("")
        self.title.setText(f"<span style='color:#b02a37'>This experiment has no data set, and its environment "
                           f"cannot be described: {in_window_words(error)}</span>" if error else words)
        self._maybe_reload()   # the experiment changed while it was asked

    @staticmethod
    def _clear(grid) -> None:
        while grid.count():
            item = grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _loaded(self, loaded, error) -> None:
        if error:
            self.loaded = None
            self.title.setText(f"<span style='color:#b02a37'>Cannot show the data: {in_window_words(error)}</span>")
        else:
            self.loaded = loaded
            self._fill(loaded)
        self._maybe_reload()   # the data section changed while it loaded

    def _fill(self, loaded) -> None:
        self._clear(self._grid)
        counts = loaded["counts"]
        top = max(1, int(counts.max()) if counts.size else 1)
        total = int(counts.sum())
        for row, (name, images) in enumerate(zip(loaded["names"], loaded["pages"])):
            self._grid.addWidget(QLabel(f"<b>{name}</b>"), row, 0)
            bar = QProgressBar()
            bar.setRange(0, top)
            bar.setValue(int(counts[row]))
            bar.setFormat(f"{int(counts[row]):,}")
            bar.setFixedWidth(110)
            bar.setToolTip(f"{int(counts[row]):,} training images of {name} "
                           f"({counts[row] / max(1, total):.1%} of {total:,})")
            self._grid.addWidget(bar, row, 1)
            for column, image in enumerate(images):
                self._grid.addWidget(_picture(image), row, 2 + column)
        self._grid.setColumnStretch(2 + PER_CLASS, 1)   # spare width right of the images, not in the names
        low, high = (int(counts.min()), int(counts.max())) if counts.size else (0, 0)
        balance = "balanced" if high <= 1.5 * max(1, low) else f"unbalanced: {low:,} to {high:,} per class"
        shown = "" if len(counts) <= MAX_CLASSES else f" (the first {MAX_CLASSES} classes shown)"
        self.title.setText(f"<b>Training set</b>: {total:,} images in {len(counts)} classes, {balance}{shown}. "
                           "Each row: the class's count and its first images.")

    def preview_augmentation(self) -> bool:
        """Run a few training images through the Random* layers (worker thread); False when busy or
        nothing is loaded yet."""
        if self.loaded is None or self._augment_job.running:
            return False
        experiment = self._document.experiment.copy()
        images = self.loaded["preview"]
        self.preview_button.setEnabled(False)
        self.preview_status.setText("Augmenting…")

        def work():
            from tapedeck.engine.analysis.data_pages import augment_preview

            return augment_preview(experiment, images, PREVIEW_COPIES)

        self._augment_job.start(work, self._augmented)
        return True

    def _augmented(self, preview, error) -> None:
        self.preview_button.setEnabled(True)
        self._clear(self._preview_grid)
        if error:
            self.preview = None
            self.preview_status.setText(f"<span style='color:#b02a37'>{in_window_words(error)}</span>")
            return
        self.preview = preview
        names = ", ".join(spec.type for spec in _augmentation(self._document.experiment))
        self.preview_status.setText(f"<b>Augmentation preview</b> ({names}): each row one training image, "
                                    f"first as stored, then {preview.shape[1]} draws of the layers.")
        for row, (original, copies) in enumerate(zip(self.loaded["preview"], preview)):
            self._preview_grid.addWidget(_picture(original, 56), row, 0)
            for column, image in enumerate(copies):
                self._preview_grid.addWidget(_picture(image, 56), row, 1 + column)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        return self._load_job.shutdown(timeout_ms) and self._augment_job.shutdown(timeout_ms)


def _augmentation(experiment):
    from tapedeck.engine.analysis.data_pages import augmentation_specs

    return augmentation_specs(experiment)
