"""The "Add layer" palette: the catalogue's layer types in their groups, with a search box on top.

Forty-odd layer types do not fit one menu a person can scan, so the palette is a grouped tree that a
few typed letters narrow down ("crop" → Cropping2D, CenterCrop, RandomCrop). Matching looks at the
type's name and its one-line help, so "upsample" finds Conv2DTranspose and UpSampling2D. Enter adds
the first match; a click or double click adds the one clicked. The palette only says which type was
picked (``chosen``); adding it to the stack is the layer editor's job.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from tapedeck.engine.spec.catalogue import CATALOGUE, GROUPS

TYPE_ROLE = Qt.UserRole


def palette_groups() -> dict[str, list[str]]:
    """Layer types by group, in the catalogue's group order."""
    groups: dict[str, list[str]] = {group: [] for group in GROUPS}
    for name, kind in CATALOGUE.items():
        groups.setdefault(kind.group, []).append(name)
    return {group: names for group, names in groups.items() if names}


def matches(type_name: str, text: str) -> bool:
    """Every word typed appears in the type's name or its help (case ignored)."""
    haystack = f"{type_name} {CATALOGUE[type_name].help} {CATALOGUE[type_name].group}".lower()
    return all(word in haystack for word in text.lower().split())


class LayerPalette(QWidget):
    """Search box over a grouped tree of layer types; ``chosen`` carries the picked type's name."""

    chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers (name or what it does)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._choose_first)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(2)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(12)
        self.tree.setUniformRowHeights(True)
        self.tree.itemActivated.connect(self._choose_item)
        self.tree.itemClicked.connect(self._choose_item)
        self.empty = QLabel("No layer type matches; try fewer letters.", self)
        self.empty.setVisible(False)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._groups: dict[str, QTreeWidgetItem] = {}
        for group, names in palette_groups().items():
            heading = QTreeWidgetItem(self.tree, [group.capitalize()])
            heading.setFlags(Qt.ItemIsEnabled)
            font = heading.font(0)
            font.setBold(True)
            heading.setFont(0, font)
            heading.setFirstColumnSpanned(True)
            self._groups[group] = heading
            for name in names:
                item = QTreeWidgetItem(heading, [name, CATALOGUE[name].help])
                item.setData(0, TYPE_ROLE, name)
                item.setToolTip(0, CATALOGUE[name].help)
                item.setToolTip(1, CATALOGUE[name].help)
                item.setForeground(1, self.palette().placeholderText())
                self._items[name] = item
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(0, self.tree.columnWidth(0) + 12)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        self.setMinimumSize(720, 520)   # the help column whole for most types, at 1280×800
        self.setFocusProxy(self.search)

    def visible_types(self) -> list[str]:
        """The types shown now, top to bottom."""
        shown = []
        for group, heading in self._groups.items():
            if heading.isHidden():
                continue
            shown += [heading.child(i).data(0, TYPE_ROLE) for i in range(heading.childCount())
                      if not heading.child(i).isHidden()]
        return shown

    def filter(self, text: str) -> None:
        for heading in self._groups.values():
            any_shown = False
            for i in range(heading.childCount()):
                item = heading.child(i)
                shown = matches(item.data(0, TYPE_ROLE), text)
                item.setHidden(not shown)
                any_shown = any_shown or shown
            heading.setHidden(not any_shown)
        first = self.visible_types()
        self.empty.setVisible(not first)
        if first:
            self.tree.setCurrentItem(self._items[first[0]])

    def reset(self) -> None:
        """Clear the search (each time the palette opens) and scroll to the top."""
        self.search.clear()
        self.filter("")
        self.tree.scrollToTop()

    def _choose_first(self) -> None:
        current = self.tree.currentItem()
        if current is not None and not current.isHidden() and current.data(0, TYPE_ROLE):
            self.chosen.emit(current.data(0, TYPE_ROLE))
            return
        shown = self.visible_types()
        if shown:
            self.chosen.emit(shown[0])

    def _choose_item(self, item, _column=0) -> None:
        name = item.data(0, TYPE_ROLE)
        if name:
            self.chosen.emit(name)
