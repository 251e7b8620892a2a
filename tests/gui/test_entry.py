"""The `tapedeck` console script: sub-commands run headless, anything else opens the window."""
import tapedeck.gui.app
from tapedeck.engine.spec.experiment import load_preset, save_experiment
from tapedeck.gui.entry import main


def test_a_sub_command_runs_headless(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tapedeck.gui.app, "main", lambda argv: 99)  # the window must not be asked
    path = tmp_path / "digits.json"
    save_experiment(load_preset("digits_cnn"), path)
    assert main(["code", str(path), "--loop", "tape"]) == 0
    assert "tf.GradientTape" in capsys.readouterr().out


def test_no_command_or_a_file_opens_the_window(monkeypatch):
    opened = []
    monkeypatch.setattr(tapedeck.gui.app, "main", lambda argv: opened.append(argv) or 0)
    assert main([]) == 0
    assert main(["mine.json"]) == 0
    assert opened == [[], ["mine.json"]]
