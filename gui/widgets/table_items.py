"""Table cells that sort by their value, not by their text ("9.5%" after "10.0%", "-" last)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidgetItem

SORT_ROLE = Qt.UserRole + 1



class SortItem(QTableWidgetItem):
    """Shows ``text``, sorts by ``key`` (None sorts after every value in ascending order)."""

    def __init__(self, text: str, key=None):
        super().__init__(text)
        self.setData(SORT_ROLE, key)
        self.setFlags(self.flags() & ~Qt.ItemIsEditable)

    def __lt__(self, other):  # Qt calls it to sort
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if a is None or b is None:
            return b is None and a is not None
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
