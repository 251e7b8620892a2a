"""One real short run shared by the run-history, export, analysis and CLI tests.

Training costs seconds even on digits, so the run is made once per test process (the first test that
asks for it pays) in a temporary folder removed at exit. Tests must not modify it: they copy it first.
"""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

LIMIT = 200
EPOCHS = 2


def short_experiment(name="history-run", api="functional", limit=LIMIT, epochs=EPOCHS, preset="digits_cnn"):
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset(preset)
    experiment.name = name
    experiment.model.api = api
    experiment.data.limit = limit
    experiment.training.epochs = epochs
    experiment.training.steps_per_execution = 1   # the presets say "auto": tests count steps and events
    return experiment


@functools.cache
def trained_run() -> Path:
    """A completed functional digits run (200 examples, 2 epochs); its events are kept beside it."""
    from tapedeck.engine.training.events import Finished
    from tapedeck.engine.training.run import run

    root = Path(tempfile.mkdtemp(prefix="tapedeck-runs-"))
    atexit.register(shutil.rmtree, root, True)
    events = []
    run_dir = run(short_experiment(), events.append, runs_dir=root)
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed", events[-1]
    _EVENTS[Path(run_dir)] = events
    return Path(run_dir)


def run_events(run_dir) -> list:
    return _EVENTS[Path(run_dir)]


def copy_run(run_dir, destination) -> Path:
    """A copy a test may change or delete."""
    target = Path(destination) / Path(run_dir).name
    shutil.copytree(run_dir, target)
    return target


_EVENTS: dict = {}


@functools.cache
def two_head_run() -> Path:
    """A completed two-head digits run (digit + parity, Functional API, 300 examples, 1 epoch)."""
    from tapedeck.engine.training.events import Finished
    from tapedeck.engine.training.run import run

    experiment = short_experiment("two-heads", limit=300, epochs=1, preset="digits_two_heads_functional")
    root = Path(tempfile.mkdtemp(prefix="tapedeck-runs-"))
    atexit.register(shutil.rmtree, root, True)
    events = []
    run_dir = run(experiment, events.append, runs_dir=root)
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed", events[-1]
    _EVENTS[Path(run_dir)] = events
    return Path(run_dir)
