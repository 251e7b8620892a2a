"""What a layer's update ratio says, in words, for the terminal and the window alike.

The update ratio ||Δw|| / ||w|| per step is the usual health signal. What is healthy depends on the
optimizer (issue 23, measured on the digits CNN, batch 16):

- plain SGD moves a weight by lr × its gradient: around 1e-3 a layer learns (SGD 0.01: 5e-4 to
  2e-3); far above 3e-2 the updates rival the weights (SGD 1.0: 0.05 to 0.2, the loss stalls).
- adaptive optimizers (Adam, RMSprop…) divide by the gradient's running size, so their first steps
  move every weight by about the learning rate, whatever its gradient: the ratio is lr / rms(w) by
  design. The default preset (Adam 0.003, ~95 % in 3 epochs) shows 0.015–0.06 at step 1 and
  0.005–0.024 by step 10; Adam 0.1, which kills the ReLUs, shows 0.5–2 at step 1. Their band ends
  at 0.2.

A layer whose gradients are all exactly zero learns nothing whatever its ratio (Adam 0.1 by step
10: 100 % zero gradients, the ratio back in band from momentum alone): that is said first. No
TensorFlow here: the window imports this before TensorFlow has loaded.
"""
from __future__ import annotations

import math

__all__ = ["HEALTHY", "HEALTHY_ADAPTIVE", "ADAPTIVE", "band", "verdict", "judged", "what_to_look_at"]

HEALTHY = (1e-4, 3e-2)
HEALTHY_ADAPTIVE = (1e-4, 0.2)
ADAPTIVE = frozenset({"adam", "adamw", "nadam", "adamax", "rmsprop", "adagrad", "adadelta", "adafactor",
                      "lion", "lamb", "ftrl"})
_NAMES = {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam", "adamax": "Adamax", "rmsprop": "RMSprop",
          "adagrad": "Adagrad", "adadelta": "Adadelta", "adafactor": "Adafactor", "lion": "Lion", "lamb": "LAMB",
          "ftrl": "FTRL", "sgd": "SGD"}
DEAD_SHARE = 0.999   # of exactly-zero gradient entries: the layer gets no gradient at all


def band(optimizer: str | None = None) -> tuple[float, float]:
    """The healthy range of update ratios for `optimizer` (plain SGD's when unknown)."""
    return HEALTHY_ADAPTIVE if (optimizer or "").lower() in ADAPTIVE else HEALTHY


def judged(ratio: float, optimizer: str | None = None, zero_grad_share: float | None = None) -> str:
    """``"low"``, ``"ok"``, ``"high"``, ``"dead"`` or ``"nonfinite"``: for colouring."""
    if ratio is None or not math.isfinite(ratio):
        return "nonfinite"
    if zero_grad_share is not None and zero_grad_share >= DEAD_SHARE:
        return "dead"
    low, high = band(optimizer)
    if ratio < low:
        return "low"
    return "high" if ratio > high else "ok"


def verdict(ratio: float, optimizer: str | None = None, zero_grad_share: float | None = None) -> str:
    kind = judged(ratio, optimizer, zero_grad_share)
    adaptive = (optimizer or "").lower() in ADAPTIVE
    high = (f"large updates even for {_name(optimizer)}: lower the learning rate" if adaptive
            else "large updates: learning rate may be too high")
    return {"nonfinite": "non-finite update: diverging", "low": "barely moving", "high": high,
            "dead": "no gradient: dead ReLUs? lower the learning rate", "ok": "learning"}[kind]


def _name(optimizer: str | None) -> str:
    return _NAMES.get((optimizer or "sgd").lower(), optimizer or "SGD")


def what_to_look_at(optimizer: str | None = None) -> str:
    """One line on reading the table for `optimizer`."""
    low, high = band(optimizer)
    name = _name(optimizer)
    if (optimizer or "").lower() in ADAPTIVE:
        return (f"{name} moves each weight by about the learning rate in its first steps, so update / "
                f"weight up to {high:g} is normal there. Look at whether the loss falls over the next steps, "
                "and at zero grads: a layer at 100 % has stopped learning.")
    return (f"With {name}, update / weight near 1e-3 is healthy; above {high:g} the learning rate "
            f"is too high, below {low:g} too low. A layer at 100 % zero grads has stopped learning.")
