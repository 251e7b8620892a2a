"""`tapedeck step`: the last step of N as a per-layer table, in both loops; bad input exits 2."""
from __future__ import annotations

from pathlib import Path

from tapedeck.engine.cli.main import main

PRESET = Path(__file__).resolve().parents[3] / "resources" / "presets" / "digits_cnn.json"


def test_step_prints_the_layer_table_of_the_last_step(tmp_path, capsys):
    code = main(["step", str(PRESET), "--loop", "tape", "--steps", "2", "--limit", "200", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "step 2 (epoch 1) · batch loss" in out and "step 1 (epoch 1)" not in out
    table = out.split("step 2 (epoch 1)")[1]
    assert "grad norm" in table and "update/weight" in table
    assert [line.split()[0] for line in table.splitlines()[2:6]] == ["conv2d", "conv2d_1", "dense", "dense_1"]


def test_step_in_fit_says_where_the_gradients_are(tmp_path, capsys):
    code = main(["step", str(PRESET), "--loop", "fit", "--limit", "200", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "use --loop tape to see them" in out


def test_step_with_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["step", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
