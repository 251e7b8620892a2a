"""An agent's run resumes as a classifier's does: a stopped run's checkpoint (both models, both optimizers,
the random generator and the running figures) carries on with the next update, from the command line and
through the window's path (engine.training.resume.resume_plan); a damaged checkpoint is one line, exit 2."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.objectives import checkpoints
from tapedeck.engine.objectives.run import RunControl, run
from tapedeck.engine.spec.experiment import load_preset
from tapedeck.engine.training.events import EpochEnd, RunStarted


def short(updates=4, preset="cartpole_ppo"):
    experiment = load_preset(preset)
    experiment.training.epochs, experiment.training.seed = updates, 3
    wanted = {"envs": 2, "steps": 16, "minibatches": 2, "episodes_per_update": 2}
    experiment.objective.settings.update({k: v for k, v in wanted.items() if k in experiment.objective.settings})
    experiment.objective.settings.update(eval_episodes=2, frame_every=0, stop_at_target=False)
    return experiment


def stopped_after(tmp_path, update=2, preset="cartpole_ppo"):
    """A run stopped after ``update`` of 4; its folder and its events."""
    control, events = RunControl(), []

    def reporter(event):
        events.append(event)
        if isinstance(event, EpochEnd) and event.epoch == update:
            control.stop()

    run_dir = run(short(preset=preset), reporter, control, runs_dir=tmp_path)
    assert events[-1].reason == "stopped" and events[-1].epoch == update, events[-1]
    return Path(run_dir), events


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    return stopped_after(tmp_path_factory.mktemp("runs"))


def test_a_stopped_run_resumes_with_its_weights_optimizers_and_figures(tmp_path, monkeypatch):
    import keras

    folder, before = stopped_after(tmp_path)
    assert json.loads((folder / "checkpoint.json").read_text())["epoch"] == 2
    saved = keras.models.load_model(folder / "policy.keras").get_weights()   # the policy when it stopped
    restored = {}
    real_restore = checkpoints.restore_checkpoint

    def watched(objects, run_folder, epoch):
        real_restore(objects, run_folder, epoch)
        restored.update(policy=objects["policy"].get_weights(), epoch=epoch,
                        steps=int(objects["policy_optimizer"].iterations.numpy()),
                        value_steps=int(objects["value_optimizer"].iterations.numpy()))

    monkeypatch.setattr(checkpoints, "restore_checkpoint", watched)
    after = []
    assert run(short(), after.append, runs_dir=tmp_path, resume_dir=str(folder)) == str(folder)
    assert after[-1].reason == "completed", after[-1]
    assert restored["epoch"] == 2 and all(np.array_equal(a, b) for a, b in zip(saved, restored["policy"]))
    assert restored["steps"] == restored["value_steps"] == 2 * 4 * 2   # 2 updates of 4 epochs of 2 minibatches
    started = next(e for e in after if isinstance(e, RunStarted))
    assert started.initial_epoch == 2
    first, resumed = [e for e in before if isinstance(e, EpochEnd)], [e for e in after if isinstance(e, EpochEnd)]
    assert [e.epoch for e in resumed] == [3, 4]
    assert resumed[0].heads["env_steps"] == first[-1].heads["env_steps"] + 2 * 16   # the counts go on
    rows = (folder / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3", "4"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["updates_completed"] == 4 and metrics["seeds"]["resumed"]["update"] == 2
    assert not all(np.array_equal(a, b) for a, b in
                   zip(saved, keras.models.load_model(folder / "policy.keras").get_weights()))   # it trained on
    assert json.loads((folder / "checkpoint.json").read_text())["epoch"] == 4


def test_reinforce_resumes_too(tmp_path):
    folder, _events = stopped_after(tmp_path, update=1, preset="cartpole_reinforce")
    after = []
    run(short(preset="cartpole_reinforce"), after.append, runs_dir=tmp_path, resume_dir=str(folder))
    assert after[-1].reason == "completed", after[-1]
    assert [e.epoch for e in after if isinstance(e, EpochEnd)] == [2, 3, 4]


def test_the_window_path_resumes_it_and_train_more_adds_updates(stopped):
    from tapedeck.engine.training.resume import resume_plan

    folder, _events = stopped
    plan = resume_plan(str(folder))
    assert plan.done_epochs == 2 and plan.experiment.training.epochs == 4
    assert resume_plan(str(folder), 5).experiment.training.epochs == 7


def test_the_command_line_resumes(stopped, tmp_path, capsys):
    import shutil

    folder = Path(shutil.copytree(stopped[0], tmp_path / "copy"))
    assert main(["train", "--resume", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "resuming after epoch 2" in out and "epoch 3/4" in out and "epoch 4/4" in out, out


def test_a_damaged_checkpoint_is_one_line_exit_2(stopped, tmp_path, capsys):
    import shutil

    folder = Path(shutil.copytree(stopped[0], tmp_path / "copy"))
    (data,) = (folder / "checkpoints").glob("epoch-002.data-*")
    data.write_bytes(b"\0" * 40)
    assert main(["train", "--resume", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "epoch-002: could not be restored" in err and "start a new run" in err, err
    assert "Traceback" not in err
    state = json.loads((folder / "checkpoint.json").read_text())
    assert [e for e in folder.glob("checkpoints/*")], "nothing is deleted"
    del state["state"]["rng"]
    shutil.copy(stopped[0] / "checkpoints" / data.name, data)
    (folder / "checkpoint.json").write_text(json.dumps(state))
    assert main(["train", "--resume", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.json: its state is damaged ('rng' is missing)" in err and "Traceback" not in err, err


def test_all_updates_trained_names_the_fix(stopped, tmp_path, capsys):
    assert main(["train", "--resume", str(stopped[0]), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "all 2 planned update(s) are trained; resume with more updates (--epochs 3 or more)" in err, err
