"""Data and training settings: one form bound field by field to the experiment's `data` and
`training` sections. What each field accepts comes from the experiment's own rules; the
dataset's shape and sizes (or its clear error) come from the Checker once loaded.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.data.sources import guess_source
from tapedeck.engine.spec.experiment import (
    FILE_SOURCES,
    LOSSES,
    MONITORS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    STREAMINGS,
)
from tapedeck.gui.widgets import field_names
from tapedeck.gui.widgets.narrow import narrow

SOURCE_LABELS = {
    "digits": "digits (scikit-learn, offline)", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "idx": "IDX files (folder)",
    "cifar": "CIFAR python batches", "npz": "NumPy .npz", "folder": "image folder (one per class)",
}


@dataclass
class Field:
    section: str            # "data" | "training"
    key: str
    label: str
    kind: str               # int | float | bool | choice | optional_int | optional_float | auto_int
    tip: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    visible: Callable | None = None   # experiment → bool
    decimals: int = 4
    step: float = 1.0


DATA_FIELDS = (
    Field("data", "validation_split", "validation split", "float", "fraction of the training set held "
          "out for validation, in [0, 1)", 0.0, 0.95, step=0.05, decimals=2),
    Field("data", "limit", "limit", "optional_int", "use only the first N training examples "
          "(0 = all): quick experiments", 0, 10_000_000, step=100),
    Field("data", "labels", "label format", "choice", "sparse: each label is a class number "
          "(sparse_categorical_crossentropy); one_hot: a row of 0s and a 1 per label (categorical_crossentropy)",
          choices=("sparse", "one_hot")),
    Field("data", "label_mode", "CIFAR-100 classes", "choice", "CIFAR-100: 100 fine classes or 20 coarse ones",
          choices=("fine", "coarse"), visible=lambda e: e.data.source in ("cifar100", "cifar")),
    Field("data", "color_mode", "colour", "choice", "image folder: keep colour or convert to grayscale",
          choices=("rgb", "grayscale"), visible=lambda e: e.data.source == "folder"),
    Field("data", "normalize", "scale to [0, 1]", "bool", "divide pixel values by 255"),
    Field("data", "streaming", "streaming", "choice", "auto: read from disk batch by batch when the decoded "
          "images exceed the memory budget; on: always; off: load the whole set",
          choices=STREAMINGS, visible=lambda e: e.data.source in FILE_SOURCES),
    Field("data", "memory_budget_mb", "memory budget (MiB)", "int", "auto streams a set whose decoded "
          "float32 images exceed this", 1, 10_000_000, step=256,
          visible=lambda e: e.data.source in FILE_SOURCES and e.data.streaming == "auto"),
)

TRAINING_FIELDS = (
    Field("training", "optimizer", "optimizer", "choice", "the update rule", choices=OPTIMIZERS),
    Field("training", "learning_rate", "learning rate", "float", "step size of the optimizer (> 0)",
          1e-6, 10.0, decimals=6, step=0.0005),
    Field("training", "momentum", "momentum", "float", "SGD / RMSprop momentum, in [0, 1)", 0.0, 0.999,
          step=0.05, decimals=3, visible=lambda e: e.training.optimizer in ("sgd", "rmsprop")),
    Field("training", "nesterov", "Nesterov", "bool", "SGD with Nesterov momentum",
          visible=lambda e: e.training.optimizer == "sgd"),
    Field("training", "weight_decay", "weight decay", "float", "AdamW decoupled weight decay (≥ 0)",
          0.0, 1.0, step=0.001, visible=lambda e: e.training.optimizer == "adamw"),
    Field("training", "loss", "loss", "choice", "what training minimizes; must suit the labels and the "
          "output layer", choices=LOSSES),
    Field("training", "from_logits", "from logits", "bool", "the output layer has no softmax/sigmoid "
          "(linear outputs)"),
    Field("training", "batch_size", "batch size", "int", "examples per step", 1, 65536),
    Field("training", "epochs", "epochs", "int", "passes over the training set", 1, 100000),
    Field("training", "schedule", "lr schedule", "choice", "how the learning rate changes: constant, "
          "step decay, cosine decay, reduce on plateau", choices=SCHEDULES),
    Field("training", "schedule_every", "every (epochs)", "int", "step decay: epochs between drops", 1, 10000,
          visible=lambda e: e.training.schedule == "step"),
    Field("training", "schedule_factor", "factor", "float", "multiply the learning rate by this, in (0, 1)",
          0.01, 0.99, step=0.05, decimals=2, visible=lambda e: e.training.schedule in ("step", "plateau")),
    Field("training", "schedule_patience", "patience", "int", "plateau: epochs without val_loss "
          "improvement before the drop", 0, 1000, visible=lambda e: e.training.schedule == "plateau"),
    Field("training", "early_stopping", "early stopping", "bool", "stop when the monitored metric stops "
          "improving"),
    Field("training", "early_stopping_monitor", "monitor", "choice", "metric early stopping watches",
          choices=MONITORS, visible=lambda e: e.training.early_stopping),
    Field("training", "early_stopping_patience", "patience", "int", "epochs without improvement before "
          "stopping", 0, 1000, visible=lambda e: e.training.early_stopping),
    Field("training", "restore_best_weights", "restore best", "bool", "keep the best epoch's weights",
          visible=lambda e: e.training.early_stopping),
    Field("training", "tensorboard", "TensorBoard logs", "bool", "also write TensorBoard event files into "
          "the run folder (Runs ▸ Open in TensorBoard shows them)"),
    Field("training", "precision", "precision", "choice",
          "mixed_bfloat16: compute in 16 bits, keep float32 weights (fast on CPUs with AMX/AVX512-BF16 and "
          "on recent GPUs); mixed_float16: GPUs only, with loss scaling", choices=PRECISIONS),
    Field("training", "fused_update", "fused Adam update", "bool",
          "Adam's update in TensorFlow's one fused kernel (ResourceApplyAdam, as tf.keras 2 did): the same "
          "formula in one pass over each weight instead of about ten, so a step spends less time updating "
          "weights (1.4-1.8x the samples per second with bfloat16 on the README's CPU); saved models still load "
          "as plain Adam. SGD and RMSprop have none",
          visible=lambda e: e.training.optimizer in ("adam", "adamw") or not e.objective.is_classify),
    Field("training", "global_clipnorm", "clip global norm", "optional_float",
          "scale all gradients together so their global norm is at most this; off = no clipping",
          0.0, 1000.0, step=0.5, decimals=3),
    Field("training", "clipnorm", "clip each norm", "optional_float",
          "clip each gradient tensor to this norm; off = no clipping (one kind of clipping at a time)",
          0.0, 1000.0, step=0.5, decimals=3),
    Field("training", "clipvalue", "clip values", "optional_float",
          "clip every gradient entry to [-v, v]; off = no clipping (one kind of clipping at a time)",
          0.0, 1000.0, step=0.1, decimals=3),
    Field("training", "steps_per_execution", "steps per call", "auto_int",
          "training steps run inside one compiled call: Python, the callbacks and the read of the loss "
          "happen once per call, so small models train faster. auto: measured at the start of the run so "
          "a call lasts about 50 ms (the run's first note says the number). Stop, pause and the curves act "
          "between calls, so within this many steps; Step and inspected steps in the GradientTape loop "
          "still take exactly one step (in fit, Step advances one call)", 0, 1024),
    Field("training", "gradient_accumulation_steps", "accumulate batches", "int",
          "average the gradients of N batches, then update once (1 = every batch): a larger batch "
          "in the memory of a small one", 1, 1024),
    Field("training", "inspect_every", "gradients every", "int",
          "GradientTape loop: record per-layer gradient norms every N steps for Inside the step "
          "(0 = off)", 0, 100000, visible=lambda e: e.training.loop in ("tape", "train_step")),
    Field("training", "seed", "seed", "optional_int",
          "random seed for weights and shuffling; none = a different run each time",
          -1, 2**31 - 1),
)

field_names.register({f"{spec.section}.{spec.key}": spec.label for spec in DATA_FIELDS + TRAINING_FIELDS})


class SettingsPanel(QWidget):
    def __init__(self, document, checker, parent=None):
        super().__init__(parent)
        self._document = document
        self._checker = checker
        self.editors: dict[str, QWidget] = {}
        self._rows: dict[str, tuple[QFormLayout, QLabel, QWidget]] = {}

        self.name_edit = QLineEdit(self)
        self.name_edit.setToolTip("The experiment's name: the window title and the run folder use it")
        self.name_edit.editingFinished.connect(self._set_name)

        data_box = QGroupBox("Data", self)
        data_form = QFormLayout(data_box)
        data_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.source = narrow(QComboBox(data_box))
        for key, label in SOURCE_LABELS.items():
            self.source.addItem(label, key)
        self.source.setToolTip("Named sets load through keras.datasets (cached in ~/.keras/datasets); "
                               "file sources read the path below")
        self.source.activated.connect(lambda i: self._set_source(self.source.itemData(i)))
        self.open_button = QToolButton(data_box)
        self.open_button.setText("Open folder/file…")
        self.open_button.setPopupMode(QToolButton.InstantPopup)
        self.open_button.setToolTip("IDX files, CIFAR batches (.tar.gz or folder), a .npz with "
                                    "x_train/y_train/x_test/y_test, or an image folder")
        menu = QMenu(self.open_button)
        menu.addAction("Folder…", self._open_folder)
        menu.addAction("File (.npz, CIFAR .tar.gz)…", self._open_file)
        self.open_button.setMenu(menu)
        data_form.addRow("source", self.source)
        data_form.addRow("", self.open_button)
        self.path_label = QLabel(data_box)
        self.path_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.path_label.setWordWrap(True)
        data_form.addRow("path", self.path_label)
        self._rows["data.path"] = (data_form, data_form.labelForField(self.path_label), self.path_label)
        for spec in DATA_FIELDS:
            self._add_field(data_form, spec)
        self.data_info = QLabel(data_box)
        self.data_info.setObjectName("dataInfo")
        self.data_info.setWordWrap(True)
        self.data_info.setTextInteractionFlags(Qt.TextSelectableByMouse)
        data_form.addRow(self.data_info)

        train_box = QGroupBox("Training", self)
        train_form = QFormLayout(train_box)
        train_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for spec in TRAINING_FIELDS:
            self._add_field(train_form, spec)
        self.precision_note = self._precision_note(train_form)

        body = QWidget(self)
        column = QVBoxLayout(body)
        name_row = QFormLayout()
        name_row.addRow("name", self.name_edit)
        column.addLayout(name_row)
        column.addWidget(data_box)
        column.addWidget(train_box)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(body)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        document.changed.connect(self._refresh)
        checker.data_changed.connect(self._show_data_info)
        self._refresh()
        self._show_data_info()

    # -- building ---------------------------------------------------------------------------
    def _add_field(self, form: QFormLayout, spec: Field) -> None:
        if spec.kind in ("int", "optional_int", "auto_int"):
            editor = QSpinBox(self)
            editor.setRange(int(spec.low), int(spec.high))
            editor.setSingleStep(int(spec.step))
            if spec.kind == "optional_int":
                editor.setSpecialValueText("all" if spec.key == "limit" else "none")
            if spec.kind == "auto_int":   # the lowest value (0) stands for "auto"
                editor.setSpecialValueText("auto")
                editor.valueChanged.connect(lambda v, s=spec: self._set(s, "auto" if v <= s.low else int(v)))
            elif spec.kind == "optional_int":
                editor.valueChanged.connect(lambda v, s=spec: self._set(s, self._optional(s, int(v))))
            else:   # epochs, batch size…: every value, the lowest included, is a number
                editor.valueChanged.connect(lambda v, s=spec: self._set(s, int(v)))
        elif spec.kind in ("float", "optional_float"):
            editor = QDoubleSpinBox(self)
            editor.setDecimals(spec.decimals)
            editor.setRange(spec.low, spec.high)
            editor.setSingleStep(spec.step)
            if spec.kind == "optional_float":   # the lowest value (0) stands for None: off
                editor.setSpecialValueText("off")
                editor.valueChanged.connect(lambda v, s=spec: self._set(s, None if v <= s.low else
                                                                        round(float(v), s.decimals)))
            else:
                editor.valueChanged.connect(lambda v, s=spec: self._set(s, round(float(v), spec.decimals)))
        elif spec.kind == "bool":
            editor = QCheckBox(self)
            editor.toggled.connect(lambda v, s=spec: self._set(s, bool(v)))
        else:
            editor = narrow(QComboBox(self))
            editor.addItems([str(c) for c in spec.choices])
            editor.activated.connect(lambda i, s=spec: self._set(s, s.choices[i]))
        editor.setToolTip(spec.tip)
        form.addRow(spec.label, editor)
        label = form.labelForField(editor)
        label.setToolTip(spec.tip)
        key = f"{spec.section}.{spec.key}"
        self.editors[key] = editor
        self._rows[key] = (form, label, editor)

    def _precision_note(self, form: QFormLayout) -> QLabel:
        """On a CPU without bfloat16 units (engine.model.cpu) the bfloat16 choice says so in its own
        text, and a note under the selector says it while it is chosen: emulated, it trains ~5x slower."""
        from tapedeck.engine.model.cpu import bfloat16_slow_note

        note = QLabel(self)
        note.setObjectName("precisionNote")
        note.setWordWrap(True)
        note.setStyleSheet("color: #7a5c00")
        slow = bfloat16_slow_note()
        combo = self.editors["training.precision"]
        if slow:
            index = list(PRECISIONS).index("mixed_bfloat16")
            combo.setItemText(index, "mixed_bfloat16 (slow on this CPU: no bfloat16 units)")
            combo.setItemData(index, slow, Qt.ToolTipRole)
            note.setText(f"mixed_bfloat16: {slow}.")
        form.addRow(note)
        note.setVisible(False)
        self._slow_bfloat16 = bool(slow)
        return note

    @staticmethod
    def _optional(spec: Field, value: int):
        """The spin box's lowest value stands for None (limit 0 = all, seed -1 = unseeded)."""
        return None if value == int(spec.low) else value

    # -- writes ------------------------------------------------------------------------------
    def _set(self, spec: Field, value) -> None:
        experiment = self._document.edited()
        setattr(getattr(experiment, spec.section), spec.key, value)
        self._document.apply(experiment, f"Set {spec.key.replace('_', ' ')}",
                             merge_key=f"{spec.section}.{spec.key}")

    def _set_name(self) -> None:
        text = self.name_edit.text().strip()
        if not text or text == self._document.experiment.name:
            self.name_edit.setText(self._document.experiment.name)
            return
        experiment = self._document.edited()
        experiment.name = text
        self._document.apply(experiment, "Rename experiment")

    def _set_source(self, source: str, path: str | None = None) -> None:
        experiment = self._document.edited()
        experiment.data.source = source
        if source in FILE_SOURCES:
            experiment.data.path = path if path is not None else experiment.data.path
        else:
            experiment.data.path = None
        self._document.apply(experiment, f"Data: {SOURCE_LABELS[source]}")
        self._refresh()

    def _open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a data folder: IDX files, CIFAR batches, "
                                                      "or one sub-folder of images per class")
        if path:
            self.open_path(path)

    def _open_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Open a data file", "", "Data sets (*.npz *.tar.gz *.tgz);;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        """Point the experiment at a data file or folder, guessing the format from its layout."""
        source, why = guess_source(path)
        if source is None:
            self.data_info.setText(f"<span style='color:#b02a37'>{why}</span>")
            return
        self._set_source(source, path)

    # -- display -----------------------------------------------------------------------------
    def _refresh(self) -> None:
        experiment = self._document.experiment
        if not self.name_edit.hasFocus():
            self.name_edit.setText(experiment.name)
        index = self.source.findData(experiment.data.source)
        self.source.setCurrentIndex(max(index, 0))
        self.path_label.setText(experiment.data.path or "—")
        form, label, widget = self._rows["data.path"]
        label.setVisible(experiment.data.source in FILE_SOURCES)
        widget.setVisible(experiment.data.source in FILE_SOURCES)
        for spec in DATA_FIELDS + TRAINING_FIELDS:
            key = f"{spec.section}.{spec.key}"
            editor = self.editors[key]
            value = getattr(getattr(experiment, spec.section), spec.key)
            editor.blockSignals(True)
            if isinstance(editor, QSpinBox):
                editor.setValue(int(spec.low) if value is None or value == "auto" else int(value))
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(spec.low) if value is None else float(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            else:
                editor.setCurrentIndex(max(0, list(spec.choices).index(value)) if value in spec.choices else 0)
            editor.blockSignals(False)
            shown = spec.visible(experiment) if spec.visible else True
            _form, row_label, row_editor = self._rows[key]
            row_label.setVisible(shown)
            row_editor.setVisible(shown)
        self.precision_note.setVisible(self._slow_bfloat16 and experiment.training.precision == "mixed_bfloat16")

    def _show_data_info(self) -> None:
        checker = self._checker
        if checker.data_loading:
            self.data_info.setText("<i>Loading data…</i>")
        elif checker.data_error:   # whole above the tabs, with its fixes as buttons; whole here on hover
            self.data_info.setText("<span style='color:#b02a37'>The data did not load: the message above the "
                                   "tabs says why, with its fixes.</span>")
            self.data_info.setToolTip(checker.data_error)
        elif checker.dataset is not None:
            self.data_info.setToolTip("")
            d = checker.dataset
            warnings = "".join(f"<br><span style='color:#7a5c00'>{_escape(w)}</span>" for w in d.warnings)
            self.data_info.setText(
                f"input {tuple(d.input_shape)} · {d.num_classes} classes<br>"
                f"train {d.train_size:,} · val {d.val_size:,} · test {d.test_size:,}{warnings}")
        else:
            self.data_info.setText("")

    def set_enabled_for_run(self, running: bool) -> None:
        self.setEnabled(not running)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
