"""A trained model (or a whole run) written in the forms people take elsewhere.

- ``keras``: the native ``.keras`` file (``keras.models.load_model`` reads it; the subclassed
  model reloads because ``engine.model.build`` registers it).
- ``savedmodel``: a TensorFlow SavedModel for serving, written by Keras's own ``model.export``
  (``serve`` endpoint and ``serving_default`` signature; TF Serving and ``tf.saved_model.load`` read it)
  of the model without its augmentation layers (see ``engine.model.inference``: exported as they are
  they would augment every request).
- ``tflite``: a TensorFlow Lite flatbuffer from ``tf.lite.TFLiteConverter.from_saved_model`` over that
  SavedModel (same inference graph), the route Keras's own ``export(format="litert")`` takes. In
  TF 2.21 the converter is still ``tf.lite``; only the *interpreter* is deprecated there in favour of
  the ``ai_edge_litert`` package, which checks the file before it is written (``engine.runs.portable``).
- ``onnx``: an ONNX model through tf2onnx, checked in onnxruntime before it is written
  (``engine.runs.portable``).
- ``script``: the standalone training script (``engine.codegen.script``) for an API × loop.

A model of several inputs or heads keeps its names in every format: the SavedModel's ``serving_default``
takes each input by name and returns a dict by head, the TFLite file carries that signature, and the ONNX
graph has one input per model input and one output per head; the check compares every head.
- ``history``: the epoch history as CSV.

Everything is written atomically (a temporary name beside the target, then a rename), so a crash or a
full disk leaves either the old export or none, never half of one. Exports of a run go into
``<run>/exports/`` unless told otherwise: the run's own ``model.keras`` stays what training wrote
(with its optimizer state, ~3x the size of the exported ``.keras``, which is saved without it).
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tapedeck.engine.files import atomic_path, keras_file_damage, write_bytes_atomic, write_text_atomic
from tapedeck.engine.runs.export_common import ExportError, quiet
from tapedeck.engine.text import cut

__all__ = ["EXPORT_FORMATS", "ExportError", "ExportResult", "load_run_model", "save_keras", "save_savedmodel",
           "save_tflite", "tflite_bytes", "save_onnx", "save_script", "save_history_csv", "history_csv",
           "export_run", "default_export_path", "quiet"]

EXPORT_FORMATS = ("keras", "savedmodel", "tflite", "onnx", "script", "history")
_SUFFIX = {"keras": ".keras", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx", "script": ".py",
           "history": ".csv"}


@dataclass(frozen=True)
class ExportResult:
    format: str
    path: Path
    bytes: int  # total size on disk (a SavedModel is a folder)
    seconds: float
    # tflite / onnx: the largest difference between the file's predictions and the app's model
    max_difference: float | None = None


def load_run_model(run_dir, from_checkpoint: bool = False, role: str | None = None):
    """The model a run folder holds (``model.keras``, else the last checkpoint), without its optimizer.

    ``from_checkpoint`` reads checkpoint.keras even when model.keras is there: what to do when the
    final model is damaged, which the error for a damaged model.keras offers. ``role`` names one model
    of a run with several (a GAN's ``generator.keras``).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir}: no such run folder; give a folder `tapedeck runs` lists")
    if role is not None:
        path = run_dir / f"{role}.keras"
        if not path.is_file():
            raise ExportError(f"{run_dir}: holds no {role}.keras (the run stopped before its first step, or "
                              "diverged); train it again")
        return _load(path, "train the run again")
    model_path, checkpoint = run_dir / "model.keras", run_dir / "checkpoint.keras"
    if from_checkpoint or not model_path.is_file():
        if checkpoint.is_file():
            return _load(checkpoint, "the checkpoint is damaged too; train the run again")
        wanted = "checkpoint.keras" if from_checkpoint else "model.keras or checkpoint.keras"
        raise ExportError(f"{run_dir}: holds no {wanted} (the run ended before its first epoch); train it again")
    offer = "train the run again"
    if checkpoint.is_file():
        from tapedeck.engine.runs.folder import RunFolder

        epoch = RunFolder(run_dir).checkpoint_epoch()
        offer = (f"its checkpoint.keras (after epoch {epoch}) is there: export that instead "
                 f"(tapedeck export {run_dir} --from-checkpoint)")
    return _load(model_path, offer)


def _load(path: Path, fix: str):
    """``keras.models.load_model`` of a run's file, or an ExportError naming the damaged file and ``fix``."""
    import keras

    import tapedeck.engine.model.build  # noqa: F401 — registers TapedeckModel so a subclassed model reloads

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 — a damaged file is a user-facing problem
        raise ExportError(f"{path}: damaged, it does not load ({cut(keras_file_damage(path, error))}); {fix}") from None


def save_keras(model, path) -> Path:
    path = Path(path)
    if path.suffix != ".keras":
        raise ExportError(f"{path}: a Keras model file must end in .keras")
    with atomic_path(path) as temp:
        model.save(temp)
    return path


def save_savedmodel(model, path, experiment=None) -> Path:
    """``model.export`` into a temporary folder beside ``path``, then swapped in with renames.

    Augmentation layers are left out first (``engine.model.inference``): exported as they are, they
    would augment every request.
    """
    from tapedeck.engine.model.inference import inference_model

    path = Path(path)
    if path.is_dir() and any(path.iterdir()):
        _refuse_foreign_files(path)
    model = inference_model(model, experiment)
    with _atomic_folder(path) as temp:
        _export(model, temp)
    return path


def _export(model, folder) -> None:
    """Keras's SavedModel export. A model of several inputs or heads is served with a signature naming
    each input and head (``serving_default(image=..., extra=...)`` → ``{"digit": ..., "parity": ...}``):
    Keras would name a subclass's dict input ``args_0``."""
    import tensorflow as tf

    from tapedeck.engine.model.inference import input_shapes, takes_dicts

    options = {}
    if takes_dicts(model):
        options["input_signature"] = [{name: tf.TensorSpec((None, *shape), tf.float32, name=name)
                                       for name, shape in input_shapes(model).items()}]
    with quiet():
        model.export(str(folder), format="tf_saved_model", verbose=False, **options)


def tflite_bytes(model, experiment=None, scratch=None) -> bytes:
    """The TFLite flatbuffer of ``model``: SavedModel first (as Keras's LiteRT export does), then convert.

    Augmentation layers are left out first (``engine.model.inference``): they are identity at
    inference, but their random ops are not TFLite built-ins.
    """
    import tensorflow as tf

    from tapedeck.engine.model.inference import inference_model

    model = inference_model(model, experiment)
    # ``scratch``: a run folder's temporary area, so a killed export leaves nothing in the system's temp dir.
    with tempfile.TemporaryDirectory(prefix="tapedeck-tflite-", dir=scratch) as folder:
        saved = Path(folder) / "saved_model"
        _export(model, saved)
        with quiet():
            return tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()


def save_tflite(model, path, experiment=None, scratch=None) -> Path:
    return _save_checked("tflite", model, path, tflite_bytes(model, experiment, scratch))[0]


def save_onnx(model, path, experiment=None) -> Path:
    from tapedeck.engine.runs.portable import onnx_bytes

    return _save_checked("onnx", model, path, onnx_bytes(model, experiment))[0]


def _save_checked(fmt: str, model, path, content: bytes) -> tuple[Path, float]:
    """``content`` written to ``path`` once its runtime predicts what ``model`` does; (path, difference)."""
    from tapedeck.engine.runs.portable import verify

    path = Path(path)
    if path.suffix != _SUFFIX[fmt]:
        words = {"tflite": "a TensorFlow Lite file", "onnx": "an ONNX file"}[fmt]
        raise ExportError(f"{path}: {words} must end in {_SUFFIX[fmt]}")
    difference = verify(fmt, model, content)
    write_bytes_atomic(path, content)
    return path, difference


def save_script(experiment, path, api=None, loop=None) -> Path:
    from tapedeck.engine.codegen.formatting import ruff_formatted
    from tapedeck.engine.codegen.script import generate_code

    try:
        source = generate_code(experiment, api=api, loop=loop)
    except ValueError as error:
        raise ExportError(str(error)) from None
    write_text_atomic(path, ruff_formatted(source))
    return Path(path)


def history_csv(rows: list[dict]) -> str:
    """The history rows (``RunFolder.read_history`` form) as CSV text, columns as in history.csv."""
    from tapedeck.engine.runs.folder import HISTORY_COLUMNS

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row.get(key) for key in HISTORY_COLUMNS})
    return buffer.getvalue()


def save_history_csv(rows: list[dict], path) -> Path:
    write_text_atomic(path, history_csv(rows))
    return Path(path)


def default_export_path(run_dir, fmt: str, api=None, loop=None, role=None) -> Path:
    """``<run>/exports/model.keras``, ``saved_model/``, ``model.tflite``, ``train_<api>_<loop>.py``, ``history.csv``
    (``<role>.keras``, ``<role>_saved_model/`` ... for one model of several)."""
    stem = role or "model"
    names = {"keras": f"{stem}.keras", "savedmodel": f"{role}_saved_model" if role else "saved_model",
             "tflite": f"{stem}.tflite", "onnx": f"{stem}.onnx",
             "script": f"train_{api or 'model'}_{loop or 'fit'}.py", "history": "history.csv"}
    return Path(run_dir) / "exports" / names[fmt]


def export_run(run_dir, fmt: str, out=None, api=None, loop=None, from_checkpoint: bool = False,
               model: str | None = None) -> ExportResult:
    """Export a run folder's model (or script, or history) as ``fmt``; ``out`` a file/folder path or None.

    ``out`` naming an existing folder (other than for ``savedmodel``, which *is* a folder) puts the
    default file name inside it. ``model`` picks one model of a run with several (a GAN's generator).
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, received {fmt!r}")
    run_dir = Path(run_dir)
    if not (run_dir / "experiment.json").is_file():
        raise ExportError(f"{run_dir}: not a run folder (no experiment.json); give a folder `tapedeck runs` lists")
    experiment = _run_experiment(run_dir)
    experiment, role = _one_model(experiment, model, fmt)
    api = api or (experiment.model.api if role is None else None)
    loop = loop or experiment.training.loop
    target = _target(run_dir, fmt, out, api, loop, role)
    if fmt in ("tflite", "onnx"):
        from tapedeck.engine.runs.portable import require_runtimes

        require_runtimes(fmt)   # a missing package is named before the model is loaded and converted
    started = time.perf_counter()
    difference = None
    if fmt == "script":
        save_script(experiment, target, api=api, loop=loop)
    elif fmt == "history":
        from tapedeck.engine.runs.folder import RunFolder

        save_history_csv(RunFolder(run_dir).read_history(), target)
    else:
        from tapedeck.engine.runs.folder import RunFolder

        model = load_run_model(run_dir, from_checkpoint, role)
        if role is not None:   # the converters read the one model's stack
            import dataclasses

            from tapedeck.engine.spec.objectives import ObjectiveSpec

            experiment = dataclasses.replace(experiment, model=experiment.models[role], models={},
                                             objective=ObjectiveSpec())

        def tflite(m, t):
            with RunFolder(run_dir).scratch() as scratch:
                return _save_checked("tflite", m, t, tflite_bytes(m, experiment, scratch))

        def onnx(m, t):
            from tapedeck.engine.runs.portable import onnx_bytes

            return _save_checked("onnx", m, t, onnx_bytes(m, experiment))

        writers = {"keras": save_keras, "savedmodel": lambda m, t: save_savedmodel(m, t, experiment),
                   "tflite": tflite, "onnx": onnx}
        try:
            written = writers[fmt](model, target)
            if isinstance(written, tuple):
                difference = written[1]
        except ExportError:
            raise
        except OSError as error:
            raise ExportError(f"{target}: could not be written ({error.strerror or error})") from None
        except Exception as error:  # noqa: BLE001 — a converter refusal is reported, not a traceback
            raise ExportError(f"{run_dir}: the model could not be exported as {fmt} "
                              f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None
    return ExportResult(fmt, target, _size(target), time.perf_counter() - started, difference)


def _run_experiment(run_dir: Path):
    from tapedeck.engine.spec.experiment import ExperimentError, load_experiment

    try:
        return load_experiment(run_dir / "experiment.json")
    except ExperimentError as error:
        raise ExportError(str(error).splitlines()[0]) from None


def _one_model(experiment, model: str | None, fmt: str):
    """(experiment, role): which model of a run with several to export; ``--model`` is for those alone."""
    if experiment.objective.is_classify:
        if model is not None:
            raise ExportError("--model: this run trained one model (a classifier); leave --model out")
        return experiment, None
    roles = list(experiment.models)
    if fmt in ("script", "history"):
        return experiment, None
    if model is None:
        raise ExportError(f"--model: this run trained {' and '.join(roles)}; say which to export "
                          f"(--model {roles[0]})")
    if model not in roles:
        raise ExportError(f"--model: this run has no model {model!r}; its models: {', '.join(roles)}")
    return experiment, model


def _target(run_dir: Path, fmt: str, out, api, loop, role=None) -> Path:
    default = default_export_path(run_dir, fmt, api, loop, role)
    if out is None:
        return default
    out = Path(out)
    if fmt != "savedmodel" and out.is_dir():
        return out / default.name
    if fmt == "savedmodel" and out.exists() and not out.is_dir():
        raise ExportError(f"{out}: is a file; a SavedModel is a folder, give a new folder name")
    if fmt == "savedmodel" and out.is_dir() and any(out.iterdir()):
        _refuse_foreign_files(out)
    if _SUFFIX[fmt] and out.suffix != _SUFFIX[fmt]:
        raise ExportError(f"{out}: a {fmt} export must end in {_SUFFIX[fmt]} (or name an existing folder)")
    return out


# What a SavedModel export writes (Keras's ``model.export``, TensorFlow's writer): a folder holding only
# these is an earlier export and may be replaced whole.
SAVEDMODEL_ENTRIES = frozenset({"saved_model.pb", "saved_model.pbtxt", "fingerprint.pb", "variables", "assets",
                                "assets.extra", "keras_metadata.pb"})


def _refuse_foreign_files(out: Path) -> None:
    """A SavedModel is replaced as a whole folder: never when it holds anything an export did not write (a
    person's notes.txt was deleted with the old export)."""
    entries = sorted(p.name for p in out.iterdir())
    foreign = [name for name in entries if name not in SAVEDMODEL_ENTRIES]
    if not foreign:
        return
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    if "saved_model.pb" in entries:
        raise ExportError(f"{out}: holds files a SavedModel export does not write ({shown}); the export replaces "
                          "the folder whole, so move them out first or give a new folder name")
    raise ExportError(f"{out}: is a folder with other files in it ({shown}); give a new folder name for the "
                      "SavedModel")


@contextlib.contextmanager
def _atomic_folder(path: Path):
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` (an older export too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp = path.with_name(f"{path.name}.tmp-{tag}")
    try:
        yield temp
        if not temp.is_dir():
            raise FileNotFoundError(f"{temp}: the writer created no folder, so {path} was left unchanged")
        if path.exists():
            old = path.with_name(f"{path.name}.old-{tag}")
            os.replace(path, old)
            os.replace(temp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
