"""How long the shape check takes on a 30-layer stack once TensorFlow is imported.

The window re-checks on every edit, so this must stay well under 200 ms. Not a timed
test (the figure depends on the machine and its load); run it and read the numbers:

    .venv/bin/python tests/benchmarks/bench_check.py
"""
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tapedeck.engine.model.check import check, clear_cache  # noqa: E402
from tapedeck.engine.spec.experiment import Experiment, LayerSpec, ModelSpec  # noqa: E402


def thirty_layers() -> list[LayerSpec]:
    """A plausible deep CNN: 7 conv blocks of three layers, pooling, then 7 dense layers."""
    layers = []
    for _ in range(7):
        layers += [LayerSpec("Conv2D", {"filters": 16, "kernel_size": 3, "padding": "same",
                                        "activation": "relu"}),
                   LayerSpec("BatchNormalization"),
                   LayerSpec("Dropout", {"rate": 0.1})]
    layers += [LayerSpec("MaxPooling2D"), LayerSpec("Flatten")]
    layers += [LayerSpec("Dense", {"units": 64, "activation": "relu"}) for _ in range(6)]
    layers.append(LayerSpec("Dense", {"units": 10, "activation": "softmax"}))
    return layers


def main(repeats: int = 20) -> None:
    t0 = time.perf_counter()
    import keras  # noqa: F401  (the import is not what is measured)
    print(f"import keras: {time.perf_counter() - t0:.2f} s")
    experiment = Experiment(model=ModelSpec(api="functional", layers=thirty_layers()))
    assert len(experiment.model.layers) == 30
    times, cpu = [], []
    for _ in range(repeats):
        clear_cache()  # every run asks Keras about all 30 layers: the cost of a new stack
        start, start_cpu = time.perf_counter(), time.process_time()
        report = check(experiment, (28, 28, 1), 10)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    assert report.ok, report.all_problems()
    print(f"check, 30 new layers: first {times[0]:.0f} ms, median {statistics.median(times):.0f} ms, "
          f"max of the rest {max(times[1:]):.0f} ms wall; median {statistics.median(cpu):.0f} ms CPU "
          f"({repeats} runs, {report.trainable + report.non_trainable:,} parameters; wall time "
          f"grows when other processes share the cores)")
    edited = experiment.copy()
    repeat = []
    for run in range(repeats):
        # The window's case: one layer edited, the rest as before.
        edited.model.layers[-2].params["units"] = 32 + run
        start = time.perf_counter()
        check(edited, (28, 28, 1), 10)
        repeat.append((time.perf_counter() - start) * 1000)
    print(f"check after editing one dense layer: median {statistics.median(repeat):.1f} ms, "
          f"max {max(repeat):.1f} ms")

if __name__ == "__main__":
    main()
