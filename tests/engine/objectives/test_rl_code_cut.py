"""The exported RL script where episodes are cut by their time limit (bootstrapped from the value of the
last observation, the batch keeping its one traced shape) and the environment names no reward threshold
(so there is no target to stop at)."""
from __future__ import annotations

import runpy

import gymnasium as gym

from tapedeck.engine.codegen.script import generate_code
from tapedeck.engine.spec.experiment import load_preset

if "TapedeckShortPole-v0" not in gym.registry:   # CartPole cut at 7 steps, without a reward threshold
    gym.register("TapedeckShortPole-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                 max_episode_steps=7)


def test_a_script_whose_episodes_are_cut_and_that_has_no_target_runs(tmp_path, monkeypatch, capsys):
    experiment = load_preset("cartpole_ppo")
    experiment.training.epochs = 2
    experiment.objective.settings.update(env="TapedeckShortPole-v0", envs=3, steps=16, minibatches=2,
                                         eval_episodes=2)
    script = tmp_path / "train.py"
    script.write_text(generate_code(experiment))
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("update 1: episode return 7.0") and lines[1].startswith("update 2:"), lines
    assert lines[-1].startswith("Greedy mean return over 2 episodes: 7.0"), lines
