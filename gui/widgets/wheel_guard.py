"""The mouse wheel scrolls forms; it never edits a spin box or combo box the person has not focused.

Qt gives spin boxes and combo boxes the wheel (and focus with it) wherever the pointer is, so
scrolling a settings panel changed the learning rate and the loss on the way down (issue 23). One
application-wide event filter fixes every such widget, those of dialogs included, without each
form having to remember: an unfocused one no longer takes focus from the wheel (StrongFocus), and
its wheel events go to the scroll area around it, which scrolls.
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget

_GUARDED = (QAbstractSpinBox, QComboBox)


def _guarded(obj) -> QWidget | None:
    """The spin box or combo box an event to `obj` is really for (its line edit forwards to it)."""
    if isinstance(obj, _GUARDED):
        return obj
    parent = obj.parent() if isinstance(obj, QWidget) else None
    if isinstance(parent, _GUARDED) and not obj.isWindow():
        return parent
    return None


class WheelGuard(QObject):
    """Installed once on the application (`install`)."""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Polish and isinstance(obj, _GUARDED):
            if obj.focusPolicy() == Qt.WheelFocus:
                obj.setFocusPolicy(Qt.StrongFocus)   # the wheel no longer focuses it first
            return False
        if kind != QEvent.Wheel:
            return False
        widget = _guarded(obj)
        if widget is None or widget.hasFocus() or widget.isWindow():
            return False
        combo_popup = isinstance(widget, QComboBox) and widget.view().isVisible()
        if combo_popup:
            return False
        _pass_to_parent(widget, event)
        return True


def _pass_to_parent(widget: QWidget, event: QWheelEvent) -> None:
    """Scroll the nearest scroll area around `widget`, as Qt's propagation would have had the widget
    ignored the wheel (an event sent by hand is not propagated to parents, so it goes straight there)."""
    area = widget.parentWidget()
    while area is not None and not isinstance(area, QAbstractScrollArea):
        area = area.parentWidget()
    if area is None:
        return
    target = area.viewport()
    position = QPointF(widget.mapTo(target, event.position().toPoint())) if target.isAncestorOf(widget) \
        else QPointF(target.rect().center())
    forwarded = QWheelEvent(position, event.globalPosition(), event.pixelDelta(), event.angleDelta(),
                            event.buttons(), event.modifiers(), event.phase(), event.inverted(),
                            event.source())
    QCoreApplication.sendEvent(target, forwarded)


def install(app: QApplication | None = None) -> WheelGuard | None:
    """Install the guard on the application once (later calls return the same one)."""
    app = app or QApplication.instance()
    if app is None:
        return None
    guard = app.findChild(WheelGuard, "tapedeckWheelGuard")
    if guard is None:
        guard = WheelGuard(app)
        guard.setObjectName("tapedeckWheelGuard")
        app.installEventFilter(guard)
        for widget in app.allWidgets():      # widgets polished before the guard came
            if isinstance(widget, _GUARDED) and widget.focusPolicy() == Qt.WheelFocus:
                widget.setFocusPolicy(Qt.StrongFocus)
    return guard
