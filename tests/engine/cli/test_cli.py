"""`tapedeck check` and `tapedeck code` as a person types them: tables, scripts, exit codes."""
import json
from pathlib import Path

import pytest

from tapedeck.engine.cli.main import main
from tapedeck.engine.spec.experiment import load_preset, save_experiment


@pytest.fixture
def digits_file(tmp_path):
    path = tmp_path / "digits.json"
    save_experiment(load_preset("digits_cnn"), path)
    return path


def _edit(path, change):
    data = json.loads(Path(path).read_text())
    change(data)
    Path(path).write_text(json.dumps(data))
    return path


def test_check_prints_table_and_totals(digits_file, capsys):
    assert main(["check", str(digits_file)]) == 0
    out = capsys.readouterr().out
    assert "(8, 8, 32)" in out and "Conv2D" in out
    assert "Total params: 85,066" in out


def test_check_reports_every_problem_and_exits_2(digits_file, capsys):
    def forget_flatten(data):
        data["model"]["layers"] = [layer for layer in data["model"]["layers"] if layer["type"] != "Flatten"]

    assert main(["check", str(_edit(digits_file, forget_flatten))]) == 2
    err = capsys.readouterr().err
    assert "Flatten" in err and "Traceback" not in err
    assert "\x1b[" not in err


def test_check_names_the_bad_key(digits_file, capsys):
    def bad_units(data):
        data["model"]["layers"][-1]["units"] = -5

    assert main(["check", str(_edit(digits_file, bad_units))]) == 2
    assert "model.layers[6].units: expected a positive integer, received -5" in capsys.readouterr().err


def test_check_on_missing_data_exits_2_with_the_path(digits_file, tmp_path, capsys):
    missing = tmp_path / "nowhere.npz"

    def to_npz(data):
        data["data"]["source"] = "npz"
        data["data"]["path"] = str(missing)

    assert main(["check", str(_edit(digits_file, to_npz))]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


def test_check_missing_file_exits_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err


def test_code_prints_a_script_that_compiles(digits_file, capsys):
    assert main(["code", str(digits_file), "--api", "subclassing", "--loop", "tape"]) == 0
    source = capsys.readouterr().out
    compile(source, "generated.py", "exec")
    assert "tf.GradientTape" in source and "keras.Model" in source


def test_code_refuses_sequential_for_branches(tmp_path, capsys):
    path = tmp_path / "residual.json"
    save_experiment(load_preset("digits_residual"), path)
    assert main(["code", str(path), "--api", "sequential"]) == 2
    assert "Functional API" in capsys.readouterr().err


def test_code_writes_output_file(digits_file, tmp_path, capsys):
    target = tmp_path / "train_digits.py"
    assert main(["code", str(digits_file), "-o", str(target)]) == 0
    assert "model.fit" in target.read_text()
