"""Code export, the training half for a model of several heads: what changes when the model returns a dict.

- ``fit``: ``compile`` with a dict of losses, of loss weights and of metrics, keyed by head; Keras minimises
  the weighted sum and names the figures ``digit_loss``, ``digit_accuracy``, ``val_parity_accuracy``.
- the GradientTape loop: the weighted sum written out (``total_loss``), one running metric per head named
  as fit names it, so early stopping and the printed epochs read the same keys.
- a custom ``train_step``: ``compute_loss`` already sums the heads; the step only keeps it from feeding
  each head's own loss tracker a second time.
Each function returns source text (lines) that ``engine.codegen.training`` places where the one-head
script has its single loss and accuracy.
"""
from __future__ import annotations

import re

__all__ = ["compile_arguments", "fit_evaluation", "tape_objects", "total_loss_function", "step_texts",
           "epoch_lines", "tape_evaluation", "train_step_metrics", "build_call"]


def _dict(pairs, indent: str = "    ") -> str:
    """``{`` key: value, … ``}`` over several lines, closing at ``indent``."""
    inner = indent + "    "
    return "{\n" + "".join(f'{inner}"{key}": {value},\n' for key, value in pairs) + indent + "}"


def _weight(value: float) -> str:
    return repr(float(value))


def compile_arguments(heads) -> list[str]:
    """``model.compile``'s loss, loss_weights and metrics, one entry per head."""
    return [f"loss={_dict([(h.name, h.loss_expression()) for h in heads])}",
            f"loss_weights={_dict([(h.name, _weight(h.loss_weight)) for h in heads])}",
            f"metrics={_dict([(h.name, '[' + h.fit_metric() + ']') for h in heads])}"]


def _report(heads, results: str, plain: bool = False) -> list[str]:
    """``plain``: Keras's own names for one output (``accuracy``, not ``digit_accuracy``)."""
    lines = []
    for h in heads:
        key = h.metric if plain else f"{h.name}_{h.metric}"
        lines.append(f"print(f\"Test {h.name} {h.words}: {{{results}['{key}']:.4f}}\")")
    return lines


def fit_evaluation(heads) -> list[str]:
    # One head (of several inputs, or of a named target): Keras names its figures as for a plain model.
    return ["results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)",
            *_report(heads, "results", plain=len(heads) == 1)]


def tape_objects(heads, distributed: bool) -> list[str]:
    """The losses, their weights and the running metrics of the tape loop."""
    lines = ["# One loss per head; the step minimises their weighted sum (total_loss below)."]
    if distributed:
        lines.append("# reduction=None: one loss per example; the step averages over the global batch.")
    lines += [f"loss_objects = {_dict([(h.name, h.loss_expression(per_example=distributed)) for h in heads], '')}",
              f"loss_weights = {_dict([(h.name, _weight(h.loss_weight)) for h in heads], '')}",
              "",
              'train_loss = keras.metrics.Mean(name="train_loss")',
              'test_loss = keras.metrics.Mean(name="test_loss")',
              "# One metric per head, named as model.fit names them (digit_accuracy, parity_accuracy).",
              f"train_metrics = {_dict([(h.name, h.metric_expression()) for h in heads], '')}",
              f"test_metrics = {_dict([(h.name, h.metric_expression()) for h in heads], '')}"]
    return lines


def _identifiers(heads) -> list[str]:
    taken, names = set(), []
    for head in heads:
        ident = re.sub(r"\W", "_", head.name) or "head"
        ident = "head_" + ident if ident[0].isdigit() else ident
        base, count = ident, 1
        while ident in taken:
            ident, count = f"{base}_{count}", count + 1
        taken.add(ident)
        names.append(ident)
    return names


def total_loss_function(heads) -> str:
    idents = _identifiers(heads)
    lines = ["def total_loss(targets, predictions):",
             '    """The loss the model minimises: each head\'s loss times its weight, summed."""']
    lines += [f'    {ident}_loss = loss_objects["{h.name}"](targets["{h.name}"], predictions["{h.name}"])'
              for ident, h in zip(idents, heads)]
    total = " + ".join(f'loss_weights["{h.name}"] * {ident}_loss' for ident, h in zip(idents, heads))
    lines.append(f"    return {total}")
    return "\n".join(lines)


def step_texts(distributed: bool) -> dict:
    """The pieces of the train and test steps that differ from one head's."""
    if distributed:
        loss = ("        per_example_loss = total_loss(targets, predictions)\n"
                "        # Divide by the global batch size, not this replica's share of it.\n"
                "        loss = tf.nn.compute_average_loss(per_example_loss)\n")
        update = "    train_loss.update_state(per_example_loss)\n"
    else:
        loss = "        loss = total_loss(targets, predictions)\n"
        update = "    train_loss.update_state(loss)\n"
    return {
        "args": "inputs, targets",
        "inputs": "inputs",
        "loss": loss,
        "update": update,
        "train_metrics": ("    for name, metric in train_metrics.items():\n"
                          "        metric.update_state(targets[name], predictions[name])\n"),
        "test": ("    test_loss.update_state(total_loss(targets, predictions))\n"
                 "    for name, metric in test_metrics.items():\n"
                 "        metric.update_state(targets[name], predictions[name])\n"),
        "evaluate": ('    """Mean loss and each head\'s metric over a whole dataset."""\n'
                     "    test_loss.reset_state()\n"
                     "    for metric in test_metrics.values():\n"
                     "        metric.reset_state()\n"),
        "result": "    return float(test_loss.result()), {m.name: float(m.result()) for m in test_metrics.values()}",
    }


def epoch_lines(step: str, has_validation: bool) -> list[str]:
    lines = [
        "for epoch in range(epochs):",
        "    train_loss.reset_state()",
        "    for metric in train_metrics.values():",
        "        metric.reset_state()",
        "    for inputs, targets in train_ds:",
        f"        {step}(inputs, targets)",
        '    logs = {"loss": float(train_loss.result())}',
        "    logs.update({metric.name: float(metric.result()) for metric in train_metrics.values()})",
    ]
    if has_validation:
        lines += ["    val_loss, val_metrics = evaluate(val_ds)",
                  '    logs["val_loss"] = val_loss',
                  '    logs.update({f"val_{name}": value for name, value in val_metrics.items()})']
    lines.append('    print(f"Epoch {epoch + 1}/{epochs}: " + ", ".join(f"{key} {value:.4f}" '
                 'for key, value in logs.items()))')
    return lines


def tape_evaluation(heads) -> list[str]:
    return ["_, metrics = evaluate(test_ds)", *_report(heads, "metrics")]


def train_step_metrics(heads) -> tuple[str, str]:
    """(old, new) lines of the custom train_step's metric update: each head's own loss tracker is fed by
    compute_loss, so the step passes over it."""
    names = ", ".join(f'"{h.name}_loss"' for h in heads)
    old = ("        for metric in self.metrics:\n"
           '            if metric.name == "loss":\n'
           "                metric.update_state(loss * replicas)\n"
           "            else:\n")
    new = ("        # Each head's own loss (digit_loss, ...) was counted by compute_loss already.\n"
           f"        head_losses = {{{names}}}\n"
           "        for metric in self.metrics:\n"
           '            if metric.name == "loss":\n'
           "                metric.update_state(loss * replicas)\n"
           "            elif metric.name not in head_losses:\n")
    return old, new


def build_call() -> str:
    """Creates a subclass's weights before the first compiled step: one call on one example of each input."""
    return 'model({name: np.zeros((1, *shape), dtype="float32") for name, shape in input_shapes.items()})'
