"""``training.distribute`` → a tf.distribute strategy.

``none`` is TensorFlow's default strategy (its scope is a no-op), so the loops need no special case.
"""
from __future__ import annotations

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
            return _mirrored(tf, [d.name for d in gpus])
        return tf.distribute.get_strategy()
    if distribute == "mirrored":
        return _mirrored(tf, _mirror_devices(tf))
    if distribute == "multi_worker":
        return _multi_worker(tf, os.environ.get("TF_CONFIG"))
    raise StrategyError(
        f"training.distribute: expected none, auto, mirrored or multi_worker, received {distribute!r}"
    )


_WORKERS: dict = {}   # TF_CONFIG → this process's multi-worker strategy
_MIRRORED: dict = {}  # devices → this process's MirroredStrategy over them


def _mirrored(tf, devices: list[str]):
    """One MirroredStrategy per device set and process. A new one numbers its all-reduce instances from
    the same start, so the second mirrored run of another model in one process (the window, a queue)
    met the first run's collectives: "Shape mismatch in the collective instance 100 ... expected shape
    [101500] but another member in the group expected shape [2410]". Reusing it keeps counting."""
    key = tuple(devices)
    if key not in _MIRRORED:
        _MIRRORED[key] = tf.distribute.MirroredStrategy(devices)
    return _MIRRORED[key]


def _multi_worker(tf, config):
    """One strategy per process: it starts this worker's server and configures the collective ops,
    which TensorFlow allows once, before anything else; a later run in the process reuses it."""
    if config not in _WORKERS:
        from tapedeck.engine.training.multi_worker import TFConfigError, checked_tf_config, start_worker

        try:
            parsed = checked_tf_config(config) if config else None
            # checked, announced and time-limited (engine.training.multi_worker); unset: one local worker
            _WORKERS[config] = start_worker(tf, parsed) if parsed else tf.distribute.MultiWorkerMirroredStrategy()
        except TFConfigError as error:
            raise StrategyError(str(error)) from None
        except RuntimeError as error:
            if "at program startup" not in str(error):
                raise
            raise StrategyError(
                "training.distribute: multi_worker must be the first thing TensorFlow does in its process: "
                "run `tapedeck train EXP.json` on each machine with TF_CONFIG set (not in the window, nor "
                "after a single-process run in the same process)"
            ) from None
    return _WORKERS[config]


def _mirror_devices(tf) -> list[str]:
    """All GPUs; without any, every logical CPU (MirroredStrategy alone would take just the first)."""
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]
