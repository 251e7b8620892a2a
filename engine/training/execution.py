"""How the training step is executed — the TF1/TF2 lesson made measurable.

``eager`` runs each operation as Python reaches it (TF2's default: debuggable, slow), ``graph`` traces
the step once into a ``tf.function`` graph (what TF1 did with sessions, and what ``model.fit`` does
by default), ``xla`` compiles that graph further (``jit_compile=True``). The run reports the step time
and how often the step function was traced, so a person sees what each choice costs, and is warned
when the step is traced again after the first epoch (every retrace pays the tracing cost again).
"""
from __future__ import annotations

import statistics
import time
from collections import deque

import keras

from tapedeck.engine.training.events import RunNote, StepTiming

__all__ = ["compile_options", "count_fit_traces", "StepClock", "RETRACE_HINT"]

RETRACE_HINT = ("tf.function traces again for every new input signature (shape or dtype) and every new "
                "Python value passed to the step")


def compile_options(execution: str) -> dict:
    """``model.compile`` arguments for an execution mode. ``jit_compile`` is always explicit: Keras's
    "auto" turns XLA on whenever a GPU is visible, which would make "graph" mean two things."""
    return {"run_eagerly": execution == "eager", "jit_compile": execution == "xla"}


def count_fit_traces(model) -> dict:
    """Count how often ``model.fit`` traces its training step: ``train_step`` runs as Python only
    while a ``tf.function`` is being traced (in eager execution it runs every step instead)."""
    counts = {"train": 0}
    original = model.train_step

    def counted(data):
        counts["train"] += 1
        return original(data)

    model.train_step = counted
    return counts


class StepClock(keras.callbacks.Callback):
    """Step time (running median) and trace count, once per epoch; a note when the step retraces.

    ``traces()`` returns the current number of traces of the training step (None in eager mode).
    """

    WINDOW = 200  # steps in the running median

    def __init__(self, emit, execution: str, traces, steps_per_call: int = 1):
        super().__init__()
        self.emit = emit
        self.execution = execution
        self.traces = traces
        self.steps_per_call = max(1, int(steps_per_call))
        self.durations: deque = deque(maxlen=self.WINDOW)
        self._started = None
        self._first = None
        self._first_epoch_traces = None
        self._warned = False

    def on_train_batch_begin(self, batch, logs=None):
        self._started = time.perf_counter()
        self._first = int(batch)

    def on_train_batch_end(self, batch, logs=None):
        """``fit`` and the tape loop pass a call's first batch index to ``begin`` and its last here, so
        a call of several steps is divided by the steps it took (a shorter last call included)."""
        if self._started is not None:
            steps = max(1, int(batch) - self._first + 1) if self._first is not None else self.steps_per_call
            self.durations.append((time.perf_counter() - self._started) / steps)
            self._started = None

    @property
    def step_ms(self) -> float | None:
        return 1000 * statistics.median(self.durations) if self.durations else None

    def on_epoch_end(self, epoch, logs=None):
        traces = None if self.execution == "eager" else self.traces()
        if self.step_ms is not None:
            self.emit(StepTiming(epoch=int(epoch) + 1, step_ms=self.step_ms, traces=traces,
                                 execution=self.execution))
        if traces is None:
            return
        if self._first_epoch_traces is None:
            self._first_epoch_traces = traces
        elif traces > self._first_epoch_traces and not self._warned:
            self._warned = True
            self.emit(RunNote("retrace", f"the training step was traced again in epoch {int(epoch) + 1} "
                                         f"({traces} traces, {self._first_epoch_traces} after epoch 1): "
                                         f"{RETRACE_HINT}"))

    def summary(self) -> dict:
        """For metrics.json."""
        return {"execution": self.execution, "step_ms": self.step_ms,
                "traces": None if self.execution == "eager" else self.traces()}
