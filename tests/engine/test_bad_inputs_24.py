"""The catalogue of issue 24: bad inputs and faults aimed at what was added last (sweeps and the Optuna
study, Grad-CAM, several inputs and heads, npz targets, model import, initial weights, TF_CONFIG,
exports, disk and signal faults), and the five cases still open from issue 12.

As in ``test_bad_inputs.py``: each case writes a small file of the real format (or a setting) with one
thing wrong and gives it to the command a person would type; it must end with exit 2 and one short
``tapedeck:`` line naming the thing, and no traceback.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tests.support import badfiles as bad

LONGEST_LINE = 1000


@dataclass
class Case:
    name: str
    build: object          # tmp_path -> argv
    expect: str            # what the message must name
    code: int = 2


def _experiment(tmp_path, data=None, change=None, name="exp.json") -> str:
    experiment = bad.base_experiment(**(data or {}))
    if change is not None:
        change(experiment)
    return str(bad.write_experiment(tmp_path / name, experiment))


def _damaged_study(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "optuna.sqlite3").write_bytes(np.random.default_rng(0).bytes(4000))
    return ["sweep", _experiment(tmp_path), "--set", "training.learning_rate=1e-3..1e-2:log", "--search",
            "random", "--trials", "1", "--out", str(tmp_path / "runs")]


def _sweep_onto_a_file(search):
    def build(tmp_path):
        (tmp_path / "runs").write_text("a file")
        values = "1e-3..1e-2" if search != "grid" else "0.001,0.002"
        return ["sweep", _experiment(tmp_path), "--set", f"training.learning_rate={values}", "--search", search,
                "--trials", "1", "--out", str(tmp_path / "runs")]
    return build


CASES = [
    Case("optuna study file of random bytes", _damaged_study, "optuna.sqlite3: is not an Optuna study database"),
    Case("sweep --out a file (random)", _sweep_onto_a_file("random"), "is a file, not a runs folder"),
    Case("sweep --out a file (grid)", _sweep_onto_a_file("grid"), "is a file, not a runs folder"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_naming_it(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = case.build(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == case.code, err[-2000:]
    assert "Traceback" not in err
    first = err.lstrip().splitlines()[0]
    assert first.startswith(("tapedeck:", "error:")), first[:500]
    assert case.expect in err, err[:2000]
    assert max(len(line) for line in err.splitlines()) <= LONGEST_LINE


def test_two_sweeps_opening_one_new_study_at_once_both_open_it(tmp_path):
    """Optuna creates its tables unlocked: a second sweep started at the same moment failed with
    "table studies already exists". Eight openers race on one new folder; all must get the study."""
    from tapedeck.engine.queues.search import _open_study

    barrier = threading.Barrier(8)
    errors, studies = [], []

    def open_one():
        barrier.wait()
        try:
            studies.append(_open_study(tmp_path / "runs", "race", "random", 0, 2, None)[0])
        except Exception as error:   # noqa: BLE001 - the test reports whatever a racer met
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len({study._study_id for study in studies}) == 1


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory):
    """A run of the default preset as it is (digits_cnn: Sequential, Conv2D), short."""
    from tapedeck.engine.spec.experiment import load_preset
    from tapedeck.engine.training.run import run
    from tests.support.training_support import Recorder

    experiment = load_preset("digits_cnn")
    experiment.data.limit, experiment.training.epochs = 120, 1
    recorder = Recorder()
    run_dir = run(experiment, recorder, runs_dir=tmp_path_factory.mktemp("seq") / "runs")
    assert recorder.finished.reason == "completed", recorder.finished
    return run_dir


def test_gradcam_headless_on_the_default_sequential_preset(sequential_run, tmp_path, capsys):
    code = main(["gradcam", str(sequential_run), "--index", "0", "--out", str(tmp_path / "cam.png")])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    assert "Grad-CAM at layer conv2d_1" in captured.out and "peak at row" in captured.out
    assert (tmp_path / "cam.png").stat().st_size > 0
