"""The runs folder as a list: one summary per run, read from what ``engine.runs.folder`` wrote there.

The Runs panel and ``tapedeck runs`` both show this list, so it must survive whatever a runs folder
holds: a run still training (no metrics.json yet), one killed mid-epoch, a folder copied in by hand,
a stray file. Such entries get a ``note`` saying what is missing instead of raising; folders that hold
no experiment.json at all are not runs and are left out unless ``include_foreign`` asks for them.
Reading never imports TensorFlow, so the panel can fill before TensorFlow has loaded.
"""
from __future__ import annotations

import csv
import math
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.runs.folder import RunFolder
from tapedeck.engine.spec.json_text import TooDeepError, read_json_text
from tapedeck.engine.text import cut, percent

__all__ = ["RunSummary", "RunIndexError", "read_run", "list_runs", "format_runs_table", "best_val_accuracy",
           "delete_run", "STATUSES"]

# "incomplete": no metrics.json and no sign of life (a crash, a kill, or still running in another process).
STATUSES = ("completed", "stopped", "early_stopped", "diverged", "failed", "pruned", "incomplete", "not a run")
_STAMP = re.compile(r"^(\d{8}-\d{6})-")


class RunIndexError(TapedeckError):
    """A path given as a run (or runs folder) cannot be used; the message names it and the fix."""


@dataclass
class RunSummary:
    """One row of the runs table. Numbers are None when the run did not get that far."""

    path: Path
    name: str
    date: str  # "YYYY-mm-dd HH:MM:SS", from the folder name (when the run started), else the folder's time
    dataset: str | None = None
    api: str | None = None
    loop: str | None = None
    epochs: int | None = None  # completed epochs (history rows)
    epochs_planned: int | None = None
    best_val_accuracy: float | None = None
    best_epoch: int | None = None  # the epoch of best_val_accuracy
    test_accuracy: float | None = None
    status: str = "incomplete"
    note: str = ""  # what is missing or unreadable, in plain words
    history: list[dict] = field(default_factory=list, repr=False)
    metrics: dict = field(default_factory=dict, repr=False)
    experiment: dict | None = field(default=None, repr=False)  # the experiment file as JSON (not validated)

    @property
    def is_run(self) -> bool:
        return self.status != "not a run"


def read_run(path) -> RunSummary:
    """Summarise one run folder; never raises for what is (or is not) inside it."""
    path = Path(path)
    summary = RunSummary(path=path, name=path.name, date=_date(path))
    if not path.is_dir():
        summary.status, summary.note = "not a run", "not a folder"
        return summary
    folder = RunFolder(path)
    notes: list[str] = []
    experiment = _read_json(folder.experiment_path, notes)
    if experiment is None:
        summary.status = "not a run"
        summary.note = "no experiment.json: not a Tapedeck run folder" if not notes else notes[0]
        return summary
    if isinstance(experiment, dict):
        summary.experiment = experiment
        _fill_from_experiment(summary, experiment)
    else:
        notes.append("experiment.json is not a JSON object")
    try:
        summary.history = folder.read_history()
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as error:   # csv.Error: a field past csv's limit
        notes.append(f"history.csv unreadable ({type(error).__name__}: {cut(str(error))})")
    summary.history = [row for row in summary.history if isinstance(row.get("epoch"), int)]
    summary.epochs = len(summary.history)
    summary.best_val_accuracy, summary.best_epoch = best_val_accuracy(summary.history)

    metrics = _read_json(folder.metrics_path, notes) if folder.metrics_path.exists() else None
    if isinstance(metrics, dict):
        summary.metrics = metrics
        status = metrics.get("status")
        summary.status = status if status in STATUSES else "incomplete"
        if status not in STATUSES:
            notes.append(f"metrics.json has no known status ({status!r})")
        test = metrics.get("test")
        if isinstance(test, dict):
            summary.test_accuracy = _number(test.get("accuracy"))
        if isinstance(metrics.get("epochs_completed"), int):
            summary.epochs = max(summary.epochs, metrics["epochs_completed"])
        if summary.status == "failed" and metrics.get("message"):
            notes.append(str(metrics["message"]).splitlines()[0])
    elif not folder.metrics_path.exists():
        summary.status = "incomplete"
        notes.append("no metrics.json: still running elsewhere, or killed before it finished")
    summary.note = "; ".join(notes)
    return summary


def list_runs(runs_dir="runs", include_foreign: bool = False, read=None) -> list[RunSummary]:
    """Every run under ``runs_dir``, newest first; a missing folder is an empty list (nothing trained yet).

    ``read(folder)`` summarises one folder (``engine.runs.listing`` passes its cached reader)."""
    root = Path(runs_dir)
    if root.exists() and not root.is_dir():
        raise RunIndexError(f"{root}: is a file, not a runs folder; give the folder that holds run folders")
    if not root.exists():
        return []
    children = [child for child in sorted(root.iterdir()) if child.is_dir() and not child.name.startswith(".")]
    summaries = [(read or read_listed)(child) for child in children]
    if not include_foreign:
        summaries = [s for s in summaries if s.is_run]
    summaries.sort(key=lambda s: (s.date, s.path.name), reverse=True)
    return summaries


def read_listed(path: Path) -> RunSummary:
    """``read_run`` for the listing: a folder it cannot make sense of is one row with a note, and the
    rest of the runs are still listed (read_run handles what it knows; this is the last guard)."""
    try:
        return read_run(path)
    except Exception as error:  # noqa: BLE001 — one bad folder must never break the listing
        return RunSummary(path=path, name=path.name, date=_date(path), status="incomplete",
                          note=f"unreadable ({type(error).__name__}: {cut(str(error))})")


def best_val_accuracy(history: list[dict]) -> tuple[float | None, int | None]:
    """(best validation accuracy, its epoch); NaN rows and runs without validation give (None, None)."""
    best = None
    for row in history:
        value = _number(row.get("val_accuracy"))
        if value is not None and (best is None or value > best[0]):
            best = (value, row.get("epoch"))
    return best if best is not None else (None, None)


def format_runs_table(summaries: list[RunSummary]) -> str:
    """The table ``tapedeck runs`` prints: one line per run, notes under the runs that have them."""
    if not summaries:
        return "no runs"
    headers = ("name", "date", "dataset", "api", "loop", "epochs", "best val acc", "test acc", "status")
    rows = []
    for s in summaries:
        epochs = "-" if s.epochs is None else (f"{s.epochs}/{s.epochs_planned}" if s.epochs_planned else str(s.epochs))
        rows.append((s.path.name, s.date, s.dataset or "-", s.api or "-", s.loop or "-", epochs,
                     percent(s.best_val_accuracy), percent(s.test_accuracy), s.status))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for s, row in zip(summaries, rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if s.note:
            lines.append(f"    note: {s.note}")
    return "\n".join(lines)


def delete_run(path) -> None:
    """Remove a run folder; refuses anything that does not look like one, so a slip cannot wipe a project."""
    path = Path(path)
    if not path.is_dir():
        raise RunIndexError(f"{path}: no such run folder")
    if not (path / "experiment.json").is_file():
        raise RunIndexError(f"{path}: holds no experiment.json, so it is not a Tapedeck run; "
                            "delete it by hand if you mean to")
    shutil.rmtree(path)


def _fill_from_experiment(summary: RunSummary, experiment: dict) -> None:
    data, model, training = (experiment.get(k) if isinstance(experiment.get(k), dict) else {}
                             for k in ("data", "model", "training"))
    if isinstance(experiment.get("name"), str):
        summary.name = experiment["name"]
    source = data.get("source")
    if isinstance(source, str):
        summary.dataset = source + (f" ({Path(str(data['path'])).name})" if data.get("path") else "")
        if isinstance(data.get("limit"), int):
            summary.dataset += f" [{data['limit']}]"
    summary.api = model.get("api") if isinstance(model.get("api"), str) else None
    summary.loop = training.get("loop") if isinstance(training.get("loop"), str) else None
    summary.epochs_planned = training.get("epochs") if isinstance(training.get("epochs"), int) else None


def _read_json(path: Path, notes: list[str]):
    if not path.exists():
        return None
    try:
        return read_json_text(path.read_text(encoding="utf-8"), unique_keys=False)
    except TooDeepError as error:
        notes.append(f"{path.name} unreadable ({error})")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        notes.append(f"{path.name} unreadable ({type(error).__name__}: {cut(str(error))})")
    return None


def _date(path: Path) -> str:
    match = _STAMP.match(path.name)
    if match:
        try:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(match.group(1), "%Y%m%d-%H%M%S"))
        except ValueError:
            pass
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    except OSError:
        return ""


def _number(value) -> float | None:
    """A finite float, or None (NaN is written as the string "nan" by runs._json_safe)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None
