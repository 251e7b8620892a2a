"""Every selector of the window has its command-line flag with the same choices (fault 14 of issue 23):
API, loop and execution for `tapedeck code`, `train` and `step`."""
import argparse

import pytest

from tapedeck.engine.cli.main import _parser, main
from tapedeck.engine.spec.experiment import load_preset, save_experiment


def _choices(command: str) -> dict:
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {a.dest: tuple(a.choices) for a in sub._actions if a.choices and a.option_strings}


def test_the_windows_selectors_are_flags_of_code_train_and_step(qtbot):
    from tapedeck.gui.document import Document
    from tapedeck.gui.editor.selectors import Selectors

    selectors = Selectors(Document(load_preset("digits_cnn"), None))
    qtbot.addWidget(selectors)
    window = {"api": tuple(selectors.api_buttons), "loop": tuple(selectors.loop_buttons),
              "execution": tuple(selectors.execution.itemData(i) for i in range(selectors.execution.count()))}
    for command in ("code", "train", "step"):
        flags = _choices(command)
        for selector, values in window.items():
            assert flags.get(selector) == values, f"tapedeck {command} --{selector}"


@pytest.mark.parametrize("execution, loop, expected", [("eager", "fit", "run_eagerly=True"),
                                                       ("xla", "fit", "jit_compile=True"),
                                                       ("eager", "tape", "No @tf.function"),
                                                       ("xla", "tape", "@tf.function(jit_compile=True)")])
def test_code_takes_the_execution(tmp_path, capsys, execution, loop, expected):
    path = tmp_path / "digits.json"
    save_experiment(load_preset("digits_cnn"), path)
    assert main(["code", str(path), "--loop", loop, "--execution", execution]) == 0
    assert expected in capsys.readouterr().out


def test_train_takes_the_execution(tmp_path):
    from tapedeck.engine.cli import train

    path = tmp_path / "digits.json"
    save_experiment(load_preset("digits_cnn"), path)
    args = _parser().parse_args(["train", str(path), "--execution", "eager", "--limit", "50"])
    experiment, code = train._load(args)
    assert code is None and experiment.training.execution == "eager" and experiment.data.limit == 50
