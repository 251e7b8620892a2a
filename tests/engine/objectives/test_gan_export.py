"""One model of a GAN run exported: ``tapedeck export RUN --model generator --format ...``."""
from __future__ import annotations

import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.objectives.run import run
from tapedeck.engine.spec.experiment import load_preset


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    experiment = load_preset("digits_gan")
    experiment.data.limit, experiment.training.epochs, experiment.training.batch_size = 64, 1, 32
    experiment.objective.settings["quality_samples"] = 0
    events = []
    run_dir = run(experiment, events.append, runs_dir=tmp_path_factory.mktemp("runs"))
    assert events[-1].reason == "completed", events[-1]
    return run_dir


def test_the_generator_exports_as_keras_and_onnx_checked_against_the_model(gan_run, tmp_path, capsys):
    import keras

    assert main(["export", gan_run, "--model", "generator", "--format", "keras", "--out", str(tmp_path)]) == 0
    generator = keras.models.load_model(tmp_path / "generator.keras")
    assert np.asarray(generator(np.zeros((2, 32), "float32"))).shape == (2, 8, 8, 1)
    assert main(["export", gan_run, "--model", "discriminator", "--format", "onnx", "--out", str(tmp_path)]) == 0
    assert "predicts as the model does" in capsys.readouterr().out
    assert (tmp_path / "discriminator.onnx").stat().st_size > 0


def test_a_model_must_be_named_and_exist(gan_run, capsys):
    assert main(["export", gan_run, "--format", "keras"]) == 2
    assert "--model: this run trained generator and discriminator; say which to export (--model generator)" in \
        capsys.readouterr().err
    assert main(["export", gan_run, "--model", "critic", "--format", "keras"]) == 2
    assert "no model 'critic'; its models: generator, discriminator" in capsys.readouterr().err


def test_analysing_a_gan_run_says_what_it_holds_instead(gan_run):
    from tapedeck.engine.analysis.reopen import AnalysisError, open_run

    with pytest.raises(AnalysisError, match="a run of objective 'gan' predicts no classes; its epochs' pictures are "
                                            "in samples/"):
        open_run(gan_run)
