"""How many training steps one compiled call takes when ``training.steps_per_execution`` is "auto".

Every call into a compiled training step costs a fixed amount of Python, callback and device-to-host
work (reading the loss for the reporter); for a small model at batch 32 that is as much as the step
itself. Running several steps per call pays it once per call. "auto" sizes the call so it lasts about
``TARGET_SECONDS`` — long enough to hide the fixed cost, short enough that Stop and pause still act
within a blink and the curves still move smoothly — capped at ``MAX_STEPS`` and at one epoch.

The step is estimated before training from the model's forward pass on one batch, traced into a
``tf.function`` of its own (no weight or random-state change; measured: an eager pass overstated a
1.5 ms step as 87 ms): a training step costs about three forward passes (forward, backward, update).
The estimate ignores the fixed per-call cost, so it errs long and the chosen count errs small:
responsive rather than maximal.
"""
from __future__ import annotations

import math
import statistics
import time

__all__ = ["TARGET_SECONDS", "MAX_STEPS", "STEP_PER_FORWARD", "choose_steps", "estimate_step_seconds",
           "resolve_steps_per_execution", "one_step_reason"]

TARGET_SECONDS = 0.05
MAX_STEPS = 64
STEP_PER_FORWARD = 3.0   # forward + backward (~2 forwards) + update


def choose_steps(step_seconds: float | None, steps_per_epoch: int) -> int:
    """Steps per call so that a call lasts about TARGET_SECONDS, between 1 and min(MAX_STEPS, an epoch)."""
    ceiling = max(1, min(MAX_STEPS, int(steps_per_epoch)))
    if step_seconds is None or not math.isfinite(step_seconds) or step_seconds <= 0:
        return ceiling
    return max(1, min(ceiling, int(TARGET_SECONDS / step_seconds)))


def _first_rows(x, count: int):
    if isinstance(x, dict):   # several inputs
        return {name: value[:count] for name, value in x.items()}
    return x[:count]


def estimate_step_seconds(model, x, batch_size: int, repeats: int = 5) -> float:
    """A training step's seconds, from the compiled forward pass on one batch (median of ``repeats``)."""
    import numpy as np
    import tensorflow as tf

    batch = _first_rows(x, int(batch_size))
    batch = {k: np.asarray(v) for k, v in batch.items()} if isinstance(batch, dict) else np.asarray(batch)
    forward = tf.function(lambda inputs: model(inputs, training=False))
    forward(batch)   # the first call traces: not timed
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        outputs = forward(batch)
        for output in (outputs.values() if isinstance(outputs, dict) else
                       outputs if isinstance(outputs, (list, tuple)) else [outputs]):
            np.asarray(output)   # wait for the result
        times.append(time.perf_counter() - started)
    return STEP_PER_FORWARD * statistics.median(times)


def resolve_steps_per_execution(setting, model, x, batch_size: int, steps_per_epoch: int):
    """(steps per call, a sentence saying how "auto" chose it or None when the experiment set a number)."""
    if setting != "auto":
        return int(setting), None
    seconds = estimate_step_seconds(model, x, batch_size)
    steps = choose_steps(seconds, steps_per_epoch)
    cap = "an epoch" if steps == steps_per_epoch and steps < MAX_STEPS else f"at most {MAX_STEPS}"
    return steps, (f"steps_per_execution auto: {steps} training step(s) per call (a step ≈ {seconds * 1000:.1f} ms "
                   f"estimated, calls of ≈ {TARGET_SECONDS * 1000:.0f} ms, {cap}); Stop and pause act between "
                   f"calls, within {steps} step(s); set a number to override")


def one_step_reason(setting, loop: str, replicas: int, workers: int, begun_with_step: bool) -> str | None:
    """Why this run takes one step per call whatever the setting says (a note for the run), or None."""
    if replicas > 1 and loop != "tape" and setting != 1:
        # Keras 3's several-step loop fails on replicas at its first call ("You must feed a value for
        # placeholder tensor" from the iterator's has_next branch); the tape loop pulls exactly its steps
        return (f"steps_per_execution {setting}: 1 step per call in {loop} on {replicas} replicas "
                f"(Keras's several-steps loop fails there); the GradientTape loop runs several")
    if setting != "auto":
        return None
    if loop != "tape" and begun_with_step:   # in fit a Step is one call, and the person asked to see one step
        return ("steps_per_execution auto: 1 step per call, as the run began with Step (in fit a Step is one "
                "call; set a number to override)")
    if workers > 1:
        return ("steps_per_execution auto: 1 with several workers (each would measure its own step; set a "
                "number to run several per call)")
    return None
