"""Issue 24: an npz whose heads all name their own targets (``y_train_digit``, ``y_train_score``) needs no
plain ``y_train`` / ``y_test``; those are target ``label``, read only where a head (or a single output)
asks for it. The check passes, a run trains, the exported script loads and trains the file as it is, and
whatever still reads ``label`` is told, in one line, that the file has none.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tests.support import badfiles as bad

_RNG = np.random.default_rng(0)
_N = 60


def _arrays(**over) -> dict:
    """Images, 4 features, a digit target and a float score target; no plain y_train / y_test."""
    x = _RNG.random((_N, 8, 8)).astype(np.float32)
    digit = np.arange(_N) % 10
    features = _RNG.random((_N, 4)).astype(np.float32)
    score = features.mean(axis=1).astype(np.float32)
    arrays = dict(x_train=x, x_test=x, x_train_features=features, x_test_features=features,
                  y_train_digit=digit, y_test_digit=digit, y_train_score=score, y_test_score=score)
    arrays.update(over)
    return {key: value for key, value in arrays.items() if value is not None}


def _experiment(tmp_path, heads=(("digit", "digit", None), ("score", "score", "mean_squared_error")),
                limit=40, **over) -> dict:
    """The npz_image_and_features preset with ``heads`` ((layer, target, loss) on the joined features)
    in place of its one head, on an npz holding ``_arrays(**over)``."""
    from tapedeck.engine.spec.experiment import load_preset

    np.savez(tmp_path / "data.npz", **_arrays(**over))
    experiment = load_preset("npz_image_and_features").to_dict()
    experiment["data"].update(path=str(tmp_path / "data.npz"), limit=limit, validation_split=0.2)
    experiment["training"].update(epochs=1, batch_size=16)
    layers = [layer for layer in experiment["model"]["layers"] if layer.get("name") != "digit"]
    experiment["model"]["layers"] = layers
    experiment["model"]["outputs"] = []
    for layer, target, loss in heads:
        classes = loss is None
        layers.append({"type": "Dense", "name": layer, "inputs": ["joined"], "units": 10 if classes else 1,
                       "activation": "softmax" if classes else None})
        head = {"layer": layer, "target": target} if target is not None else {"layer": layer}
        if loss:
            head["loss"] = loss
        experiment["model"]["outputs"].append(head)
    return experiment


def _write(tmp_path, experiment) -> str:
    return str(bad.write_experiment(tmp_path / "exp.json", experiment))


def _one_line(capsys, code, expect):
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert "Traceback" not in err
    assert err.lstrip().startswith(("tapedeck:", "error:")), err[:500]
    assert expect in err, err[:2000]


def test_the_data_set_has_no_label_target_and_says_so_nowhere_else():
    """The data layer: every named target is there, ``label`` is not, and nothing stands in for it."""
    import tempfile
    from pathlib import Path

    from tapedeck.engine.data.datasets import describe_feeds, load_dataset
    from tapedeck.engine.spec.experiment import Experiment

    with tempfile.TemporaryDirectory() as folder:
        experiment = Experiment.from_dict(_experiment(Path(folder)))
        dataset = load_dataset(experiment.data)
        feeds = describe_feeds(experiment.data)
    assert set(dataset.targets) == {"digit", "score"}
    assert set(feeds.targets) == {"digit", "score"}
    assert dataset.y_train is None and dataset.y_test is None and dataset.num_classes == 0
    assert len(dataset.targets["digit"].train) == len(dataset.x_train) == 32   # limit 40, 20% validation
    assert len(dataset.sample_index) > 0 and len(dataset.targets["digit"].val) == 8


def test_check_passes(tmp_path, capsys):
    assert main(["check", _write(tmp_path, _experiment(tmp_path))]) == 0, capsys.readouterr().err[-2000:]
    out = capsys.readouterr().out
    assert "Head digit" in out and "target digit (10 classes)" in out and "target score (1 value(s))" in out


def test_one_epoch_trains_and_tests_each_head(tmp_path, capsys):
    code = main(["train", _write(tmp_path, _experiment(tmp_path)), "--out", str(tmp_path / "runs")])
    assert code == 0, capsys.readouterr().err[-2000:]
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 1
    assert {"digit", "score"} <= set(json.dumps(metrics["test"]).replace('"', " ").split()), metrics["test"]
    # Grad-CAM feeds the image alone: a model of two inputs was a Keras ValueError traceback
    capsys.readouterr()
    _one_line(capsys, main(["gradcam", str(run)]), "Grad-CAM feeds the model the image alone, and this model "
                                                   "has 2 inputs (features, image)")


@pytest.mark.parametrize("loop", ["fit", "tape"])
def test_the_exported_script_loads_and_trains_the_file_as_it_is(loop, tmp_path, monkeypatch, capsys):
    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.spec.experiment import Experiment
    from tests.engine.codegen.test_codegen_several import _head_figures

    text = generate_code(Experiment.from_dict(_experiment(tmp_path)), "functional", loop)
    assert 'archive["y_train"]' not in text and '"label":' not in text
    monkeypatch.chdir(tmp_path)
    exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    figures = _head_figures(capsys.readouterr().out)
    assert figures["digit"][0] == "accuracy" and figures["score"][0] == "MAE"


def test_the_script_holds_the_apps_arrays(tmp_path):
    from tapedeck.engine.spec.experiment import Experiment
    from tests.engine.codegen.test_codegen_several import _assert_same_arrays

    got = _assert_same_arrays(Experiment.from_dict(_experiment(tmp_path)))
    assert set(got["y_train"]) == {"digit", "score"}


def test_a_head_naming_a_missing_array_is_named(tmp_path, capsys):
    experiment = _experiment(tmp_path, heads=(("digit", "digit", None), ("size", "size", "mean_squared_error")))
    _one_line(capsys, main(["check", _write(tmp_path, experiment)]),
              "head 'size': target 'size' is not in this data set (it has: digit, score)")


def test_a_head_reading_label_is_told_the_file_has_no_plain_y_train(tmp_path, capsys):
    experiment = _experiment(tmp_path, heads=(("digit", None, None), ("score", "score", "mean_squared_error")))
    _one_line(capsys, main(["check", _write(tmp_path, experiment)]),
              "head 'digit': target 'label' is not in this data set (it has: digit, score); the plain "
              "y_train and y_test arrays are target 'label'")


@pytest.mark.parametrize("command", ["check", "train"])
def test_a_single_output_model_is_told_the_file_has_no_plain_y_train(command, tmp_path, capsys):
    """No declared heads: the one output reads target ``label``; the file's named targets are offered."""
    experiment = bad.base_experiment(source="npz", path=str(tmp_path / "data.npz"), limit=None)
    np.savez(tmp_path / "data.npz", **_arrays())
    argv = [command, _write(tmp_path, experiment)] + (["--out", str(tmp_path / "runs")] if command == "train" else [])
    _one_line(capsys, main(argv), "holds no plain y_train / y_test (target 'label'), which the model's single "
                                  "output reads; it has the targets digit, score")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_heads_of_values_only_train_and_reopen(tmp_path, capsys):
    """No target of classes at all: no accuracy to print (the terminal's line printed None's format and
    the run failed), and the analysis reopens the run with no classifier head."""
    from tapedeck.engine.analysis.reopen import open_run

    experiment = _experiment(tmp_path, heads=(("score", "score", "mean_squared_error"),
                                              ("again", "score", "mean_absolute_error")))
    code = main(["train", _write(tmp_path, experiment), "--out", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "score_loss" in out and "test score (score): loss" in out, out[-1000:]
    (run,) = (tmp_path / "runs").iterdir()
    analysed = open_run(run)
    assert analysed.main_head is None and analysed.probabilities.shape == (len(analysed.dataset.x_test), 0)


@pytest.mark.parametrize("preset", ["digits_gan", "digits_cgan", "digits_vae"])
def test_a_generative_objective_is_told_the_file_has_no_labels(preset, tmp_path, capsys):
    """Their runs read the labels (a conditional GAN's codes, the samples and scores): a TypeError or a
    KeyError before; now one line in the check, which the run repeats before it starts."""
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset(preset).to_dict()
    experiment["data"].update(source="npz", path=str(tmp_path / "data.npz"), limit=40)
    np.savez(tmp_path / "data.npz", **_arrays())
    _one_line(capsys, main(["check", _write(tmp_path, experiment)]),
              f"holds no plain y_train / y_test (the images' labels), which objective '{preset[7:]}' reads")


def test_the_data_tab_shows_such_a_file_without_class_rows(tmp_path):
    """The window's Data tab counts target 'label' per class; with none it shows the images, no rows
    (a TypeError in its loading thread before)."""
    from tapedeck.engine.spec.experiment import Experiment
    from tapedeck.gui.tabs.data_tab import _load

    loaded = _load(Experiment.from_dict(_experiment(tmp_path)).data)
    assert loaded["names"] == [] and loaded["pages"] == [] and len(loaded["counts"]) == 0
    assert len(loaded["preview"]) > 0


def _one_head(tmp_path, api="functional") -> dict:
    """One input (the images) and one head reading the named target 'digit': no dicts needed, yet the
    plain path fed the labels, which this file does not hold (and a file that did would train the wrong target)."""
    experiment = _experiment(tmp_path, heads=(("digit", "digit", None),))
    experiment["model"].update(api=api, inputs=[{"name": "image", "data": "x"}])
    layers = [layer for layer in experiment["model"]["layers"] if layer.get("name") not in ("features_dense", "joined")]
    layers[-1].pop("inputs")
    experiment["model"]["layers"] = layers
    return experiment


def test_one_head_reading_a_named_target_trains_on_that_target(tmp_path, capsys):
    code = main(["train", _write(tmp_path, _one_head(tmp_path)), "--out", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "test digit (digit): loss" in out, out[-800:]


def test_one_head_reading_a_named_target_exports_a_script_that_reads_it(tmp_path, monkeypatch, capsys):
    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.spec.experiment import Experiment
    from tests.engine.codegen.test_codegen_several import _head_figures

    text = generate_code(Experiment.from_dict(_one_head(tmp_path)))
    assert 'archive["y_train_digit"]' in text and 'archive["y_train"]' not in text
    monkeypatch.chdir(tmp_path)
    exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    assert _head_figures(capsys.readouterr().out)["digit"][0] == "accuracy"


def test_one_head_reading_a_named_target_in_sequential_is_refused_in_words(tmp_path, capsys):
    _one_line(capsys, main(["check", _write(tmp_path, _one_head(tmp_path, api="sequential"))]),
              "this model declares a head reading target 'digit' (not the labels)")


def test_one_head_reading_parity_of_digits_trains_on_parity(tmp_path, capsys):
    """The derived target on a set that has labels: the plain path trained on the ten digits with a
    two-unit head (InvalidArgumentError, exit 1)."""
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset("digits_cnn").to_dict()
    experiment["model"]["api"] = "functional"
    experiment["model"]["layers"][-1].update(units=2, name="par")
    experiment["model"]["outputs"] = [{"layer": "par", "target": "parity"}]
    experiment["data"]["limit"] = 120
    experiment["training"].update(epochs=1, batch_size=32)
    code = main(["train", _write(tmp_path, experiment), "--out", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "test par (parity): loss" in out, out[-800:]


def test_one_input_of_features_is_fed_the_features(tmp_path, capsys):
    """One input reading x_features and one head: the plain path fed it the images."""
    experiment = _experiment(tmp_path, heads=(("digit", "digit", None),))
    experiment["model"]["inputs"] = [{"name": "features", "data": "x_features"}]
    experiment["model"]["layers"] = [{"type": "Dense", "name": "hidden", "units": 16, "activation": "relu"},
                                     {"type": "Dense", "name": "digit", "units": 10, "activation": "softmax"}]
    code = main(["train", _write(tmp_path, experiment), "--out", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "test digit (digit): loss" in out, out[-800:]


def test_the_image_and_features_preset_exports_a_fit_script_that_runs(tmp_path, monkeypatch, capsys):
    """Two inputs and one head (of the plain labels): its script read results['digit_accuracy'], which
    Keras names 'accuracy' for one output (KeyError at the end of a trained script)."""
    from tapedeck.engine.codegen.script import generate_code
    from tapedeck.engine.spec.experiment import load_preset
    from tests.engine.codegen.test_codegen_several import _head_figures

    digits = np.arange(_N) % 10
    np.savez(tmp_path / "digits_with_features.npz", **_arrays(y_train=digits, y_test=digits))
    experiment = load_preset("npz_image_and_features")
    experiment.data.path, experiment.data.limit, experiment.training.epochs = "digits_with_features.npz", 40, 1
    monkeypatch.chdir(tmp_path)
    exec(compile(generate_code(experiment, "functional", "fit"), "script.py", "exec"), {"__name__": "__main__"})
    assert _head_figures(capsys.readouterr().out)["digit"][0] == "accuracy"
