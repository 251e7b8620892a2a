"""model.inputs / model.outputs in the experiment file: defaults, canonical form and every refusal."""
import json

import pytest

from tapedeck.engine.spec.experiment import Experiment, ExperimentError, dumps, load_preset, loads
from tapedeck.engine.spec.heads import heads_of, inputs_of, is_multi


def _model(**model):
    d = load_preset("digits_cnn").to_dict()
    d["model"].update(model)
    return d


def _problems(**model) -> list[str]:
    with pytest.raises(ExperimentError) as error:
        Experiment.from_dict(_model(**model))
    return error.value.problems


def test_absent_inputs_and_outputs_mean_one_input_and_the_last_layer():
    experiment = load_preset("digits_cnn")
    assert not is_multi(experiment.model)
    assert [(i.name, i.data) for i in inputs_of(experiment.model)] == [("input", "x")]
    head = heads_of(experiment.model, ["a", "b", "last"], experiment.training)[0]
    assert (head.layer, head.target, head.loss, head.loss_weight) == (
        "last", "label", "sparse_categorical_crossentropy", 1.0)
    assert "outputs" not in experiment.to_dict()["model"] and "inputs" not in experiment.to_dict()["model"]


def test_two_head_preset_round_trips_one_line_per_head():
    experiment = load_preset("digits_two_heads_functional")
    assert is_multi(experiment.model)
    text = dumps(experiment)
    assert '      {"layer": "parity", "target": "parity", "loss_weight": 0.5}' in text
    assert loads(text).to_dict() == experiment.to_dict()
    head = heads_of(experiment.model, [], experiment.training)[1]
    assert (head.loss, head.from_logits) == ("sparse_categorical_crossentropy", False)


@pytest.mark.parametrize("model, expected", [
    ({"inputs": []}, "model.inputs: expected a non-empty list"),
    ({"inputs": [{"name": "9x"}]}, "model.inputs[0].name: expected a name of letters"),
    ({"inputs": [{"name": "a"}, {"name": "a"}]}, "model.inputs[1].name: input 'a' is declared twice"),
    ({"inputs": [{"name": "a", "data": "y"}]}, 'model.inputs[0].data: expected "x" (the images) or "x_<name>"'),
    ({"inputs": [{"name": "a", "shape": [3]}]}, "model.inputs[0].shape: unknown key"),
    ({"outputs": [{"target": "label"}]}, "model.outputs[0].layer: expected the name of the layer"),
    ({"outputs": [{"layer": "d", "loss": "hinge"}]}, "model.outputs[0].loss: expected one of"),
    ({"outputs": [{"layer": "d", "loss_weight": -1}]}, "model.outputs[0].loss_weight: expected a number ≥ 0"),
    ({"outputs": [{"layer": "d", "from_logits": "yes"}]}, "model.outputs[0].from_logits: expected true or false"),
    ({"outputs": [{"layer": "d"}, {"layer": "d", "target": "parity"}]},
     "model.outputs[1].layer: layer 'd' already heads output 0; two heads on one layer"),
    ({"outputs": "d"}, "model.outputs: expected a non-empty list"),
])
def test_each_refusal_names_the_key(model, expected):
    problems = _problems(**model)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_head_monitor_is_accepted_by_the_file_and_a_typo_is_not():
    d = load_preset("digits_two_heads_functional").to_dict()
    d["training"]["early_stopping_monitor"] = "val_parity_accuracy"
    assert Experiment.from_dict(json.loads(json.dumps(d))).training.early_stopping_monitor == "val_parity_accuracy"
    d["training"]["early_stopping_monitor"] = "val parity"
    with pytest.raises(ExperimentError, match="a head's figure such as"):
        Experiment.from_dict(d)
