"""Several worker processes (``training.distribute: multi_worker``): who writes, and two Keras fixes.

The chief (``TF_CONFIG`` task ``chief``, or ``worker`` 0 when the cluster has no chief) writes the
run folder the person sees; every other worker trains the same model and writes its copy into a
temporary folder that is removed when the run ends, as TensorFlow's multi-worker Keras guide does
(the workers must still save: saving can run collective ops all workers take part in).

Keras 3's ``fit`` (TensorFlow backend) does not run under ``MultiWorkerMirroredStrategy`` with more
than one worker as released (keras-team/keras#20585); ``fit_under_workers`` works around both faults.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import keras

__all__ = ["is_chief", "worker_count", "fit_under_workers", "worker_folders", "AgreedControl", "join_workers"]


def _tf_config() -> dict:
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def is_chief(strategy=None) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster.

    From the strategy's cluster resolver when it has one (what TensorFlow decided), otherwise from
    ``TF_CONFIG`` as the guide reads it.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and getattr(resolver, "task_type", None) is not None:
        task_type, task_id = resolver.task_type, resolver.task_id
        cluster = resolver.cluster_spec().as_dict()
    else:
        config = _tf_config()
        task = config.get("task") or {}
        task_type, task_id = task.get("type"), task.get("index", 0)
        cluster = config.get("cluster") or {}
        if task_type is None:
            return True
    if task_type == "chief":
        return True
    return task_type == "worker" and int(task_id or 0) == 0 and "chief" not in cluster


def worker_count(strategy) -> int:
    """Worker processes taking part (1 for every strategy but a multi-worker one)."""
    return int(getattr(getattr(strategy, "extended", None), "_num_workers", 1) or 1)


@contextlib.contextmanager
def fit_under_workers(model):
    """Around ``model.fit``/``evaluate`` when several workers train: Keras's two faults avoided.

    1. With a strategy recorded on the model, ``fit`` first builds the model from one batch
       averaged across workers, ``strategy.reduce("MEAN", (x, y))``, which the multi-worker strategy
       rejects for a tuple ("Attempt to convert a value (PerReplica...)"). Tapedeck's model is built
       already, so that step has nothing to do: with the model's record cleared Keras skips it and
       runs every step through ``tf.distribute.get_strategy()`` — the same strategy, since ``fit``
       runs inside its scope.
    2. Each step's logs are averaged across workers with ``reduce("MEAN", v, axis=0)``, which fails
       on the scalar losses and metrics ("Invalid reduction dimension 0 for input with 0 dimensions");
       scalars are averaged across replicas with ``axis=None`` instead, everything else as Keras does.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as keras_trainer

    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None or worker_count(strategy) <= 1 or tf.distribute.get_strategy() is not strategy:
        yield
        return
    original = keras_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def one(value):
            local = strategy.experimental_local_results(value)[0] if isinstance(
                value, tf.distribute.DistributedValues) else value
            if getattr(getattr(local, "shape", None), "rank", None) == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tf.nest.map_structure(one, values)

    model._distribute_strategy = None
    keras_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        keras_trainer.reduce_per_replica = original
        model._distribute_strategy = strategy


def worker_folders(strategy, runs_dir, resume_dir, held: contextlib.ExitStack):
    """(runs folder, folder to resume) for this process: the given ones on the chief; on another
    worker a temporary folder removed when ``held`` closes, and a copy of the folder to resume
    (each machine needs the run folder at the same path, as each needs the experiment file)."""
    if is_chief(strategy):
        return runs_dir, resume_dir
    scratch = Path(tempfile.mkdtemp(prefix="tapedeck-worker-"))
    held.callback(shutil.rmtree, scratch, ignore_errors=True)
    if resume_dir is None:
        return scratch, None
    source = Path(resume_dir)
    if not source.is_dir():   # RunFolder.open_for_resume names the missing folder
        return scratch, resume_dir
    copy = scratch / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".lock", ".tmp"))
    return scratch, copy


class AgreedControl(keras.callbacks.Callback):
    """The run's control as every worker sees it: a stop asked on any worker stops all at one step.

    A collective op waits until every worker joins it, so a worker that stopped alone would leave
    the others waiting. The stop request is therefore summed across the workers after each training
    step (one scalar all-reduce; all workers take the same steps), and the loops see the agreed
    answer. Pause and Step are not offered: one worker paused would hold up the others.
    Placed first among the callbacks, so the control callback acts on the same step everywhere.
    """

    def __init__(self, control, strategy):
        super().__init__()
        import tensorflow as tf

        self._control = control
        self._agreed = False
        self.steps_left = None

        def any_worker(flag: float) -> float:
            local = strategy.experimental_distribute_values_from_function(lambda _: tf.constant(flag))
            return float(strategy.reduce("SUM", local, axis=None))

        self._any_worker = any_worker

    def on_train_batch_end(self, batch, logs=None):
        if not self._agreed:
            self._agreed = self._any_worker(1.0 if self._control.stop_requested else 0.0) > 0

    # -- what the loops ask a RunControl ----------------------------------------------------------
    @property
    def stop_requested(self) -> bool:
        return self._agreed

    @property
    def paused(self) -> bool:
        return False

    def wait_while_paused(self, timeout=None) -> None:
        return None

    def begin_step(self) -> bool:
        return False

    def step_done(self) -> bool:
        return False

    def stop(self) -> None:
        self._control.stop()


def join_workers(strategy, runs_dir, resume_dir, control, held: contextlib.ExitStack):
    """(runs folder, folder to resume, control, callback or None) for this process of the run."""
    if worker_count(strategy) <= 1:
        return runs_dir, resume_dir, control, None
    runs_dir, resume_dir = worker_folders(strategy, runs_dir, resume_dir, held)
    agreed = AgreedControl(control, strategy)
    return runs_dir, resume_dir, agreed, agreed
