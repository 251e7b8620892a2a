"""The experiment file: exact round trips, and every mistake refused with its key path."""
import json
import os
import subprocess
import sys

import pytest

from tapedeck.engine.spec import experiment as E  # noqa: N812 — short, used on every line
from tapedeck.engine.spec.experiment import (
    FORMAT,
    DataSpec,
    Experiment,
    ExperimentError,
    LayerSpec,
    ModelSpec,
    TrainingSpec,
    load_experiment,
    save_experiment,
)


def _full_dict():
    """A canonical file with a non-default value in every field it can have."""
    return {
        "format": "tapedeck/1",
        "name": "residual",
        "data": {"source": "folder", "path": "/data/pets", "validation_split": 0.25, "limit": 500,
                 "normalize": False, "label_mode": "coarse", "image_size": [64, 48], "color_mode": "grayscale",
                 "labels": "one_hot", "streaming": "on", "memory_budget_mb": 256, "cache": "/tmp/pets-cache"},
        "model": {"api": "functional", "layers": [
            {"type": "Rescaling", "scale": 0.5, "offset": -1.0},
            {"type": "Conv2D", "name": "stem", "filters": 16, "kernel_size": [3, 3], "padding": "same",
             "activation": "relu"},
            {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": None},
            {"type": "Add", "name": "skip", "inputs": ["stem", "conv2d"]},
            {"type": "RandomZoom", "height_factor": [-0.2, 0.1]},
            {"type": "GlobalAveragePooling2D"},
            {"type": "Dropout", "rate": 0.3, "seed": 7},
            {"type": "Dense", "units": 10, "activation": "softmax"},
        ]},
        "training": {"loop": "tape", "optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9,
                     "nesterov": True, "weight_decay": 0.0, "loss": "categorical_crossentropy",
                     "from_logits": True, "batch_size": 64, "epochs": 12, "seed": None, "deterministic": True,
                     "schedule": "plateau", "schedule_every": 3, "schedule_factor": 0.2, "schedule_patience": 4,
                     "early_stopping": True, "early_stopping_monitor": "val_accuracy",
                     "early_stopping_patience": 5, "restore_best_weights": False, "distribute": "mirrored",
                     "steps_per_execution": 8, "tensorboard": True, "execution": "xla", "inspect_every": 5,
                     # one clipping at a time; no accumulation under a distribution strategy
                     "clipnorm": None, "global_clipnorm": 2.5, "clipvalue": None, "gradient_accumulation_steps": 1,
                     "precision": "mixed_bfloat16", "fused_update": True, "initial_weights": "start.weights.npz"},
    }


def _problems(d):
    with pytest.raises(ExperimentError) as info:
        Experiment.from_dict(d)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def _with(section, **values):
    d = {"format": FORMAT}
    d[section] = values
    return d


# --- round trips -------------------------------------------------------------------------------------

def test_canonical_dict_round_trips_exactly_in_order():
    d = _full_dict()
    back = Experiment.from_dict(json.loads(json.dumps(d))).to_dict()
    assert back == d
    assert list(back) == ["format", "name", "data", "model", "training"]
    assert list(back["data"]) == list(d["data"]) and list(back["training"]) == list(d["training"])
    assert [list(layer) for layer in back["model"]["layers"]] == [list(layer) for layer in d["model"]["layers"]]


def test_defaults_round_trip_and_write_every_field():
    d = Experiment().to_dict()
    assert set(d["data"]) == {f for f in DataSpec.__dataclass_fields__}
    assert set(d["training"]) == {f for f in TrainingSpec.__dataclass_fields__}
    assert Experiment.from_dict(d) == Experiment()


def test_steps_per_execution_is_auto_unless_a_file_says_a_number():
    """Files written before "auto" carry their number and keep it; a file without the key gets "auto"."""
    assert Experiment().training.steps_per_execution == "auto"
    old = Experiment().to_dict()
    old["training"]["steps_per_execution"] = 1
    assert Experiment.from_dict(old).training.steps_per_execution == 1
    assert Experiment.from_dict(Experiment().to_dict()).training.steps_per_execution == "auto"


def test_minimal_file_takes_defaults_and_keeps_layer_params_as_given():
    e = Experiment.from_dict({"format": FORMAT, "model": {"layers": [{"type": "Dense", "units": 3}]},
                              "training": {"learning_rate": 1}})
    assert e.name == "untitled" and e.data == DataSpec() and e.model.api == "sequential"
    assert e.model.layers == [LayerSpec("Dense", {"units": 3})]
    assert e.training.learning_rate == 1.0 and isinstance(e.training.learning_rate, float)


def test_save_load_round_trip_is_byte_stable_and_one_line_per_layer(tmp_path):
    path = tmp_path / "exp.json"
    original = Experiment.from_dict(_full_dict())
    save_experiment(original, path)
    assert load_experiment(path) == original
    text = path.read_text()
    assert '    {"type": "Conv2D", "name": "stem", "filters": 16, "kernel_size": [3, 3]' in text
    save_experiment(load_experiment(path), path)
    assert path.read_text() == text
    assert json.loads(text) == _full_dict()


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "exp.json"
    save_experiment(Experiment(name="old"), path)
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        save_experiment(Experiment(name="new"), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["exp.json"]


def test_copy_is_deep_and_editing_is_plain_list_work():
    e = Experiment.from_dict(_full_dict())
    c = e.copy()
    c.model.layers[1].params["filters"] = 99
    c.model.layers[3].inputs.append("x")
    c.data.image_size[0] = 1
    c.model.layers.insert(0, LayerSpec("Flatten"))
    assert e.to_dict() == _full_dict()
    assert c.to_dict()["model"]["layers"][0] == {"type": "Flatten"}


def test_problems_of_an_edited_experiment():
    e = Experiment.from_dict(_full_dict())
    assert e.problems() == []
    e.model.layers[7].params["units"] = 0
    e.training.epochs = 0
    assert e.problems() == ["model.layers[7].units: expected a positive integer, received 0",
                            "training.epochs: expected a positive integer, received 0"]


# --- refusals -----------------------------------------------------------------------------------------

def test_issue_example_message():
    d = _full_dict()
    d["model"]["layers"][3] = {"type": "Dense", "units": -5}
    assert "model.layers[3].units: expected a positive integer, received -5" in _problems(d)


def test_unknown_keys_at_every_level_are_refused():
    d = _full_dict()
    d["nmae"] = "x"
    d["data"]["sorce"] = "mnist"
    d["model"]["optimizer"] = "adam"
    d["training"]["lr"] = 0.1
    d["model"]["layers"][7]["unit"] = 10
    d["model"]["layers"][5]["units"] = 10
    problems = _problems(d)
    assert problems == [
        "nmae: unknown key; did you mean 'name'?",
        "data.sorce: unknown key; did you mean 'source'?",
        "model.optimizer: unknown key; known keys: api, inputs, layers, outputs",
        "model.layers[5].units: unknown parameter for GlobalAveragePooling2D; GlobalAveragePooling2D takes: "
        "keepdims",
        "model.layers[7].unit: unknown parameter for Dense; did you mean 'units'?",
        problems[5],
    ]
    assert problems[5].startswith("training.lr: unknown key; known keys: loop, optimizer, learning_rate")


@pytest.mark.parametrize("section, key, value, expected", [
    ("data", "source", "imagenet", 'one of "digits", "mnist"'),
    ("data", "path", "", "a non-empty string or null"),
    ("data", "validation_split", 1.0, "a number in [0, 1)"),
    ("data", "validation_split", -0.1, "a number in [0, 1)"),
    ("data", "limit", 0, "a positive integer or null"),
    ("data", "limit", True, "a positive integer or null"),
    ("data", "normalize", "yes", "true or false"),
    ("data", "normalize", 1, "true or false"),
    ("data", "label_mode", "medium", 'one of "fine", "coarse"'),
    ("data", "image_size", [32], "[height, width] of positive integers, or null"),
    ("data", "image_size", [32, 0], "[height, width] of positive integers, or null"),
    ("data", "color_mode", "cmyk", 'one of "rgb", "grayscale"'),
    ("data", "labels", "onehot", 'one of "sparse", "one_hot"'),
    ("training", "loop", "custom", 'one of "fit", "tape"'),
    ("training", "optimizer", "adagrad", 'one of "adam", "adamw", "sgd", "rmsprop"'),
    ("training", "learning_rate", 0, "a number > 0"),
    ("training", "learning_rate", float("inf"), "a number > 0"),
    ("training", "learning_rate", "0.1", "a number > 0"),
    ("training", "momentum", 1, "a number in [0, 1)"),
    ("training", "nesterov", None, "true or false"),
    ("training", "weight_decay", -1e-3, "a number ≥ 0"),
    ("training", "loss", "mse", 'one of "sparse_categorical_crossentropy"'),
    ("training", "from_logits", "false", "true or false"),
    ("training", "batch_size", 0, "a positive integer"),
    ("training", "batch_size", 32.0, "a positive integer"),
    ("training", "epochs", True, "a positive integer"),
    ("training", "seed", -1, "a non-negative integer or null"),
    ("training", "seed", False, "a non-negative integer or null"),
    ("training", "deterministic", 0, "true or false"),
    ("training", "schedule", "exponential", 'one of "constant", "step", "cosine", "plateau"'),
    ("training", "schedule_every", 0, "a positive integer"),
    ("training", "schedule_factor", 1.0, "a number in (0, 1)"),
    ("training", "schedule_factor", 0, "a number in (0, 1)"),
    ("training", "schedule_patience", -1, "a non-negative integer"),
    ("training", "early_stopping_monitor", "val_acc", 'one of "val_loss", "val_accuracy"'),
    ("training", "early_stopping_patience", 1.5, "a non-negative integer"),
    ("training", "distribute", "tpu", 'one of "none", "auto", "mirrored", "multi_worker"'),
    ("training", "steps_per_execution", 0, 'a positive integer (training steps per compiled call) or "auto"'),
    ("training", "steps_per_execution", "fast", 'a positive integer (training steps per compiled call) or "auto"'),
    ("training", "tensorboard", [], "true or false"),
])
def test_wrong_type_or_range_names_key_expected_and_received(section, key, value, expected):
    problems = _problems(_with(section, **{key: value}))
    assert len(problems) == 1
    assert problems[0].startswith(f"{section}.{key}: expected {expected}"), problems
    assert problems[0].endswith(f"received {json.dumps(value)}"), problems


def test_all_problems_are_collected_not_just_the_first():
    d = _full_dict()
    d["name"] = ""
    d["data"]["limit"] = -1
    d["model"]["api"] = "keras"
    d["model"]["layers"][0] = {"units": 3}
    d["model"]["layers"][1]["filters"] = 0
    d["model"]["layers"][2]["kernel_size"] = "3"
    d["training"]["epochs"] = 0
    d["training"]["batch_size"] = None
    keys = [p.split(":")[0] for p in _problems(d)]
    assert keys == ["name", "data.limit", "model.api", "model.layers[0].type", "model.layers[1].filters",
                    "model.layers[2].kernel_size", "training.batch_size", "training.epochs"]


def test_layer_shape_mistakes():
    d = _with("model", layers=[
        "Dense", {"type": 3}, {"type": "Dense", "units": 1, "name": ""}, {"type": "Dense", "units": 1, "name": "a/b"},
        {"type": "Dense", "units": 1, "inputs": []}, {"type": "Dense", "units": 1, "inputs": "x"},
        {"type": "Dense", "units": 1, "inputs": ["x", 2]}, {"type": "Dens", "units": 1}])
    assert _problems(d) == [
        'model.layers[0]: expected a layer object {"type": ...}, received "Dense"',
        "model.layers[1].type: expected a layer type name, received 3",
        "model.layers[2].name: expected a non-empty name without '/', or null, received \"\"",
        "model.layers[3].name: expected a non-empty name without '/', or null, received \"a/b\"",
        "model.layers[4].inputs: expected a non-empty list of earlier layer names, received []",
        "model.layers[5].inputs: expected a non-empty list of earlier layer names, received \"x\"",
        "model.layers[6].inputs: expected a non-empty list of earlier layer names, received [\"x\", 2]",
        "model.layers[7].type: unknown layer type 'Dens'; did you mean 'Dense'?",
    ]


def test_sections_of_the_wrong_type():
    assert _problems({"format": FORMAT, "data": [], "model": {"layers": {}}, "training": 3}) == [
        "data: expected an object {...}, received []",
        "model.layers: expected a list of layers, received {}",
        "training: expected an object {...}, received 3",
    ]
    assert _problems([1]) == ['expected an experiment object {"format": "tapedeck/1", ...}, received [1]']


def test_file_sources_need_a_path():
    assert _problems(_with("data", source="npz")) == [
        'data.path: missing; source "npz" reads a file or folder, give its location in "path"']
    assert Experiment.from_dict(_with("data", source="npz", path="x.npz")).data.path == "x.npz"


# --- format and migration -----------------------------------------------------------------------------

def test_missing_format_is_reported_with_the_other_problems():
    assert _problems({"name": "x", "training": {"epochs": 0}}) == [
        'format: missing; add "format": "tapedeck/1" as the first key of the file',
        "training.epochs: expected a positive integer, received 0"]


def test_newer_and_unknown_formats_name_themselves_and_what_is_supported():
    assert _problems({"format": "tapedeck/7"}) == [
        'format: "tapedeck/7" is a newer format than this Tapedeck reads; update Tapedeck '
        "(supported: tapedeck/1)"]
    assert _problems({"format": "keras/3"}) == [
        'format: "keras/3" is not an experiment format Tapedeck knows (supported: tapedeck/1)']


def test_migration_hook_upgrades_old_files(monkeypatch):
    def from_0(d):
        d["format"] = FORMAT
        d["training"] = {"learning_rate": d.pop("lr")}
        return d

    monkeypatch.setitem(E.MIGRATIONS, "tapedeck/0", from_0)
    e = Experiment.from_dict({"format": "tapedeck/0", "lr": 0.5})
    assert e.training.learning_rate == 0.5
    assert e.to_dict()["format"] == FORMAT
    assert "supported: tapedeck/0, tapedeck/1" in _problems({"format": "tapedeck/9"})[0]


def test_migration_loop_is_refused(monkeypatch):
    monkeypatch.setitem(E.MIGRATIONS, "tapedeck/0", lambda d: d)
    assert _problems({"format": "tapedeck/0"})[0].startswith('format: "tapedeck/0" is not an experiment format')


# --- files ----------------------------------------------------------------------------------------------

def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ExperimentError) as info:
        load_experiment(tmp_path / "nope.json")
    assert str(info.value) == f"{tmp_path / 'nope.json'}: no such file; check the path"


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(ExperimentError, match="is a folder"):
        load_experiment(tmp_path)


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "format": "tapedeck/1",\n  "name": "x"\n  "data": {}\n}\n')
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(info.value).startswith(f"{path}: line 4 column 3: not valid JSON (Expecting ',' delimiter)")


def test_duplicate_json_key_is_refused(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"format": "tapedeck/1", "training": {"epochs": 2, "epochs": 3}}')
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(info.value) == f'{path}: duplicate key "epochs"; each key may appear once per object'


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(ExperimentError, match="not UTF-8"):
        load_experiment(path)


def test_validation_problems_from_a_file_are_prefixed_with_the_file(tmp_path):
    path = tmp_path / "exp.json"
    path.write_text(json.dumps({"format": FORMAT, "training": {"epochs": -1, "batch_size": 0}}))
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    # in the order the file has them
    assert info.value.problems == ["training.epochs: expected a positive integer, received -1",
                                   "training.batch_size: expected a positive integer, received 0"]
    assert str(info.value).splitlines() == [f"{path}: {p}" for p in info.value.problems]


# --- presets --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", E.list_presets())
def test_every_shipped_preset_loads_and_round_trips(name):
    preset = E.load_preset(name)
    assert Experiment.from_dict(preset.to_dict()) == preset


def test_default_preset_ships_once_presets_exist():
    presets = E.list_presets()
    if presets:
        assert E.DEFAULT_PRESET in presets


def test_load_preset_reads_package_files(tmp_path, monkeypatch):
    package = tmp_path / "fake_presets_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    save_experiment(Experiment(name="tiny", model=ModelSpec(layers=[LayerSpec("Flatten")])), package / "tiny.json")
    (package / "broken.json").write_text('{"format": "tapedeck/1", "name": 5}')
    (package / "notes.txt").write_text("not a preset")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(E, "PRESET_PACKAGE", "fake_presets_pkg")
    assert E.list_presets() == ["broken", "tiny"]
    assert E.load_preset("tiny").name == "tiny"
    with pytest.raises(ExperimentError) as info:
        E.load_preset("broken")
    assert str(info.value) == "preset broken: name: expected a non-empty string, received 5"
    with pytest.raises(ExperimentError) as info:
        E.load_preset("mnist")
    assert str(info.value) == "no preset named 'mnist'; presets: broken, tiny"


def test_foundation_modules_do_not_import_keras():
    code = ("import sys\n"
            "from engine.spec.experiment import *\nfrom engine.spec.catalogue import *\n"
            "from engine.spec.graph import *\nfrom engine.files import *\n"
            "bad = [m for m in ('keras', 'tensorflow', 'PySide6') if m in sys.modules]\n"
            "sys.exit(f'imported {bad}' if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_experiment_sources_match_the_dataset_loaders():
    datasets = pytest.importorskip("tapedeck.engine.data.datasets")
    assert set(E.SOURCES) == set(datasets.SOURCES)
    assert set(E.FILE_SOURCES) == set(datasets.FILE_SOURCES)


def test_two_clippings_at_once_are_refused_by_name():
    with pytest.raises(ExperimentError) as error:
        Experiment.from_dict({"format": "tapedeck/1", "training": {"clipnorm": 1.0, "clipvalue": 0.5}})
    assert "clipnorm and clipvalue are both set" in str(error.value)
    with pytest.raises(ExperimentError) as error:
        Experiment.from_dict({"format": "tapedeck/1", "training": {"global_clipnorm": -1}})
    assert "training.global_clipnorm: expected a number > 0 or null, received -1" in str(error.value)
    with pytest.raises(ExperimentError) as error:
        Experiment.from_dict({"format": "tapedeck/1",
                              "training": {"gradient_accumulation_steps": 2, "distribute": "mirrored"}})
    assert "cannot accumulate gradients under a tf.distribute strategy" in str(error.value)


def test_a_frozen_layer_round_trips_and_a_non_bool_trainable_is_refused():
    d = {"format": "tapedeck/1", "model": {"api": "sequential", "layers": [
        {"type": "Flatten"}, {"type": "Dense", "units": 10, "trainable": False}]}}
    experiment = Experiment.from_dict(d)
    assert experiment.model.layers[1].trainable is False and "trainable" not in experiment.model.layers[1].params
    assert experiment.to_dict()["model"]["layers"][1] == {"type": "Dense", "trainable": False, "units": 10}
    assert "trainable" not in experiment.to_dict()["model"]["layers"][0]
    d["model"]["layers"][1]["trainable"] = "no"
    with pytest.raises(ExperimentError, match=r"model.layers\[1\].trainable: expected true or false"):
        Experiment.from_dict(d)


def test_a_learning_rate_multiplier_round_trips_and_must_be_positive():
    d = {"format": "tapedeck/1", "training": {"loop": "tape"}, "model": {"api": "sequential", "layers": [
        {"type": "Flatten"}, {"type": "Dense", "units": 10, "lr_multiplier": 0.1}]}}
    experiment = Experiment.from_dict(d)
    assert experiment.model.layers[1].lr_multiplier == 0.1 and "lr_multiplier" not in experiment.model.layers[1].params
    assert experiment.to_dict()["model"]["layers"][1] == {"type": "Dense", "lr_multiplier": 0.1, "units": 10}
    d["model"]["layers"][1]["lr_multiplier"] = 0
    with pytest.raises(ExperimentError, match=r"model.layers\[1\].lr_multiplier: expected a number > 0, received 0"):
        Experiment.from_dict(d)
