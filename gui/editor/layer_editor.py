"""The layer stack dock: the table of layers, a grouped palette with a search box to add from
(``layer_palette``), and the edits (add after the selection, remove, duplicate, move, drag). Every edit
is one undo step.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from tapedeck.engine.spec.catalogue import layer_type
from tapedeck.engine.spec.experiment import LayerSpec
from tapedeck.engine.spec.heads import inputs_of
from tapedeck.engine.text import format_count
from tapedeck.gui.editor import io_edits
from tapedeck.gui.editor.inputs_bar import InputsBar
from tapedeck.gui.editor.io_dialogs import HeadDialog, fallback_feeds
from tapedeck.gui.editor.layer_palette import LayerPalette, palette_groups
from tapedeck.gui.editor.stack_model import HEAD_COLUMN, StackModel

__all__ = ["LayerEditor", "new_layer", "palette_groups"]


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def new_layer(type_name: str, earlier_names: list[str], input_names=("input",)) -> LayerSpec:
    """A freshly added layer: its required parameters pre-filled; a merge layer takes the last two
    layers (or the model's inputs) so it is wired to something sensible from the start."""
    kind = layer_type(type_name)
    inputs = None
    if kind.merge:
        inputs = (earlier_names[-2:] if len(earlier_names) >= 2 else (list(input_names) + earlier_names)[-2:])
    return LayerSpec(type=type_name, params=kind.initial_params(), name=None, inputs=inputs)


DATA_POINTER = "The data did not load: the message above the tabs says why, with its fixes."


class LayerEditor(QWidget):
    """Stack table + palette; `current_row` follows the table's selection."""

    current_changed = Signal(int)   # -1 when nothing is selected

    def __init__(self, document, checker, parent=None):
        super().__init__(parent)
        self._document = document
        self._checker = checker
        self.model = StackModel(document, checker, self)
        self.model.move_requested.connect(self.move_layer, Qt.QueuedConnection)

        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setDragDropMode(QAbstractItemView.InternalMove)
        self.table.setDragEnabled(True)
        self.table.setAcceptDrops(True)
        self.table.setDropIndicatorShown(True)
        self.table.setDefaultDropAction(Qt.MoveAction)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        # names stay whole (they are what the form, the check and the code speak of); the type elides
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        header.setStretchLastSection(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._current_changed(current.row()))

        self._build_actions()
        toolbar = QHBoxLayout()
        toolbar.setSpacing(2)
        self.add_button = QToolButton(self)
        self.add_button.setText("Add layer")
        self.add_button.setToolTip("Add a layer after the selected one")
        self.add_button.setPopupMode(QToolButton.InstantPopup)
        self.add_button.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.add_button.setMenu(self._palette_menu())
        toolbar.addWidget(self.add_button)
        for action in (self.remove_action, self.duplicate_action, self.up_action, self.down_action):
            button = QToolButton(self)
            button.setDefaultAction(action)
            toolbar.addWidget(button)
        self.head_button = QToolButton(self)
        self.head_button.setText("Head ▾")
        self.head_button.setToolTip("Make the selected layer an output of the model (a head) with its own "
                                    "target, loss and weight, or stop it being one")
        self.head_button.setPopupMode(QToolButton.InstantPopup)
        head_menu = QMenu(self.head_button)
        head_menu.addAction(self.head_action)
        head_menu.addAction(self.unhead_action)
        self.head_button.setMenu(head_menu)
        toolbar.addWidget(self.head_button)
        toolbar.addStretch(1)
        self.inputs = InputsBar(document, checker, self)

        self.totals = QLabel(self)
        self.totals.setObjectName("totals")
        self.totals.setWordWrap(True)
        self.problem = QLabel(self)
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.problem.setTextFormat(Qt.RichText)   # problems in red (style sheet), warnings in amber
        self.problem.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)

        self.setMinimumWidth(330)     # with a 660-px tab area the window fits a 1024-px screen
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.inputs)
        layout.addLayout(toolbar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.totals)
        layout.addWidget(self.problem)

        document.changed.connect(self._restore_selection)
        document.selection_hint.connect(self.select_row)
        checker.report_changed.connect(self._update_labels)
        self._wanted_row = 0
        self._restore_selection()
        self._update_labels()

    # -- actions -------------------------------------------------------------------------
    def _build_actions(self) -> None:
        self.remove_action = QAction("Remove", self)
        self.remove_action.setShortcut(QKeySequence.Delete)
        self.remove_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.remove_action.setToolTip("Remove the selected layer (Delete)")
        self.remove_action.triggered.connect(lambda: self.remove_layer(self.current_row))
        self.duplicate_action = QAction("Duplicate", self)
        self.duplicate_action.setToolTip("Insert a copy of the selected layer after it")
        self.duplicate_action.triggered.connect(lambda: self.duplicate_layer(self.current_row))
        # The menu shows the words; the small button beside the table shows the arrow (icon text).
        self.up_action = QAction("Move layer &up", self)
        self.up_action.setIconText("▲")
        self.up_action.setToolTip("Move the selected layer up")
        self.up_action.triggered.connect(lambda: self.move_layer(self.current_row, self.current_row - 1))
        self.down_action = QAction("Move layer &down", self)
        self.down_action.setIconText("▼")
        self.down_action.setToolTip("Move the selected layer down")
        self.down_action.triggered.connect(lambda: self.move_layer(self.current_row, self.current_row + 1))
        self.head_action = QAction("Mark as head…", self)
        self.head_action.setToolTip("Make the selected layer an output: its target, loss and loss weight")
        self.head_action.triggered.connect(lambda: self.mark_head(self.current_row))
        self.unhead_action = QAction("Unmark head", self)
        self.unhead_action.setToolTip("The selected layer stops being an output")
        self.unhead_action.triggered.connect(lambda: self.unmark_head(self.current_row))
        for action in (self.remove_action, self.duplicate_action, self.up_action, self.down_action):
            self.addAction(action)

    def _palette_menu(self) -> QMenu:
        """A popup holding the searchable palette; it opens with an empty search, focused for typing."""
        menu = QMenu(self)
        self.palette_widget = LayerPalette(menu)
        holder = QWidgetAction(menu)
        holder.setDefaultWidget(self.palette_widget)
        menu.addAction(holder)

        def chosen(name: str) -> None:
            menu.close()
            self.add_layer(name)

        def opening() -> None:
            self.palette_widget.reset()
            self.palette_widget.search.setFocus()

        self.palette_widget.chosen.connect(chosen)
        menu.aboutToShow.connect(opening)
        return menu

    @property
    def current_row(self) -> int:
        index = self.table.selectionModel().currentIndex()
        return index.row() if index.isValid() else -1

    def select_row(self, row: int) -> None:
        count = self.model.rowCount()
        if count == 0:
            self._current_changed(-1)
            return
        row = max(0, min(row, count - 1))
        self._wanted_row = row
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0), QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
        self.table.scrollTo(self.model.index(row, 0))

    # -- edits ---------------------------------------------------------------------------
    def _names(self) -> list[str]:
        return [node.name for node in self._checker.nodes]

    def add_layer(self, type_name: str, row: int | None = None) -> int:
        """Insert a new layer after `row` (default: the selection, else at the end); returns its row."""
        experiment = self._document.edited()
        layers = experiment.model.layers
        after = self.current_row if row is None else row
        position = len(layers) if after < 0 else min(after + 1, len(layers))
        input_names = [spec.name for spec in inputs_of(experiment.model)]
        layers.insert(position, new_layer(type_name, self._names()[:position], input_names))
        self._document.apply(experiment, f"Add {type_name}", selection=position,
                             undo_selection=max(0, position - 1))
        self.select_row(position)
        return position

    def remove_layer(self, row: int) -> None:
        layers = self._document.experiment.model.layers
        if not 0 <= row < len(layers):
            return
        experiment = self._document.edited()
        name = self._names()[row] if row < len(self._names()) else None
        removed = experiment.model.layers.pop(row)
        if name is not None and io_edits.head_of(experiment, name) is not None:
            io_edits.remove_head(experiment, name)   # a head on a removed layer would name nothing
        self._document.apply(experiment, f"Remove {removed.type}", selection=row)
        self.select_row(min(row, len(experiment.model.layers) - 1))

    def duplicate_layer(self, row: int) -> None:
        layers = self._document.experiment.model.layers
        if not 0 <= row < len(layers):
            return
        experiment = self._document.edited()
        copy = LayerSpec(type=layers[row].type, params=dict(layers[row].params or {}), name=None,
                         inputs=list(layers[row].inputs) if layers[row].inputs else None)
        experiment.model.layers.insert(row + 1, copy)
        self._document.apply(experiment, f"Duplicate {copy.type}", selection=row + 1, undo_selection=row)
        self.select_row(row + 1)

    def move_layer(self, source: int, target: int) -> None:
        layers = self._document.experiment.model.layers
        if not (0 <= source < len(layers) and 0 <= target < len(layers)) or source == target:
            return
        experiment = self._document.edited()
        spec = experiment.model.layers.pop(source)
        experiment.model.layers.insert(target, spec)
        self._document.apply(experiment, f"Move {spec.type}", selection=target, undo_selection=source)
        self.select_row(target)

    def mark_head(self, row: int, values: tuple | None = None) -> bool:
        """Ask for the head's target, loss and weight (or take ``values`` = (target, loss, weight), as
        tests do) and make the layer at ``row`` a head: one undo step."""
        layers = self._document.experiment.model.layers
        if not 0 <= row < len(layers):
            return False
        experiment = self._document.edited()
        name = self._names()[row] if row < len(self._names()) else f"layer {row}"
        if values is None:
            feeds = self._checker.feeds or fallback_feeds(experiment)
            dialog = HeadDialog(feeds, name, io_edits.head_of(experiment, name), experiment.training.loss, self)
            if dialog.exec() != HeadDialog.Accepted:
                return False
            values = dialog.values()
        target, loss, weight = values
        was = io_edits.head_of(experiment, name)
        layer = io_edits.set_head(experiment, row, target, loss, weight)
        self._document.apply(experiment, f"{'Edit' if was else 'Mark'} head {layer}", selection=row)
        self.select_row(row)
        return True

    def unmark_head(self, row: int) -> bool:
        names = self._names()
        if not 0 <= row < len(names) or io_edits.head_of(self._document.experiment, names[row]) is None:
            return False
        experiment = self._document.edited()
        io_edits.remove_head(experiment, names[row])
        self._document.apply(experiment, f"Unmark head {names[row]}", selection=row)
        self.select_row(row)
        return True

    # -- display -------------------------------------------------------------------------
    def _restore_selection(self) -> None:
        if self.model.rowCount():
            self.select_row(self._wanted_row)
        else:
            self._current_changed(-1)

    def _current_changed(self, row: int) -> None:
        if row >= 0:
            self._wanted_row = row
        count = self.model.rowCount()
        self.remove_action.setEnabled(0 <= row < count)
        self.duplicate_action.setEnabled(0 <= row < count)
        self.up_action.setEnabled(0 < row < count)
        self.down_action.setEnabled(0 <= row < count - 1)
        names = self._names()
        declared = io_edits.head_of(self._document.experiment, names[row]) if 0 <= row < len(names) else None
        self.head_action.setEnabled(0 <= row < count)
        self.head_action.setText("Edit head…" if declared else "Mark as head…")
        self.unhead_action.setEnabled(declared is not None)
        self._update_labels()
        self.current_changed.emit(row)

    def _update_labels(self) -> None:
        # The Head column only once heads are declared: for the one implicit head it said
        # "label (default)" on the last row and pushed Params out of a 1024-px window's dock.
        self.table.setColumnHidden(HEAD_COLUMN, not self._document.experiment.model.outputs)
        report = self._checker.report
        if report is not None and (not report.ok or self._checker.graph_problems):
            # a count of a model that cannot be built reads as if it could (issue 23)
            self.totals.setText("Parameters: — (counted once the stack checks)")
        elif report is not None:
            total = report.trainable + report.non_trainable
            self.totals.setText(f"Parameters: {format_count(total)} total · "
                                f"{format_count(report.trainable)} trainable · "
                                f"{format_count(report.non_trainable)} non-trainable")
        else:
            waiting = self._checker.waiting_for()
            self.totals.setText(f"Parameters: … ({waiting})" if waiting else "Parameters: —")
        row = self.current_row
        messages = self._checker.problems_for_row(row) if row >= 0 else []
        messages = messages + self._checker.model_problems()
        if self._checker.data_error:   # said whole once, above the tabs with its fixes; here a pointer
            messages.append(DATA_POINTER)
        if not messages and self._checker.graph_problems:
            messages = [f"layer {i}: {m}" for i, m in self._checker.graph_problems]
        if not messages and self._checker.report is not None and not self._checker.report.ok:
            messages = self._checker.report.all_problems()
        lines = [f"⚠ {_escape(m)}" for m in messages]
        # A warning never hides a problem and is never mistaken for one: amber, after the problems.
        lines += [f"<span style='color:#7a5c00'>Warning: {_escape(m)}</span>" for m in self._checker.warnings()]
        self.problem.setText("<br>".join(lines))
        self.problem.setVisible(bool(lines))
