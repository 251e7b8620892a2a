"""The one entry to train any experiment: ``run(experiment, reporter, control, ...)`` picks the
objective's run. ``classify`` is the classifier's run (engine.training.run); the others are modules of
this wing. The command line and the window call this and never ask which (sweeps and queues train
classifiers, through engine.training.run, which refuses any other objective in one line).
"""
from __future__ import annotations

__all__ = ["run", "RunControl", "RUNS"]

from tapedeck.engine.training.control import RunControl


def _classify(*args, **kwargs):
    from tapedeck.engine.training.run import run as run_classifier

    return run_classifier(*args, **kwargs)


def _gan(*args, **kwargs):
    from tapedeck.engine.objectives.gan_run import run_gan

    return run_gan(*args, **kwargs)


def _rl(*args, **kwargs):
    from tapedeck.engine.objectives.rl_run import run_rl

    return run_rl(*args, **kwargs)


def _vae(*args, **kwargs):
    from tapedeck.engine.objectives.vae_run import run_vae

    return run_vae(*args, **kwargs)


RUNS = {"classify": _classify, "gan": _gan, "cgan": _gan, "vae": _vae,
        "reinforce": _rl, "actor_critic": _rl, "ppo": _rl}


def run(experiment, reporter, control: RunControl | None = None, runs_dir="runs", resume_dir=None):
    """Train ``experiment`` with its objective's run; returns the run folder (or None). Never raises."""
    return RUNS[experiment.objective.kind](experiment, reporter, control or RunControl(), runs_dir=runs_dir,
                                           resume_dir=resume_dir)
