"""The same stack in the three APIs: one model, seen three ways."""
from tapedeck.engine.queues.compare_apis import api_variants, parameter_counts
from tapedeck.engine.queues.queue import run_queue
from tapedeck.engine.runs.folder import RunFolder
from tapedeck.engine.spec import graph
from tapedeck.engine.training.events import RunStarted
from tests.support.run_support import short_experiment


def test_a_chain_runs_in_all_three_apis_and_both_loops():
    base = short_experiment(name="c")
    plan = api_variants(base, both_loops=True)
    assert plan.skipped == []
    assert [(e.name, e.model.api, e.training.loop) for e in plan.experiments] == [
        (f"c-{api}-{loop}", api, loop)
        for api in ("sequential", "functional", "subclassing") for loop in ("fit", "tape")]
    assert all(e.model.layers == base.model.layers and e.training.seed == base.training.seed for e in plan.experiments)
    counts = parameter_counts(base, (8, 8, 1))
    assert len(set(counts.values())) == 1 and counts["sequential"][0] > 0


def test_the_same_seed_gives_the_three_apis_the_same_starting_weights():
    """What makes the side-by-side fair: the variants differ only in how the model is written."""
    import keras
    import numpy as np

    from tapedeck.engine.model.build import build_model

    weights = []
    for variant in api_variants(short_experiment()).experiments:
        keras.utils.set_random_seed(variant.training.seed)
        weights.append(build_model(variant, (8, 8, 1)).get_weights())
    for other in weights[1:]:
        assert len(other) == len(weights[0])
        assert all(np.array_equal(a, b) for a, b in zip(weights[0], other))


def test_branches_run_functional_and_subclassing_and_say_why_not_sequential(tmp_path):
    base = short_experiment(name="r", preset="digits_residual", limit=100, epochs=1)
    plan = api_variants(base)
    assert plan.skipped == [("sequential", graph.SEQUENTIAL_REFUSAL)]
    assert [e.model.api for e in plan.experiments] == ["functional", "subclassing"]
    counts = parameter_counts(base, (8, 8, 1))
    assert counts["sequential"] == graph.SEQUENTIAL_REFUSAL and counts["functional"] == counts["subclassing"]

    started = {}
    results = run_queue(plan.experiments, lambda i, e: started.setdefault(i, e) if isinstance(e, RunStarted) else None,
                        runs_dir=tmp_path)
    assert [r.reason for r in results] == ["completed", "completed"]
    assert [(started[i].api, started[i].trainable) for i in (0, 1)] == [
        ("functional", counts["functional"][0]), ("subclassing", counts["subclassing"][0])]
    assert all(len(RunFolder(r.run_dir).read_history()) == 1 for r in results)
