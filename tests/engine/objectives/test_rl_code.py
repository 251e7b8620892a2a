"""The exported RL script: every objective in every API parses, and one script per objective runs as-is
for a few updates, plays its greedy episodes and saves a policy that reloads in plain Keras."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tapedeck.engine.codegen.script import generate_code
from tapedeck.engine.spec.experiment import load_preset

PRESETS = ("cartpole_reinforce", "cartpole_ppo", "cartpole_actor_critic", "acrobot_actor_critic")


def small(preset):
    experiment = load_preset(preset)
    experiment.training.epochs = 2
    wanted = {"envs": 2, "steps": 8, "minibatches": 2, "episodes_per_update": 2, "eval_episodes": 2}
    experiment.objective.settings.update({k: v for k, v in wanted.items() if k in experiment.objective.settings})
    return experiment


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("api", ["sequential", "functional", "subclassing"])
def test_every_objective_in_every_api_parses_and_says_what_it_is(preset, api):
    source = generate_code(load_preset(preset), api=api)
    compile(source, f"{preset}-{api}.py", "exec")
    kind = load_preset(preset).objective.kind
    assert {"reinforce": "REINFORCE on", "ppo": "PPO on", "actor_critic": "advantage actor-critic on"}[kind] in source
    assert "tf.GradientTape()" in source and "gym.make_vec(" in source and ".fit(" not in source
    assert ('value.save("value.keras")' in source) == (kind != "reinforce")


def test_fit_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="there is no fixed dataset"):
        generate_code(load_preset("cartpole_ppo"), loop="fit")


def check_saved(folder, preset, api):
    import keras

    assert (folder / "policy.keras").is_file()
    assert (folder / "value.keras").is_file() == (preset != "cartpole_reinforce")
    if api != "subclassing":   # a subclass reloads only with its class at hand
        policy = keras.models.load_model(folder / "policy.keras")
        actions = 3 if preset.startswith("acrobot") else 2
        observations = np.zeros((4, policy.input_shape[-1]), "float32")
        assert np.asarray(policy(observations)).shape == (4, actions)


def check_printed(lines):
    assert lines[0].startswith("update 1: episode return") and lines[1].startswith("update 2:")
    assert lines[-1].startswith("Greedy mean return over 2 episodes:")


def test_the_ppo_script_runs_as_is_in_its_own_python(tmp_path):
    """One script in a fresh interpreter (TensorFlow's import alone takes seconds, so one is enough)."""
    script = tmp_path / "train.py"
    script.write_text(generate_code(small("cartpole_ppo"), api="functional"))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    check_printed(done.stdout.splitlines())
    check_saved(tmp_path, "cartpole_ppo", "functional")


@pytest.mark.parametrize("preset, api", [("cartpole_reinforce", "subclassing"), ("acrobot_actor_critic", "sequential")])
def test_the_other_scripts_run_unchanged(tmp_path, monkeypatch, capsys, preset, api):
    """The script's text executed as its own __main__ module, in this interpreter."""
    import runpy

    script = tmp_path / "train.py"
    experiment = small(preset)
    experiment.training.fused_update = preset == "cartpole_reinforce"   # the fused Adam update, written out
    script.write_text(generate_code(experiment, api=api))
    fused = "policy_optimizer.update_step = types.MethodType(" in script.read_text()
    assert fused is experiment.training.fused_update
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
    check_printed(capsys.readouterr().out.splitlines())
    check_saved(tmp_path, preset, api)
