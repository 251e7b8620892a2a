"""Code export, the training half: optimizer, loss and either ``compile`` + ``fit`` or the tutorial's
``tf.GradientTape`` loop, then the evaluation that prints ``Test accuracy: 0.9xxx``.

The objects written here are the ones ``engine.training.optimizers`` builds for a run (same optimizer, schedule,
loss and accuracy), spelled as a person would spell them. Options the tape loop has no callback for
(plateau, early stopping, TensorBoard) are written out as a few plain lines in the epoch loop.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from tapedeck.engine.codegen import several_training as several
from tapedeck.engine.codegen.data import section
from tapedeck.engine.codegen.fused_code import fused_definition, fused_install, fuses

__all__ = ["TrainingCode", "fit_code", "tape_code", "optimizer_lines", "optimizer_imports", "loss_expression"]

INDENT = "    "


@dataclass
class TrainingCode:
    """``prelude`` runs right after the seeds (a distribution strategy must exist before anything else
    touches TensorFlow); ``text`` follows the data; ``imports`` names what both need."""

    prelude: str
    text: str
    imports: set = field(default_factory=set)


def _monitor(monitor: str, has_validation: bool, heads=None) -> str:
    """Without a validation split there is no ``val_*`` to watch: watch the training metric instead. A
    several-head model has no plain ``accuracy``: its first classification head's stands in (as in a run)."""
    first = next((head.name for head in heads or () if not head.regression), None)
    if first and monitor in ("accuracy", "val_accuracy"):
        monitor = monitor.replace("accuracy", f"{first}_accuracy")
    return monitor[len("val_"):] if monitor.startswith("val_") and not has_validation else monitor


def _number(value) -> str:
    return repr(float(value)) if isinstance(value, float) else repr(value)


# --- pieces shared by both loops ---------------------------------------------------------------------

def optimizer_lines(training, clipping: bool = True, accumulation: bool = True, define: bool = True) -> list[str]:
    """``learning_rate = …`` (a schedule, when there is one) and ``optimizer = …``. With ``clipping``
    and ``accumulation`` the optimizer clips and accumulates itself (``fit``); the tape loop writes
    both out in its step instead, so a person sees what they do (a custom train_step writes the
    clipping out and leaves accumulation to the optimizer). Under ``training.fused_update`` the fused
    update's install line follows, and its function comes first unless ``define`` is False (the caller writes
    it at module level: ``module_lines``)."""
    lines = []
    lr = _number(training.learning_rate)
    if training.schedule == "step":
        lines += [
            f"# Multiply the learning rate by {training.schedule_factor:g} every {training.schedule_every} epochs.",
            "learning_rate = keras.optimizers.schedules.ExponentialDecay(",
            f"    {lr},",
            f"    decay_steps={training.schedule_every} * steps_per_epoch,",
            f"    decay_rate={_number(training.schedule_factor)},",
            "    staircase=True,",
            ")",
        ]
        lr = "learning_rate"
    elif training.schedule == "cosine":
        lines += [
            "# Cosine decay from the initial learning rate to zero over the whole run.",
            f"learning_rate = keras.optimizers.schedules.CosineDecay({lr}, decay_steps=epochs * steps_per_epoch)",
        ]
        lr = "learning_rate"
    args = [f"learning_rate={lr}"]
    if training.optimizer == "adam":
        cls = "Adam"
    elif training.optimizer == "adamw":
        cls = "AdamW"
        args.append(f"weight_decay={_number(training.weight_decay)}")
    elif training.optimizer == "sgd":
        cls = "SGD"
        if training.momentum:
            args.append(f"momentum={_number(training.momentum)}")
        if training.nesterov:
            args.append("nesterov=True")
    elif training.optimizer == "rmsprop":
        cls = "RMSprop"
        if training.momentum:
            args.append(f"momentum={_number(training.momentum)}")
    else:
        raise ValueError(f"training.optimizer: expected adam, adamw, sgd or rmsprop, "
                         f"received {training.optimizer!r}")
    args += [f"{key}={_number(value)}" for key, value in _step_settings(training, clipping, accumulation).items()]
    lines.append(f"optimizer = keras.optimizers.{cls}({', '.join(args)})")
    if fuses(training, [training.optimizer]):   # its imports: optimizer_imports
        return (fused_definition() if define else []) + lines + [fused_install("optimizer")]
    return lines


def module_lines(training) -> list[str]:
    """What ``optimizer_lines(define=False)`` leaves to module level: the fused update's function."""
    return fused_definition() if fuses(training, [training.optimizer]) else []


def optimizer_imports(training) -> set:
    """What ``optimizer_lines`` needs imported besides keras."""
    return {"types", "tf"} if fuses(training, [training.optimizer]) else set()


def _step_settings(training, clipping: bool = True, accumulation: bool = True) -> dict:
    """Clipping and accumulation that are set, in Keras's argument names."""
    settings = {key: getattr(training, key) for key in ("clipnorm", "global_clipnorm", "clipvalue")
                if clipping and getattr(training, key) is not None}
    if accumulation and training.gradient_accumulation_steps > 1:
        settings["gradient_accumulation_steps"] = training.gradient_accumulation_steps
    return settings


def _clip_lines(training, indent: str) -> str:
    """The clipping the optimizer would do, written out on the gradients."""
    if training.clipnorm is not None:
        return (f"{indent}# Clip each gradient to norm {training.clipnorm:g}.\n"
                f"{indent}gradients = [tf.clip_by_norm(g, {_number(training.clipnorm)}) for g in gradients]\n")
    if training.global_clipnorm is not None:
        return (f"{indent}# Scale all gradients together: their global norm at most {training.global_clipnorm:g}.\n"
                f"{indent}gradients, _ = tf.clip_by_global_norm(gradients, {_number(training.global_clipnorm)})\n")
    if training.clipvalue is not None:
        value = _number(training.clipvalue)
        return (f"{indent}# Clip every gradient entry to [-{training.clipvalue:g}, {training.clipvalue:g}].\n"
                f"{indent}gradients = [tf.clip_by_value(g, -{value}, {value}) for g in gradients]\n")
    return ""


LOSS_CLASSES = {
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
}
ACCURACY_CLASSES = {
    "sparse_categorical_crossentropy": "SparseCategoricalAccuracy",
    "categorical_crossentropy": "CategoricalAccuracy",
    "binary_crossentropy": "BinaryAccuracy",
}


def loss_expression(training, per_example: bool = False) -> str:
    if training.loss not in LOSS_CLASSES:
        raise ValueError(f"training.loss: expected one of {', '.join(LOSS_CLASSES)}, received {training.loss!r}")
    args = []
    if training.from_logits:
        args.append("from_logits=True")
    if per_example:
        args.append("reduction=None")
    return f"keras.losses.{LOSS_CLASSES[training.loss]}({', '.join(args)})"


def _accuracy_expression(training, name: str) -> str:
    args = [f'name="{name}"']
    if training.loss == "binary_crossentropy" and training.from_logits:
        args.append("threshold=0.0")  # a logit above 0 is a probability above 0.5
    return f"keras.metrics.{ACCURACY_CLASSES[training.loss]}({', '.join(args)})"


def _strategy_lines(training) -> list[str]:
    if training.distribute == "mirrored":
        return ["# One model copy per visible GPU (or the CPU), gradients summed across them.",
                "strategy = tf.distribute.MirroredStrategy()"]
    if training.distribute == "auto":
        return ["# Mirror the model across GPUs when there is more than one; otherwise the default strategy.",
                'if len(tf.config.list_physical_devices("GPU")) > 1:',
                "    strategy = tf.distribute.MirroredStrategy()",
                "else:",
                "    strategy = tf.distribute.get_strategy()"]
    if training.distribute == "multi_worker":
        return ["# Several machines: each reads its role from the TF_CONFIG environment variable.",
                "strategy = tf.distribute.MultiWorkerMirroredStrategy()"]
    return []


# "auto" is measured at the start of each Tapedeck run (metrics.json keeps what it chose); a script
# cannot know that figure before it runs, so it writes this one and says where the run's own is.
EXPORTED_AUTO_STEPS = 16


# Keras 3's several-steps fit fails on several replicas ("You must feed a value for placeholder tensor"),
# so a distributed fit runs one step per call, in Tapedeck (engine.training.run) and in the script alike.
DISTRIBUTED_STEPS_COMMENT = ("# steps_per_execution left at 1: Keras's several-steps fit fails on several replicas "
                             "(the GradientTape loop runs several)")


def steps_per_call(training) -> int:
    """The experiment's steps_per_execution as a number for the script."""
    value = training.steps_per_execution
    return EXPORTED_AUTO_STEPS if value == "auto" else int(value)


def _steps_comment(training) -> list[str]:
    if training.steps_per_execution != "auto":
        return []
    return [f'# steps_per_execution "auto" in Tapedeck: measured at the start of each run so that one call lasts '
            f'~50 ms (the run\'s metrics.json says what it chose); {EXPORTED_AUTO_STEPS} here.']


def _settings(training, needs_steps: bool, dicts: bool = False, several_per_call: bool = False) -> list[str]:
    lines = [f"batch_size = {training.batch_size}", f"epochs = {training.epochs}"]
    if needs_steps or several_per_call:   # x_train is a dict by input name when the model has several inputs or heads
        lines.append(f"steps_per_epoch = math.ceil({'num_train' if dicts else 'len(x_train)'} / batch_size)")
    if several_per_call:
        lines += _steps_comment(training)
        lines.append(f"steps_per_execution = {steps_per_call(training)}  # training steps per compiled call")
    return lines


def _model_block(model, inside_scope: bool, extra: list[str], module: list[str] = ()) -> str:
    """The class and ``module`` (module level), then the lines that create the model and its optimizer,
    inside the strategy's scope when there is one."""
    body = "\n".join([model.build_text] + extra)
    if inside_scope:
        body = "with strategy.scope():\n" + textwrap.indent(body, INDENT)
    return "\n\n".join(part for part in (model.class_text, "\n".join(module).strip("\n"), body) if part)


# --- compile + fit -----------------------------------------------------------------------------------

def fit_code(training, has_validation: bool, model, api: str, written_clipping: bool = False) -> TrainingCode:
    imports = {"keras"} | optimizer_imports(training)
    distributed = training.distribute != "none"
    needs_steps = training.schedule in ("step", "cosine")
    if needs_steps:
        imports.add("math")
    if distributed:
        imports.add("tf")

    metric = '"accuracy"'
    if training.loss == "binary_crossentropy" and training.from_logits:
        metric = _accuracy_expression(training, "accuracy")
    if model.heads:   # several heads: a loss, a weight and a metric per head
        compile_args = ["optimizer=optimizer", *several.compile_arguments(model.heads)]
    else:
        compile_args = ["optimizer=optimizer", f"loss={loss_expression(training)}", f"metrics=[{metric}]"]
    several_steps = steps_per_call(training) > 1 and not distributed
    if several_steps:
        compile_args.append(f"steps_per_execution={steps_per_call(training)}")
    compile_args += _execution_arguments(training.execution)
    compile_lines = optimizer_lines(training, clipping=not written_clipping, define=not distributed) + (
        [EXECUTION_COMMENTS[training.execution]] if training.execution in EXECUTION_COMMENTS else [])
    compile_lines += _steps_comment(training) if several_steps else []
    if distributed and steps_per_call(training) > 1:
        compile_lines.append(DISTRIBUTED_STEPS_COMMENT)
    compile_lines += ["model.compile("] + [f"    {a}," for a in compile_args] + [")"]

    callbacks = []
    if training.schedule == "plateau":
        callbacks.append(
            f'keras.callbacks.ReduceLROnPlateau(monitor="{_monitor("val_loss", has_validation)}", '
            f"factor={_number(training.schedule_factor)}, patience={training.schedule_patience})")
    if training.early_stopping:
        monitor = _monitor(training.early_stopping_monitor, has_validation, model.heads)
        args = [f'monitor="{monitor}"']
        if monitor.endswith("accuracy"):
            args.append('mode="max"')
        elif model.heads:   # Keras cannot tell the direction of a head's figure (val_parity_loss) itself
            args.append('mode="min"')
        args.append(f"patience={training.early_stopping_patience}")
        if training.restore_best_weights:
            args.append("restore_best_weights=True")
        callbacks.append(f"keras.callbacks.EarlyStopping({', '.join(args)})")
    if training.tensorboard:
        callbacks.append('keras.callbacks.TensorBoard(log_dir="logs")')

    fit_args = ["x_train", "y_train", "batch_size=batch_size", "epochs=epochs"]
    if has_validation:
        fit_args.append("validation_data=(x_val, y_val)")
    if callbacks:
        fit_args.append("callbacks=callbacks")
    settings = _settings(training, needs_steps, bool(model.heads))
    if distributed:
        # Settings come first: a schedule made inside the scope reads steps_per_epoch.
        parts = [section("Settings"), *settings, "", section("Model"),
                 _model_block(model, True, [""] + compile_lines, module_lines(training)), "", section("Training")]
    else:
        parts = [section("Model"), _model_block(model, False, []), "", section("Training"), *settings, "",
                 *compile_lines]
    if callbacks:
        parts += ["", "callbacks = ["] + [f"    {c}," for c in callbacks] + ["]"]
    parts += ["model.fit("] + [f"    {a}," for a in fit_args] + [")"]
    evaluation = [
        section("Evaluation"),
        "test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)",
        'print(f"Test accuracy: {test_accuracy:.4f}")',
    ] if not model.heads else [section("Evaluation"), *several.fit_evaluation(model.heads)]
    text = "\n".join(parts) + "\n\n" + "\n".join(evaluation)
    return TrainingCode(prelude="\n".join(_strategy_lines(training)), text=text, imports=imports)


# --- the GradientTape loop ---------------------------------------------------------------------------

def tape_code(training, has_validation: bool, model, api: str) -> TrainingCode:
    imports = {"keras", "tf"} | optimizer_imports(training)
    distributed = training.distribute != "none"
    needs_steps = training.schedule in ("step", "cosine")
    per_call = steps_per_call(training) > 1 and not model.heads   # several heads: one step per call
    if needs_steps or per_call or training.early_stopping or training.schedule == "plateau":
        imports.add("math")

    data = [
        section("Settings"),
        *_settings(training, needs_steps, bool(model.heads), per_call),
        "",
        "train_ds = (",
        "    tf.data.Dataset.from_tensor_slices((x_train, y_train))",
        f"    .shuffle({'num_train' if model.heads else 'len(x_train)'})",
        "    .batch(batch_size)",
        ")",
    ]
    if has_validation:
        data.append("val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch_size)")
    data.append("test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size)")
    if distributed:
        data.append("")
        data.append("# Each global batch is split across the replicas.")
        for ds in ("train_ds", "val_ds", "test_ds") if has_validation else ("train_ds", "test_ds"):
            data.append(f"{ds} = strategy.experimental_distribute_dataset({ds})")

    objects = []
    accumulate = training.gradient_accumulation_steps > 1 and not distributed
    if (distributed or accumulate) and api == "subclassing":
        where = ", inside the scope." if distributed else "."
        objects += [f"# Create the weights now (one call on one example){where}",
                    several.build_call() if model.heads else 'model(np.zeros((1, *input_shape), dtype="float32"))']
    # Several replicas leave accumulation to the optimizer; one device writes it out below.
    objects += optimizer_lines(training, clipping=False, accumulation=distributed, define=not distributed)
    objects += _multiplier_table(model.multipliers)
    if training.precision == "mixed_float16":
        objects += ["# float16: scale the loss up before the gradients, and the gradients back down.",
                    "optimizer = keras.optimizers.LossScaleOptimizer(optimizer)"]
    if accumulate:
        objects += [f"# Average the gradients of {training.gradient_accumulation_steps} batches, then update once.",
                    f"accumulation_steps = {training.gradient_accumulation_steps}",
                    "accumulated = [tf.Variable(tf.zeros_like(v), trainable=False) for v in model.trainable_variables]",
                    "batches_seen = tf.Variable(0)",
                    "optimizer.build(model.trainable_variables)  # its variables exist before the compiled step",
                    "",
                    "",
                    "def apply_accumulated():",
                    "    optimizer.apply_gradients(zip(accumulated, model.trainable_variables))",
                    "    for total in accumulated:",
                    "        total.assign(tf.zeros_like(total))"]
    if distributed:
        objects += ["# The optimizer's variables must exist inside the scope before the first compiled step.",
                    "optimizer.build(model.trainable_variables)"]
    if model.heads:
        objects += several.tape_objects(model.heads, distributed)
    elif distributed:
        objects += ["# reduction=None: one loss per example; the step averages over the global batch.",
                    f"loss_object = {loss_expression(training, per_example=True)}"]
    else:
        objects.append(f"loss_object = {loss_expression(training)}")
    if not model.heads:
        objects += [
            "",
            'train_loss = keras.metrics.Mean(name="train_loss")',
            f"train_accuracy = {_accuracy_expression(training, 'train_accuracy')}",
            'test_loss = keras.metrics.Mean(name="test_loss")',
            f"test_accuracy = {_accuracy_expression(training, 'test_accuracy')}",
        ]
    parts = ["\n".join(data), section("Model"), _model_block(model, distributed, [""] + objects, module_lines(training))
             if distributed else _model_block(model, False, []) + "\n\n" + "\n".join(objects)]
    parts.append(section("Training"))
    if model.heads:
        parts.append(several.total_loss_function(model.heads))
    parts.append(_steps(distributed, training.execution, training, accumulate, model.multipliers,
                        several.step_texts(distributed) if model.heads else None))
    if per_call:
        parts.append(_several_steps(distributed, training.execution))
    parts.append(_epoch_loop(training, has_validation, distributed, model.heads, per_call))
    parts.append("\n".join([
        section("Evaluation"),
        "_, accuracy = evaluate(test_ds)",
        'print(f"Test accuracy: {accuracy:.4f}")',
    ] if not model.heads else [section("Evaluation"), *several.tape_evaluation(model.heads)]))
    return TrainingCode(prelude="\n".join(_strategy_lines(training)), text="\n\n".join(parts), imports=imports)


def _execution_arguments(execution: str) -> list[str]:
    """``model.compile`` arguments: eager runs the step as Python, XLA compiles the traced graph."""
    return {"eager": ["run_eagerly=True"], "xla": ["jit_compile=True"]}.get(execution, [])


EXECUTION_COMMENTS = {
    "eager": "# run_eagerly=True: no graph, each operation runs as Python reaches it (debuggable, slower).",
    "xla": "# jit_compile=True: the traced training step is compiled further by XLA.",
}


def _decorator(execution: str) -> str:
    """``@tf.function`` traces the step into a graph once; without it (eager) Python runs every step."""
    if execution == "eager":
        return "# No @tf.function: eager execution, each operation runs as Python reaches it.\n"
    if execution == "xla":
        return "@tf.function(jit_compile=True)  # traced once, then compiled by XLA\n"
    return "@tf.function\n"


def _apply_lines(accumulate: bool) -> str:
    if not accumulate:
        return "    optimizer.apply_gradients(zip(gradients, model.trainable_variables))\n"
    return ("    for total, g in zip(accumulated, gradients):\n"
            "        total.assign_add(g / accumulation_steps)\n"
            "    batches_seen.assign_add(1)\n"
            "    # Every accumulation_steps-th batch: update with the average, start a new sum.\n"
            "    tf.cond(batches_seen % accumulation_steps == 0, apply_accumulated, lambda: None)\n")


def _multiplier_lines(multipliers: dict, indent: str, owner: str) -> str:
    """Scale each layer's gradients by its learning-rate multiplier, found by the layer's name
    (a variable's path reads ``model/layer/kernel``)."""
    if not multipliers:
        return ""
    return (f"{indent}# Per-layer learning rates: each layer's gradients times its multiplier.\n"
            f"{indent}gradients = [g * LR_MULTIPLIERS.get(v.path.split(\"/\")[-2], 1.0)\n"
            f"{indent}             for g, v in zip(gradients, {owner}.trainable_variables)]\n")


def _multiplier_table(multipliers: dict) -> list[str]:
    if not multipliers:
        return []
    pairs = ", ".join(f"{name!r}: {_number(float(value))}" for name, value in multipliers.items())
    return ["# Layers that learn at the learning rate times a factor.", f"LR_MULTIPLIERS = {{{pairs}}}"]


def _steps(distributed: bool, execution: str = "graph", training=None, accumulate: bool = False,
           multipliers: dict | None = None, heads: dict | None = None) -> str:
    """The train and test steps and ``evaluate``; ``heads``: the several-head pieces
    (``several_training.step_texts``) in place of one loss and one accuracy."""
    decorator = "" if distributed else _decorator(execution)
    clip = _clip_lines(training, "    ") if training is not None else ""
    clip += _multiplier_lines(multipliers or {}, "    ", "model")
    float16 = training is not None and training.precision == "mixed_float16"
    loss_name = "scaled_loss" if float16 else "loss"
    if distributed:
        loss_lines = ("        per_example_loss = loss_object(labels, predictions)\n"
                      "        # Divide by the global batch size, not this replica's share of it.\n"
                      "        loss = tf.nn.compute_average_loss(per_example_loss)\n")
        update = "    train_loss.update_state(per_example_loss)\n"
    else:
        loss_lines = "        loss = loss_object(labels, predictions)\n"
        update = "    train_loss.update_state(loss)\n"
    args, inputs = "images, labels", "images"
    train_metric = "    train_accuracy.update_state(labels, predictions)\n"
    test_lines = ("    test_loss.update_state(loss_object(labels, predictions))\n"
                  "    test_accuracy.update_state(labels, predictions)\n")
    if heads:
        args, inputs, loss_lines, update = heads["args"], heads["inputs"], heads["loss"], heads["update"]
        train_metric, test_lines = heads["train_metrics"], heads["test"]
    if float16:
        loss_lines += "        scaled_loss = optimizer.scale_loss(loss)  # float16: scaled up against underflow\n"
    text = (
        f"{decorator}def train_step({args}):\n"
        "    with tf.GradientTape() as tape:\n"
        "        # training=True: Dropout, BatchNormalization and augmentation layers act as in training.\n"
        f"        predictions = model({inputs}, training=True)\n"
        f"{loss_lines}"
        f"    gradients = tape.gradient({loss_name}, model.trainable_variables)\n"
        f"{clip}"
        f"{_apply_lines(accumulate)}"
        f"{update}"
        f"{train_metric}"
        "\n\n"
        f"{decorator}def test_step({args}):\n"
        f"    predictions = model({inputs}, training=False)\n"
        f"{test_lines}"
    )
    if distributed:
        outer = _decorator(execution)
        text += (
            "\n\n"
            f"{outer}"
            f"def distributed_train_step({args}):\n"
            f"    strategy.run(train_step, args=({args}))\n"
            "\n\n"
            f"{outer}"
            f"def distributed_test_step({args}):\n"
            f"    strategy.run(test_step, args=({args}))\n"
        )
    step = "distributed_test_step" if distributed else "test_step"
    reset = ('    """Mean loss and accuracy over a whole dataset."""\n'
             "    test_loss.reset_state()\n"
             "    test_accuracy.reset_state()\n")
    result = "    return float(test_loss.result()), float(test_accuracy.result())"
    if heads:
        reset, result = heads["evaluate"], heads["result"]
    text += (
        "\n\n"
        "def evaluate(dataset):\n"
        f"{reset}"
        f"    for {args} in dataset:\n"
        f"        {step}({args})\n"
        f"{result}"
    )
    return text


def _several_steps(distributed: bool, execution: str) -> str:
    """Several steps per call: Python, and the read of the loss for a progress line, once per call."""
    step = "distributed_train_step" if distributed else "train_step"
    decorator = _decorator(execution) if execution == "eager" else "@tf.function  # iterator ops stay outside XLA\n"
    return (
        f"{decorator}"
        "def train_steps(iterator, steps):\n"
        '    """`steps` training steps in one call (a tensor, so every count shares one trace)."""\n'
        "\n"
        "    def one_step(taken):\n"
        f"        {step}(*next(iterator))\n"
        "        return (taken + 1,)\n"
        "\n"
        "    tf.while_loop(lambda taken: taken < steps, one_step, (tf.constant(0),))"
    )


def _epoch_loop(training, has_validation: bool, distributed: bool, dicts=None,
                per_call: bool = False) -> str:
    before, after = [], []
    if training.tensorboard:
        before.append('summary_writer = tf.summary.create_file_writer("logs")')
        after += ["with summary_writer.as_default():",
                  "    for key, value in logs.items():",
                  "        tf.summary.scalar(key, value, step=epoch)"]
    if training.schedule == "plateau":
        monitor = _monitor("val_loss", has_validation)
        before += ["plateau_best = math.inf", "plateau_wait = 0"]
        after += [
            f"# Multiply the learning rate by {training.schedule_factor:g} when {monitor} has not improved "
            f"for {training.schedule_patience} epochs.",
            f'if logs["{monitor}"] < plateau_best:',
            f'    plateau_best, plateau_wait = logs["{monitor}"], 0',
            "else:",
            "    plateau_wait += 1",
            f"    if plateau_wait >= {training.schedule_patience}:",
            f"        optimizer.learning_rate = float(optimizer.learning_rate) * {_number(training.schedule_factor)}",
            "        plateau_wait = 0",
        ]
    if training.early_stopping:
        monitor = _monitor(training.early_stopping_monitor, has_validation, dicts)   # dicts: the heads
        higher = monitor.endswith("accuracy")
        patience = training.early_stopping_patience
        before += [f"best = {'-' if higher else ''}math.inf", "wait = 0"]
        if training.restore_best_weights:
            before.append("best_weights = None")
        after += [
            f"# Stop when {monitor} has not improved for {patience} epochs.",
            f'if logs["{monitor}"] {">" if higher else "<"} best:',
            f'    best, wait = logs["{monitor}"], 0',
        ]
        if training.restore_best_weights:
            after.append("    best_weights = model.get_weights()")
        after += ["else:", "    wait += 1", f"    if wait >= {patience}:",
                  f'        print(f"Early stopping: {monitor} has not improved for {patience} epochs.")']
        if training.restore_best_weights:
            after += ["        if best_weights is not None:", "            model.set_weights(best_weights)"]
        after.append("        break")

    step = "distributed_train_step" if distributed else "train_step"
    if dicts:   # several heads: the logs hold each head's metric, named as fit names them
        loop = several.epoch_lines(step, has_validation)
        loop += [INDENT + line if line else "" for line in after]
        return "\n".join(before + ([""] if before else []) + loop)
    shown = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if has_validation else [])
    report = [f"{key} {{logs['{key}']:.4f}}" for key in shown]
    loop = [
        "for epoch in range(epochs):",
        "    train_loss.reset_state()",
        "    train_accuracy.reset_state()",
        *(["    iterator = iter(train_ds)",
           "    for first in range(0, steps_per_epoch, steps_per_execution):",
           "        train_steps(iterator, tf.constant(min(steps_per_execution, steps_per_epoch - first)))"]
          if per_call else
          ["    for images, labels in train_ds:",
           f"        {step}(images, labels)"]),
        '    logs = {"loss": float(train_loss.result()), "accuracy": float(train_accuracy.result())}',
    ]
    if has_validation:
        loop.append('    logs["val_loss"], logs["val_accuracy"] = evaluate(val_ds)')
    loop += ["    print(", '        f"Epoch {epoch + 1}/{epochs}: "']
    loop += [f'        f"{item}{", " if i < len(report) - 1 else ""}"' for i, item in enumerate(report)]
    loop.append("    )")
    loop += [INDENT + line if line else "" for line in after]
    return "\n".join(before + ([""] if before else []) + loop)
