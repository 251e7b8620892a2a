"""The choices the tutorial is about, always in view: how the model is written (Sequential,
Functional API, Subclassing), how it is trained (model.fit, GradientTape) and how the training step
is executed (a tf.function graph, eager Python, XLA).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QComboBox, QHBoxLayout, QLabel, QRadioButton, QWidget

from tapedeck.engine.spec import graph
from tapedeck.engine.spec.objectives import objective_kind

APIS = (("sequential", "Sequential", "keras.Sequential([...]): one chain of layers, input to output"),
        ("functional", "Functional API", "keras.Input → layers called on tensors → keras.Model(inputs, "
                                         "outputs): any graph, branches included"),
        ("subclassing", "Subclassing", "a keras.Model subclass: layers made in __init__, wired in call()"))
LOOPS = (("fit", "model.fit", "compile + fit with callbacks"),
         ("tape", "GradientTape", "a custom training step: tf.GradientTape, tape.gradient, "
                                  "optimizer.apply_gradients, compiled with tf.function"),
         ("train_step", "custom train_step", "model.fit with train_step overridden (tf.GradientTape inside): "
                                             "fit's callbacks, distribution and progress kept"))


EXECUTIONS = (("graph", "graph", "tf.function traces the step once into a graph (TF1's speed, TF2's default "
                                 "for model.fit)"),
              ("eager", "eager", "no graph: each operation runs as Python reaches it — debuggable, slower"),
              ("xla", "XLA", "the traced graph compiled further by XLA (jit_compile=True)"))


class Selectors(QWidget):
    """Radio buttons for api × loop; refuses Sequential for a branched stack with the engine's
    message (`refused`, shown by the window) and keeps the previous choice."""

    refused = Signal(str)     # the engine's reason; "" when a later choice went through

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self._document = document
        self.api_group = QButtonGroup(self)
        self.loop_group = QButtonGroup(self)
        self.api_buttons: dict[str, QRadioButton] = {}
        self.loop_buttons: dict[str, QRadioButton] = {}
        self._running = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(_caption("Model:", self))
        self._add_choices(layout, APIS, self.api_group, self.api_buttons, self.choose_api)
        layout.addSpacing(10)
        layout.addWidget(_caption("Training:", self))
        self._add_choices(layout, LOOPS, self.loop_group, self.loop_buttons, self.choose_loop)
        layout.addSpacing(10)
        layout.addWidget(_caption("Execution:", self))
        self.execution = QComboBox(self)
        for key, text, tip in EXECUTIONS:
            self.execution.addItem(text, key)
            self.execution.setItemData(self.execution.count() - 1, tip, Qt.ToolTipRole)
        self.execution.setToolTip("How the training step runs: graph (tf.function), eager Python or XLA")
        self.execution.activated.connect(lambda index: self.choose_execution(self.execution.itemData(index)))
        layout.addWidget(self.execution)
        document.changed.connect(self._show)
        self._show()

    def _add_choices(self, layout, choices, group, buttons: dict, choose) -> None:
        for key, text, tip in choices:
            button = QRadioButton(text, self)
            button.setToolTip(tip)
            group.addButton(button)
            buttons[key] = button
            layout.addWidget(button)
            button.clicked.connect(lambda _checked=False, k=key: choose(k))

    def choose_api(self, api: str) -> bool:
        """Returns False (and says why) when the stack cannot be written that way."""
        experiment = self._document.experiment
        if api == experiment.model.api:
            self._show()
            return True
        if api == "sequential":
            nodes, _problems = graph.resolve(experiment.model.layers)
            if nodes and not graph.is_chain(nodes):
                self._show()   # the previous choice stays checked
                self.refused.emit(graph.SEQUENTIAL_REFUSAL)
                return False
        self.refused.emit("")
        changed = self._document.edited()
        changed.model.api = api
        self._document.apply(changed, f"Model API: {api}")
        return True

    def choose_loop(self, loop: str) -> None:
        if loop == self._document.experiment.training.loop:
            return
        changed = self._document.edited()
        changed.training.loop = loop
        self._document.apply(changed, f"Training loop: {loop}")

    def choose_execution(self, execution: str) -> None:
        if execution == self._document.experiment.training.execution:
            return
        changed = self._document.edited()
        changed.training.execution = execution
        self._document.apply(changed, f"Execution: {execution}")

    def set_enabled_for_run(self, running: bool) -> None:
        self._running = running
        for button in list(self.api_buttons.values()) + list(self.loop_buttons.values()) + [self.execution]:
            button.setEnabled(not running)
        self._offer_loops()

    def _offer_loops(self) -> None:
        """Only the loops that can write the objective's step; the others say why in one sentence
        (plain fit cannot train two models against each other)."""
        kind = objective_kind(self._document.experiment.objective)
        for (loop, _text, tip), button in zip(LOOPS, self.loop_buttons.values()):
            allowed = loop in kind.loops
            button.setEnabled(allowed and not self._running)
            button.setToolTip(tip if allowed else f"Not for a {kind.name.upper()}: {kind.why_not_fit}.")

    def _show(self) -> None:
        experiment = self._document.experiment
        self.api_buttons[experiment.model.api].setChecked(True)
        self.loop_buttons[experiment.training.loop].setChecked(True)
        self.execution.setCurrentIndex(max(0, self.execution.findData(experiment.training.execution)))
        self._offer_loops()


def _caption(text: str, parent) -> QLabel:
    label = QLabel(f"<b>{text}</b>", parent)
    return label
