"""Light or dark: the colours Tapedeck draws itself (plots, the code highlighter, status words) follow
the system's colour scheme (Qt 6.5's ``styleHints().colorScheme()``), or the application palette where
the platform does not say (offscreen, older desktops, a dark Qt style set by hand).

Widgets that draw with these colours re-read them on ``QEvent.PaletteChange`` / ``ApplicationPaletteChange``
(Qt sends those when the scheme changes)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette

LIGHT = {"background": "#ffffff", "text": "#222222", "muted": "#555555", "good": "#146c43", "warn": "#8a6d00",
         "bad": "#b02a37", "neutral": "#666666", "legend_fill": (255, 255, 255, 210)}
DARK = {"background": "#1e1f22", "text": "#e6e6e6", "muted": "#a8a8a8", "good": "#5cc98b", "warn": "#e0b84f",
        "bad": "#ff7b86", "neutral": "#a0a0a0", "legend_fill": (30, 31, 34, 210)}


def is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.Window).lightness() < 128


def colours() -> dict:
    return DARK if is_dark() else LIGHT


def palette_changed(event) -> bool:
    """Whether a widget's changeEvent means its colours should be re-read."""
    from PySide6.QtCore import QEvent

    return event.type() in (QEvent.PaletteChange, QEvent.ApplicationPaletteChange, QEvent.StyleChange)
