"""Live curves painted by Qt's own C++ items, for the plots that change while a run trains.

pyqtgraph draws a curve as a PlotDataItem holding a PlotCurveItem and, with symbols, a
ScatterPlotItem; their setData, paint, boundingRect and dataBounds run in Python. While a run
trains, every Python call on the GUI thread takes the GIL from the training thread, which needs it
between steps: drawn that way, the two batch curves and four epoch curves cost ~3 ms of Python a
frame and the window trained ~9% slower than headless. Here a curve is one QGraphicsPathItem for
the line (a path in data coordinates drawn with a cosmetic pen) and, optionally, one for the
markers (shapes sized from the view's current pixel size). Both are rebuilt when a point is added
or the view's range or size changes. Like pyqtgraph's clip-to-view and peak downsampling, a line
keeps only the visible stretch, at most two points per pixel column. Painting runs no Python.
The plot's axes, grid and legend stay pyqtgraph's.
"""
from __future__ import annotations

import functools

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsPathItem

MARKER_OUTLINE = QColor(200, 200, 200)   # pyqtgraph's default symbol pen, as the legend shows it
# Circles as octagons: at 8 px they look round, and filling a path of ellipses (Bézier curves)
# cost the raster engine ~3 ms a frame for 200 markers; polygons cost a tenth of that.
_ANGLES = np.linspace(0, 2 * np.pi, 8, endpoint=False)
_CIRCLE = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)
POINTS_PER_PIXEL = 2     # a longer series is drawn as each pixel column's minimum and maximum


class _Line(QGraphicsPathItem):
    """The line, with the two methods pyqtgraph's view box asks its items for when the user
    auto-ranges the plot ("A" button, context menu). Neither is a Qt virtual: painting stays C++."""

    def __init__(self, curve: PathCurve):
        super().__init__()
        self._curve = curve

    def dataBounds(self, axis: int, frac: float = 1.0, orthoRange=None):  # noqa: N802, N803 - pyqtgraph's names
        values = self._curve._shown()[axis]
        values = values[np.isfinite(values)]
        return (float(values.min()), float(values.max())) if values.size else (None, None)

    def pixelPadding(self) -> float:  # noqa: N802
        return self._curve.size / 2 + 1 if self._curve.marks is not None else self.pen().widthF()


class PathCurve:
    def __init__(self, plot_item, colour: str, name: str | None, width: int = 1,
                 symbol: str | None = None, size: int = 8):
        self.view = plot_item.getViewBox()
        self.symbol, self.size = symbol, size
        self.line = _Line(self)
        pen = QPen(QColor(colour), width)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.RoundCap)
        pen.setJoinStyle(Qt.RoundJoin)
        self.line.setPen(pen)
        self.marks = None
        if symbol is not None:
            self.marks = QGraphicsPathItem()
            outline = QPen(MARKER_OUTLINE, 1)
            outline.setCosmetic(True)
            self.marks.setPen(outline)
            self.marks.setBrush(QColor(colour))
        self.view.sigTransformChanged.connect(self._view_changed)
        self.view.addItem(self.line)
        if self.marks is not None:    # in the line's bounds already (its pixel padding)
            self.view.addItem(self.marks, ignoreBounds=True)
        if name and plot_item.legend is not None:
            plot_item.legend.addItem(_legend_sample_class()(self), name)
        self._x = self._y = np.empty(0)
        self._log = False

    def setData(self, x, y) -> None:  # noqa: N802 - pyqtgraph's name, as on its curves
        self._x, self._y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self._build_line()
        self._build_marks()

    def getData(self):  # noqa: N802
        return self._x, self._y

    def set_log(self, on: bool) -> None:
        if on != self._log:
            self._log = on
            self._build_line()
            self._build_marks()

    def isVisible(self) -> bool:  # noqa: N802 - the legend sample calls these two
        return self.line.isVisible()

    def setVisible(self, visible: bool) -> None:  # noqa: N802
        for item in (self.line, self.marks):
            if item is not None:
                item.setVisible(visible)

    def _shown(self):
        """The points as the view plots them: log10 of the positive values on a log axis."""
        x, y = self._x, self._y
        if self._log:
            positive = y > 0
            y = np.full_like(y, np.nan)
            y[positive] = np.log10(self._y[positive])
        return x, y

    def _view_changed(self) -> None:
        """Zoomed, panned or resized: the visible stretch and the markers' size changed."""
        self._build_line()
        self._build_marks()

    def _build_line(self) -> None:
        import pyqtgraph as pg

        x, y = _clip(*self._shown(), *self.view.viewRange()[0])
        x, y = _decimate(x, y, int(self.view.width()) * POINTS_PER_PIXEL)
        self.line.setPath(pg.arrayToQPath(x, y, connect="finite") if len(x) > 1 else QPainterPath())

    def _build_marks(self) -> None:
        if self.marks is None:
            return
        x, y = self._shown()
        keep = np.isfinite(x) & np.isfinite(y)
        path = QPainterPath()
        path.setFillRule(Qt.WindingFill)   # overlapping markers stay filled (odd-even would punch holes)
        width, height = self.view.viewPixelSize()
        if keep.any() and np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0:
            rx, ry = width * self.size / 2, height * self.size / 2
            circle = _CIRCLE * (rx, ry)
            for px, py in zip(x[keep], y[keep]):
                if self.symbol == "s":
                    path.addRect(QRectF(px - rx, py - ry, 2 * rx, 2 * ry))
                else:
                    path.addPolygon(QPolygonF([QPointF(px + dx, py + dy) for dx, dy in circle]))
                    path.closeSubpath()
        self.marks.setPath(path)


@functools.cache
def _legend_sample_class():
    """The legend entry of a PathCurve: pyqtgraph's ItemSample (a click hides or shows the curve)
    drawing the curve's own pen and marker. ItemSample's paint reads a PlotDataItem's options, and
    a stand-in PlotDataItem would be a Python-owned QObject in a reference cycle: the cyclic
    collector could free it on a worker thread (see gui.threads.gc_guard)."""
    import pyqtgraph as pg
    from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
    from pyqtgraph.icons import invisibleEye

    class LegendSample(pg.ItemSample):
        def paint(self, painter, *args):
            curve = self.item
            if not curve.isVisible():
                painter.drawPixmap(QPoint(1, 1), invisibleEye.qicon.pixmap(18, 18))
                return
            painter.setPen(curve.line.pen())
            painter.drawLine(0, 11, 20, 11)
            if curve.marks is not None:
                painter.translate(10, 10)
                drawSymbol(painter, curve.symbol, curve.size, curve.marks.pen(), curve.marks.brush())

    return LegendSample


def _clip(x: np.ndarray, y: np.ndarray, low: float, high: float):
    """The points within [low, high] and one beyond each end (so the line leaves the view):
    zoomed into one epoch of a long run, decimation then keeps that epoch's detail."""
    if len(x) < 3 or not np.all(x[1:] >= x[:-1]):     # the series are in x order; else draw all
        return x, y
    start = max(int(np.searchsorted(x, low, side="left")) - 1, 0)
    stop = min(int(np.searchsorted(x, high, side="right")) + 1, len(x))
    return x[start:stop], y[start:stop]


def _decimate(x: np.ndarray, y: np.ndarray, points: int):
    """At most `points` points: each bucket's first x with its minimum and its maximum y (peak
    downsampling, as pyqtgraph's), so a long run keeps its spikes and stays cheap to stroke."""
    if points < 4 or len(x) <= points:
        return x, y
    per = -(-len(x) // (points // 2))     # bucket size, rounded up: at most points / 2 buckets
    buckets = -(-len(x) // per)
    ys = np.full(buckets * per, np.nan)
    ys[: len(y)] = y
    ys = ys.reshape(buckets, per)
    finite = np.isfinite(ys)
    low = np.where(finite, ys, np.inf).min(axis=1)
    high = np.where(finite, ys, -np.inf).max(axis=1)
    empty = ~finite.any(axis=1)
    low[empty] = high[empty] = np.nan
    return np.repeat(x[::per], 2), np.stack([low, high], axis=1).reshape(-1)
