"""Training off the GUI thread: ``engine.objectives.run.run`` (any objective) as a job (``gui.threads.jobs``).

The engine's reporter is the job's ``report``: it runs in the worker thread and only queues the
event; the GUI thread receives every waiting event per queued signal, so a burst of batch events
costs one signal and events keep their order. Stop and pause go through the engine's RunControl
(thread-safe by design); nothing else crosses threads.
"""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from tapedeck.engine.training.events import Finished
from tapedeck.gui.threads.jobs import Job

# While a run trains, the GUI thread and the worker share the GIL. Every Qt call that releases
# and re-takes it makes the GUI thread wait up to one switch interval (5 ms by default) for the
# busy worker; a redraw makes dozens of such calls and stalled the event loop for 100+ ms.
# 1 ms keeps redraws short; the worker spends its time in TensorFlow kernels and loses ~nothing.
RUN_SWITCH_INTERVAL = 0.001


class RunController(QObject):
    """GUI-thread owner of one run at a time: starts the job, relays events, stops cleanly."""

    event = Signal(object)        # each engine event, on the GUI thread, in order
    running_changed = Signal(bool)
    thread_name = "tapedeck-training"

    def __init__(self, runs_dir: str, parent=None):
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.job = Job(self.thread_name, self)
        self.control = None
        self.finished_event: Finished | None = None
        self._switch_interval = sys.getswitchinterval()

    @property
    def running(self) -> bool:
        return self.job.running

    @property
    def paused(self) -> bool:
        return bool(self.control is not None and self.control.paused)

    def start(self, experiment, steps: int | None = None, part: str | None = None) -> None:
        """Train ``experiment``; with ``steps``, only that many steps, then pause (Step); ``part``: which of
        several models they train (a GAN's "d" or "g")."""
        experiment = experiment.copy()
        self._launch(lambda control: self._train(experiment, control), steps, part)

    def continue_run(self, plan) -> None:
        """Resume a run folder from its checkpoint (``engine.training.resume.resume_plan``): the same
        folder grows, up to ``plan.experiment``'s epochs in total."""
        experiment, run_dir = plan.experiment.copy(), plan.run_dir
        self._launch(lambda control: self._train(experiment, control, resume_dir=run_dir))

    def _train(self, experiment, control, resume_dir=None):
        from tapedeck.engine.objectives.run import run

        run(experiment, self.job.report, control, runs_dir=self.runs_dir, resume_dir=resume_dir)

    def _launch(self, work, steps: int | None = None, part: str | None = None) -> None:
        """Run ``work(control)`` as this controller's job; it reports through ``self.job.report``."""
        if self.running:
            raise RuntimeError("a run is already in progress")
        from tapedeck.engine.training.run import RunControl

        control = self.control = RunControl()
        if steps:
            control.step(steps, part)
        self.finished_event = None
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, RUN_SWITCH_INTERVAL))
        self.job.start(lambda: work(control), self._returned_job, self._relay_all, self.stop)
        self.running_changed.emit(True)

    def pause(self) -> None:
        if self.control is not None:
            self.control.pause()

    def resume(self) -> None:
        if self.control is not None:
            self.control.resume()

    def step(self, steps: int = 1, part: str | None = None) -> None:
        """One more step (or ``steps``), then pause again; ``part`` as for ``start``."""
        if self.control is not None:
            self.control.step(steps, part)

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.control.resume()   # a paused run must wake up to see the stop

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the run and wait for its thread (bounded). True when no thread is left running."""
        return self.job.shutdown(timeout_ms, deliver=True)

    def _relay_all(self, items: list) -> None:
        for item in items:
            self._relay(item)

    def _relay(self, event) -> None:
        if isinstance(event, Finished):
            self.finished_event = event
        self.event.emit(event)

    def _returned_job(self, result, error: str | None) -> None:
        sys.setswitchinterval(self._switch_interval)
        if error is not None:   # the engine promises not to raise; if it does, say so
            self._relay(self._internal_error(error))
        self.running_changed.emit(False)
        self._returned(result)

    def _internal_error(self, error: str):
        return Finished(reason="failed", message=f"Training stopped with an internal error: {error}", run_dir=None)

    def _returned(self, result) -> None:
        """Hook for subclasses, on the GUI thread once the run's thread has ended."""
