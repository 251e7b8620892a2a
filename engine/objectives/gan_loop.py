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

__all__ = ["GanCallback", "train_tape", "train_fit"]


class GanCallback(keras.callbacks.Callback):
    """Running figures → sampled BatchEnd events; the epoch's means → ``on_epoch(epoch, figures)``;
    a non-finite loss ends the run as diverged; Step counts generator steps."""

    def __init__(self, emit, control, state, on_epoch):
        super().__init__()
        self.emit, self.control, self.state, self.on_epoch = emit, control, state, on_epoch
        self._epoch, self._start, self._last = 0, 0.0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start, self._last = int(epoch), time.perf_counter(), 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.control.begin_step()

    def on_train_batch_end(self, batch, logs=None):
        figures = {name: float(logs[name]) for name in FIGURES if name in (logs or {})}
        steps = self.state.steps_per_epoch
        step = min(int(batch) + 1, steps)
        seen = step * self.state.batch_size
        if not all(math.isfinite(figures.get(name, 0.0)) for name in ("d_loss", "g_loss")):
            self.state.interrupted = "diverged"
            self.state.diverged_epoch = self._epoch + 1
            self.state.diverged_step = self._epoch * steps + step
            self.state.last_loss = figures.get("d_loss") if not math.isfinite(figures.get("d_loss", 0.0)) \
                else figures.get("g_loss")
        now = time.perf_counter()
        if step < steps and now - self._last < BATCH_EVENT_INTERVAL:
            return
        self._last = now
        self.emit(BatchEnd(epoch=self._epoch + 1, step=step, steps=steps, loss=figures.get("d_loss", math.nan),
                           accuracy=figures.get("d_accuracy", math.nan), samples_seen=seen,
                           samples_per_second=seen / max(now - self._start, 1e-9), heads=figures))

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.state.train_seconds += seconds
        self.state.train_samples_seen += self.state.steps_per_epoch * self.state.batch_size
        if self.state.interrupted:
            return   # a cut-short epoch is not an epoch
        self.on_epoch(int(epoch) + 1, {name: float(logs[name]) for name in FIGURES if name in (logs or {})},
                      seconds)


def train_tape(steps, gan, dataset, callbacks, epochs: int, initial_epoch: int, d_steps: int) -> None:
    """The loop a person writes: for each batch, ``d_steps`` discriminator updates, then one generator
    update. The logs are running means over the epoch, as ``fit`` reports them."""
    gan.stop_training = False   # fit sets it; the callbacks set it to stop
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        totals, count = {}, 0
        for batch, data in enumerate(dataset):
            callbacks.on_train_batch_begin(batch)
            real, labels = data if isinstance(data, tuple) else (data, None)   # (images, labels): conditional
            for _ in range(d_steps):
                figures = steps.d_step(real, labels)
            figures.update(steps.g_step(real, labels))
            count += 1
            for name, value in figures.items():
                totals[name] = totals.get(name, 0.0) + float(value)
            callbacks.on_train_batch_end(batch, {name: total / count for name, total in totals.items()})
            if gan.stop_training:
                break
        if gan.stop_training:
            break
        callbacks.on_epoch_end(epoch, {name: total / max(count, 1) for name, total in totals.items()})
    callbacks.on_train_end()


def train_fit(gan, dataset, callbacks, epochs: int, initial_epoch: int, execution: str) -> None:
    """``fit`` with the overridden ``train_step`` (engine.objectives.gan_step.GanModel)."""
    gan.compile(run_eagerly=execution == "eager", jit_compile=execution == "xla")
    gan.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=0, shuffle=False)
