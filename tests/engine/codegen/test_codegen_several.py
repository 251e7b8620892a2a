"""Code export of models with several inputs or heads: the script writes the model with dicts (functional
and subclass), trains it in every loop with a loss, a weight and a metric per head, loads the same named
arrays as the app, and runs as-is; Sequential is refused in words."""
from __future__ import annotations

import re

import numpy as np
import pytest

from tapedeck.engine.codegen.script import _imports, generate_code, model_code
from tapedeck.engine.codegen.several import head_codes, several_data_code
from tapedeck.engine.spec import graph, heads
from tapedeck.engine.spec.experiment import Experiment, load_preset
from tests.engine.codegen.test_codegen import _run_script
from tests.support import datafiles

HEAD_LINE = re.compile(r"^Test (\w+) (accuracy|MAE): (\d+\.\d{4})$")


def _short(name: str, limit: int = 150, **data) -> Experiment:
    experiment = load_preset(name)
    experiment.training.epochs = 1
    experiment.data.limit = limit
    for key, value in data.items():
        setattr(experiment.data, key, value)
    return experiment


def _head_figures(stdout: str) -> dict:
    """Each head's test figure from the script's last lines."""
    found = {}
    for line in stdout.strip().splitlines():
        match = HEAD_LINE.match(line)
        if match:
            found[match[1]] = (match[2], float(match[3]))
    return found


def _two_inputs_npz(path):
    """An image and a feature vector per example, the digit label and a float target (a regression head)."""
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", 120), ("test", 40)):
        x, y = datafiles.images(n, 8, 8, seed=1 if split == "train" else 2)
        parts[f"x_{split}"], parts[f"y_{split}"] = x, y
        parts[f"x_{split}_extra"] = rng.random((n, 5), dtype=np.float32)
        parts[f"y_{split}_size"] = (x.reshape(n, -1).mean(axis=1) / 255.0).astype(np.float32)
    np.savez(path, **parts)
    return path


def _two_inputs_experiment(npz) -> Experiment:
    """Two inputs (image, feature vector) joined by a Concatenate; two heads: the digit and a regression."""
    return Experiment.from_dict({
        "format": "tapedeck/1", "name": "two inputs",
        "data": {"source": "npz", "path": str(npz), "validation_split": 0.2},
        "model": {"api": "functional",
                  "inputs": [{"name": "image", "data": "x"}, {"name": "extra", "data": "x_extra"}],
                  "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
                             {"type": "Flatten", "name": "flat"},
                             {"type": "Dense", "name": "extra_dense", "inputs": ["extra"], "units": 8},
                             {"type": "Concatenate", "name": "joined", "inputs": ["flat", "extra_dense"]},
                             {"type": "Dense", "name": "digit", "units": 10, "activation": "softmax"},
                             {"type": "Dense", "name": "size", "inputs": ["joined"], "units": 1}],
                  "outputs": [{"layer": "digit", "target": "label"},
                              {"layer": "size", "target": "size", "loss": "mean_squared_error",
                               "loss_weight": 2.0}]},
        "training": {"loop": "fit", "epochs": 1, "batch_size": 16, "seed": 0},
    })


def test_the_model_is_written_with_dicts_in_both_apis():
    experiment = load_preset("digits_two_heads_functional")
    functional = generate_code(experiment, "functional", "fit")
    assert 'image = keras.Input(shape=input_shapes["image"], name="image")' in functional
    assert ('model = keras.Model(\n    inputs={\n        "image": image,\n    },\n    outputs={\n'
            '        "digit": digit,\n        "parity": parity,\n    },\n)') in functional
    assert '    loss_weights={\n        "digit": 1.0,\n        "parity": 0.5,\n    },' in functional
    assert '    metrics={\n        "digit": ["accuracy"],\n        "parity": ["accuracy"],\n    },' in functional
    # The derived target is written out, and said to be derived.
    assert '"parity": part["label"].astype(np.int64) % 2,' in functional
    assert "# parity is derived, not stored in the data set" in functional
    subclass = generate_code(experiment, "subclassing", "tape")
    assert '    def call(self, inputs, training=False):' in subclass
    assert '        image = inputs["image"]' in subclass
    assert '        return {\n            "digit": digit,\n            "parity": parity,\n        }' in subclass
    # The weighted sum written out, one metric per head named as fit names it.
    assert '    return loss_weights["digit"] * digit_loss + loss_weights["parity"] * parity_loss' in subclass
    assert '"digit": keras.metrics.SparseCategoricalAccuracy(name="digit_accuracy"),' in subclass
    step = generate_code(experiment, "functional", "train_step")
    assert "class CustomFitModel(keras.Model):" in step and 'head_losses = {"digit_loss", "parity_loss"}' in step
    for text in (functional, subclass, step):
        compile(text, "script.py", "exec")


def test_sequential_is_refused_in_words():
    experiment = load_preset("digits_two_heads_functional")
    for loop in ("fit", "tape", "train_step"):
        with pytest.raises(ValueError) as error:
            generate_code(experiment, "sequential", loop)
        assert str(error.value) == graph.SEQUENTIAL_MULTI_REFUSAL.format(what="2 heads")


@pytest.mark.parametrize("api", ["functional", "subclassing"])
def test_the_written_model_is_the_engines_model(api):
    """Same layer names, parameter counts and output per head as engine.model.build."""
    import keras

    from tapedeck.engine.model.build import build_model

    experiment = load_preset("digits_two_heads_functional")
    namespace = {"keras": keras, "layers": keras.layers, "input_shapes": {"image": (8, 8, 1)}}
    exec(compile(model_code(experiment, api), "model.py", "exec"), namespace)
    written, built = namespace["model"], build_model(experiment, (8, 8, 1), api=api)
    x = {"image": np.zeros((2, 8, 8, 1), dtype=np.float32)}
    out_written, out_built = written(x), built(x)
    assert {k: tuple(v.shape) for k, v in out_written.items()} == {k: tuple(v.shape) for k, v in out_built.items()}
    assert written.count_params() == built.count_params()
    names = [layer.name for layer in (written.stack if hasattr(written, "stack") else written.layers)]
    assert {"trunk", "digit", "parity"} <= set(names)


def _data_namespace(experiment) -> dict:
    code = several_data_code(experiment.data, heads.inputs_of(experiment.model), head_codes(experiment))
    namespace: dict = {}
    exec(compile(_imports(code.imports) + "\n\n" + code.text, "data.py", "exec"), namespace)
    return namespace


def _assert_same_arrays(experiment):
    """The script's dicts hold exactly what the app feeds each input and head (engine.training.heads_io)."""
    from tapedeck.engine.data.datasets import load_dataset
    from tapedeck.engine.training.heads_io import arrays, plan_heads

    dataset = load_dataset(experiment.data)
    plan = plan_heads(experiment, dataset)
    got = _data_namespace(experiment)
    for index, split in enumerate(("train", "val", "test")):
        x, y = arrays(dataset, experiment, plan, index)
        for kind, want, have in (("x", x, got[f"x_{split}"]), ("y", y, got[f"y_{split}"])):
            assert set(have) == set(want), (split, kind)
            for name in want:
                assert have[name].shape == want[name].shape, (split, name)
                assert have[name].dtype == want[name].dtype, (split, name, have[name].dtype, want[name].dtype)
                np.testing.assert_allclose(have[name], want[name], atol=1e-6, err_msg=f"{split} {name}")
    return got


def test_the_script_loads_the_apps_arrays_digits_with_parity():
    got = _assert_same_arrays(_short("digits_two_heads_functional", limit=100, validation_split=0.25))
    assert set(got["y_train"]) == {"digit", "parity"}


def test_the_script_loads_the_apps_arrays_two_input_npz(tmp_path):
    got = _assert_same_arrays(_two_inputs_experiment(_two_inputs_npz(tmp_path / "two.npz")))
    assert got["input_shapes"] == {"image": (8, 8, 1), "extra": (5,)}


def test_the_script_loads_cifar100_fine_and_coarse(tmp_path):
    archive = datafiles.write_tar(tmp_path / "cifar-100-python.tar.gz", "cifar-100-python",
                                  datafiles.cifar100_files(n_train=30, n_test=10))
    experiment = load_preset("cifar100_fine_coarse_functional")
    experiment.data.source, experiment.data.path, experiment.data.limit = "cifar", str(archive), None
    got = _assert_same_arrays(experiment)
    assert {h.target for h in head_codes(experiment)} == {"fine", "coarse"}
    assert got["y_test"] and all(len(v) == 10 for v in got["y_test"].values())
    text = generate_code(load_preset("cifar100_fine_coarse_functional"))
    assert 'keras.datasets.cifar100.load_data(label_mode="coarse")' in text


def test_a_script_runs_standalone_and_prints_each_heads_figure(tmp_path):
    """Under plain python, as a person runs it; the other loops run in this process below (TensorFlow is
    loaded already: no second start-up)."""
    script = tmp_path / "two_heads.py"
    script.write_text(generate_code(_short("digits_two_heads_functional"), "functional", "fit"))
    path, code, stdout, stderr = _run_script(script)
    assert code == 0, f"exit {code}\n{stderr[-2000:]}"
    figures = _head_figures(stdout)
    assert set(figures) == {"digit", "parity"}, stdout[-500:]
    assert all(kind == "accuracy" and 0.0 <= value <= 1.0 for kind, value in figures.values())


def test_the_subclass_tape_loop_runs(tmp_path, monkeypatch, capsys):
    text = generate_code(_short("digits_two_heads_subclassing", limit=80), "subclassing", "tape")
    monkeypatch.chdir(tmp_path)
    exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert set(_head_figures(out)) == {"digit", "parity"}
    assert re.search(r"Epoch 1/1: loss [\d.]+, digit_accuracy [\d.]+, parity_accuracy [\d.]+, val_loss [\d.]+, "
                     r"val_digit_accuracy [\d.]+, val_parity_accuracy [\d.]+", out), out


def test_a_two_input_npz_script_runs_on_the_same_file(tmp_path, monkeypatch, capsys):
    """An image and a feature vector in, the digit and a regression head out, fit with a custom train_step."""
    experiment = _two_inputs_experiment(_two_inputs_npz(tmp_path / "two.npz"))
    text = generate_code(experiment, "functional", "train_step")
    assert 'x_train_extra, x_test_extra = archive["x_train_extra"], archive["x_test_extra"]' in text
    assert 'y_train_size, y_test_size = archive["y_train_size"], archive["y_test_size"]' in text
    assert 'head_losses = {"digit_loss", "size_loss"}' in text
    assert '"size": keras.metrics.MeanAbsoluteError(name="size_mae"),' in generate_code(experiment, "functional",
                                                                                        "tape")
    monkeypatch.chdir(tmp_path)
    exec(compile(text, "script.py", "exec"), {"__name__": "__main__"})
    figures = _head_figures(capsys.readouterr().out)
    assert figures["digit"][0] == "accuracy" and figures["size"][0] == "MAE"
    assert 0.0 <= figures["size"][1] < 1.0


def test_early_stopping_watches_a_heads_figure():
    """As in a run: a head's figure in its direction (Keras cannot tell it alone), val_accuracy the first
    classification head's."""
    experiment = load_preset("digits_two_heads_functional")
    experiment.training.early_stopping = True
    experiment.training.early_stopping_monitor = "val_parity_loss"
    assert ('keras.callbacks.EarlyStopping(monitor="val_parity_loss", mode="min", patience=3, '
            'restore_best_weights=True)') in generate_code(experiment, "functional", "fit")
    experiment.training.early_stopping_monitor = "val_accuracy"
    assert 'EarlyStopping(monitor="val_digit_accuracy", mode="max"' in generate_code(experiment, "functional", "fit")
    assert 'if logs["val_digit_accuracy"] > best:' in generate_code(experiment, "subclassing", "tape")
