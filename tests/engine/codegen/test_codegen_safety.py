"""The exported script is as safe as the app (issue 12): it reads CIFAR pickles through the same restricted
unpickler, and every literal in it goes through repr, so any path or layer name still gives a script that
parses."""
from __future__ import annotations

import itertools
import pickle
import subprocess
import sys

import pytest

from tapedeck.engine.codegen.script import generate_code
from tapedeck.engine.spec.experiment import APIS, LOOPS, Experiment
from tests.support import badfiles as bad
from tests.support.datafiles import cifar10_files, write_folder

AWKWARD = 'odd "name"\nwith \'quotes\', a backslash \\ and \x00 a NUL'


@pytest.mark.parametrize("source", ["npz", "idx", "cifar", "folder"])
def test_the_script_parses_whatever_the_path_and_names_hold(source):
    """Free text (the experiment's name, a path) lands in the script as a literal; a layer name TensorFlow
    could not use is refused before any script is written, and the odd names it can use become identifiers."""
    experiment = Experiment.from_dict(bad.base_experiment(source=source, path=f"/data/{AWKWARD}/set"))
    experiment.name = f'{AWKWARD} """ and a docstring end'
    experiment.model.layers[4].name = AWKWARD
    with pytest.raises(ValueError, match="cannot name a TensorFlow layer"):
        generate_code(experiment)
    experiment.model.layers[4].name = "2nd-dense.class"   # usable by TensorFlow, no Python identifier
    for api, loop in itertools.product(APIS, LOOPS):
        source_code = generate_code(experiment, api=api, loop=loop)
        compile(source_code, f"train_{api}_{loop}.py", "exec")   # a SyntaxError fails the test
        assert repr(f"/data/{AWKWARD}/set") in source_code


def test_the_script_refuses_a_doctored_cifar_pickle(tmp_path):
    marker = tmp_path / "code-ran"
    files = cifar10_files(n_per_batch=4, batches=1)
    files["data_batch_1"] = pickle.dumps({b"data": bad.MarkerPayload(marker), b"labels": [0]}, protocol=2)
    folder = write_folder(tmp_path / "cifar", files)
    experiment = Experiment.from_dict(bad.base_experiment(source="cifar", path=str(folder)))
    script = tmp_path / "train.py"
    script.write_text(generate_code(experiment))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert not marker.exists(), "the exported script ran code from the data file"
    assert result.returncode != 0
    assert "refusing to load io.open from a CIFAR batch" in result.stderr
