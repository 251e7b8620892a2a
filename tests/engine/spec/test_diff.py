"""Experiment differences: only what differs, as the key paths the files use."""
from tapedeck.engine.spec.diff import MISSING, differences_among, experiment_differences, format_differences
from tapedeck.engine.spec.experiment import LayerSpec, load_preset


def test_identical_experiments_and_implicit_defaults_do_not_differ():
    a = load_preset("digits_cnn")
    explicit = a.to_dict()
    implicit = a.to_dict()
    del implicit["training"]["momentum"], implicit["data"]["normalize"]  # the defaults, left out of the file
    assert experiment_differences(a, a.copy()) == []
    assert experiment_differences(explicit, implicit) == []


def test_changed_settings_and_layer_params_are_key_paths():
    a = load_preset("digits_cnn")
    b = a.copy()
    b.training.learning_rate = 0.01
    b.model.layers[4].params["units"] = 128
    b.model.layers[0].params["strides"] = 2  # set on one side only
    b.model.api = "functional"
    found = {d.path: (d.left, d.right) for d in experiment_differences(a, b)}
    assert found == {"model.api": ("sequential", "functional"), "model.layers[0].strides": (MISSING, 2),
                     "model.layers[4].units": (a.model.layers[4].params["units"], 128),
                     "training.learning_rate": (a.training.learning_rate, 0.01)}
    table = format_differences(experiment_differences(a, b), "A", "B")
    assert "model.layers[0].strides  (absent)" in table and len(table.splitlines()) == 6


def test_an_added_or_replaced_layer_is_one_difference():
    a = load_preset("digits_cnn")
    b = a.copy()
    b.model.layers.insert(5, LayerSpec("Dense", {"units": 32}))  # before the Dropout: positions 5.. shift
    diffs = experiment_differences(a, b)
    heads = {d.path: (d.left if d.left is MISSING else d.left["type"], d.right["type"])
             for d in diffs if d.path.endswith("]")}
    assert heads == {"model.layers[5]": ("Dropout", "Dense"), "model.layers[6]": ("Dense", "Dropout"),
                     "model.layers[7]": (MISSING, "Dense")}
    table = format_differences(diffs)
    assert "Dense(units=32)" in table and "model.layers[7].units" not in table and "[5].rate" not in table


def test_differences_among_three_runs():
    a = load_preset("digits_cnn")
    b, c = a.copy(), a.copy()
    size = a.training.batch_size
    b.training.batch_size = size * 2
    c.training.loop = "tape"
    rows = dict(differences_among([a, b, c]))
    assert rows == {"training.loop": ["fit", "fit", "tape"], "training.batch_size": [size, size * 2, size]}
