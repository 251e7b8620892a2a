"""The ``tape`` loop: the tutorial's custom training loop, driven through Keras's own callbacks.

Forward pass under ``tf.GradientTape``, per-example loss scaled by the *global* batch size (so the
gradients summed over replicas are those of the mean loss), ``optimizer.apply_gradients``, metrics
updated by hand. Each step is one ``tf.function`` whose ``input_signature`` is the dataset's element
spec (batch dimension ``None``): the last, smaller batch reuses the same trace, and no Python scalar
is ever passed in, so a whole run traces the training step once and the validation step once.

The callbacks (reporter, control, divergence, EarlyStopping, ReduceLROnPlateau, checkpoints,
TensorBoard) are called through ``keras.callbacks.CallbackList`` in the order ``fit`` calls them,
with the same log names.
"""
from __future__ import annotations

import numpy as np

__all__ = ["TapeLoop"]


class TapeLoop:
    def __init__(self, model, optimizer, loss_fn, make_accuracy, strategy, batch_size: int):
        """``loss_fn`` gives per-example losses (``reduction=None``); built inside ``strategy.scope()``."""
        import keras

        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.strategy = strategy
        self.batch_size = int(batch_size)
        self.traces = {"train": 0, "validation": 0}
        with strategy.scope():
            self.loss_metric = keras.metrics.Mean(name="loss")
            self.accuracy = make_accuracy("accuracy")
            self.val_loss_metric = keras.metrics.Mean(name="val_loss")
            self.val_accuracy = make_accuracy("val_accuracy")
            # Variables created lazily inside the first distributed step fail ("You must feed a
            # value for placeholder tensor"): create the optimizer's slots now, in the scope.
            self.optimizer.build(self.model.trainable_variables)

    # -- data -----------------------------------------------------------------------------------
    def _dataset(self, x, y, shuffle: bool):
        """Shuffle indices, then gather: no per-element copy of the images into a shuffle buffer.

        No op-level seed: the global seed (``keras.utils.set_random_seed``) decides the order, as in
        the tutorial's ``shuffle(len(x))`` — the same permutation, so a run follows the exported script.
        """
        import tensorflow as tf

        images = tf.convert_to_tensor(x)
        labels = tf.convert_to_tensor(y)
        indices = tf.data.Dataset.range(len(x))
        if shuffle:
            indices = indices.shuffle(len(x), reshuffle_each_iteration=True)
        dataset = indices.batch(self.batch_size).map(
            lambda i: (tf.gather(images, i), tf.gather(labels, i)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return self.strategy.experimental_distribute_dataset(dataset.prefetch(tf.data.AUTOTUNE))

    # -- compiled steps -------------------------------------------------------------------------
    def _regularization(self):
        import tensorflow as tf

        losses = self.model.losses
        return tf.add_n(losses) if losses else tf.constant(0.0)

    def _train_replica(self, x, y):
        import tensorflow as tf

        model = self.model
        count = tf.shape(x)[0]
        global_count = tf.distribute.get_replica_context().all_reduce("sum", count)
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            per_example = self.loss_fn(y, outputs)
            regularization = self._regularization()
            loss = tf.reduce_sum(per_example) / tf.cast(global_count, per_example.dtype)
            loss += tf.nn.scale_regularization_loss(regularization)
        gradients = tape.gradient(loss, model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        weight = tf.cast(count, "float32")
        self.loss_metric.update_state(tf.reduce_mean(per_example) + regularization, sample_weight=weight)
        self.accuracy.update_state(y, outputs)

    def _validation_replica(self, x, y):
        import tensorflow as tf

        outputs = self.model(x, training=False)
        per_example = self.loss_fn(y, outputs)
        weight = tf.cast(tf.shape(x)[0], "float32")
        self.val_loss_metric.update_state(
            tf.reduce_mean(per_example) + self._regularization(), sample_weight=weight
        )
        self.val_accuracy.update_state(y, outputs)

    def _compile_steps(self, train_data, val_data):
        import tensorflow as tf

        jit = bool(getattr(self.model, "jit_compile", False)) and self.strategy.num_replicas_in_sync == 1

        @tf.function(input_signature=[train_data.element_spec], jit_compile=jit)
        def train_step(batch):
            self.traces["train"] += 1  # Python side effect: runs only while tracing
            self.strategy.run(self._train_replica, args=batch)
            return self.loss_metric.result(), self.accuracy.result()

        validation_step = None
        if val_data is not None:

            @tf.function(input_signature=[val_data.element_spec], jit_compile=jit)
            def validation_step(batch):
                self.traces["validation"] += 1
                self.strategy.run(self._validation_replica, args=batch)
                return self.val_loss_metric.result(), self.val_accuracy.result()

        return train_step, validation_step

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, data, epochs: int, initial_epoch: int, callbacks) -> dict:
        """Mirror of ``Model.fit``'s epoch loop; ``callbacks`` is a ``keras.callbacks.CallbackList``."""
        model = self.model
        train_data = self._dataset(data.x_train, data.y_train, shuffle=True)
        val_data = self._dataset(data.x_val, data.y_val, shuffle=False) if data.has_validation else None
        train_step, validation_step = self._compile_steps(train_data, val_data)

        model.stop_training = False
        callbacks.on_train_begin()
        logs, epoch_logs = {}, {}
        for epoch in range(initial_epoch, epochs):
            self.loss_metric.reset_state()
            self.accuracy.reset_state()
            callbacks.on_epoch_begin(epoch)
            for step, batch in enumerate(train_data):
                callbacks.on_train_batch_begin(step)
                loss, accuracy = train_step(batch)
                logs = {"loss": float(loss), "accuracy": float(accuracy)}
                callbacks.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            epoch_logs = dict(logs)
            if validation_step is not None and not model.stop_training:
                epoch_logs.update(self._validate(val_data, validation_step, callbacks))
            callbacks.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
        callbacks.on_train_end(epoch_logs)
        return dict(self.traces)

    def _validate(self, val_data, validation_step, callbacks) -> dict:
        model = self.model
        self.val_loss_metric.reset_state()
        self.val_accuracy.reset_state()
        model.stop_evaluating = False
        callbacks.on_test_begin()
        logs = {}
        for step, batch in enumerate(val_data):
            callbacks.on_test_batch_begin(step)
            if model.stop_evaluating:
                break
            loss, accuracy = validation_step(batch)
            logs = {"loss": float(loss), "accuracy": float(accuracy)}
            callbacks.on_test_batch_end(step, logs)
            if model.stop_evaluating:
                break
        callbacks.on_test_end(logs)
        return {f"val_{name}": float(np.asarray(value)) for name, value in logs.items()}
