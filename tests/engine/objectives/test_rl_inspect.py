"""A Step's update taken apart carries each layer's gradient norm, measured on that update's experience
before the update; and the closing line's words about the target are true however the run ended."""
from __future__ import annotations

import math

import pytest

from tapedeck.engine.objectives.run import RunControl, run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd, UpdateInspected


def short(preset, updates=5, **settings):
    experiment = load_preset(preset)
    experiment.training.epochs, experiment.training.seed = updates, 1
    wanted = {"envs": 2, "steps": 16, "minibatches": 2, "episodes_per_update": 2}
    experiment.objective.settings.update({k: v for k, v in wanted.items() if k in experiment.objective.settings})
    experiment.objective.settings.update({"eval_episodes": 2, "frame_every": 0, **settings})
    return experiment


def stepped(tmp_path, preset) -> UpdateInspected:
    control, events = RunControl(), []
    control.step(1)

    def reporter(event):
        events.append(event)
        if isinstance(event, EpochEnd):
            control.stop()

    run(short(preset), reporter, control, runs_dir=tmp_path)
    return next(e for e in events if isinstance(e, UpdateInspected))


@pytest.mark.parametrize("preset, roles", [("cartpole_actor_critic", {"policy", "value"}),
                                           ("cartpole_reinforce", {"policy"})])
def test_each_layer_gradient_is_that_of_the_update_before_it_applied(tmp_path, preset, roles):
    """One update on the whole batch (actor-critic, REINFORCE): the layers' norms make up exactly the
    global gradient norm the update itself measured, so they were taken on the same experience with the
    same weights — before the update moved them."""
    looked = stepped(tmp_path, preset)
    assert {role for role, _layer, _norm in looked.layers} == roles
    assert all(isinstance(layer, str) and layer and norm >= 0 and math.isfinite(norm)
               for _role, layer, norm in looked.layers)
    layers = load_preset(preset).models
    for role in roles:
        norms = [norm for who, _layer, norm in looked.layers if who == role]
        assert len(norms) == sum(1 for spec in layers[role].layers if spec.type == "Dense")
        assert math.sqrt(sum(n * n for n in norms)) == pytest.approx(looked.figures[f"{role}_grad_norm"], rel=1e-4)


def test_ppo_steps_show_both_models_layers(tmp_path):
    looked = stepped(tmp_path, "cartpole_ppo")
    assert {role for role, _layer, _norm in looked.layers} == {"policy", "value"}
    assert all(norm > 0 for _role, _layer, norm in looked.layers)


def test_the_closing_line_about_the_target_is_true_every_way(tmp_path):
    def finished(**settings):
        events = []
        run(short("cartpole_ppo", updates=1, **settings), events.append, runs_dir=tmp_path)
        return events[-1].message

    assert "(the greedy policy reaches the target 5)" in finished(stop_at_target=False, target=5.0)
    assert "(stop_at_target off; the greedy mean is below the target 10000)" in finished(stop_at_target=False,
                                                                                          target=10000.0)
    assert "(target 10000 not reached)" in finished(target=10000.0)
