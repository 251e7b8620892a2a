"""What a GAN run cannot do yet, refused before anything is built, one line each with the way out.

Each line names the setting as the file spells it; the check and the run both ask here, so the window,
``tapedeck check`` and ``tapedeck train`` refuse the same things the same way.
"""
from __future__ import annotations

import importlib.util

from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["gan_refusals", "rl_refusals", "xla_across_replicas"]


def gan_refusals(experiment, resuming: bool = False) -> list[str]:
    """A GAN's or a VAE's (``resuming`` is kept for the callers: their runs resume from their checkpoints)."""
    kind = objective_kind(experiment.objective)
    training = experiment.training
    name = kind.name
    problems = []
    if training.loop not in kind.loops:
        problems.append(f"training.loop: {training.loop!r} cannot train objective {name!r}: {kind.why_not_fit}; "
                        f"choose {' or '.join(repr(loop) for loop in kind.loops)}")
    if training.distribute == "mirrored" and training.execution == "xla":   # multi_worker: refused as it starts
        problems.append(xla_across_replicas(name))
    if training.gradient_accumulation_steps != 1:
        problems.append(f"training.gradient_accumulation_steps: objective {name!r} updates each of its models "
                        "every step, each against the other's latest state; set it to 1")
    if training.initial_weights is not None:
        problems.append(f"training.initial_weights: a weights file holds one model; objective {name!r} trains "
                        f"{' and '.join(kind.models)}, so set it to null")
    if training.tensorboard and importlib.util.find_spec("tensorboard") is None:
        problems.append("training.tensorboard: the tensorboard package is not installed; run `pip install "
                        "tensorboard` or set tensorboard to false")
    return problems + _unused_classifier_settings(training, name)


def xla_across_replicas(name: str) -> str:
    """Mirrored, a step spans the replicas (``strategy.run``, fit's train_step and the GradientTape loop alike),
    and XLA compiles for one device: "Trying to access resource ... located in device CPU:1 from device CPU:0"."""
    return (f"training.execution: XLA compiles a step for one device, and objective {name!r} distributed runs its "
            "step on every device at once; choose \"graph\", or set distribute to \"none\"")


def _unused_classifier_settings(training, name: str) -> list[str]:
    """A classifier's training settings this objective's run would not apply: refused rather than ignored."""
    problems = []
    if training.steps_per_execution not in (1, "auto") and training.loop == "tape":
        problems.append(f"training.steps_per_execution: objective {name!r}'s GradientTape loop takes one step per "
                        "call, so a Step can stop after any one; set it to 1 or \"auto\", or train "
                        "with loop \"train_step\" (fit runs several steps per call)")
    if training.schedule == "plateau":
        problems.append(f"training.schedule: plateau lowers the rate when the validation loss stalls, and objective "
                        f"{name!r} has no validation loss; choose \"step\" or \"cosine\" (applied to every model's "
                        "optimizer), or \"constant\"")
    if training.early_stopping:
        problems.append(f"training.early_stopping: objective {name!r} has no validation figure to stop on; set "
                        "early_stopping to false")
    return problems


def rl_refusals(experiment, resuming: bool = False) -> list[str]:
    """What a reinforcement-learning run cannot do, one line each; the environment itself is checked by
    engine.objectives.environments (it needs gymnasium). ``resuming`` is kept for the callers: an agent's
    run resumes from its checkpoints (engine.objectives.checkpoints)."""
    kind = objective_kind(experiment.objective)
    training, objective = experiment.training, experiment.objective
    name = kind.name
    problems = []
    if training.loop not in kind.loops:
        problems.append(f"training.loop: {training.loop!r} cannot train objective {name!r}: {kind.why_not_fit}; "
                        f"choose {' or '.join(repr(loop) for loop in kind.loops)}")
    if training.distribute != "none":
        problems.append(f"training.distribute: objective {name!r} trains on one device; set distribute to \"none\"")
    if training.precision != "float32":
        problems.append(f"training.precision: objective {name!r}'s networks are small and its log-probabilities "
                        "need float32; set precision to \"float32\"")
    if training.gradient_accumulation_steps != 1:
        problems.append(f"training.gradient_accumulation_steps: objective {name!r} updates once per batch of "
                        "play; set it to 1 (play more steps per update instead)")
    if training.initial_weights is not None:
        problems.append(f"training.initial_weights: a weights file holds one classifier; objective {name!r} "
                        "starts its models fresh, so set it to null")
    if training.tensorboard and importlib.util.find_spec("tensorboard") is None:
        problems.append("training.tensorboard: the tensorboard package is not installed; run `pip install "
                        "tensorboard` or set tensorboard to false")
    if "minibatches" in objective.settings:
        samples = int(objective.envs) * int(objective.steps)
        if samples % int(objective.minibatches):
            problems.append(f"objective.minibatches: {objective.envs} envs × {objective.steps} steps = {samples} "
                            f"samples do not split into {objective.minibatches} equal minibatches; choose a "
                            f"divisor of {samples}")
    return problems
