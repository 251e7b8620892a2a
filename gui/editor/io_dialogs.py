"""Small dialogs for a model's inputs and heads: an input's name and the data array feeding it; a head's
target, loss and loss weight. They offer only what the data set holds (engine.data.targets.Feeds), so a
person picks ``x_extra`` or ``parity`` from a list instead of typing a key name from the file format.
"""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from tapedeck.engine.spec.heads import DEFAULT_DATA, DEFAULT_TARGET, HEAD_LOSSES, REGRESSION_LOSSES
from tapedeck.engine.text import format_shape

__all__ = ["InputDialog", "HeadDialog", "fallback_feeds", "target_text"]


def fallback_feeds(experiment):
    """The feeds before the data set has loaded: asked of the data description (cheap for named sets),
    else just the images and the labels."""
    from tapedeck.engine.data.targets import Feeds

    try:
        from tapedeck.engine.data.datasets import describe_feeds

        return describe_feeds(experiment.data)
    except Exception:  # noqa: BLE001 - a data problem is the checker's to report, not the dialog's
        return Feeds({DEFAULT_DATA: None}, {DEFAULT_TARGET: ("classes", [], 0, False)})


def target_text(name: str, entry) -> str:
    kind, names, width, derived = entry
    what = f"{len(names)} classes" if kind == "classes" else f"{width} value(s)"
    return f"{name} — {what}" + (", derived" if derived else "")


def _dialog_layout(dialog: QDialog, intro: str) -> tuple[QFormLayout, QLabel, QDialogButtonBox]:
    column = QVBoxLayout(dialog)
    text = QLabel(intro, dialog)
    text.setWordWrap(True)
    column.addWidget(text)
    form = QFormLayout()
    column.addLayout(form)
    problem = QLabel("", dialog)
    problem.setObjectName("problem")
    problem.setWordWrap(True)
    problem.setStyleSheet("color: #b02a37")
    column.addWidget(problem)
    buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, dialog)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    column.addWidget(buttons)
    return form, problem, buttons


class InputDialog(QDialog):
    """Name an input and pick the data array that feeds it. ``check(name)`` returns a problem or None."""

    def __init__(self, feeds, check, name: str = "", data: str = DEFAULT_DATA, parent=None, title="Add input"):
        super().__init__(parent)
        self.setWindowTitle(title)
        self._check = check
        form, self.problem, self.buttons = _dialog_layout(
            self, "A second input is what the Functional API and subclassing can build and Sequential "
                  "cannot. After adding it, list it in a layer's inputs (e.g. a Dense, or a Concatenate "
                  "with the image branch).")
        self.name = QLineEdit(name, self)
        self.name.setPlaceholderText("e.g. extra")
        self.data = QComboBox(self)
        for key, shape in feeds.shapes.items():
            self.data.addItem(f"{key}  {format_shape(shape) if shape is not None else ''}".rstrip(), key)
        if self.data.findData(data) < 0:
            self.data.addItem(f"{data}  (not in this data set)", data)
        self.data.setCurrentIndex(self.data.findData(data))
        self.data.setToolTip("The data set's arrays: x is the images; an npz file's x_train_<name> / "
                             "x_test_<name> arrays appear as x_<name>")
        form.addRow("Name", self.name)
        form.addRow("Data", self.data)
        self.name.textChanged.connect(self._validate)
        self._validate()

    def values(self) -> tuple[str, str]:
        return self.name.text().strip(), self.data.currentData()

    def _validate(self) -> None:
        problem = self._check(self.name.text().strip())
        self.problem.setText(problem or "")
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(problem is None)


class HeadDialog(QDialog):
    """A head's target (from the data set), loss and weight in the total loss."""

    def __init__(self, feeds, layer: str, head=None, training_loss: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Head on {layer}")
        form, self.problem, self.buttons = _dialog_layout(
            self, f"<b>{layer}</b> becomes an output of the model: it learns the target below, and its "
                  f"loss times its weight adds to the total the optimizer minimises.")
        self.target = QComboBox(self)
        for name, entry in feeds.targets.items():
            self.target.addItem(target_text(name, entry), name)
        wanted = head.target if head is not None else DEFAULT_TARGET
        if self.target.findData(wanted) < 0:
            self.target.addItem(f"{wanted} — not in this data set", wanted)
        self.target.setCurrentIndex(self.target.findData(wanted))
        self.loss = QComboBox(self)
        self.loss.addItem(f"training loss ({training_loss})" if training_loss else "training loss", None)
        for loss in HEAD_LOSSES:
            self.loss.addItem(loss, loss)
        self.loss.setCurrentIndex(max(0, self.loss.findData(head.loss)) if head is not None and head.loss else 0)
        self.loss.setToolTip("Class targets: a cross-entropy; number targets: mean_squared_error or "
                             "mean_absolute_error (the head's metric is then MAE)")
        self.weight = QDoubleSpinBox(self)
        self.weight.setRange(0.0, 1000.0)
        self.weight.setDecimals(3)
        self.weight.setSingleStep(0.1)
        self.weight.setValue(head.loss_weight if head is not None else 1.0)
        form.addRow("Target", self.target)
        form.addRow("Loss", self.loss)
        form.addRow("Loss weight", self.weight)
        self._feeds = feeds
        self.target.currentIndexChanged.connect(self._suggest_loss)

    def _suggest_loss(self) -> None:
        """A number target wants a regression loss: offer it instead of letting the check refuse later."""
        entry = self._feeds.targets.get(self.target.currentData())
        values = entry is not None and entry[0] == "values"
        if values and self.loss.currentData() not in REGRESSION_LOSSES:
            self.loss.setCurrentIndex(self.loss.findData("mean_squared_error"))
        elif not values and self.loss.currentData() in REGRESSION_LOSSES:
            self.loss.setCurrentIndex(0)

    def values(self) -> tuple[str, str | None, float]:
        return self.target.currentData(), self.loss.currentData(), float(self.weight.value())
