"""Training a model with several inputs or heads: dict data, per-head losses, weights, metrics and results.

A several-head model (``engine.spec.heads.is_multi``) takes a dict by input name and returns a dict by head
layer name; ``fit`` is compiled with a loss, a weight and a metric per head, and Keras names the figures
``<head>_loss``, ``<head>_accuracy`` (``<head>_mae`` for a regression head) next to the weighted total
``loss``. The tape loop writes the same weighted sum out (``weighted_loss``), so both loops report the same
names. One input and one head never come here: their names and arrays stay as they always were.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from tapedeck.engine.spec import graph, heads
from tapedeck.engine.training.events import HeadInfo, Predictions, TestResult

__all__ = ["HeadPlan", "plan_heads", "arrays", "compile_kwargs", "head_infos", "head_logs", "first_accuracy",
           "predictions", "evaluate", "rows", "weighted_loss", "head_losses", "head_metrics"]


@dataclass
class HeadPlan:
    """One head, ready to train: its spec (defaults filled in), its target's arrays, the loss settings."""

    spec: heads.HeadSpec
    target: object            # engine.data.targets.Target
    training: object          # a TrainingSpec copy with this head's loss and from_logits

    @property
    def name(self) -> str:
        return self.spec.layer

    @property
    def regression(self) -> bool:
        return heads.is_regression(self.spec.loss)

    @property
    def metric(self) -> str:
        return heads.metric_name(self.spec)


def plan_heads(experiment, dataset) -> list[HeadPlan]:
    nodes, _problems = graph.resolve_model(experiment.model)
    plan = []
    for spec in heads.heads_of(experiment.model, [n.name for n in nodes], experiment.training):
        own = copy.copy(experiment.training)
        own.loss, own.from_logits = spec.loss, spec.from_logits
        plan.append(HeadPlan(spec, dataset.targets[spec.target], own))
    return plan


def rows(x) -> int:
    """Examples in ``x``: an array, or a dict of arrays that agree in length."""
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x)


def _labels(plan: HeadPlan, y):
    if plan.regression:
        return np.asarray(y, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if plan.training.loss == "categorical_crossentropy":
        return np.eye(plan.target.num_classes, dtype=np.float32)[y]
    if plan.training.loss == "binary_crossentropy":
        return y.astype(np.float32)
    return y


def arrays(dataset, experiment, plan, split: int):
    """(x, y) of ``split`` (0 train, 1 validation, 2 test): dicts by input name and by head name."""
    x = {spec.name: dataset.data_arrays(spec.data)[split] for spec in heads.inputs_of(experiment.model)}
    parts = ("train", "val", "test")
    y = {p.name: _labels(p, getattr(p.target, parts[split])) for p in plan}
    return x, y


def _loss(plan: HeadPlan, reduction="sum_over_batch_size"):
    import keras

    from tapedeck.engine.training.optimizers import make_loss

    if plan.spec.loss == "mean_squared_error":
        return keras.losses.MeanSquaredError(reduction=reduction)
    if plan.spec.loss == "mean_absolute_error":
        return keras.losses.MeanAbsoluteError(reduction=reduction)
    return make_loss(plan.training, reduction=reduction)


def _metric(plan: HeadPlan, name: str | None = None):
    import keras

    from tapedeck.engine.training.optimizers import make_accuracy

    if plan.regression:
        return keras.metrics.MeanAbsoluteError(name=name or "mae")
    return make_accuracy(plan.training, name or "accuracy")


def compile_kwargs(plan) -> dict:
    """``model.compile`` arguments keyed by head: Keras sums the losses with these weights."""
    return {"loss": {p.name: _loss(p) for p in plan},
            "loss_weights": {p.name: p.spec.loss_weight for p in plan},
            "metrics": {p.name: [_metric(p)] for p in plan}}


def head_losses(plan, reduction=None) -> dict:
    """Per-example losses for the tape loop (it scales them itself, per replica)."""
    return {p.name: _loss(p, reduction=reduction) for p in plan}


def figure_name(plan, head: HeadPlan, figure: str, prefix: str = "") -> str:
    """Keras's name for a head's figure: ``digit_accuracy`` with several heads, plain ``accuracy`` with one."""
    return f"{prefix}{head.name}_{figure}" if len(plan) > 1 else f"{prefix}{figure}"


def head_metrics(plan, prefix: str = "") -> dict:
    """The tape loop's running metric per head, named like fit's (``digit_accuracy``, ``val_parity_mae``)."""
    return {p.name: _metric(p, figure_name(plan, p, p.metric, prefix)) for p in plan}


def weighted_loss(plan, per_head: dict):
    """The total a several-head model minimises: the sum of each head's loss times its weight."""
    return sum(per_head[p.name] * p.spec.loss_weight for p in plan)


def head_infos(plan) -> tuple:
    return tuple(HeadInfo(p.name, p.spec.target, p.target.kind, tuple(p.target.class_names), p.spec.loss,
                          p.spec.loss_weight) for p in plan)


def head_logs(logs: dict, plan) -> dict:
    """Keras's per-head figures out of its logs (train and val), as plain floats."""
    if len(plan) == 1:   # one head (several inputs): Keras keeps the plain names, which EpochEnd carries
        return {}
    names = [f"{p.name}_{suffix}" for p in plan for suffix in ("loss", p.metric)]
    wanted = names + [f"val_{n}" for n in names]
    return {key: float(logs[key]) for key in wanted if key in logs}


def first_classifier(plan) -> HeadPlan | None:
    return next((p for p in plan if not p.regression), None)


def first_accuracy(per_head: dict, plan, prefix: str = "") -> float | None:
    """The figure shown as "accuracy" for a several-head run: its first classification head's."""
    head = first_classifier(plan)
    key = f"{prefix}{head.name}_accuracy" if head else None
    return per_head.get(key) if key else None


def _outputs(model, x, batch: int = 256) -> dict:
    chunks = []
    n = rows(x)
    for start in range(0, n, batch):
        part = {k: v[start:start + batch] for k, v in x.items()}
        out = model(part, training=False)
        chunks.append({k: np.asarray(v, dtype=np.float32) for k, v in out.items()})
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}


def _probabilities(plan: HeadPlan, out):
    from tapedeck.engine.training.evaluation import probability_converter

    return probability_converter(plan.training)(out)


def predictions(model, sample_x: dict, plan, epoch: int, sample_index) -> Predictions:
    """The prediction grid's sample for every head; the main fields are the first classification head's."""
    out = _outputs(model, sample_x)
    per_head, main = {}, None
    for p in plan:
        true = np.asarray(p.target.test)[sample_index]
        if p.regression:
            per_head[p.name] = (true, out[p.name], None)
            continue
        probs = np.asarray(_probabilities(p, out[p.name]))
        predicted = _predicted(p, probs)
        per_head[p.name] = (true, predicted, probs)
        main = main or (true, predicted, probs)
    true, predicted, probs = main or next(iter(per_head.values()))
    return Predictions(epoch=epoch, true_labels=true, predicted_labels=predicted, probabilities=probs,
                       heads=per_head)


def _predicted(plan: HeadPlan, probs) -> np.ndarray:
    if probs.ndim == 2 and probs.shape[1] == 1:
        return (probs[:, 0] >= 0.5).astype(np.int64)
    return probs.argmax(axis=-1).astype(np.int64)


def evaluate(model, x_test: dict, y_test: dict, plan) -> TestResult:
    """Test figures per head (accuracy, precision, recall, confusion; MAE for regression heads)."""
    from tapedeck.engine.training.evaluation import confusion_metrics

    out = _outputs(model, x_test)
    per_head, total = {}, 0.0
    for p in plan:
        loss = float(np.mean(np.asarray(_loss(p, reduction=None)(y_test[p.name], out[p.name]))))
        total += loss * p.spec.loss_weight
        if p.regression:
            mae = float(np.mean(np.abs(out[p.name].reshape(len(out[p.name]), -1)
                                       - np.asarray(p.target.test, dtype=np.float32).reshape(len(out[p.name]), -1))))
            per_head[p.name] = {"loss": loss, "mae": mae, "target": p.spec.target}
            continue
        true = np.asarray(p.target.test, dtype=np.int64)
        predicted = _predicted(p, np.asarray(_probabilities(p, out[p.name])))
        precision, recall, confusion = confusion_metrics(true, predicted, p.target.num_classes)
        accuracy = float(np.mean(predicted == true)) if len(true) else float("nan")
        per_head[p.name] = {"loss": loss, "accuracy": accuracy, "precision": precision, "recall": recall,
                            "confusion": confusion, "class_names": list(p.target.class_names),
                            "target": p.spec.target}
    main = next((per_head[p.name] for p in plan if not p.regression), None)
    return TestResult(loss=total, accuracy=main["accuracy"] if main else float("nan"),
                      precision=main["precision"] if main else [], recall=main["recall"] if main else [],
                      confusion=main["confusion"] if main else [], heads=per_head)


class SeveralHeads:
    """What a run does differently for a several-input / several-head model, gathered for run.py's hooks."""

    def __init__(self, experiment, dataset):
        self.experiment = experiment
        self.dataset = dataset
        self.plan = plan_heads(experiment, dataset)
        self.inputs = [spec.name for spec in heads.inputs_of(experiment.model)]

    def prepared(self, make):
        """``make`` (engine.training.prepared.Prepared) with dicts of arrays; test_labels are the first classifier's."""
        has_validation = len(self.dataset.x_val) > 0
        x_train, y_train = arrays(self.dataset, self.experiment, self.plan, 0)
        x_val, y_val = arrays(self.dataset, self.experiment, self.plan, 1) if has_validation else (None, None)
        x_test, y_test = arrays(self.dataset, self.experiment, self.plan, 2)
        first = first_classifier(self.plan)
        labels = np.asarray(first.target.test, dtype=np.int64) if first else None
        return make(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test,
                    test_labels=labels, has_validation=has_validation)

    @property
    def first_head(self) -> str | None:
        """The head whose accuracy stands for the run's (plots, early stopping on "val_accuracy")."""
        first = first_classifier(self.plan)
        return first.name if first else None

    def extra_shapes(self) -> dict:
        return {key: tuple(int(s) for s in value[0].shape[1:]) for key, value in self.dataset.inputs.items()}

    def sample(self, data, index):
        """The prediction grid's inputs (a dict) and the first classification head's labels."""
        first = first_classifier(self.plan)
        labels = np.asarray(first.target.test)[index] if first else np.zeros(len(index), dtype=np.int64)
        return {name: value[index] for name, value in data.x_test.items()}, labels

    def started(self) -> dict:
        """RunStarted's class fields from the first classification head, plus the heads and inputs."""
        first = first_classifier(self.plan)
        names = list(first.target.class_names) if first else []
        return {"num_classes": len(names), "class_names": names, "heads": head_infos(self.plan),
                "inputs": tuple(self.inputs)}

    def test_metrics(self, result) -> dict:
        first = first_classifier(self.plan)
        return {"loss": result.loss, "accuracy": result.accuracy, "precision": result.precision,
                "recall": result.recall, "confusion": result.confusion,
                "class_names": list(first.target.class_names) if first else [], "heads": result.heads}
