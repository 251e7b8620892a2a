"""The sweep dialog does not offer an output layer's units (the class count) as a setting to sweep
(fault 16 of issue 23); the hidden layers' units stay."""
import pytest

from tapedeck.engine.queues.sweep import sweepable_settings
from tapedeck.engine.spec import graph
from tapedeck.engine.spec.experiment import load_preset


@pytest.mark.parametrize("preset", ["digits_cnn", "digits_two_heads_functional"])
def test_output_units_are_not_sweepable(qtbot, tmp_path, preset):
    from tapedeck.gui.runs.queue_dialogs import SweepDialog

    experiment = load_preset(preset)
    nodes, _problems = graph.resolve(experiment.model.layers)
    heads = {h.layer for h in experiment.model.outputs} or {nodes[-1].name}
    outputs = {f"model.layers[{n.index}].units" for n in nodes if n.name in heads}
    hidden = {f"model.layers[{n.index}].units" for n in nodes if n.name not in heads and "units" in n.spec.params}
    assert outputs and hidden
    dialog = SweepDialog(experiment, str(tmp_path), None)
    qtbot.addWidget(dialog)
    offered = {dialog.setting_boxes[0].itemData(i) for i in range(dialog.setting_boxes[0].count())}
    assert not outputs & offered and hidden <= offered
    assert not outputs & {path for path, _label, _now in sweepable_settings(experiment)}
