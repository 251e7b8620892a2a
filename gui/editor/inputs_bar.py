"""The model's inputs, above the layer table: one row per input (its name, the data array feeding it, its
shape from the check, the layers that read it) with Add / Edit / Remove. A model that declares none shows
its single implicit ``input`` so the person sees where the stack starts and can add a second one.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.spec.heads import inputs_of
from tapedeck.engine.text import format_shape
from tapedeck.gui.editor import io_edits
from tapedeck.gui.editor.io_dialogs import InputDialog, fallback_feeds

INPUT_BG = QColor("#eef3f8")


class InputsBar(QWidget):
    HEADERS = ("Input", "Data", "Shape", "Read by")

    def __init__(self, document, checker, parent=None):
        super().__init__(parent)
        self._document = document
        self._checker = checker
        self.table = QTableWidget(0, len(self.HEADERS), self)
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.table.cellDoubleClicked.connect(lambda row, _column: self.edit_input(row))
        self.table.itemSelectionChanged.connect(self._enable)

        self.add_button = self._button("Add input…", "Add a second input fed by another data array",
                                       lambda: self.add_input())
        self.edit_button = self._button("Edit…", "Rename the selected input or feed it another data array",
                                        lambda: self.edit_input(self._row()))
        self.remove_button = self._button("Remove input", "Remove the selected input (layers that read it "
                                                          "take the layer before them)",
                                          lambda: self.remove_input(self._row()))
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for button in (self.add_button, self.edit_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        document.changed.connect(self.refresh)
        checker.report_changed.connect(self.refresh)
        self.refresh()

    def _button(self, text, tip, slot) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def _inputs(self):
        return inputs_of(self._document.experiment.model)

    def refresh(self) -> None:
        inputs = self._inputs()
        report = self._checker.report
        shapes = dict(report.inputs) if report is not None else {}
        readers: dict[str, list[str]] = {}
        for node in self._checker.nodes:
            for ref in node.inputs:
                readers.setdefault(ref, []).append(node.name)
        declared = bool(self._document.experiment.model.inputs)
        self.table.setRowCount(len(inputs))
        for row, spec in enumerate(inputs):
            shape = shapes.get(spec.name)
            used = readers.get(spec.name, [])
            cells = (f"▸ {spec.name}", spec.data, format_shape((None, *shape)) if shape is not None else "…",
                     ", ".join(used) if used else "no layer — list it in a layer's inputs")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setBackground(QBrush(INPUT_BG))
                if column == 3 and not used:
                    item.setForeground(QBrush(QColor("#842029")))
                item.setToolTip(f"input {spec.name!r} reads data {spec.data!r}"
                                + ("" if declared else " (the default: no model.inputs in the file)"))
                self.table.setItem(row, column, item)
        height = self.table.horizontalHeader().height() + 22 * min(len(inputs), 3) + 2 * self.table.frameWidth()
        self.table.setFixedHeight(height)
        self._enable()

    def _enable(self) -> None:
        row = self._row()
        several = len(self._inputs()) > 1
        self.edit_button.setEnabled(row >= 0)
        self.remove_button.setEnabled(row >= 0 and several)

    def _feeds(self):
        return self._checker.feeds or fallback_feeds(self._document.experiment)

    def add_input(self, values: tuple[str, str] | None = None) -> bool:
        """Ask for a name and a data array (or take ``values``, as tests do) and add the input: one undo step."""
        experiment = self._document.edited()
        if values is None:
            arrays = [key[2:] for key in self._feeds().shapes if key.startswith("x_")]
            suggestion = next((name for name in [*arrays, "extra", "extra_1", "extra_2"]
                               if io_edits.input_name_problem(experiment, name) is None), "")
            data = f"x_{suggestion}" if f"x_{suggestion}" in self._feeds().shapes else "x"
            dialog = InputDialog(self._feeds(), lambda name: io_edits.input_name_problem(experiment, name),
                                 suggestion, data, self)
            if dialog.exec() != InputDialog.Accepted:
                return False
            values = dialog.values()
        name, data = values
        if io_edits.input_name_problem(experiment, name) is not None:
            return False
        io_edits.add_input(experiment, name, data)
        self._document.apply(experiment, f"Add input {name}")
        return True

    def edit_input(self, row: int, values: tuple[str, str] | None = None) -> bool:
        inputs = self._inputs()
        if not 0 <= row < len(inputs):
            return False
        old = inputs[row]
        experiment = self._document.edited()
        if values is None:
            dialog = InputDialog(self._feeds(), lambda name: io_edits.input_name_problem(experiment, name, old.name),
                                 old.name, old.data, self, title=f"Input {old.name}")
            if dialog.exec() != InputDialog.Accepted:
                return False
            values = dialog.values()
        name, data = values
        if io_edits.input_name_problem(experiment, name, old.name) is not None:
            return False
        io_edits.update_input(experiment, old.name, name, data)
        self._document.apply(experiment, f"Edit input {old.name}")
        return True

    def remove_input(self, row: int) -> bool:
        inputs = self._inputs()
        if not 0 <= row < len(inputs) or len(inputs) < 2:
            return False
        experiment = self._document.edited()
        io_edits.remove_input(experiment, inputs[row].name)
        self._document.apply(experiment, f"Remove input {inputs[row].name}")
        return True
