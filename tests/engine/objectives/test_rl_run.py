"""Reinforcement-learning runs for real on CartPole-v1 and Acrobot-v1: each objective trains a few
updates and saves; the saved policy reloads in plain Keras and acts; the events; Stop and Step; the
execution modes; a seeded run replays exactly."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.objectives.run import RunControl, run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EnvFrames, EpochEnd, Finished, RunStarted, UpdateInspected


def short(preset="cartpole_ppo", updates=2, execution="graph", **settings):
    """A preset cut to a few small updates; the greedy judgement plays 2 episodes."""
    experiment = load_preset(preset)
    experiment.training.epochs = updates
    experiment.training.execution = execution
    small = {"envs": 2, "steps": 16, "minibatches": 2, "episodes_per_update": 2}
    experiment.objective.settings.update({k: v for k, v in small.items() if k in experiment.objective.settings})
    experiment.objective.settings.update({"eval_episodes": 2, "frame_every": 1, **settings})
    return experiment


@pytest.mark.parametrize("preset, roles", [("cartpole_reinforce", ["policy"]), ("cartpole_ppo", ["policy", "value"]),
                                           ("cartpole_actor_critic", ["policy", "value"]),
                                           ("acrobot_actor_critic", ["policy", "value"])])
def test_each_objective_trains_a_few_updates_saves_and_the_policy_acts_in_plain_keras(tmp_path, preset, roles):
    import gymnasium as gym
    import keras

    events = []
    run_dir = run(short(preset), events.append, runs_dir=tmp_path)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "completed", finished
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.objective == load_preset(preset).objective.kind
    assert [role for role, *_ in started.models] == roles
    updates = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in updates] == [1, 2]
    wanted = {"episode_return", "return_mean", "episode_length", "policy_loss", "entropy", "env_steps"}
    if "value" in roles:
        wanted |= {"value_loss", "value_mean", "explained_variance"}
    for event in updates:
        assert wanted <= set(event.heads), set(event.heads)
        assert all(np.isfinite(event.heads[name]) for name in ("policy_loss", "entropy", "env_steps"))
    frames = [e for e in events if isinstance(e, EnvFrames)]
    assert [f.update for f in frames] == [1, 2]
    env = gym.make(load_preset(preset).objective.env)
    actions = env.action_space.n
    for f in frames:
        steps = len(f.actions)
        assert steps >= 1 and f.probabilities.shape == (steps, actions) and f.states.shape[0] == steps
        assert np.allclose(f.probabilities.sum(axis=1), 1.0, atol=1e-5)
        assert np.isnan(f.values).all() == ("value" not in roles)

    folder = Path(run_dir)
    history = (folder / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "episode_return" in history[0] and "policy_loss" in history[0]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["seeds"]["run"] == 0 and metrics["env_steps"] > 0
    assert metrics["greedy"]["episodes"] == 2
    policy = keras.models.load_model(folder / "policy.keras")   # plain Keras, nothing of Tapedeck's
    observations = np.stack([env.reset(seed=i)[0] for i in range(3)]).astype("float32")
    logits = np.asarray(policy(observations))
    assert logits.shape == (3, actions) and np.isfinite(logits).all()
    _obs, reward, *_ = env.step(int(np.argmax(logits[0])))   # it acts
    assert np.isfinite(reward)
    if "value" in roles:
        value = keras.models.load_model(folder / "value.keras")
        assert np.asarray(value(observations)).shape == (3, 1)
    else:
        assert not (folder / "value.keras").exists()


@pytest.mark.parametrize("execution", ["eager", "xla"])
def test_the_execution_modes_train(tmp_path, execution):
    events = []
    run(short("cartpole_ppo", execution=execution, frame_every=0), events.append, runs_dir=tmp_path)
    assert events[-1].reason == "completed", events[-1]
    assert not any(isinstance(e, EnvFrames) for e in events)   # frame_every 0: never
    metrics = json.loads((Path(events[-1].run_dir) / "metrics.json").read_text())
    assert metrics["traces"] == ({"act": 0, "learn": 0} if execution == "eager" else {"act": 1, "learn": 1})


def test_a_seeded_run_replays_exactly(tmp_path):
    def returns(folder):
        events = []
        run(short("cartpole_reinforce", updates=3), events.append, runs_dir=tmp_path / folder)
        return [(e.heads["episode_return"], e.heads["policy_loss"]) for e in events if isinstance(e, EpochEnd)]

    assert returns("a") == returns("b")


def test_stop_and_step(tmp_path):
    control = RunControl()
    control.step(1)   # one update, then paused
    events = []

    def reporter(event):
        events.append(event)
        if isinstance(event, EpochEnd):
            threading.Timer(0.3, control.stop).start()   # paused after the Step; then Stop

    worker = threading.Thread(target=run, args=(short("cartpole_ppo", updates=50), reporter, control),
                              kwargs={"runs_dir": tmp_path})
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1]
    assert events[-1].reason == "stopped"
    assert (Path(events[-1].run_dir) / "policy.keras").is_file()   # what one update learnt is kept
    inspected = [e for e in events if isinstance(e, UpdateInspected)]
    assert [e.update for e in inspected] == [1]   # Step's update taken apart: what it learned from
    looked = inspected[0]
    assert len(looked.actions) == 2 * 16 and looked.observations.shape == (32, 4)   # 2 envs x 16 steps
    assert ((looked.probabilities > 0) & (looked.probabilities <= 1)).all()
    assert np.allclose(looked.returns, looked.advantages + looked.values, atol=1e-4)
    assert looked.figures["policy_loss"] == next(e for e in events if isinstance(e, EpochEnd)).heads["policy_loss"]


def test_reinforce_inspected_update_has_no_values(tmp_path):
    control = RunControl()
    control.step(1)
    events = []

    def reporter(event):
        events.append(event)
        if isinstance(event, EpochEnd):
            control.stop()

    run(short("cartpole_reinforce", updates=5), reporter, control, runs_dir=tmp_path)
    looked = next(e for e in events if isinstance(e, UpdateInspected))
    assert np.isnan(looked.values).all() and len(looked.actions) == int(looked.figures["env_steps"])


def test_the_target_ends_the_run_solved(tmp_path):
    """A target any policy reaches: the greedy check passes at once and the run says so."""
    events = []
    run(short("cartpole_ppo", updates=20, target=5.0), events.append, runs_dir=tmp_path)
    finished = events[-1]
    assert finished.reason == "completed" and finished.message.startswith("solved at update 1 "), finished
    metrics = json.loads((Path(finished.run_dir) / "metrics.json").read_text())
    assert metrics["solved"]["update"] == 1 and metrics["solved"]["mean"] >= 5.0


def test_ppo_learns(tmp_path):
    """Not just runs: 12 updates of the preset (12,288 steps) at least triple the episode return of the
    first (about 20 for a random policy); a wrong sign anywhere in the loss would not."""
    experiment = load_preset("cartpole_ppo")
    experiment.training.epochs = 12
    experiment.objective.settings.update(stop_at_target=False, frame_every=0, eval_episodes=2)
    returns = []
    run(experiment, lambda e: returns.append(e.heads["return_mean"]) if isinstance(e, EpochEnd) else None,
        runs_dir=tmp_path)
    assert len(returns) == 12 and returns[-1] >= 3 * returns[0], returns


def test_tensorboard_gets_every_figure_by_update(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    experiment = short("cartpole_ppo", frame_every=0)
    experiment.training.tensorboard = True
    events = []
    run(experiment, events.append, runs_dir=tmp_path)
    assert events[-1].reason == "completed", events[-1]
    logs = EventAccumulator(str(Path(events[-1].run_dir) / "tensorboard"), size_guidance={"tensors": 0}).Reload()
    assert {"episode_length", "policy_loss", "value_loss", "entropy", "approx_kl"} <= set(logs.Tags()["tensors"])
    assert [event.step for event in logs.Tensors("policy_loss")] == [1, 2]
