"""Window benchmark (a measurement, not a test): startup to a visible window, event-loop stalls
while training, and training throughput in the window against the same run headless.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_window.py [--rounds 6] [--epochs 15]

* startup: `gui.app.main` in a fresh interpreter, seconds from launching the process to the
  window being exposed (and main()'s own share), median of several launches.
* stalls: a 5 ms QTimer on the GUI thread records the gaps between its ticks from RunStarted to
  Finished; any gap well past 5 ms is time the event loop could not run. Max and 99th percentile.
* throughput: samples/s from the engine's own BatchEnd events (each epoch's last report, epoch 1
  left out: it pays for tracing), headless (`engine.training.run.run` on the main thread, no event
  loop, as `tapedeck train` runs it) and in the window, alternating rounds; the median ratio. Also
  samples per CPU-second of the whole process (GUI thread included), the steadier figure on a shared
  machine.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.window_driver import until as driver_until  # noqa: E402

STARTUP_CHILD = """
import sys, time
launched = float(sys.argv[1])
from PySide6.QtWidgets import QApplication
from tapedeck.gui.app import main

def visible(seconds):
    print(f"VISIBLE {time.time() - launched:.3f} {seconds:.3f}", flush=True)
    QApplication.instance().quit()

sys.exit(main([], on_visible=visible))
"""


def measure_startup(launches: int) -> tuple[float, float]:
    walls, inside = [], []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(launches):
        done = subprocess.run([sys.executable, "-c", STARTUP_CHILD, repr(time.time())], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
        line = next((text for text in done.stdout.splitlines() if text.startswith("VISIBLE")), None)
        if line is None:
            raise SystemExit(f"the window never became visible:\n{done.stderr[-2000:]}")
        _, wall, own = line.split()
        walls.append(float(wall))
        inside.append(float(own))
    return statistics.median(walls), statistics.median(inside)


def cpu_seconds() -> float:
    """This process's CPU time so far, every thread (the GUI thread's work included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_rate(events, marks: dict) -> float:
    """Samples per CPU-second of the whole process from the end of epoch 1 to the end of the last.

    The machine is shared: wall-clock speed moves by up to 2x between minutes while CPU time per
    epoch stays within ~10%, so this is the steadier figure for what the window costs.
    """
    from tapedeck.engine.training.events import BatchEnd

    samples = max(e.samples_seen for e in events if isinstance(e, BatchEnd))
    epochs = sorted(marks)
    return samples * (len(epochs) - 1) / max(marks[epochs[-1]] - marks[epochs[0]], 1e-9)


def epoch_speeds(events) -> list[float]:
    from tapedeck.engine.training.events import BatchEnd

    last = {}
    for event in events:   # an epoch's last report: with several steps per call it need not say step == steps
        if isinstance(event, BatchEnd):
            last[event.epoch] = event.samples_per_second
    return [speed for epoch, speed in sorted(last.items()) if epoch > 1]


def headless_run(experiment, runs_dir) -> tuple[list[float], float]:
    from tapedeck.engine.training.events import EpochEnd
    from tapedeck.engine.training.run import run

    events, marks = [], {}

    def seen(event):
        events.append(event)
        if isinstance(event, EpochEnd):
            marks[event.epoch] = cpu_seconds()

    run(experiment, seen, runs_dir=runs_dir)
    return epoch_speeds(events), cpu_rate(events, marks)


def window_run(app, window, experiment, probe_ms: int | None) -> tuple[list[float], list[float], float]:
    """One run in the window; with `probe_ms`, a timer of that period records event-loop gaps
    (the probe wakes the GUI thread 200 times a second, so throughput is measured without it)."""
    from PySide6.QtCore import QEventLoop, QTimer

    from tapedeck.engine.training.events import EpochEnd, Finished, RunStarted

    events, gaps, marks = [], [], {}
    state = {"last": None, "on": False}

    def tick():
        now = time.perf_counter()
        if state["on"] and state["last"] is not None:
            gaps.append((now - state["last"]) * 1000)
        state["last"] = now

    def seen(event):
        events.append(event)
        if isinstance(event, EpochEnd):
            marks[event.epoch] = cpu_seconds()   # as the window sees it: its own work is inside
        if isinstance(event, RunStarted):
            state["on"] = True
        elif isinstance(event, Finished):
            state["on"] = False

    window.controller.event.connect(seen)
    probe = QTimer()
    if probe_ms:
        probe.setInterval(probe_ms)
        probe.timeout.connect(tick)
        probe.start()
    window.document.replace(experiment, None)
    window.checker.refresh()
    until(app, lambda: window.can_train, 60)
    loop = QEventLoop()      # a real event loop, as in the app: no polling while measuring

    def ended(running):
        if not running:
            loop.quit()
    window.controller.running_changed.connect(ended)
    window.train()
    if window.controller.running:
        loop.exec()
    window.controller.running_changed.disconnect(ended)
    probe.stop()
    window.controller.event.disconnect(seen)
    finished = [e for e in events if isinstance(e, Finished)]
    if not finished or finished[-1].reason != "completed":
        raise SystemExit(f"window run did not complete: {finished[-1] if finished else 'no Finished'}")
    return epoch_speeds(events), gaps, cpu_rate(events, marks)


def write_mnist_shaped(folder: str, count: int) -> str:
    """MNIST's layout (uint8 28x28, labels 0-9) with random pixels: the speed does not care."""
    import numpy as np

    rng = np.random.default_rng(0)
    path = os.path.join(folder, "mnist_shaped.npz")
    np.savez(path, x_train=rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, count), x_test=rng.integers(0, 256, (500, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 500))
    return path


def until(app, condition, seconds):
    driver_until(app, condition, seconds, step=0.002)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--loop", choices=("fit", "tape"), default="fit")
    parser.add_argument("--mnist-shaped", type=int, metavar="N", default=0,
                        help="train the MNIST tutorial CNN on N random 28x28 images written as a .npz "
                             "(heavier steps than digits: less Python per sample)")
    args = parser.parse_args()

    if args.launches:   # --launches 0: the training figures only
        wall, own = measure_startup(args.launches)
        print(f"startup: window visible {wall:.2f} s after launching python (main() itself {own:.2f} s); "
              f"median of {args.launches}")

    from PySide6.QtWidgets import QApplication

    from tapedeck.engine.spec.experiment import load_preset
    from tests.support.window_driver import open_window

    app = QApplication.instance() or QApplication([])
    scratch = tempfile.mkdtemp(prefix="tapedeck-bench-")
    if args.mnist_shaped:
        experiment = load_preset("mnist_cnn_sequential_fit")
        experiment.data.source, experiment.data.path = "npz", write_mnist_shaped(scratch, args.mnist_shaped)
    else:
        experiment = load_preset("digits_cnn")
    experiment.training.epochs = args.epochs
    experiment.training.loop = args.loop
    window = open_window(app, experiment, scratch)

    headless, windowed, all_gaps, best_h, best_w, cpu_ratios = [], [], [], 0.0, 0.0, []
    for round_ in range(args.rounds):
        hs, h_cpu = headless_run(experiment.copy(), os.path.join(scratch, "runs"))
        ws, _, w_cpu = window_run(app, window, experiment.copy(), probe_ms=None)
        cpu_ratios.append(w_cpu / h_cpu)
        _, gaps, _ = window_run(app, window, experiment.copy(), probe_ms=5)
        h, w = statistics.median(hs), statistics.median(ws)
        best_h, best_w = max(best_h, *hs), max(best_w, *ws)
        headless.append(h)
        windowed.append(w)
        all_gaps += gaps
        print(f"round {round_ + 1}: headless {h:,.0f} samples/s · window {w:,.0f} samples/s · "
              f"ratio {w / h:.3f} · CPU-time ratio {cpu_ratios[-1]:.3f} ({h_cpu:,.0f} vs {w_cpu:,.0f} samples "
              f"per CPU-second) · probed run: max gap {max(gaps):.1f} ms", flush=True)
    ratios = [w / h for w, h in zip(windowed, headless)]
    ordered = sorted(all_gaps)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"throughput ({args.loop}, {experiment.name} on {experiment.data.source}, batch "
          f"{experiment.training.batch_size}): headless median "
          f"{statistics.median(headless):,.0f} samples/s, window median {statistics.median(windowed):,.0f} "
          f"samples/s, median ratio window/headless {statistics.median(ratios):.3f}; best epoch "
          f"(least disturbed by other processes) headless {best_h:,.0f}, window {best_w:,.0f}, "
          f"ratio {best_w / best_h:.3f}; CPU-time ratio window/headless median {statistics.median(cpu_ratios):.3f} "
          f"({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})")
    print(f"event loop while training: {len(ordered)} ticks of a 5 ms timer, gap median "
          f"{statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms "
          f"({sum(g > 50 for g in ordered)} gaps over 50 ms)")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
