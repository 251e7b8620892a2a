"""After training: which test images the model gets wrong, how sure it was, and how each class fares.

:func:`open_run` reloads a finished run (its experiment, its model, the same test set it was scored on)
and predicts the whole test set once (every head of a several-head model: ``engine.analysis.heads``);
the other functions only index that result, so clicking through confusion cells in the window costs no
model calls. Probabilities come from ``engine.training.evaluation.probability_converter``, the same
conversion the run used for its own test score, so the counts here equal the confusion matrix in metrics.json.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tapedeck.engine.analysis.confusion import (
    ClassRow,
    Example,
    class_table,
    confusion_cell,
    confusion_matrix,
    format_class_table,
    most_confidently_wrong,
)
from tapedeck.engine.errors import TapedeckError

__all__ = ["AnalysisError", "AnalysedRun", "Example", "ClassRow", "open_run", "predict_probabilities",
           "confusion_cell", "most_confidently_wrong", "confusion_matrix", "class_table", "format_class_table"]


SINGLE_HEAD = "output"   # what a one-head run's head is called where views list heads


class AnalysisError(TapedeckError):
    """The run cannot be analysed (no model, data gone); the message names the path and the fix."""


@dataclass
class AnalysedRun:
    run_dir: Path
    experiment: object  # engine.spec.experiment.Experiment
    model: object  # keras.Model
    dataset: object  # engine.data.datasets.Dataset (the run's own split: same spec, same seed)
    probabilities: np.ndarray  # (N_test, classes); a several-head run: its first classification head's
    # A several-head run: head layer → engine.analysis.heads.HeadAnalysis (in the experiment's order), and
    # the head the fields above describe. Empty / None for one head.
    heads: dict = field(default_factory=dict)
    main_head: str | None = None

    @property
    def true_labels(self) -> np.ndarray:
        if self.main_head is not None:
            return self.heads[self.main_head].true_labels
        return np.asarray(self.dataset.y_test, dtype=np.int64)

    @property
    def predicted_labels(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=-1)

    @property
    def class_names(self) -> list[str]:
        if self.main_head is not None:
            return list(self.heads[self.main_head].class_names)
        return list(self.dataset.class_names)

    @property
    def head_names(self) -> list[str]:
        """The heads a view may pick, in the experiment's order; one-head runs have one, named ``output``."""
        return list(self.heads) or [SINGLE_HEAD]

    def head(self, name: str | None = None):
        """One head's predictions (engine.analysis.heads.HeadAnalysis); None: the first classification
        head (the one the fields above describe)."""
        from tapedeck.engine.analysis.heads import single_head

        if not self.heads:
            if name not in (None, SINGLE_HEAD):
                raise AnalysisError(f"{self.run_dir}: has one head; there is no head {name!r}")
            return single_head(SINGLE_HEAD, self.true_labels, self.probabilities, self.class_names)
        name = self.main_head if name is None else name
        if name not in self.heads:
            raise AnalysisError(f"{self.run_dir}: has no head {name!r}; its heads are {', '.join(self.heads)}")
        return self.heads[name]

    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.true_labels, self.probabilities, len(self.class_names))

    def cell(self, true_class: int, predicted_class: int) -> list[Example]:
        return confusion_cell(self.true_labels, self.probabilities, true_class, predicted_class)

    def most_confidently_wrong(self, count: int = 16) -> list[Example]:
        return most_confidently_wrong(self.true_labels, self.probabilities, count)

    def class_table(self) -> list[ClassRow]:
        return class_table(self.confusion(), self.class_names)


def open_run(run_dir, dataset=None) -> AnalysedRun:
    """Reload a run and predict its test set; ``dataset`` may be passed when already loaded (same spec)."""
    from tapedeck.engine.data.datasets import DataError
    from tapedeck.engine.data.streaming import load_for
    from tapedeck.engine.runs.exports import ExportError, load_run_model
    from tapedeck.engine.spec.experiment import ExperimentError, load_experiment
    from tapedeck.engine.spec.objectives import objective_kind

    run_dir = Path(run_dir)
    try:
        experiment = load_experiment(run_dir / "experiment.json")
    except ExperimentError as error:
        raise AnalysisError(str(error).splitlines()[0]) from None
    if not experiment.objective.is_classify:   # no test set to predict: its pictures are what it made
        models = ", ".join(f"{role}.keras" for role in experiment.models)
        if objective_kind(experiment.objective).data == "environment":   # an agent: it made episodes, not pictures
            raise AnalysisError(f"{run_dir.name}: a run of objective {experiment.objective.kind!r} predicts no "
                                f"classes; its figures per update are in history.csv, `tapedeck evaluate` plays its "
                                f"policy (and the window's Environment tab replays it), its models are {models}")
        raise AnalysisError(f"{run_dir.name}: a run of objective {experiment.objective.kind!r} predicts no classes; "
                            f"its epochs' pictures are in samples/ (and the Samples tab during a run), its models "
                            f"are {models}")
    try:
        model = load_run_model(run_dir)
    except ExportError as error:
        raise AnalysisError(str(error)) from None
    if dataset is None:
        try:
            dataset = load_for(experiment.data, experiment, check_training=False)[0]   # stays on disk
        except DataError as error:
            raise AnalysisError(f"{run_dir}: its data cannot be loaded any more: {error}") from None
    from tapedeck.engine.spec.heads import is_multi

    if is_multi(experiment.model):   # dict in, dict out: every head predicted in one pass
        from tapedeck.engine.analysis.heads import predict_heads

        heads = predict_heads(model, experiment, dataset)
        main = next((name for name, h in heads.items() if not h.regression), None)
        probabilities = heads[main].probabilities if main else np.zeros((len(dataset.x_test), 0), np.float32)
        return AnalysedRun(run_dir, experiment, model, dataset, probabilities, heads, main)
    probabilities = predict_probabilities(model, experiment.training, dataset.x_test)
    return AnalysedRun(run_dir, experiment, model, dataset, probabilities)


def predict_probabilities(model, training, x, batch_size: int = 256, head: str | None = None) -> np.ndarray:
    """Class probabilities (N, classes) by direct calls (``model.predict`` costs ~100 ms of setup per call).
    A several-head model returns a dict: ``head``'s output is taken (default: its first, the first head)."""
    from tapedeck.engine.training.evaluation import probability_converter

    to_probabilities = probability_converter(training)

    def one(out):
        if isinstance(out, dict):
            out = out[head] if head is not None else next(iter(out.values()))
        return np.asarray(out)

    name = _single_dict_input(model)
    if name is not None:   # a several-head model takes a dict even for one input: give it one
        call = model
        model = lambda batch, training=False: call({name: batch}, training=training)  # noqa: E731

    if hasattr(x, "batches"):   # streamed: batch by batch from disk; only the probabilities are kept
        outputs = [one(model(batch, training=False)) for batch in x.batches(batch_size)]
    else:
        x = np.asarray(x, dtype=np.float32)
        outputs = [one(model(x[start:start + batch_size], training=False))
                   for start in range(0, len(x), batch_size)]
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return to_probabilities(np.concatenate(outputs, axis=0))


def _single_dict_input(model) -> str | None:
    """The input's name when a functional model takes a dict of one input (several heads), else None."""
    try:
        structure = model.input
    except (AttributeError, ValueError):   # a subclassed model has no symbolic input
        return None
    return next(iter(structure)) if isinstance(structure, dict) and len(structure) == 1 else None
