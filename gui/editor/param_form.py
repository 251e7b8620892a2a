"""The selected layer's form, generated from engine.spec.catalogue: a spin box with the catalogue's
range for numbers, a combo box for choices, a check box for flags, a text field for pairs and
lists, and the wiring (which earlier layers feed this one). Help text becomes tooltips.
"""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.spec import graph
from tapedeck.engine.spec.catalogue import check_value, describe, layer_type
from tapedeck.engine.spec.heads import inputs_of
from tapedeck.gui.widgets.narrow import narrow

INT_LIMIT = 2**31 - 1
NONE_TEXT = "None (linear)"
PREVIOUS = "(previous layer)"


def parse_text(text: str):
    """What a person types into a pair/list field, as the JSON value: "3" → 3, "3, 3" → [3, 3],
    "" or "none" → None."""
    text = text.strip()
    if not text or text.lower() in ("none", "null"):
        return None
    if not text.startswith("["):
        text = f"[{text}]" if "," in text else text
    try:
        return json.loads(text)
    except ValueError:
        return text


def show_text(value) -> str:
    """The field's text for a value; parse_text reads it back to the same value."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (list, tuple)) for v in value):   # cropping's [[top, bottom], [left, right]]
            return json.dumps(_json_form(tuple(value)))
        return ", ".join(str(v) for v in value)
    return str(value)


def _json_form(value):
    return [_json_form(v) for v in value] if isinstance(value, tuple) else value


class ParamForm(QWidget):
    """Shows the layer at `row` of the document; writes every change back as an undo step."""

    def __init__(self, document, checker, parent=None):
        super().__init__(parent)
        self._document = document
        self._checker = checker
        self._row = -1
        self._shown_type: str | None = None
        self.editors: dict[str, QWidget] = {}
        self.title = QLabel(self)
        self.title.setObjectName("formTitle")
        self.title.setWordWrap(True)
        self._body = QWidget(self)
        self._form = QFormLayout()
        body_layout = QVBoxLayout(self._body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(self._form)
        body_layout.addStretch(1)     # rows stay together at the top
        self._form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self._form.setLabelAlignment(Qt.AlignRight)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(self._body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)
        document.changed.connect(self._document_changed)
        checker.report_changed.connect(self._refresh_values)

    # -- which layer -----------------------------------------------------------------------
    def show_row(self, row: int) -> None:
        """Show the layer at `row`; the same row and type only refreshes the values, so an edit
        that resets the stack table does not rebuild (and unfocus) the field being typed in."""
        spec_type = None
        layers = self._document.experiment.model.layers
        if 0 <= row < len(layers):
            spec_type = layers[row].type
        if row == self._row and spec_type == self._shown_type and self.editors:
            self._refresh_values()
            return
        self._row = row
        self._rebuild()

    def _spec(self):
        layers = self._document.experiment.model.layers
        return layers[self._row] if 0 <= self._row < len(layers) else None

    def _document_changed(self) -> None:
        spec = self._spec()
        if spec is None or spec.type != self._shown_type:
            self._rebuild()
        else:
            self._refresh_values()

    def _rebuild(self) -> None:
        while self._form.rowCount():
            self._form.removeRow(0)
        self.editors = {}
        spec = self._spec()
        self._shown_type = spec.type if spec else None
        if spec is None:
            self.title.setText("Select a layer to edit its parameters.")
            return
        kind = layer_type(spec.type)
        self.title.setText(f"<b>{spec.type}</b> — {kind.help}")
        name = QLineEdit(self._body)
        name.setToolTip("Layer name; empty gives Keras's automatic name. Other layers refer to it "
                        "in their inputs.")
        name.editingFinished.connect(lambda: self._set_name(name.text()))
        self._add_row("name", name)
        if kind.merge:
            picker = QListWidget(self._body)
            picker.setToolTip("Layers whose outputs this merge layer combines (two or more)")
            picker.setMaximumHeight(110)
            picker.itemChanged.connect(lambda _item: self._set_merge_inputs(picker))
            self._add_row("inputs", picker)
        else:
            source = narrow(QComboBox(self._body))
            source.setToolTip("Which layer feeds this one; pick an earlier layer to start a branch")
            source.activated.connect(lambda _i: self._set_single_input(source.currentText()))
            self._add_row("input from", source)
        frozen = QCheckBox("train these weights", self._body)
        frozen.setToolTip("Unticked: the layer is frozen (trainable=False), its weights stay as they are in "
                          "every loop; the Params column counts them as frozen")
        frozen.toggled.connect(self._set_trainable)
        self._add_row("trainable", frozen)
        multiplier = QDoubleSpinBox(self._body)
        multiplier.setRange(0.001, 100.0)
        multiplier.setDecimals(3)
        multiplier.setSingleStep(0.1)
        multiplier.setToolTip("This layer learns at the learning rate times this factor (GradientTape loop or "
                              "custom train_step: its gradients are scaled before the update)")
        multiplier.valueChanged.connect(self._set_multiplier)
        self._add_row("learning rate ×", multiplier)
        for param in kind.params:
            editor = self._make_editor(param)
            default = list(param.default) if isinstance(param.default, tuple) else json.dumps(param.default)
            editor.setToolTip(f"{param.help}\nAccepts {describe(param)}; Keras default {default}.")
            self._add_row(param.name, editor, param)
        self._refresh_values()

    def _add_row(self, key: str, editor: QWidget, param=None) -> None:
        label = QLabel(key + (" *" if param is not None and param.required else ""), self._body)
        label.setToolTip(editor.toolTip() if param is None else param.help)
        self._form.addRow(label, editor)
        self.editors[key] = editor

    # -- editors per kind ------------------------------------------------------------------
    def _make_editor(self, param) -> QWidget:
        if param.kind == "int":
            box = QSpinBox(self._body)
            low = int(param.min) if param.min is not None else -INT_LIMIT
            high = int(param.max) - (1 if param.max_exclusive else 0) if param.max is not None else INT_LIMIT
            box.setRange(low, high)
            box.setAccelerated(True)
            box.valueChanged.connect(lambda v, p=param: self._set_param(p, int(v)))
            return box
        if param.kind == "float" and param.min is not None and param.max is not None:
            box = QDoubleSpinBox(self._body)
            box.setDecimals(4)
            step = 10 ** -4 if param.max_exclusive else 0
            box.setRange(float(param.min), float(param.max) - step)
            box.setSingleStep(0.05)
            box.valueChanged.connect(lambda v, p=param: self._set_param(p, round(float(v), 6)))
            return box
        if param.kind == "bool":
            box = QCheckBox(self._body)
            box.toggled.connect(lambda v, p=param: self._set_param(p, bool(v)))
            return box
        if param.kind == "choice":
            box = narrow(QComboBox(self._body))
            for choice in param.choices:
                none = NONE_TEXT if param.name == "activation" else "None"   # a Backbone's weights: none
                box.addItem(none if choice is None else str(choice), choice)
            box.activated.connect(lambda i, p=param, b=box: self._set_param(p, b.itemData(i)))
            return box
        field = QLineEdit(self._body)
        if param.kind == "float":
            field.textEdited.connect(lambda t, p=param, f=field: self._set_text(p, f, t, float_only=True))
        else:
            field.setPlaceholderText("None" if param.accepts_none else "e.g. 3 or 3, 3")
            field.textEdited.connect(lambda t, p=param, f=field: self._set_text(p, f, t))
        return field

    def _refresh_values(self) -> None:
        """Show the document's values without echoing them back as edits."""
        spec = self._spec()
        if spec is None or spec.type != self._shown_type:
            return
        kind = layer_type(spec.type)
        params = spec.params or {}
        for key, editor in self.editors.items():
            editor.blockSignals(True)
            try:
                if key == "name":
                    if not editor.hasFocus():
                        editor.setText(spec.name or "")
                    nodes = self._checker.nodes
                    editor.setPlaceholderText(nodes[self._row].name if self._row < len(nodes) else "")
                elif key == "inputs":
                    self._fill_merge_inputs(editor, spec)
                elif key == "input from":
                    self._fill_single_input(editor, spec)
                elif key == "trainable":
                    editor.setChecked(spec.trainable)
                elif key == "learning rate ×":
                    editor.setValue(spec.lr_multiplier)
                else:
                    param = kind.param(key)
                    self._show_value(editor, param, params.get(key, param.default))
            finally:
                editor.blockSignals(False)

    def _show_value(self, editor, param, value) -> None:
        if isinstance(editor, QSpinBox):
            editor.setValue(int(value) if isinstance(value, int) else editor.minimum())
        elif isinstance(editor, QDoubleSpinBox):
            editor.setValue(float(value) if isinstance(value, (int, float)) else editor.minimum())
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            index = editor.findData(value)
            editor.setCurrentIndex(index if index >= 0 else 0)
        elif isinstance(editor, QLineEdit) and not editor.hasFocus():
            editor.setText(show_text(value))
            editor.setStyleSheet("")

    def _earlier_names(self) -> list[str]:
        inputs = [spec.name for spec in inputs_of(self._document.experiment.model)]   # every model input
        return inputs + [node.name for node in self._checker.nodes[: max(self._row, 0)]]

    def _fill_merge_inputs(self, picker: QListWidget, spec) -> None:
        chosen = list(spec.inputs or [])
        picker.clear()
        for name in self._earlier_names() + [n for n in chosen if n not in self._earlier_names()]:
            item = QListWidgetItem(name, picker)
            item.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled)
            item.setCheckState(Qt.Checked if name in chosen else Qt.Unchecked)

    def _fill_single_input(self, combo: QComboBox, spec) -> None:
        combo.clear()
        combo.addItem(PREVIOUS)
        names = self._earlier_names()
        combo.addItems(names)
        current = (spec.inputs or [None])[0] if spec.inputs else None
        if current is not None and current not in names:
            combo.addItem(current)
        combo.setCurrentIndex(combo.findText(current) if current is not None else 0)

    # -- writes ----------------------------------------------------------------------------
    def _edit(self, change, text: str, key: str) -> None:
        spec = self._spec()
        if spec is None:
            return
        experiment = self._document.edited()
        change(experiment.model.layers[self._row])
        self._document.apply(experiment, text, merge_key=f"{self._row}:{key}", selection=self._row)

    def _set_param(self, param, value) -> None:
        def change(layer):
            layer.params = dict(layer.params or {})
            if value == _json_form(param.default) and not param.required:
                layer.params.pop(param.name, None)
            else:
                layer.params[param.name] = value
        self._edit(change, f"Set {param.name}", param.name)

    def _set_text(self, param, field: QLineEdit, text: str, float_only: bool = False) -> None:
        value = parse_text(text)
        if float_only and isinstance(value, int):
            value = float(value)
        problem = check_value(param, value, param.name)
        if problem:
            field.setStyleSheet("QLineEdit { border: 1px solid #c0392b; }")
            field.setToolTip(problem)
            return
        field.setStyleSheet("")
        field.setToolTip(param.help)
        self._set_param(param, value)

    def _set_trainable(self, trainable: bool) -> None:
        spec = self._spec()
        if spec is None or spec.trainable == trainable:
            return
        experiment = self._document.edited()
        experiment.model.layers[self._row].trainable = trainable
        label = spec.name or spec.type
        self._document.apply(experiment, f"{'Unfreeze' if trainable else 'Freeze'} {label}")

    def _set_multiplier(self, value: float) -> None:
        spec = self._spec()
        value = round(float(value), 3)
        if spec is None or spec.lr_multiplier == value:
            return
        experiment = self._document.edited()
        experiment.model.layers[self._row].lr_multiplier = value
        self._document.apply(experiment, f"Learning rate × {value:g} for {spec.name or spec.type}",
                             merge_key=f"lr_multiplier.{self._row}")

    def _set_name(self, text: str) -> None:
        """Rename, and follow the rename in every layer that named the old one as an input."""
        text = text.strip() or None
        spec = self._spec()
        if spec is None or text == spec.name:
            return
        nodes = self._checker.nodes
        old = nodes[self._row].name if self._row < len(nodes) else spec.name
        experiment = self._document.edited()
        experiment.model.layers[self._row].name = text
        new_nodes, _problems = graph.resolve_model(experiment.model)
        new = new_nodes[self._row].name if self._row < len(new_nodes) else text
        for layer in experiment.model.layers:
            if layer.inputs and old in layer.inputs:
                layer.inputs = [new if name == old else name for name in layer.inputs]
        for head in experiment.model.outputs:   # a head names its layer too
            if head.layer == old:
                head.layer = new
        self._document.apply(experiment, "Rename layer", selection=self._row)

    def _set_merge_inputs(self, picker: QListWidget) -> None:
        chosen = [picker.item(i).text() for i in range(picker.count())
                  if picker.item(i).checkState() == Qt.Checked]

        def change(layer):
            layer.inputs = chosen
        self._edit(change, "Set inputs", "inputs")

    def _set_single_input(self, text: str) -> None:
        def change(layer):
            layer.inputs = None if text == PREVIOUS else [text]
        self._edit(change, "Set input", "inputs")
