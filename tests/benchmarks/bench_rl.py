"""Reinforcement learning on CartPole-v1: Tapedeck's loop against its own exported script, and the time
to solve.

1. Speed: environment steps per second of a preset (``cartpole_ppo`` by default) run by Tapedeck
   (events, history, frames, checkpoints and all, timed between the arrival of its first and last
   update) against the training script ``tapedeck code`` exports for the same experiment, run plainly
   in its own Python (same environments, steps, epochs, minibatches, networks and seed; timed between
   its first and last printed update) — interleaved round by round so both see the same machine load;
   per wall second and per CPU second of each process (the fairer figure on a shared machine).
   Target (issue 22): ratio ≥ 1.0.
2. Time to solve: each preset run to its target (greedy mean return ≥ 475 over 20 episodes), seconds
   from the run's start (model build included, TensorFlow's import not) and environment steps.

    python tests/benchmarks/bench_rl.py [--rounds 3] [--updates 30] [--preset cartpole_ppo] [--seeds 0 1 2]
                                        [--quick | --speed-only]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def exported_script(preset: str, updates: int, seed: int, folder: str) -> tuple[float, float]:
    """The preset's exported training script (``tapedeck code``: engine.codegen) run plainly in its own
    Python, as a person would run it; steps per wall second and per CPU second of that process (its
    utime + stime from /proc, read as each update's printed line arrives), from update 1's line to the
    last's — its TensorFlow import, model build, first trace and closing greedy episodes left out, as
    they are from Tapedeck's figure. Stopped once the last update's line is in."""
    import subprocess

    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.spec.experiment import load_preset

    experiment = _measured(load_preset(preset), updates, seed)
    script = Path(folder) / f"{preset}_{seed}.py"
    script.write_text(generate_code(experiment))
    settings = experiment.objective.settings
    per_update = int(settings["envs"]) * int(settings["steps"])
    tick = os.sysconf("SC_CLK_TCK")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    marks = []
    errors = script.with_suffix(".stderr")
    with open(errors, "w") as stderr, subprocess.Popen([sys.executable, str(script)], cwd=folder, text=True,
                                                       stdout=subprocess.PIPE, stderr=stderr, env=env) as process:
        try:
            for line in process.stdout:
                if line.startswith("update "):
                    with open(f"/proc/{process.pid}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                    marks.append((time.perf_counter(), (int(fields[11]) + int(fields[12])) / tick))
                    if len(marks) == updates:
                        break
        finally:
            process.terminate()
    if len(marks) < updates:
        raise SystemExit(f"the exported script printed {len(marks)} of {updates} updates; see {errors}")
    steps_done = (updates - 1) * per_update
    return steps_done / (marks[-1][0] - marks[0][0]), steps_done / (marks[-1][1] - marks[0][1])


def _measured(experiment, updates: int, seed: int):
    """The preset as both sides run it for speed: ``updates`` updates, seeded, never stopping at the target."""
    experiment.training.epochs, experiment.training.seed = updates, seed
    experiment.objective.settings["stop_at_target"] = False
    return experiment


def tapedeck_run(preset: str, updates: int, seed: int, runs: str) -> tuple[float, float]:
    """The preset through Tapedeck's run (in this process: its CPU time is the run's alone); steps per
    second from update 1's event to the last's."""
    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset
    from tapedeck.engine.training.events import EpochEnd

    experiment = _measured(load_preset(preset), updates, seed)
    marks = []

    def reporter(event):
        if isinstance(event, EpochEnd):
            marks.append((time.perf_counter(), time.process_time(), event.heads["env_steps"]))

    run(experiment, reporter, runs_dir=runs)
    steps_done = marks[-1][2] - marks[0][2]
    return steps_done / (marks[-1][0] - marks[0][0]), steps_done / (marks[-1][1] - marks[0][1])


def time_to_solve(preset: str, seed: int, runs: str) -> dict:
    import json

    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset(preset)
    experiment.training.seed = seed
    started = time.perf_counter()
    run_dir = run(experiment, lambda event: None, runs_dir=runs)
    wall = time.perf_counter() - started
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    return {"wall": wall, "solved": metrics.get("solved"), "greedy": metrics.get("greedy"),
            "updates": metrics.get("updates_completed")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=30, help="updates per speed measurement")
    parser.add_argument("--preset", default="cartpole_ppo", help="the preset whose speed is compared")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of cartpole_ppo's solve")
    parser.add_argument("--quick", action="store_true", help="speed rounds and one PPO solve only")
    parser.add_argument("--speed-only", action="store_true", help="the speed rounds alone")
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.list_physical_devices()
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} cores visible; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as runs:
        ours, theirs = [], []
        for round_ in range(args.rounds):   # who goes first alternates, so a drifting load favours neither
            sides = [lambda: ours.append(tapedeck_run(args.preset, args.updates, round_, runs)),
                     lambda: theirs.append(exported_script(args.preset, args.updates, round_, runs))]
            for side in sides if round_ % 2 == 0 else sides[::-1]:
                side()
            print(f"round {round_ + 1}: Tapedeck {ours[-1][0]:,.0f} steps/s ({ours[-1][1]:,.0f} per CPU s), "
                  f"exported script {theirs[-1][0]:,.0f} steps/s ({theirs[-1][1]:,.0f} per CPU s)", flush=True)
        for what, index in (("wall", 0), ("CPU", 1)):
            mine, plain = (statistics.median(r[index] for r in rows) for rows in (ours, theirs))
            ratios = sorted(a[index] / b[index] for a, b in zip(ours, theirs))
            print(f"{args.preset} environment steps per {what} second (median of {args.rounds}): Tapedeck "
                  f"{mine:,.0f}, exported script {plain:,.0f}, ratio {mine / plain:.2f}x (rounds "
                  f"{', '.join(f'{r:.2f}' for r in ratios)})")
        if args.speed_only:
            return 0
        jobs = [("cartpole_ppo", seed) for seed in (args.seeds[:1] if args.quick else args.seeds)]
        if not args.quick:
            jobs += [("cartpole_reinforce", 0), ("cartpole_actor_critic", 0)]
        for preset, seed in jobs:
            result = time_to_solve(preset, seed, runs)
            solved, greedy = result["solved"], result["greedy"]
            if solved:
                print(f"{preset} seed {seed}: solved in {solved['seconds']:.1f} s ({solved['env_steps']:,} steps, "
                      f"{solved['update']} updates); greedy mean {greedy['mean']:.1f} ± {greedy['spread']:.1f} over "
                      f"{greedy['episodes']} episodes; run wall {result['wall']:.1f} s")
            else:
                print(f"{preset} seed {seed}: NOT solved in {result['updates']} updates ({result['wall']:.1f} s); "
                      f"greedy mean {greedy['mean']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
