"""The two ways a GAN is trained — the GradientTape loop written out, and ``fit`` with a custom
``train_step`` — sharing one callback list, so Stop, pause, Step, divergence and the events behave the
same in both (as the classifier's loops share theirs).
"""
from __future__ import annotations

import math
import time

import keras

from tapedeck.engine.objectives.gan_step import FIGURES
from tapedeck.engine.training.callbacks import BATCH_EVENT_INTERVAL
from tapedeck.engine.training.events import BatchEnd

__all__ = ["GanCallback", "Callbacks", "train_tape", "train_fit"]


class Callbacks:
    """The GradientTape loop's callbacks, called as fit calls them but with the logs as given: Keras's
    CallbackList turns every batch's logs into Python floats, which makes each step wait for the device
    (the figures are read only when a report is due: engine.objectives.gan_step.Running)."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: [getattr(c, name)(*args, **kwargs) for c in self.callbacks]


class GanCallback(keras.callbacks.Callback):
    """Running figures → sampled BatchEnd events; the epoch's means → ``on_epoch(epoch, figures)``;
    a non-finite loss ends the run as diverged; Step counts generator steps."""

    def __init__(self, emit, control, state, on_epoch, figures=FIGURES, loss="d_loss", accuracy="d_accuracy",
                 watched=("d_loss", "g_loss")):
        """``figures``: the names the step reports; ``loss``/``accuracy``: which of them BatchEnd carries as
        its loss and accuracy; ``watched``: the losses whose non-finite value ends the run."""
        super().__init__()
        self.emit, self.control, self.state, self.on_epoch = emit, control, state, on_epoch
        self.figures, self.loss, self.accuracy, self.watched = tuple(figures), loss, accuracy, tuple(watched)
        self._epoch, self._start, self._last = 0, 0.0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start, self._last = int(epoch), time.perf_counter(), 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.control.begin_step()

    def on_train_batch_end(self, batch, logs=None):
        """Reads the figures only when it reports (at most ~20 times a second, every step while stepping,
        the epoch's last step): divergence is seen then, and no other step waits for the device."""
        steps = self.state.steps_per_epoch
        step = min(int(batch) + 1, steps)
        seen = step * self.state.batch_size
        now = time.perf_counter()
        if step < steps and now - self._last < BATCH_EVENT_INTERVAL and self.control.steps_left is None:
            return
        self._last = now
        figures = {name: float(logs[name]) for name in self.figures if name in (logs if logs is not None else {})}
        bad = [name for name in self.watched if not math.isfinite(figures.get(name, 0.0))]
        if bad:
            self.state.interrupted = "diverged"
            self.state.diverged_epoch = self._epoch + 1
            self.state.diverged_step = self._epoch * steps + step
            self.state.last_loss = figures[bad[0]]
        self.emit(BatchEnd(epoch=self._epoch + 1, step=step, steps=steps, loss=figures.get(self.loss, math.nan),
                           accuracy=figures.get(self.accuracy, math.nan), samples_seen=seen,
                           samples_per_second=seen / max(now - self._start, 1e-9), heads=figures))

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.state.train_seconds += seconds
        self.state.train_samples_seen += self.state.steps_per_epoch * self.state.batch_size
        if self.state.interrupted:
            return   # a cut-short epoch is not an epoch
        given = logs if logs is not None else {}
        self.on_epoch(int(epoch) + 1, {name: float(given[name]) for name in self.figures if name in given}, seconds)


def train_tape(running, update, model, dataset, callbacks, epochs: int, initial_epoch: int) -> None:
    """The loop a person writes: ``update(real, labels)`` for each batch (a GAN's: ``d_steps``
    discriminator updates, then one generator update). The logs are the running means of the epoch
    (``running``, an engine.objectives.gan_step.Running), as ``fit`` reports them."""
    model.stop_training = False   # fit sets it; the callbacks set it to stop
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        running.reset()
        for batch, data in enumerate(dataset):
            callbacks.on_train_batch_begin(batch)
            real, labels = data if isinstance(data, tuple) else (data, None)   # (images, labels): conditional
            update(real, labels)
            callbacks.on_train_batch_end(batch, running.logs())
            if model.stop_training:
                break
        if model.stop_training:
            break
        callbacks.on_epoch_end(epoch, running.means())
    callbacks.on_train_end()


def train_fit(gan, dataset, callbacks, epochs: int, initial_epoch: int, training) -> None:
    """``fit`` with the overridden ``train_step`` (engine.objectives.gan_step.GanModel), ``steps_per_execution``
    steps per call (``auto`` is one: a GAN's step is already several updates)."""
    execution, per_call = training.execution, training.steps_per_execution
    from tapedeck.engine.training.multi_worker import fit_under_workers

    with gan.distribute_strategy.scope():   # the models' own optimizers step them: compile makes none
        gan.compile(optimizer=None, run_eagerly=execution == "eager", jit_compile=execution == "xla",
                    steps_per_execution=1 if per_call == "auto" else int(per_call))
        with fit_under_workers(gan):   # several workers: Keras's two faults avoided, as for a classifier
            gan.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=0,
                    shuffle=False)
