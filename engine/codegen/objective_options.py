"""The training section's options in an exported script of several models (a GAN's, a VAE's), written
as the run applies them (engine.objectives.model_optimizers): the dtype policy, each model's optimizer
with the schedule, clipping and fused update, and under mixed_float16 the loss scaling each optimizer does.
"""
from __future__ import annotations

from tapedeck.engine.codegen.fused_code import fused, fused_definition, fused_install, fuses

__all__ = ["precision_code", "optimizers_code", "gradient_target", "compile_options", "mirrored", "strategy_code",
           "in_scope", "replica_decorator", "check_exportable", "workers_code", "seed_code", "shuffle_seed",
           "chief_writes", "imports"]

_CLASSES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


def precision_code(training) -> str:
    if training.precision == "float32":
        return ""
    return (f"# {training.precision}: layers compute in 16 bits and keep float32 weights; the losses are taken\n"
            f"# in float32.\nkeras.config.set_dtype_policy({training.precision!r})")


def optimizers_code(experiment, roles, default_beta: float = 0.5, examples=None, distributed: bool = False) -> str:
    """``roles``: (role, short name, api) in order; ``<short>_optimizer = ...`` for each, with Adam's β₁
    ``default_beta`` where the model's settings name none (the run's: engine.objectives.model_optimizers).
    ``examples``: role → an input that creates a subclassed model's weights, where they must exist before
    training (an optimizer is built on them under float16; a strategy's fit wants every model built)."""
    training = experiment.training
    gan = any(role == "generator" for role, _short, _api in roles)
    lines = ["# Each model has its own optimizer" + (" (Adam with beta_1 0.5 is the usual GAN choice)." if gan
                                                    else ".")]
    if training.schedule in ("step", "cosine"):
        lines.append("steps_per_epoch = len(x_real) // batch_size")
        lines.append(_schedule_words(training))
    clip = "".join(f", {key}={getattr(training, key)!r}" for key in ("clipnorm", "global_clipnorm", "clipvalue")
                   if getattr(training, key) is not None)
    for role, short, _api in roles:
        settings = experiment.models[role].optimizer or {"name": training.optimizer,
                                                         "learning_rate": training.learning_rate}
        name = settings.get("name", "adam")
        rate = _rate(training, float(settings.get("learning_rate", training.learning_rate)))
        beta = f", beta_1={settings.get('beta_1', default_beta)!r}" if name in ("adam", "adamw") else ""
        decay = f", weight_decay={training.weight_decay!r}" if name == "adamw" else ""
        lines.append(f"{short}_optimizer = keras.optimizers.{_CLASSES[name]}(learning_rate={rate}{beta}{decay}{clip})")
        if fuses(training, [name]):
            lines.append(fused_install(f"{short}_optimizer"))
    if fused(experiment):
        lines[:0] = fused_definition()
    mixed = training.precision == "mixed_float16"
    if mixed or distributed:
        built = [f"{role}({examples[role]})" for role, _short, api in roles
                 if api == "subclassing" and (examples or {}).get(role)]
        if built:
            lines += ["", "# A subclassed model's weights exist after one call.", *built]
    if mixed:
        lines += ["", "# float16: each optimizer scales its model's loss up before the gradients (so small ones do "
                  "not\n# underflow) and the gradients back down when it applies them. Built now, so the compiled "
                  "steps\n# read each one's current scale."]
        for role, short, _api in roles:
            lines += [f"{short}_optimizer = keras.optimizers.LossScaleOptimizer({short}_optimizer)",
                      f"{short}_optimizer.build({role}.trainable_variables)"]
    elif distributed:
        lines += ["", "# Built now, in the strategy's scope: slots made inside the replicas' first step would fail."]
        lines += [f"{short}_optimizer.build({role}.trainable_variables)" for role, short, _api in roles]
    return "\n".join(lines)


def _schedule_words(training) -> str:
    if training.schedule == "step":
        return (f"# Every model's learning rate is multiplied by {training.schedule_factor:g} every "
                f"{training.schedule_every} epochs.")
    return "# Every model's learning rate falls along a cosine to zero over the whole run."


def _rate(training, rate: float) -> str:
    if training.schedule == "step":
        return (f"keras.optimizers.schedules.ExponentialDecay({rate!r}, decay_steps={training.schedule_every} * "
                f"steps_per_epoch, decay_rate={training.schedule_factor!r}, staircase=True)")
    if training.schedule == "cosine":
        return f"keras.optimizers.schedules.CosineDecay({rate!r}, decay_steps=epochs * steps_per_epoch)"
    return repr(rate)


def gradient_target(loss: str, short: str, training, distributed: bool = False) -> str | None:
    """What the tape differentiates for ``<short>_optimizer`` where it is not the loss itself: divided by the
    replicas when mirrored (the optimizer sums their gradients), scaled under mixed_float16."""
    target = f"{loss} / strategy.num_replicas_in_sync" if distributed else loss
    if training.precision == "mixed_float16":
        target = f"{short}_optimizer.scale_loss({target})"
    return None if target == loss else target


def mirrored(training, loop: str) -> bool:
    """The step spread over the replicas (the run does it for mirrored and auto, in fit's train_step and in the
    GradientTape loop alike; over several workers, in the GradientTape loop: see ``check_exportable``)."""
    if training.distribute == "multi_worker":
        return loop == "tape"
    return loop in ("train_step", "tape") and training.distribute in ("mirrored", "auto")


def check_exportable(training, loop: str) -> None:
    """ValueError where no script of this loop would run as-is: Keras 3's fit fails under a MultiWorkerMirrored
    strategy with several workers (keras-team/keras#20585), which Tapedeck's run works around inside Keras."""
    if training.distribute == "multi_worker" and loop == "train_step":
        raise ValueError("training.distribute: multi_worker with loop 'train_step' has no script that runs as-is: "
                         "Keras 3's fit fails under several workers (keras-team/keras#20585; Tapedeck's run works "
                         "around it inside Keras); export loop 'tape', or distribute 'mirrored'")


def workers_code(training) -> str:
    """multi_worker: the strategy first (TensorFlow sets up its collective ops once, before anything else), who
    the chief is, and where each worker saves."""
    if training.distribute != "multi_worker":
        return ""
    return '''# Several machines: each runs this script with TF_CONFIG naming every worker and its own place among them.
# The strategy comes first: TensorFlow configures its collective ops once, before anything else.
strategy = tf.distribute.MultiWorkerMirroredStrategy()
print(f"Training on {strategy.num_replicas_in_sync} replica(s)")
resolver = strategy.cluster_resolver
task_index = resolver.task_id or 0
is_chief = resolver.task_type in (None, "chief") or (
    resolver.task_type == "worker" and task_index == 0 and "chief" not in resolver.cluster_spec().as_dict())
# The chief writes here; every other worker saves too (saving can take part in collective ops), into a
# temporary folder removed at the end.
out = "." if is_chief else tempfile.mkdtemp()'''


def seed_code(training) -> str:
    """The seed line; over several workers each its own seed, so each draws its own noise (the initial weights
    are the chief's on every worker, and the shuffle's seed is given: every worker sees the same order)."""
    seed = training.seed or 0
    if training.distribute == "multi_worker":
        return ("# One call seeds Python's random, NumPy and TensorFlow: each worker its own seed, so each draws its "
                f"own noise.\nkeras.utils.set_random_seed({seed} + task_index)")
    return f"# One call seeds Python's random, NumPy and TensorFlow.\nkeras.utils.set_random_seed({seed})"


def shuffle_seed(training) -> str:
    """``, seed=N`` for the shuffle over several workers (each seeds itself apart: ``seed_code``)."""
    return f", seed={training.seed or 0}" if training.distribute == "multi_worker" else ""


def chief_writes(text: str, roles, training) -> str:
    """A training loop's text whose grid is drawn by the chief alone and whose models each worker saves in its
    own folder (``workers_code``), the other workers' removed at the end."""
    if training.distribute != "multi_worker":
        return text
    text = text.replace("    save_grid(epoch + 1)", "    if is_chief:\n        save_grid(epoch + 1)")
    for role in roles:
        text = text.replace(f'{role}.save("{role}.keras")', f'{role}.save(os.path.join(out, "{role}.keras"))')
    return text + "\nif not is_chief:\n    shutil.rmtree(out)"


def imports(training, data_imports: str, fused: bool = False) -> str:
    """The script's imports (``data_imports``: the data section's, which may need scikit-learn's digits;
    ``fused``: the script writes the fused Adam update, engine.codegen.fused_code)."""
    extra = "import shutil\nimport tempfile\n" if training.distribute == "multi_worker" else ""
    extra += "import types\n" if fused else ""
    return ("import os\n" + extra + "\nimport numpy as np\nimport tensorflow as tf\nimport keras\n"
            "from keras import layers" + ("\nfrom sklearn.datasets import load_digits" if "load_digits" in data_imports
                                          else ""))


def replica_decorator(decorator: str) -> str:
    """The compiled call around ``strategy.run``: XLA compiles for one device and cannot reach the other
    replicas' variables, so a mirrored step is a plain graph."""
    if not decorator.startswith("@tf.function"):
        return decorator
    return "@tf.function\n" if decorator.endswith("\n") else "@tf.function"


def strategy_code(training) -> str:
    if training.distribute == "multi_worker":
        return ""   # made first thing in the script: workers_code
    if training.distribute == "auto":
        return ("# Several GPUs: the same step on each, each on its share of the batch; otherwise one device.\n"
                "gpus = tf.config.list_logical_devices(\"GPU\")\n"
                "strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()\n"
                "print(f\"Training on {strategy.num_replicas_in_sync} replica(s)\")")
    return ("# The same step on each of this machine's devices, each on its share of the batch; the models and\n"
            "# their optimizers are made inside the strategy's scope.\n"
            "strategy = tf.distribute.MirroredStrategy()\n"
            "print(f\"Training on {strategy.num_replicas_in_sync} replica(s)\")")


def in_scope(text: str) -> str:
    """``text`` (top-level statements) inside ``with strategy.scope():``."""
    import textwrap

    return "with strategy.scope():\n" + textwrap.indent(text.strip("\n"), "    ", lambda line: bool(line.strip()))


def compile_options(training) -> list[str]:
    """``compile``'s arguments for fit's loop: the execution and the steps per call."""
    options = {"graph": [], "eager": ["run_eagerly=True"], "xla": ["jit_compile=True"]}[training.execution]
    if training.steps_per_execution not in (1, "auto"):
        options.append(f"steps_per_execution={int(training.steps_per_execution)}")
    return options
