"""Streaming benchmark: an image folder larger than the memory budget trains under a stated RSS, and
a folder that fits both ways trains about as fast streamed as in memory.

1. Writes ``--big`` 32x32 RGB PNGs (scikit-learn's digits, upscaled, tinted per image, 10 classes) into a
   class folder. Their decoded float32 size is ``--big`` × 12 KiB (200,000 → 2.3 GiB; loaded whole, the
   in-memory reader holds about three times that at its peak). ``tapedeck train`` runs one epoch on it
   with ``data.streaming: auto`` and ``data.memory_budget_mb`` 1024, in a child process; its peak RSS
   (``getrusage(RUSAGE_CHILDREN).ru_maxrss``) must stay under ``--rss-limit-mb`` (default 2048).
2. On ``--small`` images of the same kind (a set that fits), the same experiment runs in memory
   (``streaming: off``), streamed (``on``: within the budget the 8-bit pixels are kept after epoch 1),
   streamed over a 1 MiB budget (every file decoded every epoch, as for a folder larger than memory),
   and streamed with ``data.cache``, interleaved for ``--rounds`` rounds; samples per second, and the
   process's CPU and wall seconds per epoch, from epoch 2 on (start-up, tracing and the filling epoch
   excluded alike), each set against the in-memory run of its round.

    python tests/benchmarks/bench_streaming.py [--big 200000] [--small 12000] [--epochs 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SIDE = 32
LAYERS = [
    {"type": "Conv2D", "filters": 16, "kernel_size": 3, "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 64, "activation": "relu"},
    {"type": "Dense", "units": 10, "activation": "softmax"},
]


def _write_part(args) -> int:
    """PNGs number start..stop: digit ``i % 1797`` upscaled to 32x32, tinted by a per-image colour."""
    from PIL import Image
    from sklearn.datasets import load_digits

    root, start, stop = args
    digits = load_digits()
    nearest = (np.arange(SIDE) * 8) // SIDE
    rng = np.random.default_rng(start)
    for i in range(start, stop):
        k = i % len(digits.images)
        gray = (digits.images[k][nearest][:, nearest] / 16.0)[..., None]
        tint = rng.uniform(0.5, 1.0, size=3)
        noise = rng.integers(0, 24, size=(SIDE, SIDE, 3))
        pixels = np.clip(gray * tint * 230 + noise, 0, 255).astype(np.uint8)
        folder = Path(root) / f"digit_{digits.target[k]}"
        Image.fromarray(pixels, "RGB").save(folder / f"{i:07d}.png", compress_level=1)
    return stop - start


def write_folder(root: Path, count: int, workers: int = 2) -> float:
    """``count`` PNGs under root/digit_<n>/; returns the seconds it took."""
    started = time.perf_counter()
    for n in range(10):
        (root / f"digit_{n}").mkdir(parents=True, exist_ok=True)
    step = 5000
    parts = [(str(root), s, min(s + step, count)) for s in range(0, count, step)]
    with ProcessPoolExecutor(workers) as pool:
        done = sum(pool.map(_write_part, parts))
    assert done == count
    return time.perf_counter() - started


def experiment(path: Path, name: str, epochs: int, **data) -> dict:
    return {"format": "tapedeck/1", "name": name,
            "data": dict({"source": "folder", "path": str(path), "validation_split": 0.1}, **data),
            "model": {"api": "sequential", "layers": LAYERS},
            "training": {"loop": "fit", "batch_size": 128, "epochs": epochs, "seed": 0}}


def peak_rss_of_train(path: Path, work: Path, budget_mb: int) -> dict:
    """``tapedeck train`` on the big folder in a child process: its peak RSS and what it reported."""
    spec = work / "big.json"
    spec.write_text(json.dumps(experiment(path, "stream-big", 1, streaming="auto", memory_budget_mb=budget_mb)))
    cli = Path(sys.executable).with_name("tapedeck")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "tapedeck.engine.cli.main"]
    started = time.perf_counter()
    done = subprocess.run(command + ["train", str(spec), "--out", str(work / "runs")], capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss   # Linux: KiB, the largest child
    metrics = sorted((work / "runs").glob("*/metrics.json"))
    result = json.loads(metrics[-1].read_text()) if metrics else {}
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "data:" in line]
    return {"returncode": done.returncode, "peak_rss_mb": peak_kib / 1024, "seconds": seconds,
            "status": result.get("status"), "streamed": result.get("data_streamed"),
            "test_accuracy": (result.get("test") or {}).get("accuracy"),
            "samples_per_second": result.get("samples_per_second"), "note": lines[:1],
            "tail": (done.stdout + done.stderr)[-800:] if done.returncode else ""}


def write_npz(folder: Path, path: Path) -> None:
    """The small folder's images as an uncompressed .npz (numpy.savez), which streams through memory maps."""
    from tapedeck.engine.data.datasets import load_dataset
    from tapedeck.engine.spec.experiment import Experiment

    data = load_dataset(Experiment.from_dict(experiment(folder, "npz", 1, validation_split=0.0,
                                                        normalize=False)).data)
    np.savez(path, x_train=data.x_train.astype(np.uint8), y_train=data.y_train,
             x_test=data.x_test.astype(np.uint8), y_test=data.y_test)


MODES = {   # name -> (source, data settings)
    "folder in memory": ("folder", {"streaming": "off"}),
    # within the budget a streamed folder keeps its 8-bit pixels after epoch 1; over it (a 1 MiB budget
    # here), it decodes every file every epoch, as a folder larger than memory does
    "folder streamed": ("folder", {"streaming": "on"}),
    "folder streamed, each epoch": ("folder", {"streaming": "on", "memory_budget_mb": 1}),
    "folder streamed + cache": ("folder", {"streaming": "on", "cache": "CACHE"}),
    "npz in memory": ("npz", {"streaming": "off"}),
    "npz streamed (mapped)": ("npz", {"streaming": "on"}),
}


def steady_rate(paths: dict, work: Path, epochs: int, mode: str, n_train: int) -> dict:
    """One in-process run from epoch 2 on (start-up, tracing and the cache's filling epoch excluded):
    samples/s by the epochs' own seconds, and the process's CPU and wall seconds per epoch between the
    first and the last epoch end (every thread: tf.data's readers and decoders included)."""
    from tapedeck.engine.spec.experiment import Experiment
    from tapedeck.engine.training.events import EpochEnd, TestResult
    from tapedeck.engine.training.run import run

    source, data = MODES[mode]
    data = dict(data)
    if data.get("cache"):
        cache = work / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        data["cache"] = str(cache / "small")
    spec = experiment(paths[source], f"rate-{source}", epochs, **data)
    spec["data"]["source"] = source
    events, clocks = [], []

    def record(event) -> None:
        if isinstance(event, EpochEnd):
            clocks.append((time.process_time(), time.perf_counter()))
        events.append(event)

    run(Experiment.from_dict(spec), record, runs_dir=work / "rate-runs")
    ends = [e for e in events if isinstance(e, EpochEnd)]
    tests = [e for e in events if isinstance(e, TestResult)]
    assert len(ends) == epochs, events[-1]
    seconds = sum(e.seconds for e in ends[1:])
    steady = epochs - 1
    return {"rate": n_train * steady / seconds, "accuracy": tests[0].accuracy,
            "cpu": (clocks[-1][0] - clocks[0][0]) / steady, "wall": (clocks[-1][1] - clocks[0][1]) / steady}


def pipeline_rates(paths: dict) -> dict:
    """Images per second of each streamed pipeline alone (epochs 2 and 3, no model): what reading costs."""
    from tapedeck.engine.data.streaming import load_for
    from tapedeck.engine.spec.experiment import Experiment

    rates = {}
    for mode, (source, data) in MODES.items():
        if data.get("streaming") != "on":
            continue
        data = dict(data)
        if data.get("cache"):
            shutil.rmtree(Path(paths["work"]) / "pipe-cache", ignore_errors=True)
            data["cache"] = str(Path(paths["work"]) / "pipe-cache" / "small")
        spec = experiment(paths[source], "pipe", 1, **data)
        spec["data"]["source"] = source
        dataset = load_for(Experiment.from_dict(spec).data)[0]
        pipe = dataset.x_train.dataset(dataset.y_train, 128, shuffle=True)
        seconds, count = 0.0, 0
        for epoch in range(3):
            started = time.perf_counter()
            n = sum(len(x) for x, _ in pipe)
            if epoch:
                seconds, count = seconds + time.perf_counter() - started, count + n
        rates[mode] = count / seconds
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=200_000, help="PNGs in the folder larger than the budget")
    parser.add_argument("--small", type=int, default=12_000, help="PNGs in the folder that fits both ways")
    parser.add_argument("--budget-mb", type=int, default=1024, help="data.memory_budget_mb of the big run")
    parser.add_argument("--rss-limit-mb", type=int, default=2048, help="peak RSS the big run must stay under")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dir", help="work folder (default: a temporary one, removed at the end)")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    print(f"work folder {work}: {free / 2**30:.1f} GiB free")
    report = {}
    try:
        if not args.skip_big:
            big = work / "big"
            if not big.exists():
                print(f"writing {args.big:,} PNGs of {SIDE}x{SIDE} ...", flush=True)
                print(f"  {write_folder(big, args.big):.0f} s")
            decoded = args.big * SIDE * SIDE * 3 * 4
            on_disk = sum(f.stat().st_size for f in big.rglob("*.png"))
            print(f"big folder: {args.big:,} images, {on_disk / 2**20:,.0f} MiB on disk, decoded float32 "
                  f"{decoded / 2**20:,.0f} MiB > budget {args.budget_mb:,} MiB", flush=True)
            big_run = peak_rss_of_train(big, work, args.budget_mb)
            report["big"] = big_run
            print(f"tapedeck train (1 epoch): rc {big_run['returncode']}, status {big_run['status']}, streamed "
                  f"{big_run['streamed']}, {big_run['seconds']:.0f} s, {big_run['samples_per_second'] or 0:,.0f} "
                  f"samples/s, test accuracy {big_run['test_accuracy']}")
            print(f"  {big_run['note'][0] if big_run['note'] else ''}")
            print(f"  peak RSS {big_run['peak_rss_mb']:,.0f} MiB (limit {args.rss_limit_mb:,} MiB): "
                  f"{'OK' if big_run['peak_rss_mb'] < args.rss_limit_mb else 'OVER'}", flush=True)
            if big_run["tail"]:
                print(big_run["tail"])
        small = work / "small"
        if not small.exists():
            print(f"writing {args.small:,} PNGs ...", flush=True)
            print(f"  {write_folder(small, args.small):.0f} s")
        from tapedeck.engine.data.streaming import load_for
        from tapedeck.engine.spec.experiment import Experiment

        paths = {"folder": small, "npz": work / "small.npz"}
        if not paths["npz"].exists():
            write_npz(small, paths["npz"])
        paths["work"] = work
        for mode, rate in pipeline_rates(paths).items():
            print(f"pipeline alone: {mode:28s} {rate:8,.0f} images/s", flush=True)
        n_train = len(load_for(Experiment.from_dict(experiment(small, "count", 1, streaming="on")).data)[0].x_train)
        runs: dict[str, list] = {mode: [] for mode in MODES}
        for r in range(args.rounds):
            for mode in runs:
                got = steady_rate(paths, work, args.epochs, mode, n_train)
                runs[mode].append(got)
                print(f"round {r + 1} {mode:28s} {got['rate']:7,.0f} samples/s  CPU {got['cpu']:5.2f} s/epoch  "
                      f"wall {got['wall']:5.2f} s/epoch  test accuracy {got['accuracy']:.3f}", flush=True)
        report["rates"] = {k: statistics.median(g["rate"] for g in v) for k, v in runs.items()}
        print(f"fits both ways ({args.small:,} PNGs, {n_train:,} training, batch 128, epochs 2..{args.epochs}, "
              f"{args.rounds} round(s); ratios paired by round, median [min..max]):")
        for mode, base in (("folder streamed", "folder in memory"), ("folder streamed, each epoch", "folder in memory"),
                           ("folder streamed + cache", "folder in memory"), ("npz streamed (mapped)", "npz in memory")):
            for what, key, better in (("samples/s", "rate", 1), ("CPU s/epoch", "cpu", -1),
                                      ("wall s/epoch", "wall", -1)):
                # throughput: streamed / in memory; time: in memory / streamed (so > 1 is always "faster")
                paired = [(a[key] / b[key]) ** better for a, b in zip(runs[mode], runs[base])]
                print(f"  {mode} vs {base}, {what:12s}: {statistics.median(paired):.2f} "
                      f"[{min(paired):.2f}..{max(paired):.2f}]  "
                      f"({statistics.median(a[key] for a in runs[mode]):,.2f} vs "
                      f"{statistics.median(b[key] for b in runs[base]):,.2f})")
            report[f"{mode} / {base}"] = statistics.median(
                a["rate"] / b["rate"] for a, b in zip(runs[mode], runs[base]))
        print(json.dumps(report, indent=1, default=str))
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
