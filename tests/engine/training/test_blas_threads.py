"""NumPy's BLAS runs on one thread while a run trains (its spinning workers took a core from TensorFlow's
step: engine.training.blas_threads), for a classifier's run and an objective's, and gets its threads back
when the last run ends."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.blas_threads import one_blas_thread
from tapedeck.engine.training.events import EpochEnd, Finished


def blas_threads() -> set:
    pools = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert pools, "NumPy's BLAS is not seen by threadpoolctl: nothing here would be limited"
    return set(pools)


@pytest.fixture(autouse=True)
def two_blas_threads():
    """Two BLAS threads to start from, set in this thread (a CI may give one), so the limit shows."""
    import scipy.linalg  # noqa: F401 — its own OpenBLAS, which a run limits too
    from threadpoolctl import threadpool_limits

    np.ones((64, 64)) @ np.ones((64, 64))   # OpenBLAS loaded and its pool started
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_the_first_block_owns_the_limit_and_gives_the_threads_back():
    """A nested block and one in another thread change nothing; the owner restores at its end (OpenBLAS takes
    a restore only from the thread that set the limit), so the process always ends as it began."""
    before = blas_threads()
    assert before != {1}
    started, release = threading.Event(), threading.Event()
    other_saw = []

    def other_run():
        with one_blas_thread():
            other_saw.append(blas_threads())
            started.set()
            release.wait(10)

    other = threading.Thread(target=other_run)
    with one_blas_thread():
        assert blas_threads() == {1}
        with one_blas_thread():
            assert blas_threads() == {1}
        assert blas_threads() == {1}   # the nested block did not give them back
        other.start()
        assert started.wait(10)
    assert other_saw == [{1}]
    assert blas_threads() == before   # the owner ended: back, though the other block still runs
    release.set()
    other.join(10)
    assert blas_threads() == before


@pytest.mark.parametrize("preset", ["digits_cnn", "digits_gan"])
def test_a_run_trains_with_one_blas_thread_and_gives_them_back(tmp_path, preset):
    before = blas_threads()
    experiment = load_preset(preset)
    experiment.data.limit = 96
    experiment.training.epochs = 1
    experiment.training.batch_size = 32
    if "quality_samples" in experiment.objective.settings:
        experiment.objective.settings["quality_samples"] = 0
    seen = []

    def reporter(event):
        if isinstance(event, EpochEnd):
            seen.append(blas_threads())
        elif isinstance(event, Finished):
            assert event.reason == "completed", event

    run(experiment, reporter, runs_dir=tmp_path)   # the classifier's own run, or the objective's
    assert seen == [{1}]
    assert blas_threads() == before
