"""What continuing a run folder means, decided before any training: the window's "Resume" and
"Train N more epochs", and the same rules the command line's ``--resume`` follows.

``run(experiment, reporter, control, resume_dir=RUN)`` continues from the folder's last checkpoint
(optimizer state included) up to ``experiment.training.epochs`` in total. This module reads the
run's own experiment and checkpoint and returns the experiment to pass, so a resume that cannot
train anything (every planned epoch is done) is refused with the fix, not started.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tapedeck.engine.errors import TapedeckError

__all__ = ["ResumeError", "ResumePlan", "resume_plan", "carry_optimizer_state"]


class ResumeError(TapedeckError):
    """The run cannot be continued as asked; the message says why and what to do instead."""


@dataclass
class ResumePlan:
    experiment: object    # engine.spec.experiment.Experiment, its epochs the new total
    run_dir: str
    done_epochs: int      # epochs the checkpoint holds: training starts after them


def resume_plan(run_dir, more_epochs: int | None = None) -> ResumePlan:
    """Continue ``run_dir`` to its planned epochs, or ``more_epochs`` past its checkpoint."""
    from tapedeck.engine.runs.folder import RunFolder
    from tapedeck.engine.spec.experiment import load_experiment

    folder = RunFolder.open_for_resume(run_dir)          # RunFolderError: no folder, no checkpoint
    experiment = load_experiment(folder.experiment_path)
    done = int(folder.checkpoint_epoch())
    if more_epochs is not None:
        if more_epochs < 1:
            raise ResumeError(f"expected 1 or more epochs to train, received {more_epochs}")
        experiment.training.epochs = done + int(more_epochs)
    elif done >= experiment.training.epochs:
        raise ResumeError(f"{Path(run_dir).name}: all {experiment.training.epochs} planned epoch(s) are "
                          "trained; use Train more epochs to continue it")
    return ResumePlan(experiment, str(run_dir), done)


def carry_optimizer_state(saved, fresh, variables):
    """A fresh optimizer (its schedule sized for the new epoch count) with the saved one's state.

    The saved optimizer's schedule ends where the first run was told to end; resuming with more
    epochs must follow the new schedule from the saved iteration, moments and rate included.
    """
    fresh.build(variables)
    old, new = list(saved.variables), list(fresh.variables)
    if len(old) != len(new) or any(tuple(a.shape) != tuple(b.shape) for a, b in zip(old, new)):
        return saved
    for target, value in zip(new, old):
        target.assign(value)
    return fresh
