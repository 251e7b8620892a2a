"""The GAN's experiment file and check: several models in one file, the objective's settings, and the
check that names the model, the layer and the fix (no TensorFlow training here)."""
from __future__ import annotations

import json

import pytest

from tapedeck.engine.model.check_models import check_models
from tapedeck.engine.objectives.check import check_experiment, with_api
from tapedeck.engine.spec.experiment import ExperimentError, dumps, load_preset, loads

DIGITS = (8, 8, 1)


def gan_dict(**objective) -> dict:
    d = json.loads(dumps(load_preset("digits_gan")))
    d["objective"].update(objective)
    return d


def test_the_gan_preset_round_trips_and_keeps_each_models_optimizer():
    experiment = load_preset("digits_gan")
    assert experiment.objective.kind == "gan" and list(experiment.models) == ["generator", "discriminator"]
    assert experiment.models["generator"].optimizer == {"name": "adam", "learning_rate": 0.0005, "beta_1": 0.5}
    assert loads(dumps(experiment)) == experiment
    assert "\"model\":" not in dumps(experiment)


def test_a_classifier_file_writes_no_objective_and_no_models():
    text = dumps(load_preset("digits_cnn"))
    assert "objective" not in text and "\"models\"" not in text


def test_settings_are_checked_with_their_key_path():
    with pytest.raises(ExperimentError) as info:
        loads(json.dumps(gan_dict(d_steps=11, label_smoothing=0.7, loss="wasserstein", temperature=1)))
    text = str(info.value)
    assert "objective.d_steps: expected a whole number from 1 to 10, received 11" in text
    assert "objective.label_smoothing: expected a number in [0, 0.5), received 0.7" in text
    assert "objective.loss: expected one of" in text and "\"wgan-gp\"" in text
    assert "objective.temperature: unknown setting of objective \"gan\"" in text


def test_missing_roles_a_stray_model_and_unknown_kinds_are_named():
    d = gan_dict()
    d["model"] = d["models"].pop("discriminator")
    with pytest.raises(ExperimentError) as info:
        loads(json.dumps(d))
    text = str(info.value)
    assert "models.discriminator: missing; objective \"gan\" trains generator and discriminator" in text
    assert "model: objective \"gan\" trains several models; put each stack in \"models\"" in text
    d = gan_dict(kind="diffusion")
    with pytest.raises(ExperimentError, match="objective.kind: expected one of \"classify\", \"gan\""):
        loads(json.dumps(d))


def test_a_model_optimizer_is_checked():
    d = gan_dict()
    d["models"]["generator"]["optimizer"] = {"name": "adagrad", "learning_rate": -1, "beta": 0.5}
    with pytest.raises(ExperimentError) as info:
        loads(json.dumps(d))
    text = str(info.value)
    assert "models.generator.optimizer.name: expected one of \"adam\"" in text
    assert "models.generator.optimizer.learning_rate: expected a number > 0, received -1" in text
    assert "models.generator.optimizer.beta: unknown key" in text


def test_the_preset_checks_in_every_api():
    experiment = load_preset("digits_gan")
    for api in ("sequential", "functional", "subclassing"):
        report = check_experiment(experiment, DIGITS, 10, api=api)
        assert report.ok, report.all_problems()
        assert report.trainable == 149_057 + 75_009


def test_a_generator_that_does_not_give_the_image_shape_is_named_with_the_fix():
    experiment = load_preset("digits_gan")
    experiment.models["generator"].layers[-1].params["filters"] = 3
    problems = check_models(experiment, DIGITS, 10).all_problems()
    assert problems == [
        "models.generator: layer 5 'conv2d_transpose_1' (Conv2DTranspose): the generator gives (8, 8, 3) per "
        "example, but must give the data's image shape (8, 8, 1); make the last layer give (8, 8, 1) (e.g. "
        "Conv2DTranspose with 1 filter(s), strides that reach 8×8, activation sigmoid for pixels in [0, 1])"]


def test_a_discriminator_not_ending_in_one_unit_and_a_latent_mismatch_are_named():
    experiment = load_preset("digits_gan")
    experiment.models["discriminator"].layers[-1].params["units"] = 10
    experiment.models["generator"].layers[2].params["target_shape"] = [2, 2, 64]   # 512 values will not fit
    problems = check_models(experiment, DIGITS, 10).all_problems()
    assert any(p.startswith("models.discriminator: layer 6 'dense' (Dense): the discriminator gives (10,) per "
                            "example, but must give one value (1,); end it with") for p in problems), problems
    assert any(p.startswith("models.generator: layer 2 'reshape' (Reshape)") for p in problems), problems


def test_loops_and_settings_a_gan_cannot_use_are_refused_with_the_reason():
    experiment = load_preset("digits_gan")
    experiment.training.loop = "fit"
    experiment.training.distribute, experiment.training.execution = "mirrored", "xla"
    problems = check_experiment(experiment, DIGITS, 10).all_problems()
    assert any("training.loop: 'fit' cannot train objective 'gan': plain model.fit minimises one model's loss"
               in p for p in problems)
    assert any(p.startswith("training.execution: XLA compiles a step for one device") for p in problems)


def test_with_api_rewrites_every_model():
    experiment = with_api(load_preset("digits_gan"), "functional")
    assert {spec.api for spec in experiment.models.values()} == {"functional"}


def test_classifier_settings_a_gan_run_would_not_apply_are_refused_not_ignored():
    experiment = load_preset("digits_gan")   # its loop: the GradientTape loop
    experiment.training.steps_per_execution = 8
    experiment.training.schedule = "plateau"
    experiment.training.early_stopping = True
    problems = check_experiment(experiment, DIGITS, 10).all_problems()
    assert [p.split(":")[0] for p in problems] == ["training.steps_per_execution", "training.schedule",
                                                   "training.early_stopping"]


def test_a_queue_or_sweep_handed_a_gan_says_it_trains_classifiers():
    from tapedeck.engine.training.run import run as run_classifier

    events = []
    assert run_classifier(load_preset("digits_gan"), events.append) is None
    assert events[-1].reason == "failed" and events[-1].problems == (
        "objective 'gan': sweeps, queues and API comparisons train classifiers; train it with Train in the window "
        "or `tapedeck train`",)
