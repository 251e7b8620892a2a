"""A run's folder on disk: what ran, what it learnt, and enough to carry on after a stop or a crash.

Layout (every file written atomically, so a killed process leaves either the old or the new file):

    experiment.json   exactly what ran (rewritten on resume with the new epoch count)
    history.csv       one row per completed epoch
    checkpoint.keras  the model after the last completed epoch, optimizer state included
    checkpoint.json   {"epoch": N}: written after checkpoint.keras, so it never names a missing epoch
    checkpoints/      an objective's run (GAN, VAE, agent) instead of checkpoint.keras: tf.train.Checkpoint
                      sets of its models and optimizers, the one checkpoint.json names read on resume
    model.keras       the final model (plain ``keras.models.load_model`` reads it)
    metrics.json      status, test metrics, confusion matrix, speed, versions, device
    .lock             the OS lock of the process training here (two resumes of one run cannot both write)
    .tmp/             scratch of exports in progress; a killed export's is removed on the next start
    tensorboard/      event files, when the experiment asks for them
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from tapedeck.engine.errors import TapedeckError
from tapedeck.engine.files import atomic_path, why_unwritable, write_text_atomic
from tapedeck.engine.text import shown

__all__ = ["RunFolder", "RunFolderError", "HISTORY_COLUMNS"]

LOCK_NAME = ".lock"   # held (fcntl.flock) by the process training in this folder
SCRATCH_NAME = ".tmp"   # the run's temporary area: export scratch, removed once its process is gone
SLUG_LENGTH = 60   # characters of the experiment's name kept in a run folder's name
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
        slug = slug[:SLUG_LENGTH].rstrip("-.") or "run"   # a 300-character name is "File name too long"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = Path(runs_dir)
        if root.exists() and not root.is_dir():
            raise RunFolderError(f"{root}: is a file, not a runs folder; give --out (or the runs folder setting) "
                                 "a folder, or move the file")
        for n in range(1000):
            candidate = root / (f"{stamp}-{slug}" if n == 0 else f"{stamp}-{slug}-{n}")
            try:
                root.mkdir(parents=True, exist_ok=True)
                candidate.mkdir()
            except FileExistsError:
                if not root.is_dir():
                    raise RunFolderError(f"{root}: a part of this path is a file; give a runs folder that "
                                         "can be created") from None
                continue
            except OSError as error:
                raise RunFolderError(why_unwritable(candidate, error)) from None
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
            reader = csv.DictReader(handle)
            # A several-head run adds each head's columns (digit_loss, val_parity_accuracy) after these.
            columns = list(HISTORY_COLUMNS) + [c for c in reader.fieldnames or () if c and c not in HISTORY_COLUMNS]
            for row in reader:
                rows.append({key: _parse_number(row.get(key, "") or "") for key in columns})
            return rows

    def history_until(self, epoch: int) -> list[dict]:
        """The rows of the epochs up to ``epoch`` (a resumed run's curves begin with them); none when the
        history cannot be read (a resumed run's plots then start at the resume, nothing else is lost)."""
        try:
            rows = self.read_history()
        except (OSError, ValueError):
            return []
        return [row for row in rows if isinstance(row.get("epoch"), (int, float)) and row["epoch"] <= epoch]

    def write_history(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        columns = list(HISTORY_COLUMNS)
        columns += [key for row in rows for key in row if key not in columns]
        columns = list(dict.fromkeys(columns))
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _format_number(row.get(key)) for key in columns})
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
        """The model after ``epoch``, and beside it the experiment it was trained from (what a resume
        compares an edited experiment.json against)."""
        with atomic_path(self.checkpoint_path) as temp:
            model.save(temp)
        state = {"epoch": int(epoch)}
        trained = self._read_json(self.experiment_path)
        if isinstance(trained, dict):
            state["experiment"] = trained
        write_text_atomic(self.checkpoint_state_path, json.dumps(state) + "\n")

    def checkpoint_state(self) -> dict:
        """checkpoint.json as written ({} when absent or unreadable)."""
        state = self._read_json(self.checkpoint_state_path)
        return state if isinstance(state, dict) else {}

    def checkpoint_epoch(self) -> int | None:
        epoch = self.checkpoint_state().get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not self._checkpoint_exists(epoch):
            return None
        return epoch

    def _checkpoint_exists(self, epoch: int) -> bool:
        """A classifier's checkpoint.keras, or the tf.train.Checkpoint set an objective's run (a GAN's, an
        agent's) writes after ``epoch`` (engine.objectives.checkpoints): either can be resumed."""
        return self.checkpoint_path.exists() or (self.path / "checkpoints" / f"epoch-{epoch:03d}.index").is_file()

    @staticmethod
    def _read_json(path: Path):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None

    # -- resuming -------------------------------------------------------------------------------
    def resume_epoch(self, experiment) -> int:
        """The checkpoint's epoch, once it is one this experiment can continue from; reads only.

        Refuses an impossible epoch (below 1, beyond the planned epochs) and an experiment.json
        edited to another model or other data since the checkpoint was written: the checkpoint holds
        the old model's weights, which the edited experiment does not describe.
        """
        epoch = self.checkpoint_epoch()
        trained = self.checkpoint_state().get("experiment")
        try:
            history = self.read_history()
        except (OSError, ValueError, UnicodeDecodeError, csv.Error) as error:
            raise RunFolderError(f"{self.history_path}: unreadable ({type(error).__name__}); a resume appends to "
                                 "it, so repair or remove it first") from None
        possible = _possible_epochs(trained, history)
        if epoch is None or not 1 <= epoch <= possible:
            named = shown(self.checkpoint_state().get("epoch"))
            raise RunFolderError(f"{self.checkpoint_state_path}: names epoch {named}, but this run's checkpoint "
                                 f"lies between epoch 1 and {possible} (its history and planned epochs); the file "
                                 "was edited or damaged: start a new run")
        planned = int(experiment.training.epochs)
        if epoch > planned:
            raise RunFolderError(f"{self.path}: the checkpoint is after epoch {epoch}, beyond the {planned} epoch(s) "
                                 f"asked for; resume with more epochs (--epochs {epoch + 1} or more)")
        if isinstance(trained, dict):
            changed = _resume_differences(trained, experiment)
            if changed:
                listed = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
                raise RunFolderError(f"{self.experiment_path}: differs from the experiment the checkpoint was "
                                     f"trained with ({listed}); a resume continues the same model on the same "
                                     "data: undo the edit, or start a new run with the edited file")
        return epoch

    @contextlib.contextmanager
    def locked(self):
        """Hold the run folder's OS lock while training writes to it; a second holder is refused.

        ``fcntl.flock`` on ``.lock``: the kernel releases it when the process ends, however it ends
        (a kill -9 included), so a stale lock never blocks a later resume.
        """
        import fcntl

        handle = open(self.path / LOCK_NAME, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RunFolderError(f"{self.path}: another Tapedeck process is training this run (it holds "
                                 f"{LOCK_NAME}); wait for it to finish or stop it, then resume") from None
        try:
            yield self
        finally:
            handle.close()   # closing the descriptor releases the lock

    # -- scratch --------------------------------------------------------------------------------
    @property
    def scratch_root(self) -> Path:
        return self.path / SCRATCH_NAME

    @contextlib.contextmanager
    def scratch(self):
        """A fresh folder in the run's temporary area, removed afterwards; dead processes' leftovers go first.

        A kill -9 during an export leaves its scratch behind; it lies in the run folder (not the
        system's temp directory) and goes on the next start, once its process is gone.
        """
        self.clean_scratch()
        folder = self.scratch_root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def clean_scratch(self) -> None:
        """Remove scratch folders whose process is no longer alive."""
        if not self.scratch_root.is_dir():
            return
        for item in self.scratch_root.iterdir():
            pid = item.name.split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(item, ignore_errors=True)

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


# What a resume may not change: the checkpoint's weights belong to this model, shaped for this data.
_RESUME_FIXED = ("model.", "data.source", "data.path", "data.image_size", "data.color_mode", "data.label_mode",
                 "data.labels", "training.loss")


def _resume_differences(trained: dict, experiment) -> list[str]:
    """"key: old → new" for each setting a resume cannot change (the experiment's own differences)."""
    from tapedeck.engine.spec.diff import experiment_differences

    try:
        differences = experiment_differences(trained, experiment.to_dict())
    except Exception:  # noqa: BLE001 — a record this version cannot read proves nothing either way
        return []
    return [f"{d.path}: {shown(d.left)} → {shown(d.right)}" for d in differences
            if d.path.startswith(_RESUME_FIXED)]


def _possible_epochs(trained, history: list[dict]) -> int:
    """The latest epoch a checkpoint of this run can be after: no later than the epochs its experiment
    planned, nor than its history (each epoch's row is written before its checkpoint)."""
    planned = trained.get("training", {}).get("epochs") if isinstance(trained, dict) else None
    rows = max((row["epoch"] for row in history if isinstance(row.get("epoch"), int)), default=0)
    return min(planned, rows) if isinstance(planned, int) and not isinstance(planned, bool) else rows


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
