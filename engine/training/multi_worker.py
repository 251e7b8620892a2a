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

from tapedeck.engine.errors import TapedeckError

__all__ = ["is_chief", "worker_count", "fit_under_workers", "worker_folders", "AgreedControl", "join_workers",
           "TFConfigError", "checked_tf_config", "start_worker", "WAIT_VARIABLE", "DEFAULT_WAIT_S"]

WAIT_VARIABLE = "TAPEDECK_WORKER_TIMEOUT"   # seconds a worker waits for the others to join
DEFAULT_WAIT_S = 300
_GUIDE = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
          '"index": 0}}\' (index 1 on the second machine)')


class TFConfigError(TapedeckError):
    """TF_CONFIG does not describe this worker of a cluster, or the cluster did not come together."""


def checked_tf_config(text: str) -> dict:
    """TF_CONFIG read and checked as MultiWorkerMirroredStrategy needs it, each mistake named with the fix:
    TensorFlow trained alone on a list or a string (exit 0, one machine) and raised its own ValueErrors
    for a missing task, an index past the cluster or a parameter-server task."""
    try:
        config = json.loads(text)
    except ValueError as error:
        raise TFConfigError(f"TF_CONFIG is not valid JSON ({error}); {_GUIDE}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) or not config["cluster"]:
        raise TFConfigError(f"TF_CONFIG must be an object with \"cluster\" (each task type's addresses) and "
                            f"\"task\" (this process's type and index); {_GUIDE}")
    cluster, task = config["cluster"], config.get("task")
    for kind, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses or not all(
                isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses):
            raise TFConfigError(f"TF_CONFIG cluster {kind!r}: expected a list of \"host:port\" addresses; {_GUIDE}")
    if not isinstance(task, dict) or "type" not in task:
        raise TFConfigError(f"TF_CONFIG has no \"task\": say which of the cluster's tasks this process is, "
                            f"{_GUIDE}")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in ("worker", "chief"):
        raise TFConfigError(f"TF_CONFIG task type {kind!r}: multi_worker trains with workers (and at most one "
                            "chief) that all run tapedeck train; parameter servers and evaluators are another "
                            "strategy's tasks, so make this task a worker")
    if kind not in cluster:
        raise TFConfigError(f"TF_CONFIG task type {kind!r} is not in its cluster (which has "
                            f"{', '.join(cluster)}); add its addresses or change the task's type")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise TFConfigError(f"TF_CONFIG task index {index!r}: the cluster has {len(cluster[kind])} {kind}(s), "
                            f"numbered 0 to {len(cluster[kind]) - 1}; give this machine its own index in that "
                            "range")
    if len(cluster.get("chief", [])) > 1:
        raise TFConfigError("TF_CONFIG cluster: at most one chief; make the others workers")
    return config


def _own_address(config) -> str:
    task = config["task"]
    return config["cluster"][task["type"]][task.get("index", 0)]


def _peers(config) -> list[tuple[str, str]]:
    """(\"worker 1\", address) for every other task of the cluster."""
    own = (config["task"]["type"], config["task"].get("index", 0))
    return [(f"{kind} {i}", address) for kind, addresses in config["cluster"].items()
            for i, address in enumerate(addresses) if (kind, i) != own]


def _refuse_taken_port(address: str) -> None:
    """Bind this task's port first: TensorFlow's "Could not start gRPC server" never says which address."""
    import errno
    import socket

    port = int(address.rpartition(":")[2])
    with socket.socket() as probe:
        try:
            probe.bind(("", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise TFConfigError(f"TF_CONFIG: this task's address {address} is taken (port {port} is in use by "
                                    "another process); give this task a free port in TF_CONFIG on every machine, "
                                    "or stop that process") from None


# The watchdog: a small Python process (no TensorFlow) that waits on a pipe from the worker. The worker
# writes to it (or dies, closing it) once the cluster has joined; after the limit it names the tasks that
# are not listening yet and ends the worker with SIGTERM, whose default action is in place during the wait.
_WATCHDOG = r"""
import os, select, signal, socket, sys
parent, limit, peers, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:-1], sys.argv[-1]
ready, _, _ = select.select([sys.stdin], [], [], limit)
if ready:
    sys.exit(0)
missing = []
for peer in peers:
    name, _, address = peer.partition("=")
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=1.0).close()
    except OSError:
        missing.append(name + " at " + address)
missing = missing or [peer.replace("=", " at ", 1) for peer in peers]
sys.stderr.write(message.replace("{missing}", ", ".join(missing)) + "\n")
sys.stderr.flush()
os.kill(parent, signal.SIGTERM)
ready, _, _ = select.select([sys.stdin], [], [], 5.0)
if not ready:   # a handler of TensorFlow's own took SIGTERM
    os.kill(parent, signal.SIGKILL)
"""


def _wait_limit() -> float:
    text = os.environ.get(WAIT_VARIABLE, "")
    try:
        value = float(text) if text.strip() else DEFAULT_WAIT_S
    except ValueError:
        raise TFConfigError(f"{WAIT_VARIABLE}={text!r}: expected a number of seconds") from None
    if not value > 0:
        raise TFConfigError(f"{WAIT_VARIABLE}={text!r}: expected a number of seconds above 0")
    return value


@contextlib.contextmanager
def _default_signals():
    """SIGINT and SIGTERM act at once (the default) while TensorFlow waits in C++ holding the GIL, where no
    Python handler, and no Python thread, can run; nothing is written before the cluster has joined."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in saved:
        signal.signal(number, signal.SIG_DFL)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def _without_sigterm_notifier() -> None:
    """Leave out TensorFlow's coordination service, as TensorFlow before 2.9 did: its preemption notifier
    takes SIGTERM for itself, so ``timeout`` or a scheduler could not stop a worker (ten minutes, seen).
    Without it the strategy checks its peers' health from Python. A private switch, guarded: where this
    TensorFlow lacks it, its default stays."""
    try:
        from tensorflow.python.eager import context
    except ImportError:
        return
    configure = getattr(context.context(), "configure_coordination_service", None)
    if configure is not None and getattr(context.context(), "coordination_service", None) is None:
        configure(service_type="")


def _rendezvous(tf, strategy) -> None:
    """One all-reduce across the workers: it returns once every task has joined (the strategy itself no
    longer waits for them without the coordination service), while the watchdog still guards the wait."""
    local = strategy.experimental_distribute_values_from_function(lambda _context: tf.constant(1.0))
    strategy.reduce("SUM", local, axis=None)


def start_worker(tf, config: dict):
    """Make this process's MultiWorkerMirroredStrategy, which waits inside TensorFlow until every task joins.

    That wait is C++ code holding the GIL: Ctrl-C and SIGTERM were ignored and a missing worker held the
    process forever, silently. Here the wait is announced (which tasks, at which address, for how long),
    the signals keep their default action while it lasts, and a watchdog process ends the worker after
    ``TAPEDECK_WORKER_TIMEOUT`` seconds, naming the tasks that never answered.
    """
    import subprocess
    import sys

    _refuse_taken_port(_own_address(config))
    limit = _wait_limit()
    peers = _peers(config)
    message = (f"tapedeck: TF_CONFIG: {{missing}} did not join within {limit:g} s, so this worker stops; start "
               f"`tapedeck train EXP.json` there with its own TF_CONFIG task, check that the address is reachable "
               f"from here, or raise {WAIT_VARIABLE}")
    with _default_signals(), contextlib.ExitStack() as held:
        if peers:
            print(f"tapedeck: waiting up to {limit:g} s ({WAIT_VARIABLE}) for the other task(s) to join: "
                  + ", ".join(f"{name} at {address}" for name, address in peers), file=sys.stderr, flush=True)
            watchdog = subprocess.Popen([sys.executable, "-I", "-c", _WATCHDOG, str(os.getpid()), str(limit),
                                         *(f"{name}={address}" for name, address in peers), message],
                                        stdin=subprocess.PIPE)
            held.callback(_release, watchdog)
        _without_sigterm_notifier()
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except tf.errors.UnknownError as error:
            if "gRPC server" not in str(error):
                raise
            raise TFConfigError(f"TF_CONFIG: this task's address {_own_address(config)} cannot be served (port "
                                "taken or not an address of this machine); give it a free port of this "
                                "machine") from None
        if peers:
            _rendezvous(tf, strategy)
        return strategy


def _release(watchdog) -> None:
    """Tell the watchdog the cluster has joined (or that this process gives up), and reap it."""
    with contextlib.suppress(OSError):
        watchdog.stdin.write(b"joined\n")
        watchdog.stdin.close()
    watchdog.wait()


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

    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None or worker_count(strategy) <= 1 or tf.distribute.get_strategy() is not strategy:
        yield
        return
    keras_trainer = _keras_trainer()
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


def _keras_trainer():
    """Keras's TensorFlow trainer module, whose ``reduce_per_replica`` the workaround replaces. Private, so a
    Keras release may move it: then the run stops with the version named and a way on, not an ImportError."""
    try:
        from keras.src.backend.tensorflow import trainer
    except ImportError:
        trainer = None
    if trainer is None or not hasattr(trainer, "reduce_per_replica"):
        raise TFConfigError(f"multi_worker with the fit loop relies on keras.src.backend.tensorflow.trainer."
                            f"reduce_per_replica, which Keras {keras.__version__} does not have (tested with 3.15); "
                            f"use training.loop tape, or Keras 3.15")
    return trainer


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
