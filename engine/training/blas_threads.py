"""NumPy's BLAS on one thread while a run trains.

TensorFlow's own thread pools already take every core. NumPy's OpenBLAS starts its worker threads on the
first matrix product and, after each one, keeps them spinning for a while before they sleep: a run's few
small products per epoch (a GAN's nearest real image to each sample, the judge's principal components)
then cost a core of spinning that TensorFlow's step loses. Measured on a digits GAN (2 cores): the BLAS
worker took 1.4 s of CPU in a 12-epoch run whose training took 5 s; with one BLAS thread the run's steps
per CPU-second rose from 0.73-0.76x to 1.03x (0.99-1.07, 3 rounds) of its exported script (bench_gan_speed.py).

The limit is the process's (OpenBLAS has one setting) and only the thread that set it can set it back
(OpenBLAS ignored a restore from another thread here), so the first run to start owns it and gives the
threads back when it ends; a run that starts while another holds it changes nothing, and trains with the
threads the owner leaves it. threadpoolctl (which scikit-learn uses) finds and sets the libraries: NumPy's
OpenBLAS and SciPy's own (the judge's Fréchet distance), which is loaded first so that it is limited too.
"""
from __future__ import annotations

import contextlib
import threading

__all__ = ["one_blas_thread"]

_lock = threading.Lock()
_owner = None   # threadpoolctl's limiter, while the run that set it trains


@contextlib.contextmanager
def one_blas_thread():
    """NumPy's BLAS limited to one thread for the block, unless another block already holds the limit."""
    owned = _take()
    try:
        yield
    finally:
        if owned is not None:
            _give_back(owned)


def _take():
    global _owner
    with _lock:
        if _owner is not None:
            return None
        import scipy.linalg  # noqa: F401 — SciPy brings its own OpenBLAS: loaded now, so it is limited too
        from threadpoolctl import threadpool_limits

        _owner = threadpool_limits(limits=1, user_api="blas")
        return _owner


def _give_back(limits) -> None:
    global _owner
    with _lock:
        limits.restore_original_limits()
        _owner = None
