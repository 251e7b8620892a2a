"""Steps per second of Tapedeck's GAN GradientTape loop against the script it exports, run plainly.

Each measurement is a fresh process (its own TensorFlow): Tapedeck's run of ``digits_gan`` (the judge
off, then on), and the exported tape script run as-is through runpy. The rate is taken between the
first and the last epoch's report (epoch 1's tracing left out), in wall-clock and in CPU time; rounds
interleave the ways, and the ratios are paired by round (this machine is shared and noisy).

    python tests/benchmarks/bench_gan_speed.py [--epochs 12] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _experiment(epochs: int, judge: bool):
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset("digits_gan")
    experiment.training.epochs = epochs
    experiment.objective.settings["quality_samples"] = 500 if judge else 0
    return experiment


def _rate(marks: list, steps_per_epoch: int) -> dict:
    (wall0, cpu0), (wall1, cpu1) = marks[0], marks[-1]
    steps = steps_per_epoch * (len(marks) - 1)
    return {"wall": steps / (wall1 - wall0), "cpu": steps / (cpu1 - cpu0)}


def measure_tapedeck(epochs: int, judge: bool) -> dict:
    import tempfile

    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.training.events import EpochEnd, RunStarted

    marks, started = [], {}

    def reporter(event):
        if isinstance(event, EpochEnd):
            marks.append((time.perf_counter(), time.process_time()))
        elif isinstance(event, RunStarted):
            started["steps"] = event.steps_per_epoch

    with tempfile.TemporaryDirectory() as runs:
        run(_experiment(epochs, judge), reporter, runs_dir=runs)
    return _rate(marks, started["steps"])


def measure_script(epochs: int) -> dict:
    import builtins
    import runpy
    import tempfile

    from tapedeck.engine.codegen.script import generate_code

    marks = []
    plain_print = builtins.print

    def marking_print(*args, **kwargs):
        if args and str(args[0]).startswith("Epoch "):
            marks.append((time.perf_counter(), time.process_time()))
        plain_print(*args, **kwargs)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gan.py"
        path.write_text(generate_code(_experiment(epochs, False), loop="tape"))
        os.chdir(folder)
        builtins.print = marking_print
        try:
            scope = runpy.run_path(str(path), run_name="__main__")
        finally:
            builtins.print = plain_print
    return _rate(marks, len(scope["x_real"]) // scope["batch_size"])


def _child(way: str, epochs: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", way, "--epochs", str(epochs)], capture_output=True,
                          text=True, timeout=1800, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{way} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=("tapedeck", "tapedeck+judge", "script"))
    args = parser.parse_args()
    if args.child:
        result = (measure_script(args.epochs) if args.child == "script"
                  else measure_tapedeck(args.epochs, args.child == "tapedeck+judge"))
        print(json.dumps(result))
        return 0
    ways = ("script", "tapedeck", "tapedeck+judge")
    rows = {way: [] for way in ways}
    for round_ in range(args.rounds):
        for way in ways:
            rows[way].append(_child(way, args.epochs))
        print(f"round {round_ + 1}: " + ", ".join(f"{way} {rows[way][-1]['wall']:.0f} steps/s wall, "
                                                 f"{rows[way][-1]['cpu']:.0f}/CPU-s" for way in ways), flush=True)
    for way in ("tapedeck", "tapedeck+judge"):
        for clock in ("wall", "cpu"):
            ratios = [mine[clock] / plain[clock] for mine, plain in zip(rows[way], rows["script"])]
            print(f"{way} / exported script ({clock}): median {statistics.median(ratios):.2f} "
                  f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
