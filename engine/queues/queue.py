"""Several experiments trained one after another, as one job that one RunControl can stop.

Sweeps and "compare the three APIs" are both a list of experiments run in turn. The window runs
this function in its worker thread exactly as it runs ``engine.training.run.run``; every event is passed
on with the position of the run it belongs to, so a listener can route curves to the right run.
Stopping stops the run in progress (it ends ``stopped``, its folder consistent) and skips the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from tapedeck.engine.training.events import Finished

__all__ = ["QueueResult", "run_queue"]


@dataclass
class QueueResult:
    index: int
    name: str
    run_dir: str | None  # None when the run never started (skipped after a stop, or refused)
    reason: str  # a Finished reason, or "skipped"
    message: str = ""


def run_queue(experiments, reporter, control=None, runs_dir="runs") -> list[QueueResult]:
    """Train each experiment through ``engine.training.run.run``; ``reporter(index, event)`` hears every event.

    Never raises for anything inside a run (``training.run`` does not); a run that fails does not stop
    the queue, only ``control.stop()`` does.
    """
    from tapedeck.engine.training.run import RunControl, run

    control = control or RunControl()
    results: list[QueueResult] = []
    for index, experiment in enumerate(experiments):
        if control.stop_requested:
            results.append(QueueResult(index, experiment.name, None, "skipped", "the queue was stopped"))
            continue
        finished: list[Finished] = []

        def forward(event, index=index):
            if isinstance(event, Finished):
                finished.append(event)
            reporter(index, event)

        run_dir = run(experiment, forward, control, runs_dir=runs_dir)
        last = finished[-1] if finished else Finished("failed", "the run reported no end", run_dir)
        results.append(QueueResult(index, experiment.name, run_dir, last.reason, last.message))
    return results
