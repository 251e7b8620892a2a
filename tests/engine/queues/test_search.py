"""Random / TPE search through Optuna: ranges, every trial a run, pruning, a study that resumes."""
import optuna
import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.queues.search import (
    SearchAxis,
    TrialDone,
    check_axes,
    parse_search_axis,
    run_search,
    storage_path,
)
from tapedeck.engine.queues.sweep import SweepError
from tapedeck.engine.runs.index import list_runs, read_run
from tapedeck.engine.spec.experiment import save_experiment
from tapedeck.engine.training.events import Finished
from tapedeck.engine.training.run import RunControl
from tests.support.run_support import short_experiment

LR = "training.learning_rate=1e-3..3e-2:log"


def test_the_range_syntax():
    assert parse_search_axis(LR) == SearchAxis("training.learning_rate", low=1e-3, high=3e-2, log=True)
    units = parse_search_axis("model.layers[4].units=16..64")
    assert units.integer and (units.low, units.high, units.log) == (16, 64, False)
    assert not parse_search_axis("model.layers[5].rate=0.1..0.5").integer
    assert parse_search_axis("training.batch_size=16,32").choices == (16, 32)   # the grid's own syntax
    for text, words in [("training.learning_rate=0..1:log", "needs LOW > 0"),
                        ("training.learning_rate=0.1..0.01", "is empty"),
                        ("training.learning_rate=a..b", "not a range"),
                        ("training.learning_rate=1..2:exp", "the only option is ':log'")]:
        with pytest.raises(SweepError, match=words):
            parse_search_axis(text)


def test_bad_settings_and_values_are_refused_before_a_trial():
    experiment = short_experiment()
    with pytest.raises(SweepError, match="model.layers\\[4\\].units"):
        check_axes(experiment, [parse_search_axis("model.layers[4].units=0..8")])
    with pytest.raises(SweepError, match="training.epochs: a sweep varies training.learning_rate"):
        check_axes(experiment, [parse_search_axis("training.epochs=1..3")])
    experiment.data.validation_split = 0.0
    with pytest.raises(SweepError, match="validation_split"):
        check_axes(experiment, [parse_search_axis(LR)])


def test_tpe_trials_are_runs_and_the_study_resumes(tmp_path):
    experiment = short_experiment(name="tpe", epochs=1)
    events = []
    result = run_search(experiment, [parse_search_axis(LR), parse_search_axis("model.layers[4].units=8..32")],
                        "tpe", 2, lambda index, event: events.append((index, event)), runs_dir=tmp_path)
    assert [r.reason for r in result.results] == ["completed", "completed"]
    done = [e for _i, e in events if isinstance(e, TrialDone)]
    assert [d.number for d in done] == [0, 1] and all(d.state == "complete" for d in done)
    for trial in done:
        summary = read_run(trial.run_dir)
        assert summary.status == "completed" and summary.best_val_accuracy == pytest.approx(trial.value)
        assert 1e-3 <= summary.experiment["training"]["learning_rate"] <= 3e-2
    assert {str(s.path) for s in list_runs(tmp_path)} == {d.run_dir for d in done}
    assert storage_path(tmp_path).is_file()
    study = optuna.load_study(study_name="tpe-tpe", storage=f"sqlite:///{storage_path(tmp_path)}")
    assert len(study.trials) == 2 and result.best.value == study.best_value

    again = run_search(experiment, [parse_search_axis(LR), parse_search_axis("model.layers[4].units=8..32")],
                       "tpe", 3, runs_dir=tmp_path)
    assert again.resumed_from == 2 and len(again.results) == 1 and len(again.trials) == 3


def test_a_poor_trial_is_pruned_after_its_epoch_and_says_so(tmp_path):
    experiment = short_experiment(name="prune", epochs=3)
    events = []
    # Optuna's ThresholdPruner below an accuracy no run reaches: every trial is pruned after epoch 1.
    result = run_search(experiment, [parse_search_axis(LR)], "random", 1,
                        lambda index, event: events.append(event), runs_dir=tmp_path,
                        pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    finished = [e for e in events if isinstance(e, Finished)][0]
    assert finished.reason == "pruned" and "pruned after epoch 1" in finished.message
    summary = read_run(result.results[0].run_dir)
    assert summary.status == "pruned" and summary.epochs == 1
    assert [t.state for t in result.trials] == ["pruned"]


def test_a_stop_ends_the_search(tmp_path):
    control = RunControl()
    control.stop()
    result = run_search(short_experiment(epochs=1), [parse_search_axis(LR)], "random", 3, control=control,
                        runs_dir=tmp_path)
    assert result.results == []


def test_tapedeck_sweep_search_headless(tmp_path, capsys):
    path = tmp_path / "exp.json"
    save_experiment(short_experiment(name="cli", epochs=1), path)
    code = main(["sweep", str(path), "--search", "random", "--trials", "1", "--set", LR,
                 "--out", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "trial 0: complete" in out and "best: trial 0" in out
    assert any(line.startswith("#") and "training.learning_rate" in line for line in out.splitlines())   # ranking
    assert main(["sweep", str(path), "--search", "tpe", "--set", "training.learning_rate=1..0"]) == 2
    assert "is empty" in capsys.readouterr().err
