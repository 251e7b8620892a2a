"""The Model tab: the layer table `model.summary()` would print (from engine.model.check, so it is there
before any training), and a drawing of the wiring — boxes and arrows — that shows branches and
merges as the Functional API and subclassing see them.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsScene,
    QGraphicsView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.spec import graph
from tapedeck.engine.spec.heads import inputs_of
from tapedeck.engine.text import format_count, format_shape

BOX_W, BOX_H, GAP_X, GAP_Y = 190, 46, 36, 34
GROUP_COLOURS = {"core": "#e8f0fb", "convolution": "#e6f4ea", "pooling": "#fdf2e0",
                 "normalization": "#f1e9fb", "regularization": "#fbe9ee", "augmentation": "#e9f7f8",
                 "merge": "#fff7cc", "input": "#eeeeee"}


OUTPUT_COLOUR = "#d8f0e2"
OUTPUT_BORDER = "#146c43"


def output_key(layer: str) -> str:
    """The graph's name for a head's output box (no layer can be named with the arrow)."""
    return f"→{layer}"


def layout_levels(nodes, input_names=(graph.INPUT,), heads=()) -> dict[str, tuple[int, int]]:
    """name → (level, column): level is the longest path from an input, so every arrow points down; each
    head's output box sits one level below its layer."""
    level = {name: 0 for name in input_names}
    for node in nodes:
        level[node.name] = 1 + max((level.get(name, 0) for name in node.inputs), default=0)
    for head in heads:
        if head in level:
            level[output_key(head)] = level[head] + 1
    columns: dict[int, int] = {}
    placed = {}
    for name in [*input_names, *(node.name for node in nodes), *(output_key(h) for h in heads if h in level)]:
        row = level[name]
        placed[name] = (row, columns.get(row, 0))
        columns[row] = columns.get(row, 0) + 1
    return placed


class GraphScene(QGraphicsScene):
    def draw(self, nodes, report, input_shape, inputs=None, heads=None) -> None:
        """``inputs``: input name → shape (None: the single ``input`` of ``input_shape``); ``heads``: head
        layer → its label (target, weight), each drawn as an output box under its layer."""
        self.clear()
        inputs = inputs or {graph.INPUT: input_shape}
        heads = heads or {}
        placed = layout_levels(nodes, tuple(inputs), tuple(heads))
        widest = max((c for _r, c in placed.values()), default=0) + 1
        width = widest * (BOX_W + GAP_X)
        per_row: dict[int, int] = {}
        for row, _c in placed.values():
            per_row[row] = per_row.get(row, 0) + 1

        def rect(name: str) -> QRectF:
            row, column = placed[name]
            offset = (width - per_row[row] * (BOX_W + GAP_X)) / 2
            return QRectF(offset + column * (BOX_W + GAP_X), row * (BOX_H + GAP_Y), BOX_W, BOX_H)

        shapes = dict(inputs)
        bad = set()
        if report is not None:
            for layer in report.layers:
                shapes[layer.name] = layer.output_shape
                if layer.problems:
                    bad.add(layer.name)
        from tapedeck.engine.spec.catalogue import CATALOGUE

        arrow_pen = QPen(QColor("#555"), 1.4)
        skip_pen = QPen(QColor("#b8860b"), 1.6)
        detours = 0
        for node in nodes:
            for source in node.inputs:
                if source in placed:
                    skips = placed[node.name][0] - placed[source][0] > 1
                    self._arrow(rect(source), rect(node.name), skip_pen if skips else arrow_pen,
                                detour=detours if skips else None)
                    detours += 1 if skips else 0
        for head in heads:
            if output_key(head) in placed:
                self._arrow(rect(head), rect(output_key(head)), QPen(QColor(OUTPUT_BORDER), 1.6))
        boxes = [(name, "Input", "input") for name in inputs] + [
            (node.name, node.spec.type, getattr(CATALOGUE.get(node.spec.type), "group", "core"))
            for node in nodes] + [(output_key(h), heads[h], "output") for h in heads if output_key(h) in placed]
        title_font, small_font = QFont(), QFont()
        title_font.setBold(True)
        small_font.setPointSizeF(max(7.0, small_font.pointSizeF() - 1))
        for name, type_name, group in boxes:
            box = rect(name)
            output = group == "output"
            colour = QColor("#f8d7da") if name in bad else QColor(OUTPUT_COLOUR if output else
                                                                  GROUP_COLOURS.get(group, "#eeeeee"))
            border = QPen(QColor("#b02a37") if name in bad else QColor(OUTPUT_BORDER if output else "#6b7785"),
                          1.8 if output else 1.2)
            path = QPainterPath()
            path.addRoundedRect(box, BOX_H / 2 if output else 6, BOX_H / 2 if output else 6)
            self.addPath(path, border, QBrush(colour))
            if output:   # "output digit" over "label ×1.0": which layer, which target
                label = self.addText(f"output {name[1:]}", title_font)
                label.setDefaultTextColor(QColor("#0b3d26"))
                label.setPos(box.left() + 14, box.top() + 1)
                detail = self.addText(type_name, small_font)
                detail.setDefaultTextColor(QColor("#0b3d26"))
                detail.setPos(box.left() + 14, box.top() + 22)
                continue
            label = self.addText(f"{name}", title_font)
            label.setDefaultTextColor(QColor("#1d2733"))
            label.setPos(box.left() + 6, box.top() + 1)
            detail = self.addText(f"{type_name}  {format_shape(shapes.get(name)) if name in shapes else ''}",
                                  small_font)
            detail.setDefaultTextColor(QColor("#3d4a57"))
            detail.setPos(box.left() + 6, box.top() + 22)
        self.setSceneRect(self.itemsBoundingRect().adjusted(-12, -12, 12, 12))

    def _arrow(self, source: QRectF, target: QRectF, pen: QPen, detour: int | None = None) -> None:
        """A straight arrow between neighbouring levels; a skip connection (`detour` = its number)
        leaves from the source's right side and runs down beside the boxes it jumps over."""
        if detour is None:
            start = QPointF(source.center().x(), source.bottom())
            end = QPointF(target.center().x(), target.top())
            path = QPainterPath(start)
            path.lineTo(end)
        else:
            side = max(source.right(), target.right()) + 14 + 10 * (detour % 3)
            start = QPointF(source.right(), source.center().y())
            end = QPointF(target.right(), target.center().y())
            path = QPainterPath(start)
            path.lineTo(side, start.y())
            path.lineTo(side, end.y())
            path.lineTo(end)
        self.addPath(path, pen)
        before = path.pointAtPercent(0.98) if path.length() > 0 else start
        angle = math.atan2(end.y() - before.y(), end.x() - before.x())
        size = 7
        head = QPolygonF([end,
                          QPointF(end.x() - size * math.cos(angle - 0.45), end.y() - size * math.sin(angle - 0.45)),
                          QPointF(end.x() - size * math.cos(angle + 0.45), end.y() - size * math.sin(angle + 0.45))])
        self.addPolygon(head, pen, QBrush(pen.color()))


class ModelView(QWidget):
    HEADERS = ("Layer (type)", "Output shape", "Param #", "Connected to", "Head")

    def __init__(self, document, checker, parent=None):
        super().__init__(parent)
        self._document = document
        self._checker = checker
        self.table = QTableWidget(self)
        self.table.setColumnCount(len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.setMinimumWidth(260)
        self.totals = QLabel(self)
        self.scene = GraphScene(self)
        self.view = QGraphicsView(self.scene, self)
        self.view.setRenderHint(QPainter.Antialiasing)
        self.view.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
        self.view.setMinimumWidth(200)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.totals)
        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([480, 320])
        splitter.setChildrenCollapsible(False)   # the graph stays at its minimum, never squeezed away
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        checker.report_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        nodes = self._checker.nodes
        report = self._checker.report
        by_index = {layer.index: layer for layer in report.layers} if report is not None else {}
        input_shape = report.input_shape if report is not None else None
        inputs = dict(report.inputs) if report is not None and report.inputs else None
        if inputs is None:
            declared = inputs_of(self._document.experiment.model)
            inputs = {spec.name: input_shape if len(declared) == 1 else None for spec in declared}
        heads = self._heads(nodes, report)
        self.table.setRowCount(len(nodes) + len(inputs))
        rows = [(f"{name} (InputLayer)", format_shape(shape), "0", "", [], "") for name, shape in inputs.items()]
        for node in nodes:
            layer = by_index.get(node.index)
            problems = self._checker.problems_for_row(node.index)
            shape = "error" if problems and (layer is None or layer.output_shape is None) else \
                format_shape(layer.output_shape if layer else None)
            rows.append((f"{node.name} ({node.spec.type})", shape,
                         format_count(layer.params if layer else None), ", ".join(node.inputs), problems,
                         heads.get(node.name, "")))
        for r, (name, shape, params, sources, problems, head) in enumerate(rows):
            for c, text in enumerate((name, shape, params, sources, head)):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if problems:
                    item.setForeground(QBrush(QColor("#842029")))
                    item.setBackground(QBrush(QColor("#f8d7da")))
                    item.setToolTip("\n".join(problems))
                self.table.setItem(r, c, item)
        if report is not None:
            self.totals.setText(f"Total params: {report.trainable + report.non_trainable:,} "
                                f"(trainable {report.trainable:,}, non-trainable {report.non_trainable:,})")
        else:
            self.totals.setText(f"Total params: … ({self._checker.waiting_for() or 'not checked'})")
        self.scene.draw(nodes, report, input_shape, inputs, heads)
        self._give_table_its_width()
        self._fit_width()

    def _give_table_its_width(self) -> None:
        """The summary table as wide as its columns (it was clipped on the right), the graph the rest
        (at least its minimum; the table scrolls when the tab is narrower than both)."""
        total = self.splitter.width() - self.splitter.handleWidth()
        if total <= self.table.minimumWidth() + self.view.minimumWidth():
            return
        header = self.table.horizontalHeader()
        needed = sum(max(header.sectionSizeHint(c), self.table.sizeHintForColumn(c))
                     for c in range(self.table.columnCount()))
        needed += self.table.verticalScrollBar().sizeHint().width() + 2 * self.table.frameWidth()
        table = max(self.table.minimumWidth(), min(needed, total - self.view.minimumWidth()))
        self.splitter.setSizes([table, total - table])

    def _heads(self, nodes, report) -> dict[str, str]:
        """Head layer → "target ×weight" from the check's head rows; one head: the last layer on the labels."""
        if report is not None and report.heads:
            return {layer: f"{target} ×{weight:g}" for layer, _shape, _loss, weight, target, _what in report.heads}
        declared = self._document.experiment.model.outputs
        if declared:
            return {h.layer: f"{h.target} ×{h.loss_weight:g}" for h in declared}
        return {nodes[-1].name: "label"} if nodes else {}

    def _fit_width(self) -> None:
        """Scale a wide graph down to the view's width; a tall one scrolls instead."""
        width = self.scene.sceneRect().width()
        available = max(1, self.view.viewport().width() - 4)
        scale = min(1.0, available / width) if width > 0 else 1.0
        self.view.resetTransform()
        self.view.scale(scale, scale)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._give_table_its_width()   # the graph gets the room the table does not need
        self._fit_width()
