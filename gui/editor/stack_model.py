"""A thin Qt table model over the experiment's layer list (napari style: the list is engine
data, this only presents it). Shapes, parameter counts and problems come from the Checker.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QByteArray, QMimeData, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from tapedeck.engine.text import format_count, format_shape

COLUMNS = ("#", "Name", "Type", "Output shape", "Params", "Head")
HEAD_COLUMN = 5
HEAD_FG = QColor("#0b5d3b")
DEFAULT_HEAD_FG = QColor("#6c757d")
MIME = "application/x-tapedeck-layer-row"
PROBLEM_BG = QColor("#f8d7da")
PROBLEM_FG = QColor("#842029")


class StackModel(QAbstractTableModel):
    # (from row, to row); connect queued: the reset must not happen inside the view's drop
    move_requested = Signal(int, int)

    def __init__(self, document, checker, parent=None):
        super().__init__(parent)
        self._document = document
        self._checker = checker
        self._layers = list(document.experiment.model.layers)
        document.changed.connect(self._reset)
        checker.report_changed.connect(self._refresh_derived)

    def _reset(self) -> None:
        self.beginResetModel()
        self._layers = list(self._document.experiment.model.layers)
        self.endResetModel()

    def _refresh_derived(self) -> None:
        if self._layers != list(self._document.experiment.model.layers):
            self._reset()
            return
        if self._layers:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._layers) - 1, len(COLUMNS) - 1))

    # -- read ---------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._layers)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Horizontal and role == Qt.TextAlignmentRole and section in (0, 4):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self._layers):
            return None
        row, column = index.row(), index.column()
        problems = self._checker.problems_for_row(row)
        if role == Qt.DisplayRole:
            return self._text(row, column, problems)
        if column == HEAD_COLUMN and role in (Qt.ForegroundRole, Qt.ToolTipRole, Qt.FontRole) and not problems:
            head = self.head_at(row)
            if head is not None:
                return self._head_role(head, role)
        if role == Qt.ToolTipRole:
            spec = self._layers[row]
            tip = f"{spec.type}" + (f" — inputs: {', '.join(spec.inputs)}" if spec.inputs else "")
            return tip + ("\n\n" + "\n".join(problems) if problems else "")
        if role == Qt.BackgroundRole and problems:
            return QBrush(PROBLEM_BG)
        if role == Qt.ForegroundRole and problems:
            return QBrush(PROBLEM_FG)
        if role == Qt.FontRole and problems and column == 1:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.TextAlignmentRole and column in (0, 4):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.UserRole:
            return problems
        return None

    def head_at(self, row: int):
        """(HeadSpec, declared) for a head layer, else None; the implicit single head is the last layer."""
        nodes = self._checker.nodes
        if not 0 <= row < len(nodes):
            return None
        outputs = self._document.experiment.model.outputs
        if not outputs:
            return (None, False) if row == len(nodes) - 1 else None
        head = next((h for h in outputs if h.layer == nodes[row].name), None)
        return (head, True) if head is not None else None

    def _head_text(self, row: int) -> str:
        found = self.head_at(row)
        if found is None:
            return ""
        head, declared = found
        if not declared:
            return "◉ label (default)"
        return f"◉ {head.target}"   # narrow: the dock is narrow; loss and weight are in the tool tip

    def _head_role(self, found, role):
        head, declared = found
        if role == Qt.ForegroundRole:
            return QBrush(HEAD_FG if declared else DEFAULT_HEAD_FG)
        if role == Qt.FontRole:
            font = QFont()
            font.setBold(declared)
            return font
        if not declared:
            return ("The model's output: with no heads declared, the last layer learns the data set's labels. "
                    "Mark another layer as a head (Head ▾) for a second output.")
        return (f"Head: learns target {head.target!r} with {head.loss or 'the training loss'}, "
                f"weight {head.loss_weight:g} in the total loss")

    def _text(self, row: int, column: int, problems: list[str]) -> str:
        spec = self._layers[row]
        if column == HEAD_COLUMN:
            return self._head_text(row)
        if column == 0:
            return str(row)
        if column == 1:
            nodes = self._checker.nodes
            name = nodes[row].name if row < len(nodes) else (spec.name or "")
            return ("⚠ " if problems else "") + name
        if column == 2:
            return spec.type
        report = self._checker.report
        layer = report.layers[row] if report is not None and row < len(report.layers) else None
        if column == 3:
            if problems and (layer is None or layer.output_shape is None):
                return "error"
            return format_shape(layer.output_shape if layer else None)
        return layer.params_text if layer and layer.params is not None else format_count(None)

    # -- drag to reorder -----------------------------------------------------------------
    def flags(self, index):
        base = super().flags(index) | Qt.ItemIsDropEnabled
        if index.isValid():
            return base | Qt.ItemIsDragEnabled
        return base

    def supportedDropActions(self):  # noqa: N802
        return Qt.MoveAction

    def mimeTypes(self):  # noqa: N802
        return [MIME]

    def mimeData(self, indexes):  # noqa: N802
        rows = sorted({i.row() for i in indexes})
        data = QMimeData()
        data.setData(MIME, QByteArray(str(rows[0] if rows else -1).encode()))
        return data

    def canDropMimeData(self, data, action, row, column, parent):  # noqa: N802
        return data.hasFormat(MIME)

    def dropMimeData(self, data, action, row, column, parent):  # noqa: N802
        if not data.hasFormat(MIME):
            return False
        source = int(bytes(data.data(MIME)).decode() or -1)
        target = row if row >= 0 else (parent.row() if parent.isValid() else len(self._layers))
        if source < 0:
            return False
        if target > source:
            target -= 1   # the row leaves its old place first
        self.move_requested.emit(source, target)
        return False      # the document reset moves the row; the view must not remove it too
