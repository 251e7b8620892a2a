"""The export dialog says where a subclassed run's .keras loads (issue 24: Keras needs the class)."""
from __future__ import annotations

from tapedeck.engine.spec.experiment import load_preset, save_experiment


def _run_folder(path, api):
    experiment = load_preset("digits_cnn")
    experiment.model.api = api
    path.mkdir()
    save_experiment(experiment, path / "experiment.json")
    return path


def test_a_subclassed_runs_keras_export_says_it_needs_tapedecks_class(qtbot, tmp_path):
    from tapedeck.gui.runs.export_dialog import ExportDialog

    dialog = ExportDialog(_run_folder(tmp_path / "sub", "subclassing"))
    qtbot.addWidget(dialog)
    box = dialog.checks["keras"]
    assert "loads where Tapedeck is installed" in box.text()
    assert "import tapedeck.engine.model.build" in box.toolTip()
    plain = ExportDialog(_run_folder(tmp_path / "seq", "sequential"))
    qtbot.addWidget(plain)
    assert "Tapedeck" not in plain.checks["keras"].text()
