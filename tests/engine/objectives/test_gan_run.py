"""GAN runs for real on the digits: both loops, the three APIs, the three losses; what the run folder
keeps (each model reloads in plain Keras), the events, Stop, and the command line."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tapedeck.engine.objectives.run import RunControl, run
from tapedeck.engine.spec.experiment import LayerSpec, load_preset, save_experiment
from tapedeck.engine.training.events import BatchEnd, EpochEnd, Finished, RunStarted, SampleGrid

FIGURES = ("d_loss", "g_loss", "d_accuracy", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")


def short_gan(api="sequential", loop="tape", loss="bce", epochs=2, limit=128):
    experiment = load_preset("digits_gan")
    experiment.data.limit = limit
    experiment.training.epochs = epochs
    experiment.training.batch_size = 32
    experiment.training.loop = loop
    experiment.objective.settings.update(loss=loss, quality_samples=100)
    for spec in experiment.models.values():
        spec.api = api
    return experiment


@pytest.mark.parametrize("api, loop, loss", [("sequential", "tape", "bce"), ("functional", "train_step", "hinge"),
                                             ("subclassing", "tape", "wgan-gp")])
def test_a_short_gan_run_trains_saves_and_reloads_in_plain_keras(tmp_path, api, loop, loss):
    import keras

    events = []
    run_dir = run(short_gan(api, loop, loss), events.append, runs_dir=tmp_path)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "completed", finished
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.objective == "gan" and [role for role, *_ in started.models] == ["generator", "discriminator"]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    for event in epochs:
        assert all(np.isfinite(event.heads[name]) for name in FIGURES)
        assert {"quality_frechet", "quality_classes_covered"} <= set(event.heads)
    assert any(isinstance(e, BatchEnd) and e.heads for e in events)
    grids = [e for e in events if isinstance(e, SampleGrid) and e.kind == "samples"]
    assert [g.images.shape for g in grids] == [(64, 8, 8, 1)] * 2
    nearest = [e for e in events if isinstance(e, SampleGrid) and e.kind == "nearest_real"][-1]
    assert nearest.images.shape == (64, 8, 8, 1) and nearest.epoch == 2
    assert not np.allclose(grids[0].images, grids[1].images)   # the generator learnt between the two

    from pathlib import Path

    folder = Path(run_dir)
    assert (folder / "samples" / "epoch-002.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    generator = keras.models.load_model(folder / "generator.keras")
    discriminator = keras.models.load_model(folder / "discriminator.keras")
    images = np.asarray(generator(np.zeros((3, 32), "float32")))
    assert images.shape == (3, 8, 8, 1) and images.min() >= 0.0 and images.max() <= 1.0
    assert np.asarray(discriminator(images)).shape == (3, 1)
    history = (folder / "history.csv").read_text().splitlines()
    assert len(history) == 3 and all(name in history[0].split(",") for name in FIGURES)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "completed" and set(metrics["quality"]) == {
        "frechet", "classes_covered", "class_entropy", "confidence"}


def test_stop_before_the_first_step_keeps_no_models(tmp_path):
    control = RunControl()
    control.stop()
    events = []
    run_dir = run(short_gan(), events.append, control, runs_dir=tmp_path)
    assert events[-1].reason == "stopped"
    from pathlib import Path

    assert not (Path(run_dir) / "generator.keras").exists()


def test_stop_during_the_run_ends_it_after_the_current_step(tmp_path):
    control = RunControl()
    events = []

    def reporter(event):
        events.append(event)
        if isinstance(event, BatchEnd):
            control.stop()

    run(short_gan(epochs=5), reporter, control, runs_dir=tmp_path)
    assert events[-1].reason == "stopped"
    assert not any(isinstance(e, EpochEnd) and e.epoch > 1 for e in events)


def test_the_command_line_refuses_fit_with_the_reason(tmp_path):
    path = tmp_path / "gan.json"
    save_experiment(short_gan(), path)
    done = subprocess.run([sys.executable, "-m", "tapedeck.engine.cli.main", "train", str(path), "--loop", "fit",
                           "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "training.loop: 'fit' cannot train objective 'gan'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("label_input, loop", [("one_hot", "tape"), ("embedding", "train_step")])
def test_a_conditional_gan_takes_the_label_in_both_models(tmp_path, label_input, loop):
    import keras

    experiment = short_gan(loop=loop)
    experiment.objective.kind = "cgan"
    experiment.objective.settings.update(label_input=label_input, embedding_dim=8)
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path)
    assert events[-1].reason == "completed", events[-1]
    grid = [e for e in events if isinstance(e, SampleGrid) and e.kind == "samples"][-1]
    assert grid.images.shape == (80, 8, 8, 1) and list(grid.labels[::8]) == list(range(10))   # a row per class
    assert 0.0 <= [e for e in events if isinstance(e, EpochEnd)][-1].heads["quality_label_accuracy"] <= 1.0
    from pathlib import Path

    generator = keras.models.load_model(Path(run_dir) / "generator.keras")
    images = np.asarray(generator([np.zeros((4, 32), "float32"), np.array([[0], [3], [5], [9]], "int32")]))
    assert images.shape == (4, 8, 8, 1)
    discriminator = keras.models.load_model(Path(run_dir) / "discriminator.keras")
    assert np.asarray(discriminator([images, np.array([[0], [3], [5], [9]], "int32")])).shape == (4, 1)


def test_a_conditional_stack_sized_without_the_label_is_named():
    from tapedeck.engine.objectives.check import check_experiment

    experiment = load_preset("digits_cgan")
    assert check_experiment(experiment, (8, 8, 1), 10).ok
    experiment.models["generator"].layers.insert(0, LayerSpec("Reshape", {"target_shape": [32]}))   # 42 values
    problems = check_experiment(experiment, (8, 8, 1), 10).all_problems()
    assert any("models.generator: layer 0" in p and "Reshape" in p for p in problems), problems


def test_a_stopped_gan_run_resumes_from_its_checkpoint_with_both_optimizers(tmp_path):
    import keras

    control = RunControl()
    events = []

    def reporter(event):
        events.append(event)
        if isinstance(event, EpochEnd) and event.epoch == 2:
            control.stop()

    run_dir = run(short_gan(epochs=4), reporter, control, runs_dir=tmp_path)
    assert events[-1].reason == "stopped" and events[-1].epoch == 2
    from pathlib import Path

    folder = Path(run_dir)
    assert json.loads((folder / "checkpoint.json").read_text())["epoch"] == 2
    stopped = np.asarray(keras.models.load_model(folder / "generator.keras")(np.ones((1, 32), "float32")))
    resumed = []
    assert run(short_gan(epochs=4), resumed.append, runs_dir=tmp_path, resume_dir=run_dir) == run_dir
    assert resumed[-1].reason == "completed", resumed[-1]
    started = next(e for e in resumed if isinstance(e, RunStarted))
    assert started.initial_epoch == 2 and [e.epoch for e in resumed if isinstance(e, EpochEnd)] == [3, 4]
    history = (folder / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2", "3", "4"]
    after = np.asarray(keras.models.load_model(folder / "generator.keras")(np.ones((1, 32), "float32")))
    assert not np.allclose(stopped, after)
    kept = sorted(p.name.split(".")[0] for p in (folder / "checkpoints").glob("*.index"))
    assert kept[-1] == "epoch-004" and len(kept) <= 2   # the last epoch's, and at most one before it


def test_resuming_needs_a_checkpoint_and_epochs_left(tmp_path):
    events = []
    run_dir = run(short_gan(epochs=1), events.append, runs_dir=tmp_path)
    again = []
    run(short_gan(epochs=1), again.append, runs_dir=tmp_path, resume_dir=run_dir)
    assert again[-1].problems and "all 1 planned epoch(s) are trained; resume with more epochs" in again[-1].message
    empty = tmp_path / "empty"
    empty.mkdir()
    run(short_gan(epochs=2), again.append, runs_dir=tmp_path, resume_dir=str(empty))
    assert "holds no checkpoint" in again[-1].message


@pytest.mark.parametrize("part", ["d", "g"])
def test_step_d_or_step_g_trains_only_that_model_and_takes_the_step_apart(tmp_path, part):
    from tapedeck.engine.training.events import GanStepInspected

    control = RunControl()
    control.step(1, part)
    events = []

    def reporter(event):
        events.append(event)
        if isinstance(event, GanStepInspected):
            control.stop()

    run(short_gan(epochs=1), reporter, control, runs_dir=tmp_path)
    inspected = next(e for e in events if isinstance(e, GanStepInspected))
    assert inspected.part == part and inspected.step == 1 and inspected.real.shape == (8, 8, 8, 1)
    generator_moved = not np.allclose(inspected.fake_before, inspected.fake_after)
    discriminator_moved = not np.allclose(inspected.d_real_before, inspected.d_real_after)
    assert (generator_moved, discriminator_moved) == ((False, True) if part == "d" else (True, False))
    roles = {role for role, _layer, _norm in inspected.layers}
    assert roles == {"discriminator" if part == "d" else "generator"}
    assert all(np.isfinite(norm) and norm >= 0 for _role, _layer, norm in inspected.layers)


def test_tensorboard_gets_every_figure_and_the_grid(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    experiment = short_gan(epochs=2)
    experiment.training.tensorboard = True
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path)
    assert events[-1].reason == "completed", events[-1]
    from pathlib import Path

    logs = EventAccumulator(str(Path(run_dir) / "tensorboard"), size_guidance={"tensors": 0, "images": 0}).Reload()
    tags = logs.Tags()
    assert {"d_loss", "g_loss", "d_real", "d_fake", "quality_frechet"} <= set(tags["tensors"]) | set(tags["scalars"])
    assert "samples" in tags["images"] or "samples" in tags["tensors"]


def test_step_g_of_a_conditional_gan_takes_the_step_apart(tmp_path):
    """The inspector calls a cGAN's models with [fixed noise, the batch's labels]: an array beside a tensor, which
    Keras refused ("you cannot mix tensors and non-tensors"), so Step failed every conditional run."""
    from tapedeck.engine.training.events import GanStepInspected

    experiment = load_preset("digits_cgan")
    experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 128, 1, 32
    experiment.objective.settings["quality_samples"] = 0
    control = RunControl()
    control.step(1, "g")
    events = []

    def reporter(event):
        events.append(event)
        if isinstance(event, GanStepInspected):
            control.stop()

    run(experiment, reporter, control, runs_dir=tmp_path)
    assert events[-1].reason == "stopped", events[-1].message
    inspected = next(e for e in events if isinstance(e, GanStepInspected))
    assert inspected.part == "g" and inspected.real.shape == (8, 8, 8, 1)
    assert not np.allclose(inspected.fake_before, inspected.fake_after)   # the generator stepped
    assert np.allclose(inspected.d_real_before, inspected.d_real_after)   # the discriminator did not
    assert {role for role, _layer, _norm in inspected.layers} == {"generator"}
