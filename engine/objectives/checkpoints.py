"""Checkpoints of an objective's run (a GAN's, a VAE's, an agent's) and resuming from them.

Every model and optimizer of the run goes into one ``tf.train.Checkpoint`` under the run folder's
checkpoints/ (named by the epoch, or the update, it follows; the last two kept); checkpoint.json is
written after it, atomically, and names that set — so a kill between the two resumes from the set
before, never from half a set. checkpoint.json also keeps what the run needs beside its weights to go
on sensibly (an agent's update counter, random generator and running figures). A resume checks the
folder first (a checkpoint is there, steps are left, the models and data are the ones it was trained
with), each refusal one line with the way out.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from tapedeck.engine.files import write_text_atomic
from tapedeck.engine.training.problems import UserProblemError

__all__ = ["CHECKPOINTS", "CHECKPOINT_EVERY_S", "CheckpointClock", "checkpoint_file", "save_checkpoint",
           "open_for_resume", "restore_checkpoint"]

CHECKPOINTS = "checkpoints"   # the run folder's tf.train.Checkpoint files, one set per saved epoch (the last two kept)
# A checkpoint once this many seconds have passed since the last (and after the last epoch, and at a stop): a
# digits GAN's epoch or an agent's update lasts under a second, and writing every model and optimizer after
# each cost more than the training; a kill loses at most this much. A digits GAN's set (both models, both
# optimizers) takes ~70 ms to write: every 5 s it cost 1.4 % of the run, every 20 s 0.35 % (as an agent's).
CHECKPOINT_EVERY_S = 20.0


class CheckpointClock:
    """When the next checkpoint is due: after ``every`` seconds, or at the planned end."""

    def __init__(self, done: int = 0, every: float = CHECKPOINT_EVERY_S):
        self.last, self.when, self.every = int(done), time.perf_counter(), float(every)

    def due(self, step: int, planned: int) -> bool:
        return step > self.last and (step >= planned or time.perf_counter() - self.when >= self.every)

    def saved(self, step: int) -> None:
        self.last, self.when = int(step), time.perf_counter()


def checkpoint_file(folder, epoch: int) -> Path | None:
    """The prefix of the set saved after ``epoch`` (what tf.train.Checkpoint reads); None when absent."""
    prefix = Path(folder.path) / CHECKPOINTS / f"epoch-{epoch:03d}"
    return prefix if (prefix.parent / f"{prefix.name}.index").is_file() else None


def save_checkpoint(folder, objects: dict, epoch: int, experiment, state: dict | None = None) -> None:
    """``objects`` (models and optimizers, by name) after ``epoch``, then checkpoint.json naming it with the
    experiment trained and ``state`` (JSON: what else the run needs to go on); older sets but one removed."""
    import tensorflow as tf

    where = Path(folder.path) / CHECKPOINTS
    tf.train.Checkpoint(**objects).write(str(where / f"epoch-{epoch:03d}"))
    record = {"epoch": int(epoch), "experiment": experiment.to_dict()}
    if state:
        record["state"] = state
    write_text_atomic(folder.checkpoint_state_path, json.dumps(record) + "\n")
    saved = sorted({path.name.split(".")[0] for path in where.glob("epoch-*.index")})
    for old in where.glob("epoch-*"):
        if old.name.split(".")[0] not in saved[-2:]:
            with contextlib.suppress(OSError):
                old.unlink()


def open_for_resume(resume_dir, experiment, held, unit: str = "epoch"):
    """The run folder to continue, checked, locked (``held``: an ExitStack) and its history cut to the
    checkpoint; returns (folder, epoch, state). ``unit`` names what ``training.epochs`` counts."""
    from tapedeck.engine.runs.folder import RunFolder, RunFolderError

    folder = RunFolder(resume_dir)
    record = folder.checkpoint_state()
    epoch = record.get("epoch")
    if not folder.path.is_dir() or not isinstance(epoch, int) or not checkpoint_file(folder, epoch):
        raise UserProblemError([f"{folder.path}: holds no checkpoint (the run ended before writing its first: "
                                f"one is written after an {unit} every few seconds, and at a stop); start a new run "
                                "instead of resuming"])
    planned = int(experiment.training.epochs)
    if epoch >= planned:
        raise UserProblemError([f"{folder.path}: all {planned} planned {unit}(s) are trained; resume with more "
                                f"{unit}s (--epochs {epoch + 1} or more)"])
    trained = record.get("experiment") or {}
    mine = experiment.to_dict()
    changed = [key for key in ("objective", "models", "data") if trained.get(key) != mine.get(key)]
    if changed:
        raise UserProblemError([f"{folder.experiment_path}: its {', '.join(changed)} differ from what the "
                                "checkpoint was trained with; a resume continues the same models on the same "
                                "data: undo the edit, or start a new run"])
    try:
        held.enter_context(folder.locked())
    except RunFolderError as error:
        raise UserProblemError([str(error)]) from None
    folder.truncate_history(epoch)
    folder.write_experiment(experiment)   # its epochs the new total, so a later resume goes on to them
    state = record.get("state")
    return folder, epoch, state if isinstance(state, dict) else {}


def restore_checkpoint(objects: dict, folder, epoch: int) -> None:
    """``objects`` (built, optimizers too) as the set after ``epoch`` left them; one line when it is damaged."""
    import tensorflow as tf

    from tapedeck.engine.training.run import _describe

    path = checkpoint_file(folder, epoch)
    try:
        tf.train.Checkpoint(**objects).read(str(path)).assert_existing_objects_matched()
    except Exception as error:  # noqa: BLE001 — a damaged or foreign checkpoint is the person's to see
        raise UserProblemError([f"{path}: could not be restored ({_describe(error).splitlines()[0]}); the "
                                "checkpoint is damaged or of other models: start a new run"]) from None
