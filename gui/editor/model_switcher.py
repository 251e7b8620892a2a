"""Which of the experiment's models the layer stack shows: a tab per model (a GAN's generator and
discriminator), above the stack. Every model is a layer stack edited exactly as a classifier's; this
only picks which one. Hidden while the experiment has one model.
"""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QTabBar, QWidget

from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["ModelSwitcher"]


class ModelSwitcher(QWidget):
    def __init__(self, document, checker, parent=None):
        super().__init__(parent)
        self._document, self._checker = document, checker
        self.caption = QLabel(self)
        self.bar = QTabBar(self)
        self.bar.setExpanding(False)
        self.bar.setDrawBase(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.bar, 1)
        self._roles: list[str] = []
        self._single_model_only: tuple = ()   # widgets for a classifier's inputs and heads: hidden here
        self.bar.currentChanged.connect(self._chosen)
        document.changed.connect(self.refresh)
        checker.report_changed.connect(self._mark)
        self.refresh()

    @property
    def single_model_only(self) -> tuple:
        return self._single_model_only

    @single_model_only.setter
    def single_model_only(self, widgets) -> None:
        self._single_model_only = tuple(widgets)
        self.refresh()

    def refresh(self) -> None:
        experiment = self._document.experiment
        roles = list(experiment.models) if not experiment.objective.is_classify else []
        self.setVisible(bool(roles))
        for widget in self._single_model_only:   # an objective feeds its models itself: no inputs or heads to declare
            widget.setVisible(not roles)
        if roles != self._roles:
            self._roles = roles
            self.bar.blockSignals(True)
            while self.bar.count():
                self.bar.removeTab(0)
            for role in roles:
                self.bar.addTab(role)
            self.bar.blockSignals(False)
        if roles:
            kind = objective_kind(experiment.objective)
            self.caption.setText(f"<b>{kind.title or kind.name}</b> models:")   # "Actor-critic models:"
            self.caption.setToolTip(kind.summary)
            current = experiment.current_role
            if current in roles and self.bar.currentIndex() != roles.index(current):
                self.bar.blockSignals(True)
                self.bar.setCurrentIndex(roles.index(current))
                self.bar.blockSignals(False)
        self._mark()

    def _mark(self) -> None:
        """A model whose stack does not check carries a warning sign, so a problem out of sight is seen."""
        for index, role in enumerate(self._roles):
            ok = self._checker.role_ok(role)
            self.bar.setTabText(index, role if ok else f"⚠ {role}")
            self.bar.setTabToolTip(index, f"Edit the {role}'s layer stack" if ok else
                                   f"The {role}'s stack does not check: select it to see where")

    def _chosen(self, index: int) -> None:
        if 0 <= index < len(self._roles):
            self._document.select_model(self._roles[index])
