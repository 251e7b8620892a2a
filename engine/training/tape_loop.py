"""The ``tape`` loop: the tutorial's custom training loop, driven through Keras's own callbacks.

Forward pass under ``tf.GradientTape``, per-example loss scaled by the *global* batch size (so the
gradients summed over replicas are those of the mean loss), ``optimizer.apply_gradients``, metrics
updated by hand. Each step is one ``tf.function`` whose ``input_signature`` is the dataset's element
spec (batch dimension ``None``): the last, smaller batch reuses the same trace, and no Python scalar
is ever passed in, so a whole run traces the training step once and the validation step once.

The callbacks (reporter, control, divergence, EarlyStopping, ReduceLROnPlateau, checkpoints,
TensorBoard) are called through ``keras.callbacks.CallbackList`` in the order ``fit`` calls them,
with the same log names.

Because the step is ours, it can be looked into: every step returns the sum of squared gradients
per variable (a handful of reductions, kept for the divergence diagnosis), and the steps the
inspector asks for run a twin step that also returns weight and update sums (see
``engine.training.inspection``). ``execution`` picks eager Python, a ``tf.function`` graph or XLA.

Several steps per call (``steps_per_execution``): one ``tf.function`` call pulls up to that many
batches from the iterator and trains on each, so Python, the callbacks and the read of the running
loss and accuracy (the only device-to-host copy) happen once per call, not once per step. The number
of steps is a tensor argument, so a shorter call (an epoch's remainder, a call cut short before an
inspected step) reuses the same trace. Inspected steps and the steps of a Step request run one per
call, so the inspector and Step see exactly the step they asked for; Stop and pause act between calls.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from tapedeck.engine.training.heads_io import rows

__all__ = ["TapeLoop"]


class TapeLoop:
    def __init__(self, model, optimizer, loss_fn, make_accuracy, strategy, batch_size: int,
                 execution: str = "graph", inspector=None, probabilities=None, scales=None, summaries=None,
                 steps_per_execution: int = 1):
        """``loss_fn`` gives per-example losses (``reduction=None``); built inside ``strategy.scope()``.
        ``probabilities(outputs)`` turns model outputs into class probabilities (for a full inspection).
        ``steps_per_execution``: training (and validation) steps per ``tf.function`` call."""
        from tapedeck.engine.training.inspection import layer_groups

        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.strategy = strategy
        self.batch_size = int(batch_size)
        self.execution = execution
        self.inspector = inspector
        self.probabilities = probabilities
        self.scales = scales   # per-variable learning-rate multipliers, or None
        self.summaries = summaries   # a tf.summary writer for gradient histograms, or None
        self.steps_per_execution = max(1, int(steps_per_execution))
        self.traces = {"train": 0, "validation": 0, "inspect": 0}
        self.recent: deque = deque(maxlen=4)   # (global step, per-variable sum g²) of the last steps
        self._stale = False   # the trainable variables changed: trace the steps again (variables_changed)
        if inspector is not None:
            inspector.groups = layer_groups(model.trainable_variables)
        with strategy.scope():
            self._make_metrics(make_accuracy)
            # Variables created lazily inside the first distributed step fail ("You must feed a
            # value for placeholder tensor"): create the optimizer's slots now, in the scope.
            self.optimizer.build(self.model.trainable_variables)

    def _make_metrics(self, make_accuracy) -> None:
        """The running figures (a several-head loop, engine.training.tape_heads, adds one per head)."""
        import keras

        self.loss_metric = keras.metrics.Mean(name="loss")
        self.accuracy = make_accuracy("accuracy")
        self.val_loss_metric = keras.metrics.Mean(name="val_loss")
        self.val_accuracy = make_accuracy("val_accuracy")

    def _train_metrics(self) -> list:
        return [self.loss_metric, self.accuracy]

    def _validation_metrics(self) -> list:
        return [self.val_loss_metric, self.val_accuracy]

    def _step_loss(self, y, outputs, global_count):
        """(the loss to differentiate, scaled by the global batch; this batch's mean loss)."""
        import tensorflow as tf

        per_example = self.loss_fn(y, outputs)
        regularization = self._regularization()
        loss = tf.reduce_sum(per_example) / tf.cast(global_count, per_example.dtype)
        loss += tf.nn.scale_regularization_loss(regularization)
        return loss, tf.reduce_mean(per_example) + regularization

    def _track(self, y, outputs, batch_loss, weight) -> None:
        self.loss_metric.update_state(batch_loss, sample_weight=weight)
        self.accuracy.update_state(y, outputs)

    def _track_validation(self, y, outputs, weight) -> None:
        import tensorflow as tf

        per_example = self.loss_fn(y, outputs)
        self.val_loss_metric.update_state(tf.reduce_mean(per_example) + self._regularization(), sample_weight=weight)
        self.val_accuracy.update_state(y, outputs)

    def variables_changed(self, scales=None) -> None:
        """Between epochs the trainable variables changed (``engine.training.unfreeze``): the compiled
        steps captured the old list, so they are traced again before the next step."""
        from tapedeck.engine.training.inspection import layer_groups

        self.scales = scales
        if self.inspector is not None:
            self.inspector.groups = layer_groups(self.model.trainable_variables)
        self._stale = True

    # -- data -----------------------------------------------------------------------------------
    def _dataset(self, x, y, shuffle: bool):
        """Shuffle indices, then gather: no per-element copy of the images into a shuffle buffer.

        No op-level seed: the global seed (``keras.utils.set_random_seed``) decides the order, as in
        the tutorial's ``shuffle(len(x))`` — the same permutation, so a run follows the exported script.
        """
        import tensorflow as tf

        from tapedeck.engine.data.streaming import is_streamed

        if is_streamed(x):   # read from disk batch by batch (engine.data.streaming)
            return self.strategy.experimental_distribute_dataset(x.dataset(y, self.batch_size, shuffle))
        images = tf.nest.map_structure(tf.convert_to_tensor, x)   # several inputs / heads: dicts of them
        labels = tf.nest.map_structure(tf.convert_to_tensor, y)
        count = rows(x)
        indices = tf.data.Dataset.range(count)
        if shuffle:
            indices = indices.shuffle(count, reshuffle_each_iteration=True)
        dataset = indices.batch(self.batch_size).map(
            lambda i: tuple(tf.nest.map_structure(lambda t: tf.gather(t, i), part) for part in (images, labels)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return self.strategy.experimental_distribute_dataset(dataset.prefetch(tf.data.AUTOTUNE))

    # -- compiled steps -------------------------------------------------------------------------
    def _regularization(self):
        import tensorflow as tf

        losses = self.model.losses
        return tf.add_n(losses) if losses else tf.constant(0.0)

    def _train_replica(self, x, y, inspect: bool = False, sums_wanted=True):
        """One step on this replica's share; returns (sum g² per variable | full rows, batch loss).

        ``sums_wanted`` (a bool tensor in a compiled loop): whether the sums are wanted; where not, zeros. Only
        the last two steps of a call are kept for the divergence diagnosis, and each sum is a pass over the
        gradients (2% of the tutorial CNN's step), so the other steps of a call skip them."""
        import tensorflow as tf

        model = self.model
        variables = model.trainable_variables
        before = [tf.identity(v.value) for v in variables] if inspect else None
        count = tf.shape(tf.nest.flatten(x)[0])[0]
        global_count = tf.distribute.get_replica_context().all_reduce("sum", count)
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            loss, batch_loss = self._step_loss(y, outputs, global_count)
            scaled = self.optimizer.scale_loss(loss)   # float16: LossScaleOptimizer's scale; else loss
        gradients = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                     for g, v in zip(tape.gradient(scaled, variables), variables)]
        self.optimizer.apply_gradients(zip(_scaled(gradients, self.scales), variables))
        if hasattr(self.optimizer, "dynamic_scale"):   # LossScaleOptimizer: inspect the true gradients
            gradients = [g / tf.cast(self.optimizer.dynamic_scale, g.dtype) for g in gradients]
        self._track(y, outputs, batch_loss, tf.cast(count, "float32"))
        if not inspect:
            return _sums_of_squares(gradients, sums_wanted), batch_loss
        squares = [_sum_of_squares(g) for g in gradients]
        if self.summaries is not None:
            self._histograms(gradients, variables)
        return tf.stack([_variable_row(g, square, b, v.value)
                         for g, square, b, v in zip(gradients, squares, before, variables)]), batch_loss

    def _histograms(self, gradients, variables) -> None:
        import tensorflow as tf

        with self.summaries.as_default(step=self.optimizer.iterations):
            for gradient, variable in zip(gradients, variables):
                tf.summary.histogram(f"gradients/{variable.path}", gradient)
                tf.summary.histogram(f"weights/{variable.path}", variable.value)

    def _validation_replica(self, x, y):
        import tensorflow as tf

        outputs = self.model(x, training=False)
        self._track_validation(y, outputs, tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], "float32"))

    def _train_logs(self) -> dict:
        """The running training figures, as tensors (read on the device; converted where they are shown).

        The one place the loop names its metrics: the callbacks see these keys, as from ``fit``.
        """
        return {"loss": self.loss_metric.result(), "accuracy": self.accuracy.result()}

    def _validation_logs(self) -> dict:
        return {"loss": self.val_loss_metric.result(), "accuracy": self.val_accuracy.result()}

    def _compile_steps(self, train_data, val_data):
        """The steps as ``tf.function`` graphs (``graph``, ``xla``) or as plain Python (``eager``).

        Returns (train_steps, inspect_step, validation_steps): ``train_steps(iterator, n)`` and
        ``validation_steps(iterator, n)`` run up to ``n`` steps in one call and return the running
        logs and the number of steps taken (fewer when the iterator ran out); ``inspect_step(batch)``
        is the twin step of an inspected step. The single step is compiled with XLA when asked; the
        loop around it is not (iterator ops do not compile in XLA), as in Keras's own trainer.
        """
        import tensorflow as tf

        jit = self.execution == "xla" and self.strategy.num_replicas_in_sync == 1
        width = len(self.model.trainable_variables)

        def compiled(function, signature=None, jit_compile=False):
            if self.execution == "eager":
                return function
            if signature is None:
                return tf.function(function)
            return tf.function(function, input_signature=list(signature), jit_compile=jit_compile)

        def train_step(batch, sums_wanted):
            self.traces["train"] += 1  # Python side effect: runs only while tracing (every step in eager)
            sums, _ = self.strategy.run(self._train_replica, args=batch, kwargs={"sums_wanted": sums_wanted})
            return self._local(sums)

        train_step = compiled(train_step, (train_data.element_spec, tf.TensorSpec([], tf.bool)), jit)

        def train_steps(iterator, n):
            """Up to ``n`` steps; the last two steps' per-variable sums g² (for the divergence diagnosis)."""
            previous = last = tf.zeros([width])
            taken = tf.constant(0)
            for index in tf.range(n):
                previous, last = last, train_step(next(iterator), index >= n - 2)
                taken += 1
            return self._train_logs(), previous, last, taken

        def inspect_step(batch):
            self.traces["inspect"] += 1
            rows, batch_loss = self.strategy.run(self._train_replica, args=batch, kwargs={"inspect": True})
            return rows, batch_loss

        validation_steps = None
        if val_data is not None:

            def validation_step(batch):
                self.traces["validation"] += 1
                self.strategy.run(self._validation_replica, args=batch)

            validation_step = compiled(validation_step, [val_data.element_spec], jit)

            def validation_steps(iterator, n):
                taken = tf.constant(0)
                for _ in tf.range(n):
                    optional = iterator.get_next_as_optional()
                    if not optional.has_value():
                        break
                    validation_step(optional.get_value())   # kept: its metric updates are stateful
                    taken += 1
                return self._validation_logs(), taken

            validation_steps = compiled(validation_steps)
        return compiled(train_steps), compiled(inspect_step, [train_data.element_spec]), validation_steps

    def _local(self, value):
        """This process's first replica's value (the value itself without a strategy)."""
        return self.strategy.experimental_local_results(value)[0]

    def _steps_now(self, global_step: int, remaining: int) -> int:
        """How many steps the next call takes: 0 for a single inspected step (or a Step request's
        step, which the control must see begin); else up to ``steps_per_execution``, stopping short
        of the next inspected step and of the epoch's end."""
        inspector = self.inspector
        if inspector is not None and inspector.begin(global_step):
            return 0
        n = min(self.steps_per_execution, remaining)
        if inspector is None or n == 1:
            return n
        if inspector.stepping:
            return 1   # Step counts each step as it begins (begin() above); one step per call
        upcoming = inspector.next_periodic(global_step + 1)
        return n if upcoming is None else max(1, min(n, upcoming - global_step))

    def _execute(self, iterator, global_step: int, remaining: int, epoch: int, train_steps, inspect_step,
                 constants: dict):
        """One call from the iterator; returns (logs, steps taken).

        The compiled loop takes ``next(iterator)`` for exactly the steps the epoch has left (an
        Optional with a ``break`` there fails under MirroredStrategy: "You must feed a value for
        placeholder tensor" from the all-reduce inside the branch)."""
        import tensorflow as tf

        n = self._steps_now(global_step, remaining)
        if n == 0:
            try:
                batch = next(iterator)
            except (StopIteration, tf.errors.OutOfRangeError):
                return self._train_logs(), 0
            self._inspected(batch, global_step, epoch, inspect_step)
            return self._train_logs(), 1
        try:
            logs, previous, last, taken = train_steps(iterator, constants.setdefault(n, _count(n, self.execution)))
        except (StopIteration, tf.errors.OutOfRangeError):   # fewer batches than counted: the epoch ends
            return self._train_logs(), 0
        taken = int(taken)
        if taken >= 2:
            self.recent.append((global_step + taken - 2, previous))
        if taken >= 1:
            self.recent.append((global_step + taken - 1, last))
        return logs, taken

    def _inspected(self, batch, global_step: int, epoch: int, inspect_step) -> None:
        """An inspected step: the twin step that also returns weight and update sums."""
        inspector = self.inspector
        full = inspector.current_full
        images, labels, before = self._batch_view(batch) if full else (None, None, None)
        rows, batch_loss = inspect_step(batch)
        rows = np.asarray(self._local(rows))
        self.recent.append((global_step, rows[:, 0]))
        after = self._batch_view(batch)[2] if full else None
        inspector.record(global_step, epoch, rows, full, loss=float(np.asarray(self._local(batch_loss))),
                         images=images, labels=labels, before=before, after=after)

    def _batch_view(self, batch):
        """The batch's images, integer labels and current class probabilities (first replica's share)."""
        x, y = (np.asarray(self._local(part)) for part in batch)
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y)).astype(np.int64)
        outputs = np.asarray(self.model(x, training=False))
        return x, labels, self.probabilities(outputs) if self.probabilities else outputs

    def recent_squares(self) -> list:
        """The last steps' per-variable sums of squared gradients, as numpy (for the divergence diagnosis)."""
        return [(step, np.asarray(self._local(squares))) for step, squares in self.recent]

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, data, epochs: int, initial_epoch: int, callbacks) -> dict:
        """Mirror of ``Model.fit``'s epoch loop; ``callbacks`` is a ``keras.callbacks.CallbackList``.

        As in ``fit`` with ``steps_per_execution``, ``on_train_batch_begin`` gets a call's first batch
        index and ``on_train_batch_end`` its last, with the running logs as tensors: the callbacks list
        reads them from the device once per call.
        """
        model = self.model
        train_data = self._dataset(data.x_train, data.y_train, shuffle=True)
        val_data = self._dataset(data.x_val, data.y_val, shuffle=False) if data.has_validation else None
        train_steps, inspect_step, validation_steps = self._compile_steps(train_data, val_data)
        steps_per_epoch = int(np.ceil(rows(data.x_train) / self.batch_size))
        constants: dict = {}

        model.stop_training = False
        callbacks.on_train_begin()
        logs, epoch_logs = {}, {}
        for epoch in range(initial_epoch, epochs):
            for metric in self._train_metrics():
                metric.reset_state()
            callbacks.on_epoch_begin(epoch)
            if self._stale:   # a callback changed the trainable variables (a Backbone unfroze)
                self._stale = False
                train_steps, inspect_step, validation_steps = self._compile_steps(train_data, val_data)
            iterator = iter(train_data)
            step = 0
            while step < steps_per_epoch:
                callbacks.on_train_batch_begin(step)
                logs, taken = self._execute(iterator, epoch * steps_per_epoch + step + 1, steps_per_epoch - step,
                                            epoch + 1, train_steps, inspect_step, constants)
                if not taken:
                    break
                step += taken
                callbacks.on_train_batch_end(step - 1, logs)
                if model.stop_training:
                    break
            epoch_logs = {name: float(np.asarray(value)) for name, value in logs.items()}
            if validation_steps is not None and not model.stop_training:
                val_steps = int(np.ceil(rows(data.x_val) / self.batch_size))
                epoch_logs.update(self._validate(val_data, val_steps, validation_steps, callbacks, constants))
            callbacks.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
        callbacks.on_train_end(epoch_logs)
        return dict(self.traces)

    def _validate(self, val_data, val_steps: int, validation_steps, callbacks, constants) -> dict:
        model = self.model
        for metric in self._validation_metrics():
            metric.reset_state()
        model.stop_evaluating = False
        callbacks.on_test_begin()
        logs = {}
        iterator = iter(val_data)
        step = 0
        while step < val_steps:
            callbacks.on_test_batch_begin(step)
            if model.stop_evaluating:
                break
            n = min(self.steps_per_execution, val_steps - step)
            logs, taken = validation_steps(iterator, constants.setdefault(n, _count(n, self.execution)))
            taken = int(taken)
            if not taken:
                break
            step += taken
            callbacks.on_test_batch_end(step - 1, logs)
            if model.stop_evaluating:
                break
        logs = {name: float(np.asarray(value)) for name, value in logs.items()}
        callbacks.on_test_end(logs)
        return {f"val_{name}": value for name, value in logs.items()}


def _count(n: int, execution: str):
    """A step count for the compiled loops: a tensor, so every count shares one trace (eager: the int)."""
    if execution == "eager":
        return n
    import tensorflow as tf

    return tf.constant(n, dtype=tf.int32)


def _sums_of_squares(gradients, wanted):
    """Each gradient's sum g², stacked, where ``wanted`` (a bool, or a bool tensor: then decided in the
    graph); zeros where not."""
    import tensorflow as tf

    if wanted is True:
        return tf.stack([_sum_of_squares(g) for g in gradients])
    return tf.cond(wanted, lambda: tf.stack([_sum_of_squares(g) for g in gradients]),
                   lambda: tf.zeros([len(gradients)]))


def _sum_of_squares(tensor):
    """sum(t²) in one kernel (``l2_loss`` is sum(t²)/2): no temporary the size of the tensor, which
    ``reduce_sum(square(t))`` writes and reads back (a 4.7M-entry Dense kernel: 19 MB a step)."""
    import tensorflow as tf

    return 2.0 * tf.nn.l2_loss(tf.cast(tensor, "float32"))


def _variable_row(gradient, square, before, after):
    """One row of ``inspection.VARIABLE_COLUMNS`` for a variable, in as few passes over it as can be:
    counts in int32 (not count_nonzero's int64), the non-finite entries counted only where the sum of
    squares is not finite (a finite sum has none; an overflowing one is counted exactly)."""
    import tensorflow as tf

    g, b, a = (tf.cast(t, "float32") for t in (gradient, before, after))
    nonfinite = tf.cond(tf.math.is_finite(square), lambda: tf.constant(0, tf.int32),
                        lambda: tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(g)), tf.int32)))
    return tf.stack([
        square,
        _sum_of_squares(b),
        tf.reduce_sum(tf.math.squared_difference(a, b)),
        tf.cast(tf.reduce_sum(tf.cast(tf.equal(g, 0.0), tf.int32)), "float32"),
        tf.cast(tf.size(g), "float32"),
        tf.cast(nonfinite, "float32"),
    ])


def _scaled(gradients, scales):
    """Each layer's gradients times its learning-rate multiplier (the inspector keeps the raw ones)."""
    if scales is None:
        return gradients
    return [g if scale == 1.0 else g * scale for g, scale in zip(gradients, scales)]
