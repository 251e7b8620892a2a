"""The window's notice: one message above the tabs, with the buttons that act on it.

A message that names a fix offers it as a button ("Use digits instead", "Resume"), so the person
does not have to find the menu it is in. `text()` and visibility read as a QLabel's did.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout


class Notice(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("notice")
        self.setStyleSheet("QFrame#notice { background: #fff3cd; border: 1px solid #e6c65c; border-radius: 4px; }"
                           " QFrame#notice QLabel { color: #664d03; }")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextBrowserInteraction)
        self.label.setOpenExternalLinks(True)      # TensorBoard's address
        self._buttons = QVBoxLayout()
        self._buttons.setSpacing(4)
        self.buttons: list[QPushButton] = []
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        row.addWidget(self.label, 1)
        row.addLayout(self._buttons)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str, actions: tuple[tuple[str, Callable[[], object]], ...] = ()) -> None:
        """Show `text` (hidden when empty) with a button per (label, slot); a button hides the notice
        before its slot runs."""
        self.label.setText(text)
        for button in self.buttons:
            self._buttons.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        if actions:        # it stays until acted on: say how to put it away
            actions = (*actions, ("Dismiss", lambda: None))
        for label, slot in actions if text else ():
            button = QPushButton(label, self)
            button.clicked.connect(lambda _checked=False, s=slot: (self.show_message(""), s()))
            self._buttons.addWidget(button)
            self.buttons.append(button)
        self.setVisible(bool(text))

    def button(self, label: str) -> QPushButton | None:
        return next((b for b in self.buttons if b.text() == label), None)
