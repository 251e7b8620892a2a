"""Samples per second: hand-written ``model.fit`` vs Tapedeck's fit loop vs Tapedeck's tape loop.

The MNIST-shaped preset (``mnist_cnn_sequential_fit``: 28x28x1, Conv-Conv-Dense) trains on the same
data three ways, in alternation, for several rounds. The data are scikit-learn's digits upscaled to
28x28 (nearest neighbour) and tiled to the requested size, written once as an .npz file so that
Tapedeck reads them through its own loader; the plain run gets the very same arrays.

Speed is measured in steady state: from the end of epoch 1 to the end of the last epoch (tracing
and start-up excluded alike), validation included in all three. Tapedeck's per-epoch costs
(checkpoint, history, predictions) are inside that interval; the plain run has none.

The reference for the tape loop is ``hand tape``: the GradientTape loop a person writes from the Keras
guide, in the exported script's own shape (one ``tf.function`` step per batch, ``from_tensor_slices(...)
.shuffle(len).batch``), measured in the same rounds as plain ``fit``.

Tapedeck runs three ways per loop: one step per call (``steps_per_execution`` 1, what files written
before "auto" say), ``"auto"`` (what the presets and a new experiment say: a call of ~50 ms), and the
fast settings (``--fast-steps`` steps per call, ``mixed_bfloat16`` only where /proc/cpuinfo lists
amx_bf16 or avx512_bf16, and ``fused_update``: Adam in TensorFlow's fused kernel); each against plain Keras
defaults, the fast settings also against plain Keras with the same lines (``plain fast``), with the test
accuracy of every way. Named in ``--ways`` only: ``plain|fit|tape fast xla`` (the fast settings compiled by
XLA), ``... fast unfused`` (without the fused update), ``... fast float32`` (what a CPU without bfloat16
units gets) and ``tape auto uninspected`` (``inspect_every`` 0: what the inspected steps cost).

Every rate is given twice: per wall-clock second and per CPU-second of this process (see ``Rate``),
and every ratio is paired by round (a way against the reference measured minutes apart at most).

Also measures stop latency: a stop requested from another thread while training, in both loops —
optimizer steps taken after the request and milliseconds until the run's Finished event.

``--modes`` measures the TF1/TF2 lesson instead: eager, graph and XLA execution in both loops on a
smaller set (eager runs Python every step), what the tape loop's gradient recording costs at its
default interval (inspect_every 25 vs 0), and fit with a custom train_step against plain fit,
interleaved in rounds like the rest.

    python tests/benchmarks/bench_training.py [--train 12000] [--epochs 3] [--rounds 3]
    python tests/benchmarks/bench_training.py --modes [--train 3000] [--epochs 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def mnist_shaped(train: int, test: int) -> dict:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0 * 255).astype(np.uint8)
    nearest = (np.arange(28) * 8) // 28
    big = images[:, nearest][:, :, nearest]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(big))
    held, rest = order[:300], order[300:]
    tr = rest[rng.integers(0, len(rest), train)]
    te = held[rng.integers(0, len(held), test)]
    return {"x_train": big[tr], "y_train": digits.target[tr], "x_test": big[te], "y_test": digits.target[te]}


def preset(npz_path, epochs: int):
    from tapedeck.engine.spec.experiment import load_preset

    exp = load_preset("mnist_cnn_sequential_fit")
    exp.data.source, exp.data.path = "npz", str(npz_path)
    exp.training.epochs = epochs
    return exp


class Rate(NamedTuple):
    """Samples per wall-clock second, and per second of this process's CPU time (all its threads).

    On this shared machine the wall figure of one setting moves by up to 2x between minutes while its
    CPU time per epoch stays within ~10% (measured: epochs of 2.4 s and 4.9 s wall both took 4.3-4.9
    CPU-seconds; in the slow ones the process got one core of two). The CPU figure is what a setting
    costs; the wall figure is what a user waits, on a machine that is theirs alone.
    """

    wall: float
    cpu: float


def moment() -> tuple[float, float]:
    """(wall clock, CPU seconds of this process so far)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def steady_rate(ends: list, samples: int) -> Rate:
    """Samples per second from the end of epoch 1 to the end of the last epoch (``ends``: moments)."""
    done = samples * (len(ends) - 1)
    return Rate(done / (ends[-1][0] - ends[0][0]), done / max(ends[-1][1] - ends[0][1], 1e-9))


def plain_keras(exp, accuracy: dict | None = None, name: str = "plain", precision: str = "float32",
                steps_per_execution: int = 1, execution: str = "graph", fused_update: bool = False) -> Rate:
    """What a person writes by hand from the tutorial: the same layers, compile, fit (Keras defaults,
    unless the fast settings are asked for: then the policy line, ``steps_per_execution`` and the fused
    Adam update as the exported script writes it; ``execution="xla"`` adds ``jit_compile=True``, which Keras
    leaves off on a CPU-only machine)."""
    import types

    import keras

    from tapedeck.engine.codegen.fused_code import fused_adam_update
    from tapedeck.engine.data.datasets import load_dataset

    data = load_dataset(exp.data)  # the same split and scaling Tapedeck trains on
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(precision)
    layers = [keras.Input(data.input_shape)]
    for index, spec in enumerate(exp.model.layers):
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.params.items()}
        if index == len(exp.model.layers) - 1 and precision != "float32":
            params["dtype"] = "float32"   # the output layer in float32, as the mixed-precision guide says
        layers.append(getattr(keras.layers, spec.type)(**params))
    model = keras.Sequential(layers)
    keras.config.set_dtype_policy("float32")
    optimizer = keras.optimizers.Adam(exp.training.learning_rate)
    if fused_update:
        optimizer.update_step = types.MethodType(fused_adam_update, optimizer)
    model.compile(optimizer=optimizer,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution, jit_compile=execution == "xla")
    ends = []
    timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(moment()))
    model.fit(data.x_train, data.y_train, batch_size=exp.training.batch_size, epochs=exp.training.epochs,
              validation_data=(data.x_val, data.y_val), callbacks=[timer], verbose=0)
    if accuracy is not None:
        accuracy.setdefault(name, []).append(model.evaluate(data.x_test, data.y_test, verbose=0)[1])
    return steady_rate(ends, len(data.x_train))


def hand_tape(exp, accuracy: dict | None = None, name: str = "hand tape") -> Rate:
    """The GradientTape loop a person writes from the Keras guide, in the exported script's own shape:
    ``from_tensor_slices(...).shuffle(len).batch``, a ``tf.function`` step per batch (one step per call),
    metrics updated in the step, read once per epoch; validation each epoch."""
    import keras
    import tensorflow as tf

    from tapedeck.engine.data.datasets import load_dataset

    data = load_dataset(exp.data)
    keras.utils.set_random_seed(0)
    layers = [keras.Input(data.input_shape)]
    for spec in exp.model.layers:
        layers.append(getattr(keras.layers, spec.type)(**{k: tuple(v) if isinstance(v, list) else v
                                                        for k, v in spec.params.items()}))
    model = keras.Sequential(layers)
    batch = exp.training.batch_size
    train_ds = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).shuffle(len(data.x_train)).batch(batch)
    val_ds = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(batch)
    optimizer = keras.optimizers.Adam(exp.training.learning_rate)
    loss_object = keras.losses.SparseCategoricalCrossentropy()
    train_loss, train_accuracy = keras.metrics.Mean(), keras.metrics.SparseCategoricalAccuracy()
    val_loss, val_accuracy = keras.metrics.Mean(), keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss.update_state(loss)
        train_accuracy.update_state(labels, predictions)

    @tf.function
    def test_step(images, labels):
        predictions = model(images, training=False)
        val_loss.update_state(loss_object(labels, predictions))
        val_accuracy.update_state(labels, predictions)

    ends = []
    for _epoch in range(exp.training.epochs):
        for metric in (train_loss, train_accuracy, val_loss, val_accuracy):
            metric.reset_state()
        for images, labels in train_ds:
            train_step(images, labels)
        for images, labels in val_ds:
            test_step(images, labels)
        float(train_loss.result()), float(val_accuracy.result())   # what the script prints
        ends.append(moment())
    if accuracy is not None:
        val_accuracy.reset_state()
        for images, labels in tf.data.Dataset.from_tensor_slices((data.x_test, data.y_test)).batch(batch):
            test_step(images, labels)
        accuracy.setdefault(name, []).append(float(val_accuracy.result()))
    return steady_rate(ends, len(data.x_train))


def tapedeck(exp, loop: str, runs_dir, accuracy: dict | None = None, name: str | None = None, **training) -> Rate:
    from tapedeck.engine.training.events import EpochEnd
    from tapedeck.engine.training.run import run

    exp = exp.copy()
    exp.training.loop = loop
    for key, value in training.items():
        setattr(exp.training, key, value)
    ends = []

    def reporter(event):
        if isinstance(event, EpochEnd):
            ends.append(moment())

    run_dir = run(exp, reporter, runs_dir=runs_dir)
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    if metrics["status"] != "completed":
        raise SystemExit(f"Tapedeck {loop} run ended {metrics['status']}: {metrics.get('message')}")
    if accuracy is not None:
        accuracy.setdefault(name or loop, []).append(metrics["test"]["accuracy"])
        accuracy.setdefault(f"{name or loop} steps/call", []).append(metrics.get("steps_per_execution"))
    from tapedeck.engine.data.datasets import load_dataset

    return steady_rate(ends, len(load_dataset(exp.data).x_train))


def stop_latency(exp, loop: str, runs_dir) -> tuple[int, float]:
    """Optimizer steps taken after stop() (mid-epoch 2, from another thread) and ms until Finished.

    The step at the request is the last step reported before it; batch events are sampled at
    most 20 a second, so at high step rates the figure is an upper bound.
    """
    import keras

    from tapedeck.engine.training.events import BatchEnd, Finished
    from tapedeck.engine.training.run import RunControl, run

    exp = exp.copy()
    exp.training.loop = loop
    control = RunControl()
    in_epoch_two = threading.Event()
    seen = {"step": 0}

    def reporter(event):
        if isinstance(event, BatchEnd):
            if not control.stop_requested:
                seen["step"] = (event.epoch - 1) * event.steps + event.step
            if event.epoch == 2 and event.step > event.steps // 3:
                in_epoch_two.set()
        if isinstance(event, Finished):
            seen["finished"] = time.perf_counter()

    thread = threading.Thread(target=lambda: seen.setdefault("dir", run(exp, reporter, control,
                                                                        runs_dir=runs_dir)))
    thread.start()
    in_epoch_two.wait(600)
    requested = time.perf_counter()
    control.stop()
    at_request = seen["step"]
    thread.join()
    model = keras.models.load_model(Path(seen["dir"]) / "model.keras")
    return int(np.asarray(model.optimizer.iterations)) - at_request, (seen["finished"] - requested) * 1000


def execution_modes(exp, runs_dir, rounds: int) -> None:
    """Eager vs graph vs XLA in both loops, and the cost of gradient recording, in one run."""
    one = {"steps_per_execution": 1}   # one step per call: the lesson is the step, not the call
    ways = {f"{loop} {mode}": (lambda loop=loop, mode=mode: tapedeck(exp, loop, runs_dir, execution=mode, **one))
            for loop in ("fit", "tape") for mode in ("eager", "graph", "xla")}
    ways["tape graph, no recording"] = lambda: tapedeck(exp, "tape", runs_dir, inspect_every=0, **one)
    ways["train_step graph"] = lambda: tapedeck(exp, "train_step", runs_dir, **one)
    rates, _ = interleave(ways, rounds)
    median = {k: statistics.median(v) for k, v in rates.items()}
    for loop in ("fit", "tape"):
        eager, graph, xla = (median[f"{loop} {mode}"] for mode in ("eager", "graph", "xla"))
        print(f"{loop}: eager {eager:.0f}/s  graph {graph:.0f}/s  xla {xla:.0f}/s  "
              f"graph/eager {graph / eager:.1f}x  xla/graph {xla / graph:.2f}x")
    print(f"fit with a custom train_step: {median['train_step graph']:.0f}/s vs fit {median['fit graph']:.0f}/s "
          f"(ratio {median['train_step graph'] / median['fit graph']:.3f})")
    print(f"gradient recording every 25 steps: tape graph {median['tape graph']:.0f}/s vs "
          f"{median['tape graph, no recording']:.0f}/s without "
          f"(ratio {median['tape graph'] / median['tape graph, no recording']:.3f})")


def interleave(ways: dict, rounds: int) -> tuple[dict, dict]:
    """Every way once per round, the order rotated (no way always goes first); wall and CPU rates."""
    rates: dict = {name: [] for name in ways}
    cpu: dict = {name: [] for name in ways}
    names = list(ways)
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(names)
        for name in names[shift:] + names[:shift]:
            rate = ways[name]()
            rates[name].append(rate.wall)
            cpu[name].append(rate.cpu)
        print(f"round {round_number}: " + "  ".join(f"{k} {rates[k][-1]:.0f}/s ({cpu[k][-1]:.0f}/cpu-s)"
                                                   for k in names), flush=True)
    return rates, cpu


def paired(name: str, against: str, rates: dict) -> str:
    """The ratio to a reference measured in the same round (minutes apart at most), median and range
    over the rounds: the machine's speed drifts by tens of percent between minutes, a round's pair less."""
    ratios = sorted(a / b for a, b in zip(rates[name], rates[against]))
    return (f"ratio {name} / {against}: {statistics.median(ratios):.3f} (paired by round, "
            f"{ratios[0]:.2f}-{ratios[-1]:.2f} over {len(ratios)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=12000, help="training images (MNIST has 60000)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-stop", action="store_true", help="skip the stop-latency measurement")
    parser.add_argument("--fast-steps", type=int, default=32, help="steps_per_execution of the fast settings")
    parser.add_argument("--modes", action="store_true", help="eager vs graph vs XLA, and gradient recording")
    parser.add_argument("--ways", help="only these ways, comma-separated (e.g. 'plain,hand tape,tape auto'); "
                                       "a ratio is printed where its reference was measured too")
    args = parser.parse_args()

    import tensorflow as tf

    work = Path(tempfile.mkdtemp(prefix="tapedeck-bench-"))
    arrays = mnist_shaped(args.train, max(1000, args.train // 6))
    npz = work / "mnist_shaped.npz"
    np.savez(npz, **arrays)
    exp = preset(npz, args.epochs)
    device = ", ".join(d.name for d in tf.config.list_logical_devices("GPU")) or "CPU"
    print(f"device {device}; {args.train} training images 28x28x1, {args.epochs} epochs, batch "
          f"{exp.training.batch_size}, {args.rounds} rounds; samples/s from the end of epoch 1 on")
    if args.modes:
        execution_modes(exp, work / "runs", args.rounds)
        return
    # "1/call": one step per call (what files written before "auto" say); "auto": what the presets and
    # a new experiment say; the fast settings add bfloat16 where the CPU has it and a fixed 32.
    from tapedeck.engine.model import cpu as cpu_features

    fast = {"steps_per_execution": args.fast_steps, "precision": cpu_features.fast_precision(), "fused_update": True}
    print(f"CPU {cpu_features.cpu_name()}, bfloat16 units: {cpu_features.bfloat16_units()}; fast settings: {fast} "
          f"(bfloat16 only where /proc/cpuinfo lists amx_bf16 or avx512_bf16)")
    accuracy: dict = {}
    ways = {"plain": lambda: plain_keras(exp, accuracy),
            "plain fast": lambda: plain_keras(exp, accuracy, "plain fast", **fast),
            "hand tape": lambda: hand_tape(exp, accuracy)}
    for loop in ("fit", "tape"):
        ways[f"{loop} 1/call"] = lambda loop=loop: tapedeck(exp, loop, work / "runs", accuracy, f"{loop} 1/call",
                                                            steps_per_execution=1)
        ways[f"{loop} auto"] = lambda loop=loop: tapedeck(exp, loop, work / "runs", accuracy, f"{loop} auto",
                                                          steps_per_execution="auto")
        ways[f"{loop} fast"] = lambda loop=loop: tapedeck(exp, loop, work / "runs", accuracy, f"{loop} fast", **fast)
    # Measured only when named in --ways, each "<plain|fit|tape> fast <variant>": the fast settings compiled by
    # XLA (slower on a CPU; see the README), without the fused update, in float32 (a CPU without bfloat16 units).
    variants = {"xla": dict(fast, execution="xla"), "unfused": dict(fast, fused_update=False),
                "float32": dict(fast, precision="float32")}
    # and the tape loop at its defaults without the inspected step every 25 (what that feature costs).
    extra = {"tape auto uninspected": lambda: tapedeck(exp, "tape", work / "runs", accuracy, "tape auto uninspected",
                                                       steps_per_execution="auto", inspect_every=0)}
    for variant, settings in variants.items():
        extra[f"plain fast {variant}"] = lambda v=variant, s=settings: plain_keras(exp, accuracy, f"plain fast {v}",
                                                                                  **s)
        for loop in ("fit", "tape"):
            extra[f"{loop} fast {variant}"] = lambda loop=loop, v=variant, s=settings: tapedeck(
                exp, loop, work / "runs", accuracy, f"{loop} fast {v}", **s)
    if args.ways:
        keep = [name.strip() for name in args.ways.split(",")]
        unknown = [name for name in keep if name not in {**ways, **extra}]
        if unknown:
            raise SystemExit(f"--ways: no way named {', '.join(unknown)}; the ways are {', '.join({**ways, **extra})}")
        ways = {name: {**ways, **extra}[name] for name in keep}
    rates, cpu = interleave(ways, args.rounds)
    for figure, table in (("wall-clock", rates), ("CPU-time", cpu)):
        print(f"median samples/s ({figure}): " + "  ".join(f"{k} {statistics.median(v):.0f}"
                                                         for k, v in table.items()))
        for name in table:
            if name.startswith(("plain", "hand")):
                continue
            fast_part = name[name.index("fast"):] if " fast" in name else None   # "fast" or "fast <variant>"
            versus = ["plain fast"] + ([f"plain {fast_part}"] if fast_part != "fast" else []) if fast_part else []
            hand = ["hand tape"] if name.startswith("tape") else []   # the loop it teaches, by hand
            for against in ["plain", *hand, *versus]:
                if against in table:
                    print(f"{figure} " + paired(name, against, table))
        for reference in ("hand tape", "plain fast", *(f"plain fast {v}" for v in variants)):   # against defaults
            if reference in table and "plain" in table:
                print(f"{figure} " + paired(reference, "plain", table))
    print("test accuracy (median): " + "  ".join(f"{k} {statistics.median(v):.4f}" for k, v in accuracy.items()
                                                if "steps" not in k))
    print("steps per call chosen: " + "  ".join(f"{k.replace(' steps/call', '')} {v}" for k, v in accuracy.items()
                                               if "steps" in k))
    if not args.no_stop:
        for loop in ("fit", "tape"):
            steps, ms = stop_latency(exp, loop, work / "runs")
            print(f"stop ({loop}): {steps} optimizer step(s) after the last reported step; Finished "
                  f"{ms:.0f} ms after stop() (includes saving model.keras and the test pass)")


if __name__ == "__main__":
    main()
