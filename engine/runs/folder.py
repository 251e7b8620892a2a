"""A run's folder on disk: what ran, what it learnt, and enough to carry on after a stop or a crash.

Layout (every file written atomically, so a killed process leaves either the old or the new file):

    experiment.json   exactly what ran (rewritten on resume with the new epoch count)
    history.csv       one row per completed epoch
    checkpoint.keras  the model after the last completed epoch, optimizer state included
    checkpoint.json   {"epoch": N}: written after checkpoint.keras, so it never names a missing epoch
    model.keras       the final model (plain ``keras.models.load_model`` reads it)
    metrics.json      status, test metrics, confusion matrix, speed, versions, device
    tensorboard/      event files, when the experiment asks for them
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.files import atomic_path, write_text_atomic

__all__ = ["RunFolder", "RunFolderError", "HISTORY_COLUMNS"]

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")


class RunFolderError(TapedeckError):
    """A folder given to resume from is not a run Tapedeck can continue."""


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)

    # -- creation -------------------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir, name: str) -> RunFolder:
        """``runs/<YYYYmmdd-HHMMSS>-<name>/``; a numeric suffix keeps two runs in one second apart."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name or "run").strip("-.") or "run"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = Path(runs_dir)
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            candidate = root / (f"{stamp}-{slug}" if n == 0 else f"{stamp}-{slug}-{n}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return cls(candidate)
        raise RunFolderError(f"{root}: could not create a new run folder (1000 runs named {slug!r} this second)")

    @classmethod
    def open_for_resume(cls, path) -> RunFolder:
        folder = cls(path)
        if not folder.path.is_dir():
            raise RunFolderError(f"{folder.path}: no such run folder; give the folder a previous run wrote")
        if folder.checkpoint_epoch() is None:
            raise RunFolderError(
                f"{folder.path}: holds no checkpoint (the run ended before its first epoch finished); "
                "start a new run instead of resuming"
            )
        return folder

    # -- paths ----------------------------------------------------------------------------------
    @property
    def experiment_path(self) -> Path:
        return self.path / "experiment.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.keras"

    @property
    def checkpoint_state_path(self) -> Path:
        return self.path / "checkpoint.json"

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    # -- experiment -----------------------------------------------------------------------------
    def write_experiment(self, experiment) -> None:
        write_text_atomic(self.experiment_path, json.dumps(experiment.to_dict(), indent=2) + "\n")

    # -- history --------------------------------------------------------------------------------
    def read_history(self) -> list[dict]:
        if not self.history_path.exists():
            return []
        with open(self.history_path, newline="", encoding="utf-8") as handle:
            rows = []
            for row in csv.DictReader(handle):
                rows.append({key: _parse_number(row.get(key, "")) for key in HISTORY_COLUMNS})
            return rows

    def write_history(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _format_number(row.get(key)) for key in HISTORY_COLUMNS})
        write_text_atomic(self.history_path, buffer.getvalue())

    def append_history(self, row: dict) -> None:
        """Rewrite the whole (small) file: appending in place could leave half a row after a kill."""
        rows = [r for r in self.read_history() if r["epoch"] is not None and r["epoch"] < row["epoch"]]
        rows.append(row)
        self.write_history(rows)

    def truncate_history(self, epochs: int) -> None:
        """On resume: drop rows past the checkpoint (a kill between history and checkpoint)."""
        rows = [r for r in self.read_history() if r["epoch"] is not None and r["epoch"] <= epochs]
        self.write_history(rows)

    # -- models ---------------------------------------------------------------------------------
    def save_checkpoint(self, model, epoch: int) -> None:
        with atomic_path(self.checkpoint_path) as temp:
            model.save(temp)
        write_text_atomic(self.checkpoint_state_path, json.dumps({"epoch": int(epoch)}) + "\n")

    def checkpoint_epoch(self) -> int | None:
        try:
            state = json.loads(self.checkpoint_state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        epoch = state.get("epoch") if isinstance(state, dict) else None
        if not isinstance(epoch, int) or not self.checkpoint_path.exists():
            return None
        return epoch

    def save_model(self, model) -> None:
        with atomic_path(self.model_path) as temp:
            model.save(temp)

    def keep_checkpoint_as_model(self) -> bool:
        """After a divergence the live weights are NaN: the last good epoch becomes the model."""
        if not self.checkpoint_path.exists():
            return False
        with atomic_path(self.model_path) as temp:
            shutil.copyfile(self.checkpoint_path, temp)
        return True

    # -- metrics --------------------------------------------------------------------------------
    def write_metrics(self, metrics: dict) -> None:
        write_text_atomic(self.metrics_path, json.dumps(_json_safe(metrics), indent=2) + "\n")

    def read_metrics(self) -> dict:
        try:
            return json.loads(self.metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)


def _parse_number(text):
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _format_number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _json_safe(value):
    """NaN/inf are not JSON: write them as strings a reader can still recognise."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
