"""``training.distribute`` → a tf.distribute strategy.

``none`` is TensorFlow's default strategy (its scope is a no-op), so the loops need no special case.
"""
from __future__ import annotations

import json
import os

from tapedeck.engine.errors import TapedeckError

__all__ = ["make_strategy", "StrategyError"]


class StrategyError(TapedeckError):
    """The requested strategy cannot run here; the message says why and what to change."""


def make_strategy(distribute: str):
    import tensorflow as tf

    if distribute == "none":
        return tf.distribute.get_strategy()
    if distribute == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        return tf.distribute.get_strategy()
    if distribute == "mirrored":
        return tf.distribute.MirroredStrategy(_mirror_devices(tf))
    if distribute == "multi_worker":
        config = os.environ.get("TF_CONFIG")
        if config:
            try:
                json.loads(config)
            except ValueError as error:
                raise StrategyError(
                    f"TF_CONFIG is not valid JSON ({error}); set it as the TensorFlow multi-worker guide shows"
                ) from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise StrategyError(
        f"training.distribute: expected none, auto, mirrored or multi_worker, received {distribute!r}"
    )


def _mirror_devices(tf) -> list[str]:
    """All GPUs; without any, every logical CPU (MirroredStrategy alone would take just the first)."""
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]
