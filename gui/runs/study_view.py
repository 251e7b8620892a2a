"""The sweep dialog's view of a random / TPE search: Optuna's parameter importances as bars.

The importances are Optuna's own (``optuna.importance.get_param_importances``, fANOVA), computed in the
search's thread after each trial and carried by its ``TrialDone`` event; this widget only draws them
(pyqtgraph bars, created once and updated with ``setOpts``), and says in words while there are too
few finished trials for Optuna to tell.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

__all__ = ["ImportanceView", "add_search_controls"]

SEARCH_CHOICES = (("Grid (every combination)", "grid"), ("Random (Optuna)", "random"),
                  ("TPE — Bayesian (Optuna)", "tpe"))


def add_search_controls(parent, layout, max_trials: int) -> tuple[QComboBox, QSpinBox]:
    """The search choice and the trial count, as one row of ``layout``."""
    row = QHBoxLayout()
    box = QComboBox(parent)
    for text, value in SEARCH_CHOICES:
        box.addItem(text, value)
    trials = QSpinBox(parent)
    trials.setRange(1, max_trials)
    trials.setValue(10)
    trials.setToolTip("Finished trials the study should hold; a stopped study resumes up to this count")
    row.addWidget(QLabel("<b>search</b>", parent))
    row.addWidget(box)
    row.addWidget(QLabel("<b>trials</b>", parent))
    row.addWidget(trials)
    row.addStretch(1)
    layout.addLayout(row)
    return box, trials


class ImportanceView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Parameter importance (Optuna, fANOVA): after two finished trials", self)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground("w")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.getAxis("bottom").setLabel("importance (sums to 1)")
        self.plot.getAxis("left").setWidth(170)   # the settings' key paths are the bars' labels
        self.setMinimumHeight(130)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brush="#3d6fb6")
        self.plot.addItem(self.bars)
        self.importances: dict = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)

    def show_importances(self, importances: dict, finished: int) -> None:
        self.importances = dict(importances)
        if not importances:
            self.title.setText(f"Parameter importance (Optuna, fANOVA): {finished} finished trial(s) — "
                               "Optuna needs two completed trials with different settings")
            self.bars.setOpts(x0=[], y=[], width=[])
            return
        names = list(importances)   # Optuna orders them most important first
        self.title.setText(f"Parameter importance (Optuna, fANOVA) after {finished} finished trial(s)")
        rows = list(range(len(names)))[::-1]   # the most important at the top
        self.bars.setOpts(x0=[0.0] * len(names), y=rows, width=[importances[n] for n in names], height=0.6)
        self.plot.getAxis("left").setTicks([[(row, name) for row, name in zip(rows, names)]])
        self.plot.setYRange(-0.6, len(names) - 0.4, padding=0)
