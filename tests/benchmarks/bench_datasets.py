"""Load time and memory of the largest data sets Tapedeck reads, built synthetically in a temporary folder.

Run: .venv/bin/python tests/benchmarks/bench_datasets.py [--quick]
MNIST-sized IDX (60,000 + 10,000 28x28, gzipped as distributed and plain), CIFAR-10-sized python batches
(50,000 + 10,000 32x32x3, as a folder and as the .tar.gz), an MNIST-sized .npz and a folder of PNGs.
Peak memory is what tracemalloc sees numpy and Python allocate during the load (numpy reports to it);
the result's own size is listed beside it, so the overhead of reading is their difference.
"""
from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tapedeck.engine.data.datasets import load_dataset  # noqa: E402
from tapedeck.engine.spec.experiment import DataSpec  # noqa: E402
from tests.support.datafiles import cifar10_files, idx_bytes, write_folder, write_png, write_tar  # noqa: E402

MB = 1024 * 1024


def _digits_like(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels about as sparse as MNIST's (~19% ink), so gzip has about as much to do as on the real files."""
    rng = np.random.default_rng(seed)
    ink = rng.random((n, size, size), dtype=np.float32) < 0.19
    x = np.where(ink, rng.integers(1, 256, (n, size, size), dtype=np.uint8), 0).astype(np.uint8)
    return x, (np.arange(n) % 10).astype(np.uint8)


def write_mnist_idx(folder: Path, gz: bool) -> Path:
    folder.mkdir(parents=True)
    for split, n in (("train", 60000), ("t10k", 10000)):
        x, y = _digits_like(n, 28, seed=n)
        for kind, arr, d in (("images", x, 3), ("labels", y, 1)):
            raw = idx_bytes(arr)
            (folder / f"{split}-{kind}-idx{d}-ubyte{'.gz' if gz else ''}").write_bytes(
                gzip.compress(raw, 6) if gz else raw)
    return folder


def measure(label: str, spec: DataSpec, on_disk: Path) -> None:
    size = sum(p.stat().st_size for p in ([on_disk] if on_disk.is_file() else on_disk.rglob("*")) if p.is_file())
    tracemalloc.start()
    start = time.perf_counter()
    ds = load_dataset(spec)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = sum(a.nbytes for a in (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test))
    n = len(ds.x_train) + len(ds.x_val) + len(ds.x_test)
    print(f"{label:<38} {n:>6} images {ds.input_shape!s:<12} files {size / MB:7.1f} MB  load {seconds:6.2f} s  "
          f"peak {peak / MB:7.1f} MB  result {result / MB:7.1f} MB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the CIFAR-sized and image-folder cases")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        measure("IDX, MNIST-sized, .gz", DataSpec(source="idx", path=str(write_mnist_idx(tmp / "gz", True))),
                tmp / "gz")
        measure("IDX, MNIST-sized, plain", DataSpec(source="idx", path=str(write_mnist_idx(tmp / "raw", False))),
                tmp / "raw")
        measure("IDX, MNIST-sized, limit 1000", DataSpec(source="idx", path=str(tmp / "gz"), limit=1000), tmp / "gz")
        x, y = _digits_like(60000, 28, 1)
        xt, yt = _digits_like(10000, 28, 2)
        np.savez(tmp / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
        measure("npz, MNIST-sized", DataSpec(source="npz", path=str(tmp / "mnist.npz")), tmp / "mnist.npz")
        if not args.quick:
            files = cifar10_files(n_per_batch=10000, noise=True)
            write_folder(tmp / "cifar-10-batches-py", files)
            measure("CIFAR-10-sized, python folder", DataSpec(source="cifar", path=str(tmp / "cifar-10-batches-py")),
                    tmp / "cifar-10-batches-py")
            write_tar(tmp / "cifar-10-python.tar.gz", "cifar-10-batches-py", files)
            del files
            measure("CIFAR-10-sized, .tar.gz", DataSpec(source="cifar", path=str(tmp / "cifar-10-python.tar.gz")),
                    tmp / "cifar-10-python.tar.gz")
            rng = np.random.default_rng(0)
            for c in range(10):
                for i in range(200):
                    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
                    write_png(tmp / "pngs" / f"class{c}" / f"{i}.png", (32, 32), colour)
            measure("image folder, 2,000 PNGs 32x32", DataSpec(source="folder", path=str(tmp / "pngs")), tmp / "pngs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
