"""A generative objective's GradientTape step under a tf.distribute strategy (``training.distribute``
``mirrored``, or ``auto`` over several GPUs): the loop a person writes for a MirroredStrategy.

The batches come from ``strategy.experimental_distribute_dataset`` (each replica gets its share of the
global batch); each update is ``strategy.run(step, args=(real, labels))`` inside one ``tf.function``; each
replica's loss is divided by the replicas before its gradients (engine.objectives.model_optimizers.scaled_loss),
so the optimizer's all-reduced sum is the gradient of the global batch's mean loss, as on one device. A
Step (D, G, both) still takes one global batch; the inspector looks at the first replica's share.
"""
from __future__ import annotations

import tensorflow as tf

__all__ = ["replicated_step", "first_local", "running_options", "normal", "uniform", "across_workers",
           "local_sum"]


def replicated_step(step, execution: str = "graph"):
    """``step(real, labels=None)`` run on every replica of the strategy in whose scope this is called, with
    per-replica (distributed) arguments, compiled as one graph; ``eager`` runs each replica's step as Python.
    (XLA, which compiles for one device, is refused: engine.objectives.refusals.xla_across_replicas.)"""
    strategy = tf.distribute.get_strategy()

    def run(real, labels=None):
        return strategy.run(step, args=(real,) if labels is None else (real, labels))

    if execution == "eager":
        return run
    one = tf.function(lambda real: strategy.run(step, args=(real,)))
    two = tf.function(lambda real, labels: strategy.run(step, args=(real, labels)))
    return lambda real, labels=None: one(real) if labels is None else two(real, labels)


def first_local(strategy, value):
    """The first replica's share of a distributed value on this machine (the value itself when not one)."""
    if value is None:
        return None
    return strategy.experimental_local_results(value)[0]


def running_options() -> dict:
    """tf.Variable options for a step's running sums: in a strategy's scope each replica adds to its own copy
    and a read sums the copies (ON_READ, SUM), so the step never waits on a cross-replica update; outside
    one, a plain variable."""
    if not tf.distribute.has_strategy():
        return {}
    return {"synchronization": tf.VariableSynchronization.ON_READ, "aggregation": tf.VariableAggregation.SUM}


def across_workers() -> bool:
    """Made in the scope of a strategy of several worker processes (multi_worker)."""
    extended = getattr(tf.distribute.get_strategy(), "extended", None)
    return int(getattr(extended, "_num_workers", 1) or 1) > 1


def local_sum(variable):
    """A running sum (ON_READ, SUM) over this process's replicas alone, as numpy. Across workers an ordinary read
    is a collective op every worker must join at once; the mid-epoch reports come when each worker's own clock
    says, so they read only their own replicas."""
    import numpy as np

    return sum(np.asarray(value) for value in getattr(variable, "values", (variable,)))


def normal(shape, generator):
    """``keras.random.normal(shape, seed=generator)``, but different on each replica: the replicas share the
    generator's state, so each would otherwise draw the same noise (a GAN mirrored over two devices made each
    batch's generated half twice)."""
    import keras

    offset = _replica_offset()
    if offset is None:
        return keras.random.normal(shape, seed=generator)
    return tf.random.stateless_normal(shape, seed=_seed(generator) + offset)


def uniform(shape, generator):
    """``keras.random.uniform(shape, seed=generator)``, different on each replica (as :func:`normal`)."""
    import keras

    offset = _replica_offset()
    if offset is None:
        return keras.random.uniform(shape, seed=generator)
    return tf.random.stateless_uniform(shape, seed=_seed(generator) + offset)


def _replica_offset():
    """[0, this replica's number] under several replicas; None on one."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return tf.cast(tf.stack([0, context.replica_id_in_sync_group]), tf.int64)


def _seed(generator):
    return tf.cast(generator.next(), tf.int64)
