"""What a layer's update ratio says, in words, for the terminal and the window alike.

The update ratio ||Δw|| / ||w|| per step is the usual health signal: around 1e-3 a layer learns;
far below it the layer barely moves (learning rate too low, a frozen or dead layer); far above it
the updates rival the weights themselves (learning rate too high, about to diverge). No TensorFlow
here: the window imports this before TensorFlow has loaded.
"""
from __future__ import annotations

import math

__all__ = ["HEALTHY", "verdict", "judged"]

HEALTHY = (1e-4, 3e-2)


def judged(ratio: float) -> str:
    """``"low"``, ``"ok"``, ``"high"`` or ``"nonfinite"``: for colouring."""
    if ratio is None or not math.isfinite(ratio):
        return "nonfinite"
    if ratio < HEALTHY[0]:
        return "low"
    return "high" if ratio > HEALTHY[1] else "ok"


def verdict(ratio: float) -> str:
    return {"nonfinite": "non-finite update: diverging", "low": "barely moving",
            "high": "large updates: learning rate may be too high", "ok": "learning"}[judged(ratio)]
