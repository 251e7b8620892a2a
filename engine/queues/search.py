"""Random and Bayesian (TPE) search through Optuna, with poor runs pruned after each epoch.

The settings are the grid sweep's (``engine.queues.sweep``: ``training.learning_rate``,
``training.batch_size``, ``model.layers[i].units/filters/rate``), each given as a range or a list:

- ``training.learning_rate=1e-4..1e-2:log`` — a log-uniform range (floats; ``:log`` needs low > 0)
- ``model.layers[4].units=16..128`` — an integer range (both ends whole numbers)
- ``model.layers[5].rate=0.1..0.5`` — a uniform range
- ``training.batch_size=16,32,64`` — choices, exactly the grid's ``SETTING=V1,V2`` form

Every trial is a normal run (``engine.training.run.run``) in the runs folder, so it is in the runs table
with its curves. After each epoch Optuna's ``MedianPruner`` hears the validation accuracy; a trial
below the median of the earlier trials at that epoch ends with the reason ``pruned``. The study lives in
``<runs folder>/optuna.sqlite3`` (Optuna's RDB storage), named after the experiment and the search:
run the same search again and it continues where it stopped, up to ``trials`` finished trials.
No Qt here; the window runs :func:`run_search` in the queue controller's thread.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from tapedeck.engine.queues.queue import QueueResult
from tapedeck.engine.queues.sweep import MAX_AXES, MAX_RUNS, SweepAxis, SweepError, expand, parse_axis
from tapedeck.engine.training.events import EpochEnd, Finished

__all__ = ["SEARCHES", "SearchAxis", "TrialDone", "SearchResult", "parse_search_axis", "check_axes",
           "run_search", "storage_path", "study_name_for", "importances", "check_runs_folder"]

SEARCHES = ("random", "tpe")
STORAGE = "optuna.sqlite3"


@dataclass(frozen=True)
class SearchAxis:
    """One setting to search: ``choices``, or a range ``low..high`` (``log``: log-uniform)."""

    setting: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def suggest(self, trial):
        if self.choices:
            return trial.suggest_categorical(self.setting, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.setting, self.low, self.high, log=self.log)
        return trial.suggest_float(self.setting, float(self.low), float(self.high), log=self.log)

    def describe(self) -> str:
        if self.choices:
            return ", ".join(str(c) for c in self.choices)
        return f"{self.low:g}..{self.high:g}{':log' if self.log else ''}"


@dataclass(frozen=True)
class TrialDone:
    """A trial has ended (an event for the search's listener, after the run's own Finished)."""

    number: int
    values: dict          # setting → value the trial used
    value: float | None   # best validation accuracy (None when pruned before it counted, or failed)
    state: str            # "complete", "pruned", "fail"
    run_dir: str | None
    importances: dict = field(default_factory=dict)   # setting → Optuna's importance, once it can tell


@dataclass
class SearchResult:
    study_name: str
    storage: str
    results: list           # QueueResult per trial run in this call
    trials: list            # TrialDone per finished trial of the whole study, oldest first
    best: TrialDone | None
    resumed_from: int = 0   # finished trials the study held before this call


def parse_search_axis(text: str) -> SearchAxis:
    """``SETTING=LO..HI[:log]`` or ``SETTING=V1,V2,…`` → SearchAxis; SweepError naming the setting."""
    import json

    setting, sep, values = text.partition("=")
    setting, values = setting.strip(), values.strip()
    if ".." not in values:
        axis = parse_axis(text)
        return SearchAxis(axis.setting, choices=axis.values)
    body, _, option = values.partition(":")
    low_text, _, high_text = body.partition("..")
    example = f"{setting}=1e-4..1e-2:log"
    if option not in ("", "log"):
        raise SweepError([f"{setting}: {option!r} after the range; the only option is ':log' (e.g. {example})"])
    try:
        low, high = json.loads(low_text.strip()), json.loads(high_text.strip())
    except ValueError:
        raise SweepError([f"{setting}: {values!r} is not a range LOW..HIGH of numbers (e.g. {example})"]) from None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high)):
        raise SweepError([f"{setting}: {values!r} is not a range LOW..HIGH of numbers (e.g. {example})"])
    if not low < high:
        raise SweepError([f"{setting}: the range {values!r} is empty; LOW must be below HIGH"])
    if option == "log" and low <= 0:
        raise SweepError([f"{setting}: a log range needs LOW > 0, received {low}"])
    return SearchAxis(setting, low=low, high=high, log=option == "log")


def check_axes(experiment, axes) -> None:
    """Refuse unknown settings and values the experiment would refuse, before any trial runs: each range's
    two ends (and each choice) are checked as the grid checks its values."""
    axes = list(axes)
    if not axes:
        raise SweepError(["a search needs at least one setting with a range or values"])
    if len(axes) > MAX_AXES:
        raise SweepError([f"a search varies at most {MAX_AXES} settings, received {len(axes)}"])
    for axis in axes:
        values = axis.choices or (axis.low, axis.high)
        expand(experiment, [SweepAxis(axis.setting, values)])
    if not experiment.data.validation_split:
        raise SweepError(["data.validation_split: a search ranks its trials by validation accuracy; set it above 0"])


def storage_path(runs_dir) -> Path:
    return Path(runs_dir) / STORAGE


def study_name_for(experiment, search: str) -> str:
    return f"{experiment.name}-{search}"


def _sampler(search: str, seed, trials: int, done: int):
    import optuna

    seed = None if seed is None else int(seed) + done   # a resumed search does not redraw the same points
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # TPE models the trials so far; its default of 10 random start-up trials is a whole small budget.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, trials // 3)))


def _open_study(runs_dir, name, search, seed, trials, pruner):
    """Open (or create) the study; two sweeps on one runs folder take turns at creating the database.

    Optuna creates its tables on first use without a lock of its own, so a second sweep started at the same
    moment failed with "table studies already exists"; a lock file beside the database serialises the
    opening, after which SQLite's own locking lets both sweeps add trials (waiting up to a minute for it).
    """
    import optuna
    import sqlalchemy.exc

    from tapedeck.engine.files import exclusive_lock

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_runs_folder(runs_dir)
    path = storage_path(runs_dir).resolve()
    url = f"sqlite:///{path}"
    _refuse_foreign_file(path)
    pruner = pruner if pruner is not None else optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    try:
        with exclusive_lock(path.with_name(path.name + ".lock")):
            storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
            done = 0
            try:
                existing = optuna.load_study(study_name=name, storage=storage)
                done = len(_finished(existing))
            except KeyError:
                pass
            study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                        load_if_exists=True, sampler=_sampler(search, seed, trials, done),
                                        pruner=pruner)
    except sqlalchemy.exc.SQLAlchemyError as error:
        first = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise SweepError([f"{path}: the Optuna study file cannot be used ({first}); it is damaged or was written "
                          "by another program: move it away (or delete it) to start a new study there, or give "
                          "--out another runs folder"]) from None
    return study, url, done


SQLITE_SIGNATURE = b"SQLite format 3\x00"


def _refuse_foreign_file(path: Path) -> None:
    """A study file that is not an SQLite database (damaged, or another file by that name) is named with the
    fix before SQLAlchemy reports it as a DatabaseError deep in Optuna's schema check."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_SIGNATURE))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise SweepError([f"{path}: is a folder where the Optuna study file belongs; move it away"]) from None
    except OSError as error:
        raise SweepError([f"{path}: the Optuna study file cannot be read ({error.strerror})"]) from None
    if head and head != SQLITE_SIGNATURE:
        raise SweepError([f"{path}: is not an Optuna study database (it is damaged or another program wrote "
                          "it); move it away (or delete it) to start a new study there, or give --out another "
                          "runs folder"])


def check_runs_folder(runs_dir) -> Path:
    """Create the runs folder, or a SweepError naming it when a file is in the way (as ``train`` says)."""
    from tapedeck.engine.files import why_unwritable

    root = Path(runs_dir)
    if root.exists() and not root.is_dir():
        raise SweepError([f"{root}: is a file, not a runs folder; give --out (or the runs folder setting) a "
                          "folder, or move the file"])
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError([why_unwritable(root, error)]) from None
    return root


def _distribution(axis: SearchAxis):
    import optuna.distributions as d

    if axis.choices:
        return d.CategoricalDistribution(list(axis.choices))
    if axis.integer:
        return d.IntDistribution(axis.low, axis.high, log=axis.log)
    return d.FloatDistribution(float(axis.low), float(axis.high), log=axis.log)


def _refuse_changed_space(study, axes, url) -> None:
    """A resumed study whose earlier trials drew a setting from another kind of range (a list where there was a
    range): Optuna raised "Cannot set different distribution kind to the same parameter name" mid-sweep."""
    import optuna.distributions as d

    earlier = {}
    for trial in study.get_trials(deepcopy=False):
        earlier.update(trial.distributions)
    for axis in axes:
        if axis.setting not in earlier:
            continue
        try:
            d.check_distribution_compatibility(earlier[axis.setting], _distribution(axis))
        except ValueError:
            raise SweepError([f"{axis.setting}: study {study.study_name!r} (in {url.removeprefix('sqlite:///')}) "
                              f"drew it from other values before ({_described(earlier[axis.setting])}); give "
                              f"--study a new name to start another study, or search the same kind of values"]
                             ) from None


def _described(distribution) -> str:
    choices = getattr(distribution, "choices", None)
    if choices is not None:
        return ", ".join(map(str, choices))
    return f"{distribution.low:g}..{distribution.high:g}{':log' if getattr(distribution, 'log', False) else ''}"


def _finished(study) -> list:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False) if t.state in states]


def importances(study) -> dict:
    """Optuna's parameter importances (fANOVA), or {} while there are too few finished trials."""
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2 or len({tuple(sorted(t.params.items())) for t in complete}) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError):   # e.g. every trial scored the same
        return {}


def _done(trial, run_dir=None, importance=None) -> TrialDone:
    state = trial.state.name.lower()
    return TrialDone(trial.number, dict(trial.params), trial.value if state == "complete" else None, state,
                     trial.user_attrs.get("run_dir", run_dir), importance or {})


def run_search(experiment, axes, search: str = "tpe", trials: int = 10, reporter=None, control=None,
               runs_dir="runs", seed=None, pruner=None, study_name=None) -> SearchResult:
    """Run the study up to ``trials`` finished trials (a resumed study runs only the rest).

    ``reporter(index, event)`` hears every run's events and a :class:`TrialDone` after each trial.
    ``control.stop()`` stops the trial in progress and the search.
    """
    import optuna

    from tapedeck.engine.queues.sweep import _label, _set
    from tapedeck.engine.training.run import RunControl, run

    if search not in SEARCHES:
        raise SweepError([f"search: expected one of {', '.join(SEARCHES)} (or grid), received {search!r}"])
    if not 1 <= int(trials) <= MAX_RUNS:
        raise SweepError([f"trials: expected 1 to {MAX_RUNS}, received {trials}"])
    axes = list(axes)
    check_axes(experiment, axes)
    reporter = reporter or (lambda index, event: None)
    control = control or RunControl()
    name = study_name or study_name_for(experiment, search)
    study, url, done = _open_study(runs_dir, name, search, experiment.training.seed if seed is None else seed,
                                   int(trials), pruner)
    _refuse_changed_space(study, axes, url)
    results: list[QueueResult] = []
    index = 0
    # A trial that fails (or is refused) still spends one of this call's runs: no endless retries.
    while len(_finished(study)) < int(trials) and index < int(trials) - done and not control.stop_requested:
        trial = study.ask()
        candidate = experiment.copy()
        values = {axis.setting: axis.suggest(trial) for axis in axes}
        for setting, value in values.items():
            _set(candidate, setting, value)
        candidate.name = "-".join([experiment.name, f"t{trial.number}"]
                                  + [_label(experiment, s, v) for s, v in values.items()])
        epochs = int(candidate.training.epochs)
        best: list[float] = []

        finished: list[Finished] = []

        def forward(event, index=index, trial=trial, epochs=epochs, best=best, finished=finished):
            if isinstance(event, Finished):
                finished.append(event)
            if isinstance(event, EpochEnd) and event.val_accuracy is not None:
                best.append(float(event.val_accuracy))
                trial.report(float(event.val_accuracy), event.epoch)
                if event.epoch < epochs and trial.should_prune():
                    control.prune(f"pruned after epoch {event.epoch}: validation accuracy "
                                  f"{event.val_accuracy:.1%} is below the median of the earlier trials there")
            reporter(index, event)

        run_dir = run(candidate, forward, control, runs_dir=runs_dir)
        reason = finished[-1].reason if finished else "failed"
        message = finished[-1].message if finished else "the run reported no end"
        control.rearm()
        if run_dir:
            trial.set_user_attr("run_dir", str(run_dir))
        if reason == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif reason in ("completed", "early_stopped") and best:
            study.tell(trial, max(best))
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        results.append(QueueResult(index, candidate.name, run_dir, reason, message))
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
        reporter(index, _done(frozen, run_dir, importances(study)))
        index += 1
        if reason == "stopped":
            break
    finished_trials = [_done(t) for t in _finished(study)]
    complete = [t for t in finished_trials if t.state == "complete"]
    best = max(complete, key=lambda t: t.value) if complete else None
    return SearchResult(name, url, results, finished_trials, best, done)
