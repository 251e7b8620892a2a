"""Reinforcement learning's bad inputs, headless: each is one line naming the thing and the fix, exit 2,
no traceback — and `tapedeck train PRESET` / `tapedeck evaluate RUN` on the good path."""
from __future__ import annotations

import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.objectives.rl_play import advantages, discounted
from tapedeck.engine.spec.experiment import LayerSpec, load_preset, save_experiment


class _Raising(gym.Env):
    """An environment whose step fails, as a broken third-party one would."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action):
        raise RuntimeError("the motor caught fire")


if "TapedeckRaising-v0" not in gym.registry:
    gym.register("TapedeckRaising-v0", entry_point=_Raising, max_episode_steps=10)
    gym.register("TapedeckEndless-v0", entry_point=_Raising)   # no time limit


def written(tmp_path, preset="cartpole_ppo", **settings):
    experiment = load_preset(preset)
    experiment.training.epochs = 1
    experiment.objective.settings.update({"envs": 2, "steps": 16, "minibatches": 2, "eval_episodes": 2, **settings})
    path = tmp_path / "rl.json"
    save_experiment(experiment, path)
    return experiment, path


def one_line(capsys, argv) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("env, words", [
    ("NoSuchEnv-v9", r"objective\.env: 'NoSuchEnv-v9' is not an installed gymnasium environment .*; name one such "
                     r"as CartPole-v1"),
    ("Pendulum-v1", r"objective\.env: 'Pendulum-v1' has Box actions .*; Tapedeck's policies choose one of a few "
                    r"discrete actions, so choose an environment with vector observations"),
    ("TapedeckEndless-v0", r"objective\.env: 'TapedeckEndless-v0' has no time limit, so an episode may never end "
                           r".*; register it with max_episode_steps"),
])
def test_an_environment_tapedeck_cannot_train_on_is_named_by_check_and_train(tmp_path, capsys, env, words):
    _experiment, path = written(tmp_path, env=env)
    assert re.search(words, one_line(capsys, ["check", path]))
    assert re.search(words, one_line(capsys, ["train", path, "--out", tmp_path / "runs"]))
    assert not (tmp_path / "runs").exists()   # refused before anything was written


def test_a_policy_whose_output_width_differs_from_the_action_count(tmp_path, capsys):
    experiment, _path = written(tmp_path)
    experiment.models["policy"].layers[-1] = LayerSpec("Dense", {"units": 3})
    path = tmp_path / "wide.json"
    save_experiment(experiment, path)
    err = one_line(capsys, ["train", path, "--out", tmp_path / "runs"])
    assert "models.policy:" in err and "the policy gives (3,) per example, but must give one logit per action (2,)" \
        in err and "end it with Dense with 2 units and no activation" in err


@pytest.mark.parametrize("gamma", [0.0, 1.5, -0.1])
def test_gamma_outside_zero_one(tmp_path, capsys, gamma):
    _experiment, path = written(tmp_path)
    path.write_text(path.read_text().replace('"gamma": 0.99', f'"gamma": {gamma}'))
    err = one_line(capsys, ["train", path])
    assert f"objective.gamma: expected a number in (0, 1], received {gamma}" in err


def test_an_environment_that_raises_in_step(tmp_path, capsys):
    _experiment, path = written(tmp_path, env="TapedeckRaising-v0")
    err = one_line(capsys, ["train", path, "--out", tmp_path / "runs"])
    assert "objective.env: 'TapedeckRaising-v0' raised RuntimeError in step (the motor caught fire); fix or " \
           "reinstall the environment, or choose another" in err


def test_fit_is_refused_with_the_reason_and_so_are_uneven_minibatches(tmp_path, capsys):
    _experiment, path = written(tmp_path, minibatches=3)
    err = one_line(capsys, ["train", path, "--loop", "fit"])
    assert "training.loop: 'fit' cannot train objective 'ppo': there is no fixed dataset — the data comes from " \
           "acting" in err
    assert "objective.minibatches: 2 envs × 16 steps = 32 samples do not split into 3 equal minibatches" in err


def test_train_a_preset_by_name_then_evaluate_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "cartpole_reinforce", "--epochs", "2", "--api", "subclassing", "--out",
                 str(tmp_path / "runs")]) == 0   # a subclass: evaluate must know its class
    out = capsys.readouterr().out
    assert "2 update(s) trained (target 475 not reached); greedy mean return" in out
    run_dir = next((tmp_path / "runs").iterdir())
    # in a fresh Python, as a person runs it: nothing of the training is imported there
    done = subprocess.run([sys.executable, "-m", "tapedeck.engine.cli.main", "evaluate", str(run_dir), "--episodes",
                           "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip()
    assert re.fullmatch(r"CartPole-v1: greedy policy over 3 episode\(s\) \(seeds 1000000\.\.1000002\): mean return "
                        r"[\d.]+ ± [\d.]+ \(min \d+, max \d+\)", line), line


def test_evaluate_refuses_what_is_not_a_trained_rl_run(tmp_path, capsys):
    assert "no such run folder" in one_line(capsys, ["evaluate", tmp_path / "nowhere"])
    assert "has no experiment.json" in one_line(capsys, ["evaluate", tmp_path])
    save_experiment(load_preset("digits_cnn"), tmp_path / "experiment.json")
    assert "a run of objective 'classify' plays no environment" in one_line(capsys, ["evaluate", tmp_path])
    save_experiment(load_preset("cartpole_ppo"), tmp_path / "experiment.json")
    assert "policy.keras: missing" in one_line(capsys, ["evaluate", tmp_path])


def test_returns_and_advantages_by_hand():
    rewards = np.array([[1.0], [1.0], [1.0]], np.float32)
    done = np.array([[0.0], [1.0], [0.0]], np.float32)
    # the episode ends after step 1: step 2's return starts afresh from the bootstrap value 10
    assert np.allclose(discounted(rewards, done, np.array([10.0]), 0.5)[:, 0], [1.5, 1.0, 6.0])
    values = np.array([[0.5], [0.25], [2.0]], np.float32)
    # λ = 1 gives returns - values; λ = 0 the one-step TD errors
    assert np.allclose(advantages(rewards, values, done, np.array([10.0]), 0.5, 1.0)[:, 0], [1.0, 0.75, 4.0])
    assert np.allclose(advantages(rewards, values, done, np.array([10.0]), 0.5, 0.0)[:, 0], [0.625, 0.75, 4.0])



def test_tapedeck_step_points_to_train_one_update(capsys):
    err = one_line(capsys, ["step", "cartpole_ppo"])
    assert "objective 'ppo' has its own step, so run `tapedeck train EXP --epochs 1`" in err


def test_the_spaces_of_an_environment_are_made_once(monkeypatch):
    """The window's checker asks on every edit: the second time nothing is made."""
    from tapedeck.engine.objectives.environments import env_spaces

    env_spaces.cache_clear()
    assert env_spaces("Acrobot-v1").actions == 3
    monkeypatch.setattr(gym, "make", lambda *a, **k: pytest.fail("made again"))
    assert env_spaces("Acrobot-v1").observation == (6,)
