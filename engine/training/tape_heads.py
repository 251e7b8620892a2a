"""The GradientTape loop for a model with several heads: the weighted sum of the heads' losses, written out.

The tutorial's loop computes one loss; with several heads the step differentiates
``sum(weight_h * loss_h)`` (what ``fit`` does from ``loss_weights``), and keeps a running loss and metric per
head under the names ``fit`` gives them (``digit_loss``, ``parity_accuracy``, ``val_parity_mae``; one head
fed by several inputs keeps Keras's plain ``loss`` and ``accuracy``), so the callbacks, curves and history
cannot tell the loops apart.
"""
from __future__ import annotations

from tapedeck.engine.training import heads_io
from tapedeck.engine.training.tape_loop import TapeLoop

__all__ = ["HeadsTapeLoop"]


class HeadsTapeLoop(TapeLoop):
    def __init__(self, plan, *args, **kwargs):
        self.plan = plan
        super().__init__(*args, **kwargs)
        self.losses = heads_io.head_losses(plan, reduction=None)   # per example, scaled by the global batch

    def _make_metrics(self, make_accuracy) -> None:
        import keras

        super()._make_metrics(make_accuracy)
        named = heads_io.figure_name
        self.head_loss = {p.name: keras.metrics.Mean(name=named(self.plan, p, "loss")) for p in self.plan}
        self.head_metric = heads_io.head_metrics(self.plan)
        self.val_head_loss = {p.name: keras.metrics.Mean(name=named(self.plan, p, "loss", "val_")) for p in self.plan}
        self.val_head_metric = heads_io.head_metrics(self.plan, "val_")

    def _train_metrics(self) -> list:
        return [self.loss_metric, *self.head_loss.values(), *self.head_metric.values()]

    def _validation_metrics(self) -> list:
        return [self.val_loss_metric, *self.val_head_loss.values(), *self.val_head_metric.values()]

    def _per_head(self, y, outputs) -> dict:
        import tensorflow as tf

        return {p.name: tf.reshape(self.losses[p.name](y[p.name], outputs[p.name]), [-1]) for p in self.plan}

    def _step_loss(self, y, outputs, global_count):
        import tensorflow as tf

        per_head = self._per_head(y, outputs)
        regularization = self._regularization()
        total = heads_io.weighted_loss(self.plan, {k: tf.reduce_sum(v) for k, v in per_head.items()})
        loss = total / tf.cast(global_count, total.dtype) + tf.nn.scale_regularization_loss(regularization)
        self._batch_heads = {k: tf.reduce_mean(v) for k, v in per_head.items()}
        batch_loss = heads_io.weighted_loss(self.plan, self._batch_heads) + regularization
        return loss, batch_loss

    def _track(self, y, outputs, batch_loss, weight) -> None:
        self.loss_metric.update_state(batch_loss, sample_weight=weight)
        for p in self.plan:
            self.head_loss[p.name].update_state(self._batch_heads[p.name], sample_weight=weight)
            self.head_metric[p.name].update_state(y[p.name], outputs[p.name])

    def _track_validation(self, y, outputs, weight) -> None:
        import tensorflow as tf

        means = {k: tf.reduce_mean(v) for k, v in self._per_head(y, outputs).items()}
        self.val_loss_metric.update_state(heads_io.weighted_loss(self.plan, means) + self._regularization(),
                                          sample_weight=weight)
        for p in self.plan:
            self.val_head_loss[p.name].update_state(means[p.name], sample_weight=weight)
            self.val_head_metric[p.name].update_state(y[p.name], outputs[p.name])

    def _logs(self, total, losses, metrics) -> dict:
        """fit's names: the total ``loss``, then each head's; one head (several inputs) keeps plain names."""
        logs = {"loss": total.result()}
        if len(self.plan) == 1:
            return {**logs, self.plan[0].metric: metrics[self.plan[0].name].result()}
        for p in self.plan:
            logs[f"{p.name}_loss"] = losses[p.name].result()
            logs[f"{p.name}_{p.metric}"] = metrics[p.name].result()
        return logs

    def _train_logs(self) -> dict:
        return self._logs(self.loss_metric, self.head_loss, self.head_metric)

    def _validation_logs(self) -> dict:
        return self._logs(self.val_loss_metric, self.val_head_loss, self.val_head_metric)

    def _batch_view(self, batch):
        """An inspected step of a several-head model shows per-layer figures, not one batch of images."""
        return None, None, None
