"""Sweep grids, the run queue that one RunControl stops, and the ranking of what ran."""
import pytest

from tapedeck.engine.queues.queue import run_queue
from tapedeck.engine.queues.sweep import (
    MAX_RUNS,
    SweepAxis,
    SweepError,
    expand,
    format_ranking,
    parse_axis,
    ranking,
    sweepable_settings,
)
from tapedeck.engine.spec.experiment import save_experiment
from tapedeck.engine.training.events import BatchEnd, Finished, RunStarted
from tapedeck.engine.training.run import RunControl
from tests.support.run_support import short_experiment, trained_run


def test_grid_expands_every_combination_with_names():
    base = short_experiment(name="s")
    grid = expand(base, [SweepAxis("training.learning_rate", [0.001, 0.01]), parse_axis("training.batch_size=16,64"),
                         SweepAxis("model.layers[4].units", [8, 16, 32])])
    assert len(grid) == 12
    assert grid[0].name == "s-lr0.001-bs16-dense.units8" and grid[-1].name == "s-lr0.01-bs64-dense.units32"
    assert {(e.training.learning_rate, e.training.batch_size, e.model.layers[4].params["units"]) for e in grid} == {
        (lr, bs, u) for lr in (0.001, 0.01) for bs in (16, 64) for u in (8, 16, 32)}
    assert base.to_dict() == short_experiment(name="s").to_dict()  # the base is left untouched


def test_sweepable_settings_name_the_layers():
    experiment = short_experiment()
    paths = {path: current for path, _label, current in sweepable_settings(experiment)}
    assert paths == {"training.learning_rate": experiment.training.learning_rate,
                     "training.batch_size": experiment.training.batch_size, "model.layers[0].filters": 32,
                     "model.layers[2].filters": 64, "model.layers[4].units": 64, "model.layers[5].rate": 0.3}
    # not the output layer's units: the class count (issue 23, fault 16)


@pytest.mark.parametrize("axes, message", [
    ([SweepAxis("training.epochs", [1, 2])], "training.epochs: a sweep varies"),
    ([SweepAxis("model.layers[1].units", [3])], "layer 1 is MaxPooling2D, which has no 'units'"),
    ([SweepAxis("model.layers[9].units", [3])], "the model has 7 layers"),
    ([SweepAxis("model.layers[5].rate", [0.2, 1.5])], "model.layers[5].rate=1.5: model.layers[5].rate: expected"),
    ([SweepAxis("training.learning_rate", [-1])], "training.learning_rate: expected a number > 0, received -1"),
    ([SweepAxis("training.batch_size", [8])] * 2, "appears twice"),
    ([SweepAxis("training.learning_rate", [0.1])] + [SweepAxis("model.layers[0].filters", [1])]
     + [SweepAxis("model.layers[2].filters", [1])] + [SweepAxis("model.layers[4].units", [1])], "at most 3 settings"),
    ([SweepAxis("training.learning_rate", [0.1 * i for i in range(1, 10)]),
      SweepAxis("training.batch_size", list(range(1, 10)))], f"at most {MAX_RUNS}"),
])
def test_refusals_name_the_setting(axes, message):
    with pytest.raises(SweepError) as caught:
        expand(short_experiment(), axes)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_queue_stops_the_current_run_and_skips_the_rest(tmp_path):
    grid = expand(short_experiment(name="q", limit=120, epochs=3), [SweepAxis("training.learning_rate", [0.003, 0.01])])
    control = RunControl()
    heard = []

    def reporter(index, event):
        heard.append((index, type(event).__name__))
        if isinstance(event, BatchEnd) and index == 0 and event.epoch == 2:
            control.stop()

    results = run_queue(grid, reporter, control, runs_dir=tmp_path)
    assert [(r.name, r.reason) for r in results] == [("q-lr0.003", "stopped"), ("q-lr0.01", "skipped")]
    assert results[1].run_dir is None and {i for i, _ in heard} == {0}
    assert heard[0] == (0, RunStarted.__name__) and heard[-1] == (0, Finished.__name__)

    unfinished = tmp_path / "unfinished"  # killed before its first epoch: no validation accuracy yet
    unfinished.mkdir()
    save_experiment(grid[1], unfinished / "experiment.json")
    ranked = ranking([str(unfinished), results[0].run_dir, str(trained_run()), results[1].run_dir],
                     [SweepAxis("training.learning_rate", [])])
    assert [r.rank for r in ranked] == [1, 2, 3] and ranked[-1].run_dir == str(unfinished)
    accuracies = [r.best_val_accuracy for r in ranked[:2]]
    assert None not in accuracies and accuracies == sorted(accuracies, reverse=True)
    stopped = next(r for r in ranked if r.run_dir == results[0].run_dir)
    assert stopped.values == {"training.learning_rate": 0.003} and stopped.status == "stopped"
    assert ranked[-1].values == {"training.learning_rate": 0.01} and ranked[-1].best_val_accuracy is None
    assert "stopped" in format_ranking(ranked)
