"""Keras callbacks that turn a training loop into Tapedeck's event stream and obey its controls.

The same instances serve ``model.fit`` and the GradientTape loop (which drives them through
``keras.callbacks.CallbackList``), so stop, pause, divergence, events, history and checkpoints
behave identically in both. They share one :class:`RunState`: when a stop or a NaN cuts an epoch
short, that epoch is neither reported, nor written to the history, nor checkpointed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np

from tapedeck.engine.training.events import BatchEnd, EpochEnd, Predictions
from tapedeck.engine.training.optimizers import current_learning_rate

__all__ = [
    "RunState",
    "ControlCallback",
    "DivergenceCallback",
    "ReporterCallback",
    "CheckpointCallback",
    "BATCH_EVENT_INTERVAL",
    "last_step",
]

BATCH_EVENT_INTERVAL = 0.05  # seconds: at most ~20 batch events a second, whatever the step rate


@dataclass
class RunState:
    """What happened so far, shared by the callbacks and read by the run at the end."""

    steps_per_epoch: int
    batch_size: int
    train_samples: int
    interrupted: str | None = None  # "stopped" | "diverged" once the current epoch was cut short
    diverged_epoch: int | None = None
    diverged_step: int | None = None  # global step count, 1-based, over the whole run
    last_loss: float | None = None
    completed_epochs: list = field(default_factory=list)  # EpochEnd events
    train_seconds: float = 0.0
    train_samples_seen: int = 0


def last_step(batch, steps_per_epoch: int) -> int:
    """The 1-based step a call ended on. Keras's ``fit`` with ``steps_per_execution`` passes its last
    call's nominal end (``begin + steps_per_execution - 1``), past the epoch when the epoch's steps are
    not a multiple of it: "step 90/81" in the window. The epoch has no steps beyond its last."""
    return min(int(batch) + 1, int(steps_per_epoch))


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # no loss in the logs: nothing to judge


class ControlCallback(keras.callbacks.Callback):
    """Pause between steps, and stop within one step (validation included: ``stop_evaluating``)."""

    def __init__(self, control, state: RunState):
        super().__init__()
        self.control = control
        self.state = state

    def _check(self, evaluating: bool) -> None:
        if self.control.paused and not self.control.stop_requested:
            self.control.wait_while_paused()
        if self.control.stop_requested or self.state.interrupted:
            if self.state.interrupted is None:
                self.state.interrupted = "stopped"
            self.model.stop_training = True
            if evaluating:
                self.model.stop_evaluating = True

    def on_train_batch_end(self, batch, logs=None):
        self.control.step_done()   # the last step of a Step request pauses here, after its inspection
        self._check(evaluating=False)

    def on_test_batch_begin(self, batch, logs=None):
        # fit runs validation even after stop_training and evaluate() resets stop_evaluating on
        # entry, so a stop (or a NaN) must be re-applied from inside the validation pass.
        self._check(evaluating=True)

    def on_test_batch_end(self, batch, logs=None):
        self._check(evaluating=True)


class DivergenceCallback(keras.callbacks.Callback):
    """NaN or infinite loss, checked after every step (every execution when steps_per_execution > 1).

    The logged loss is the epoch's running mean, which is non-finite from the first bad step on.
    """

    def __init__(self, state: RunState):
        super().__init__()
        self.state = state
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss):
            self.state.interrupted = "diverged"
            self.state.diverged_epoch = self._epoch + 1
            self.state.diverged_step = self._epoch * self.state.steps_per_epoch + last_step(
                batch, self.state.steps_per_epoch)
            self.state.last_loss = float(loss)
            self.model.stop_training = True


class ReporterCallback(keras.callbacks.Callback):
    """Keras logs → BatchEnd (sampled), EpochEnd and Predictions events, plus the history row."""

    def __init__(self, emit, state: RunState, sample_images, sample_labels, to_probabilities,
                 on_epoch=None, interval: float = BATCH_EVENT_INTERVAL, heads=None):
        super().__init__()
        self.heads = heads   # several heads: (engine.training.heads_io plan, sample index); sample_images a dict
        self.emit = emit
        self.state = state
        self.sample_images = sample_images
        self.sample_labels = np.asarray(sample_labels)
        self.to_probabilities = to_probabilities
        self.on_epoch = on_epoch
        self.interval = interval
        self._epoch = 0
        self._epoch_start = 0.0
        self._train_end = None
        self._lr = float("nan")
        self._last_emit = 0.0
        self._seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        self._epoch_start = time.perf_counter()
        self._train_end = None
        self._last_emit = 0.0
        self._seen = 0
        self._lr = current_learning_rate(self.model.optimizer)  # the rate this epoch trains with

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        steps = self.state.steps_per_epoch
        step = last_step(batch, steps)
        self._seen = min(step * self.state.batch_size, self.state.train_samples)
        now = time.perf_counter()
        if step < steps and now - self._last_emit < self.interval:
            return
        self._last_emit = now
        elapsed = max(now - self._epoch_start, 1e-9)
        self.emit(
            BatchEnd(
                epoch=self._epoch + 1,
                step=step,
                steps=steps,
                loss=_float(logs.get("loss")),
                accuracy=_float(logs.get("accuracy", self._head_accuracy(logs))),
                samples_seen=self._seen,
                samples_per_second=self._seen / elapsed,
                heads=self._head_logs(logs),
            )
        )

    def _end_training_phase(self):
        if self._train_end is None:
            self._train_end = time.perf_counter()
            self.state.train_seconds += self._train_end - self._epoch_start
            self.state.train_samples_seen += self._seen

    def on_test_begin(self, logs=None):
        self._end_training_phase()

    def on_epoch_end(self, epoch, logs=None):
        self._end_training_phase()
        if self.state.interrupted:
            return  # a cut-short epoch is not an epoch
        logs = logs or {}
        event = EpochEnd(
            epoch=int(epoch) + 1,
            loss=_float(logs.get("loss")),
            accuracy=_float(logs.get("accuracy", self._head_accuracy(logs))),
            val_loss=_float(logs["val_loss"]) if "val_loss" in logs else None,
            val_accuracy=(_float(logs["val_accuracy"]) if "val_accuracy" in logs
                          else self._head_accuracy(logs, "val_")),
            learning_rate=self._lr,
            seconds=time.perf_counter() - self._epoch_start,
            heads=self._head_logs(logs),
        )
        self.state.completed_epochs.append(event)
        if self.on_epoch is not None:
            self.on_epoch(event)
        self.emit(event)
        self.emit(self.predictions(int(epoch) + 1))

    def _head_logs(self, logs) -> dict:
        from tapedeck.engine.training import heads_io

        return heads_io.head_logs(logs, self.heads[0]) if self.heads else {}

    def _head_accuracy(self, logs, prefix: str = ""):
        """A several-head run's "accuracy": its first classification head's (None with one head)."""
        from tapedeck.engine.training import heads_io

        return heads_io.first_accuracy(self._head_logs(logs), self.heads[0], prefix) if self.heads else None

    def predictions(self, epoch: int) -> Predictions:
        """A direct call on the fixed sample: a few ms, where ``model.predict`` costs 50-120 ms."""
        if self.heads:
            from tapedeck.engine.training import heads_io

            return heads_io.predictions(self.model, self.sample_images, self.heads[0], epoch, self.heads[1])
        outputs = self.model(self.sample_images, training=False)
        probabilities = self.to_probabilities(np.asarray(outputs))
        return Predictions(
            epoch=epoch,
            true_labels=self.sample_labels,
            predicted_labels=np.argmax(probabilities, axis=-1).astype(np.int64),
            probabilities=probabilities.astype(np.float32),
        )


class CheckpointCallback(keras.callbacks.Callback):
    """Last in the list, so it saves what EarlyStopping/ReduceLROnPlateau left (the new rate included).

    The state is copied at the epoch's end and written by a background writer
    (engine.training.checkpoint_writer); training's end waits for the write, and the run enters this
    as a context so that no write outlives its hold on the run folder."""

    def __init__(self, folder, state: RunState, background: bool = True):
        super().__init__()
        from tapedeck.engine.training.checkpoint_writer import CheckpointWriter

        self.folder = folder
        self.state = state
        self.writer = CheckpointWriter(folder, background)

    def on_epoch_end(self, epoch, logs=None):
        if self.state.interrupted:
            return
        self.writer.save(self.model, int(epoch) + 1, more=int(epoch) + 1 < int(self.params.get("epochs") or 0))

    def on_train_end(self, logs=None):
        self.writer.wait()   # the final model, a divergence's kept checkpoint and Finished come after it

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.writer.__exit__(*exc)


def _float(value) -> float:
    if value is None:
        return float("nan")
    return float(np.asarray(value))
