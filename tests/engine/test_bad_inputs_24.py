"""The catalogue of issue 24: bad inputs and faults aimed at what was added last (sweeps and the Optuna
study, Grad-CAM, several inputs and heads, npz targets, model import, initial weights, TF_CONFIG,
exports), and the five cases still open from issue 12; the cases that run a process or a fault of their own
(signals, a waiting worker, a full disk, an export into a person's folder) are in ``test_bad_inputs_24_faults.py``.

As in ``test_bad_inputs.py``: each case writes a small file of the real format (or a setting) with one
thing wrong and gives it to the command a person would type; it must end with exit 2 and one short
``tapedeck:`` line naming the thing, and no traceback.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import numpy as np
import pytest

from tapedeck.engine.cli.main import main
from tests.support import badfiles as bad

LONGEST_LINE = 1000


@dataclass
class Case:
    name: str
    build: object          # tmp_path -> argv
    expect: str            # what the message must name
    code: int = 2


def _experiment(tmp_path, data=None, change=None, name="exp.json") -> str:
    return bad.experiment_file(tmp_path, data, change, name)


def _damaged_study(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "optuna.sqlite3").write_bytes(np.random.default_rng(0).bytes(4000))
    return ["sweep", _experiment(tmp_path), "--set", "training.learning_rate=1e-3..1e-2:log", "--search",
            "random", "--trials", "1", "--out", str(tmp_path / "runs")]


def _sweep_onto_a_file(search):
    def build(tmp_path):
        (tmp_path / "runs").write_text("a file")
        values = "1e-3..1e-2" if search != "grid" else "0.001,0.002"
        return ["sweep", _experiment(tmp_path), "--set", f"training.learning_rate={values}", "--search", search,
                "--trials", "1", "--out", str(tmp_path / "runs")]
    return build


def _preset(name, **data) -> dict:
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset(name).to_dict()
    experiment["data"].update(data)
    experiment["training"].update(epochs=1, batch_size=16)
    return experiment


def _write(tmp_path, experiment, name="exp.json") -> str:
    return str(bad.write_experiment(tmp_path / name, experiment))


_RNG = np.random.default_rng(0)
_X = _RNG.random((60, 8, 8)).astype(np.float32)
_Y = np.arange(60) % 10
_F = _RNG.random((60, 4)).astype(np.float32)


def _features_npz(tmp_path, extra_heads=(), drop=(), **arrays) -> str:
    """The npz_image_and_features preset (image + 4 features → digit) on a small npz holding ``arrays`` over
    the defaults; ``extra_heads``: (layer name, target, units, loss) heads on the joined features."""
    defaults = dict(x_train=_X, y_train=_Y, x_test=_X, y_test=_Y, x_train_features=_F, x_test_features=_F)
    merged = {key: value for key, value in {**defaults, **arrays}.items() if key not in drop}
    np.savez(tmp_path / "data.npz", **merged)
    experiment = _preset("npz_image_and_features", path=str(tmp_path / "data.npz"), limit=None)
    for layer, target, units, loss in extra_heads:
        experiment["model"]["layers"].append({"type": "Dense", "name": layer, "inputs": ["joined"], "units": units,
                                              "activation": "softmax" if loss is None else None})
        head = {"layer": layer, "target": target}
        if loss:
            head["loss"] = loss
        experiment["model"]["outputs"].append(head)
    return _write(tmp_path, experiment)


def _with_nan(array, index, value=np.nan):
    array = array.copy()
    array[index] = value
    return array


def _unicode_heads(tmp_path):
    experiment = _preset("digits_two_heads_functional", limit=120)
    renamed = {"digit": "数字", "parity": "parité"}
    for layer in experiment["model"]["layers"]:
        layer["name"] = renamed.get(layer.get("name"), layer.get("name"))
    for head in experiment["model"]["outputs"]:
        head["layer"] = renamed[head["layer"]]
    return ["train", _write(tmp_path, experiment), "--out", str(tmp_path / "runs")]


def _zero_loss_weights(tmp_path):
    experiment = _preset("digits_two_heads_functional", limit=120)
    for head in experiment["model"]["outputs"]:
        head["loss_weight"] = 0
    return ["train", _write(tmp_path, experiment), "--out", str(tmp_path / "runs")]


_SCORE = _RNG.random(60).astype(np.float32)


def _initial_weights(write):
    def build(tmp_path):
        path = write(tmp_path)
        experiment = bad.base_experiment()
        experiment["training"]["initial_weights"] = str(path)
        return ["train", _write(tmp_path, experiment), "--out", str(tmp_path / "runs")]
    return build


def _npy(tmp_path):
    np.save(tmp_path / "w.npy", np.zeros(3))
    return tmp_path / "w.npy"


def _npz_w_b(tmp_path):
    np.savez(tmp_path / "w.npz", w=np.zeros(3), b=np.zeros(2))
    return tmp_path / "w.npz"

def _small_model(name="flat"):
    import keras

    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(name=name),
                             keras.layers.Dense(10, activation="softmax", name="out")])


def _config_json(tmp_path):
    (tmp_path / "config.json").write_text(_small_model().to_json())
    return ["import", str(tmp_path / "config.json"), "-o", str(tmp_path / "exp.json"), "--keep-weights"]


def _custom_class(suffix):
    def build(tmp_path):
        import zipfile

        model = _small_model()
        config = json.loads(model.to_json())
        config["config"]["layers"][1].update(class_name="MyCustomLayer", module="my_package.layers",
                                             registered_name="MyCustomLayer")
        path = tmp_path / f"custom{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps(config))
        else:
            model.save(tmp_path / "plain.keras")
            with zipfile.ZipFile(tmp_path / "plain.keras") as source, zipfile.ZipFile(path, "w") as target:
                for name in source.namelist():
                    data = json.dumps(config).encode() if name == "config.json" else source.read(name)
                    target.writestr(name, data)
        return ["import", str(path)]
    return build


def _tf_config(value, taken_port=False):
    """``train`` of a multi_worker experiment with TF_CONFIG set to ``value`` (a function of a port)."""
    def build(tmp_path, monkeypatch):
        import socket

        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        if taken_port:
            holder.listen()
            _HELD.append(holder)
        else:
            holder.close()
        monkeypatch.setenv("TF_CONFIG", value if isinstance(value, str) else json.dumps(value(port)))
        return ["train", _experiment(tmp_path, change=lambda e: e["training"].update(distribute="multi_worker")),
                "--out", str(tmp_path / "runs")]
    build.needs_env = True
    return build


_HELD: list = []


def _one_worker(port, **task):
    return {"cluster": {"worker": [f"127.0.0.1:{port}"]}, "task": task}


def _changed_search_space(tmp_path):
    """Own case: a study resumed with a list where its trials drew from a range (Optuna's ValueError)."""
    experiment = _experiment(tmp_path)
    common = ["--search", "random", "--out", str(tmp_path / "runs"), "--limit", "40"]
    assert main(["sweep", experiment, "--set", "training.learning_rate=1e-3..1e-2", "--trials", "1", *common]) == 0
    return ["sweep", experiment, "--set", "training.learning_rate=0.001,0.002", "--trials", "2", *common]


def _keras_with_broken_config(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr("metadata.json", "{}")
    return ["import", str(tmp_path / "model.keras")]


CASES = [
    Case("optuna study file of random bytes", _damaged_study, "optuna.sqlite3: is not an Optuna study database"),
    Case("sweep --out a file (random)", _sweep_onto_a_file("random"), "is a file, not a runs folder"),
    Case("sweep --out a file (grid)", _sweep_onto_a_file("grid"), "is a file, not a runs folder"),
    # Own cases, found the same way.
    Case("a resumed study searched with another kind of values", _changed_search_space,
         "drew it from other values before (0.001..0.01); give --study a new name"),
    Case("a feature input of one number per row (x_train_features of shape (60,))",
         lambda t: ["check", _features_npz(t, x_train_features=_F[:, 0], x_test_features=_F[:, 0])],
         "x_train_features holds one number per row (shape (60,))"),
    Case("no plain y_train, and a head still reading target 'label' (tests/engine/test_npz_named_targets.py)",
         lambda t: ["check", _features_npz(t, [("par", "parity", 2, None)], drop=("y_train", "y_test"),
                                           y_train_parity=_Y % 2, y_test_parity=_Y % 2)],
         "head 'digit': target 'label' is not in this data set (it has: parity); the plain y_train and y_test "
         "arrays are target 'label'"),
    Case("import of a folder", lambda t: ["import", str(t)], "is a folder; give a .keras model file"),
    Case("import of a .keras whose config.json is damaged", _keras_with_broken_config,
         "the model's config.json inside it is damaged"),
    # Several inputs and heads.
    Case("head layers named 数字 and parité (not TensorFlow scope names)", _unicode_heads,
         "name 'parité' cannot name a TensorFlow layer"),
    Case("NaN in a float target y_train_score",
         lambda t: ["train", _features_npz(t, [("score", "score", 1, "mean_squared_error")],
                                           y_train_score=_with_nan(_SCORE, 5), y_test_score=_SCORE),
                    "--out", str(t / "runs")],
         "y_train_score holds nan at index [5]"),
    Case("NaN in a feature input x_train_features",
         lambda t: ["train", _features_npz(t, x_train_features=_with_nan(_F, (3, 2))), "--out", str(t / "runs")],
         "x_train_features holds nan at index [3, 2]"),
    Case("x_train_features holding 1e38 (finite: the run trained on it, then diverged or said nothing)",
         lambda t: ["train", _features_npz(t, x_train_features=_with_nan(_F, (7, 1), 1e38)), "--out", str(t / "runs")],
         "x_train_features holds 1e+38 at index [7, 1] (row 7); values past ±1.8e+19 overflow float32 when squared "
         "in a layer or a loss: scale the features (e.g. standardize each column"),
    Case("a float target y_test_score holding -3e30",
         lambda t: ["check", _features_npz(t, [("score", "score", 1, "mean_squared_error")], y_train_score=_SCORE,
                                           y_test_score=_with_nan(_SCORE, 2, -3e30))],
         "y_test_score holds -3e+30 at index [2] (row 2); values past ±1.8e+19 overflow float32"),
    Case("x_test_features 8 wide beside x_train_features 4 wide",
         lambda t: ["train", _features_npz(t, x_test_features=_RNG.random((60, 8)).astype(np.float32)),
                    "--out", str(t / "runs")],
         "x_train_features rows have shape (4,) but x_test_features rows have (8,)"),
    Case("initial_weights naming a .npy", _initial_weights(_npy),
         "w.npy holds one array, not a weights file Tapedeck wrote"),
    Case("initial_weights naming an npz keyed w and b", _initial_weights(_npz_w_b),
         "holds arrays named w, b, not a weights file Tapedeck wrote"),
    # TF_CONFIG (training.distribute multi_worker).
    Case("TF_CONFIG a list", _tf_config("[1, 2]"), "TF_CONFIG must be an object with \"cluster\""),
    Case("TF_CONFIG a string", _tf_config('"worker"'), "TF_CONFIG must be an object with \"cluster\""),
    Case("TF_CONFIG with no task", _tf_config(lambda port: {"cluster": {"worker": [f"127.0.0.1:{port}"]}}),
         "TF_CONFIG has no \"task\""),
    Case("TF_CONFIG task index 5 of 1 worker", _tf_config(lambda port: _one_worker(port, type="worker", index=5)),
         "TF_CONFIG task index 5: the cluster has 1 worker(s)"),
    Case("TF_CONFIG task type ps",
         _tf_config(lambda port: {"cluster": {"worker": [f"127.0.0.1:{port}"], "ps": [f"127.0.0.1:{port + 1}"]},
                                  "task": {"type": "ps", "index": 0}}),
         "TF_CONFIG task type 'ps'"),
    Case("TF_CONFIG naming this worker on a port in use",
         _tf_config(lambda port: _one_worker(port, type="worker", index=0), taken_port=True),
         "is taken (port"),
    # Model import.
    Case("import config.json --keep-weights (a config holds no weights)", _config_json,
         "config.json: is a model config (JSON), which holds no trained weights to keep"),
    Case("a .keras config naming a custom layer class", _custom_class(".keras"),
         "holds a class Keras does not know: MyCustomLayer (my_package.layers)"),
    Case("a JSON config naming a custom layer class", _custom_class(".json"),
         "holds a class Keras does not know: MyCustomLayer (my_package.layers)"),
    Case("every head's loss_weight 0", _zero_loss_weights, "every head's loss_weight is 0"),
    Case("y_train_label beside y_train",
         lambda t: ["check", _features_npz(t, y_train_label=_Y % 2, y_test_label=_Y % 2)],
         "holds both y_train and y_train_label"),
    Case("a one-class target",
         lambda t: ["check", _features_npz(t, [("par", "parity", 2, None)], y_train_parity=np.zeros(60, int),
                                           y_test_parity=np.zeros(60, int))],
         "target 'parity' holds one class (0); a target needs two or more classes"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_naming_it(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = case.build(tmp_path, monkeypatch) if getattr(case.build, "needs_env", False) else case.build(tmp_path)
    try:
        code = main(argv)
    finally:
        while _HELD:
            _HELD.pop().close()
    err = capsys.readouterr().err
    assert code == case.code, err[-2000:]
    assert "Traceback" not in err
    first = err.lstrip().splitlines()[0]
    assert first.startswith(("tapedeck:", "error:")), first[:500]
    assert case.expect in err, err[:2000]
    assert max(len(line) for line in err.splitlines()) <= LONGEST_LINE


def test_two_sweeps_opening_one_new_study_at_once_both_open_it(tmp_path):
    """Optuna creates its tables unlocked: a second sweep started at the same moment failed with
    "table studies already exists". Eight openers race on one new folder; all must get the study."""
    from tapedeck.engine.queues.search import _open_study

    barrier = threading.Barrier(8)
    errors, studies = [], []

    def open_one():
        barrier.wait()
        try:
            studies.append(_open_study(tmp_path / "runs", "race", "random", 0, 2, None)[0])
        except Exception as error:   # noqa: BLE001 - the test reports whatever a racer met
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len({study._study_id for study in studies}) == 1


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory):
    """A run of the default preset as it is (digits_cnn: Sequential, Conv2D), short."""
    from tapedeck.engine.spec.experiment import load_preset
    from tapedeck.engine.training.run import run
    from tests.support.training_support import Recorder

    experiment = load_preset("digits_cnn")
    experiment.data.limit, experiment.training.epochs = 120, 1
    recorder = Recorder()
    run_dir = run(experiment, recorder, runs_dir=tmp_path_factory.mktemp("seq") / "runs")
    assert recorder.finished.reason == "completed", recorder.finished
    return run_dir


def test_gradcam_headless_on_the_default_sequential_preset(sequential_run, tmp_path, capsys):
    code = main(["gradcam", str(sequential_run), "--index", "0", "--out", str(tmp_path / "cam.png")])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    assert "Grad-CAM at layer conv2d_1" in captured.out and "peak at row" in captured.out
    assert (tmp_path / "cam.png").stat().st_size > 0


def _backbone_experiment(tmp_path):
    experiment = bad.base_experiment()
    experiment["model"] = {"api": "functional", "layers": [
        {"type": "Backbone", "architecture": "MobileNetV3Small", "input_size": 32, "weights": "imagenet",
         "trainable": False},
        {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 10, "activation": "softmax"}]}
    return _write(tmp_path, experiment)


@pytest.mark.parametrize("content,expect", [
    (b"", "is not an HDF5 weights file (empty)"),
    (np.random.default_rng(0).bytes(3000), "is not an HDF5 weights file (damaged)"),
    ("cut", "is cut short"),
    ("other", "holds another network's weights, not MobileNetV3Small's"),
])
def test_a_bad_backbone_weights_file_is_named_with_the_download(content, expect, tmp_path, capsys, monkeypatch):
    """Random bytes, an empty file, a cut HDF5 or another network's HDF5 in Keras's cache: "Unable to
    synchronously open file (file signature not found)" named no file and no remedy."""
    import h5py

    from tapedeck.engine.spec import backbones

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    path = tmp_path / "keras" / "models" / backbones.weights_file_name("MobileNetV3Small", 1.0, 32)
    path.parent.mkdir(parents=True)
    if content in ("cut", "other"):
        with h5py.File(path, "w") as f:
            f.attrs["layer_names"] = [b"conv1"]
            f.create_group("conv1").attrs["weight_names"] = [b"conv1/kernel:0"]
            f["conv1"].create_dataset("conv1/kernel:0", data=np.zeros((3, 3, 3, 8), np.float32))
        if content == "cut":
            path.write_bytes(path.read_bytes()[:900])
    else:
        path.write_bytes(content)
    code = main(["train", _backbone_experiment(tmp_path), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert "Traceback" not in err
    assert (str(path) in err or path.name in err) and expect in err, err[-2000:]
    assert "download it again from https://" in err and "weights to null" in err


@pytest.mark.parametrize("prefix,dotted", [("emnist-digits-", False), ("", True)])
def test_idx_folders_named_as_emnist_names_them_are_guessed_as_idx(prefix, dotted, tmp_path):
    from tapedeck.engine.data.readers import read_idx_folder
    from tapedeck.engine.data.sources import guess_source
    from tests.support.datafiles import write_idx_set

    folder = write_idx_set(tmp_path / "set", gz=False, prefix=prefix, test_word="test")
    if dotted:
        for path in folder.iterdir():
            path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    assert guess_source(str(folder)) == ("idx", "")
    assert len(read_idx_folder(folder).x_train) == 30   # and the reader takes what the guess says


def test_idx_labels_of_int32_holding_2_147_483_647_are_refused_before_allocating(tmp_path, capsys):
    """A MemoryError traceback: one class name per index up to the largest label was made first."""
    labels = (np.arange(30) % 10).astype(">i4")
    labels[3] = 2**31 - 1
    raw = bad.idx_header(1, (30,), type_code=0x0C) + labels.tobytes()
    folder = bad.idx_folder_with(tmp_path / "idx", "train-labels-idx1-ubyte", raw)
    for command in ("check", "train"):
        argv = [command, _experiment(tmp_path, {"source": "idx", "path": str(folder)})]
        assert main(argv + (["--out", str(tmp_path / "runs")] if command == "train" else [])) == 2
        err = capsys.readouterr().err
        assert "hold 2147483647 at index 3, which would mean 2,147,483,648 classes" in err, err[-1500:]


def test_an_image_folder_without_pillow_is_one_line_with_the_install_command(tmp_path, capsys, monkeypatch):
    import sys

    from tests.support.datafiles import write_class_folder

    folder = write_class_folder(tmp_path / "photos", classes=("cat", "dog"), per_class=4, size=(8, 8))
    experiment = _experiment(tmp_path, {"source": "folder", "path": str(folder), "limit": None})
    for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "PIL", None)   # import PIL raises ModuleNotFoundError
    for argv in (["check", experiment], ["train", experiment, "--out", str(tmp_path / "runs")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "needs Pillow, which is not installed; run `pip install pillow`" in err, err[-1500:]
        assert "Traceback" not in err


def test_a_cut_short_model_or_checkpoint_is_named_as_such_not_file_not_found(tmp_path, capsys):
    """Keras calls a .keras zip cut short "File not found"; the person then looks for a file that is there."""
    from tests.support.run_support import copy_run, trained_run

    run_dir = copy_run(trained_run(), tmp_path / "runs")
    for name in ("model.keras", "checkpoint.keras"):
        (run_dir / name).write_bytes((run_dir / name).read_bytes()[:3000])
    cases = [(["export", str(run_dir), "--format", "keras", "--out", str(tmp_path / "m.keras")], "--from-checkpoint"),
             (["train", "--resume", str(run_dir), "--epochs", "3"], "cannot be resumed")]
    for argv, remedy in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "cut short or damaged: not a complete .keras archive" in err and remedy in err, err[-1500:]
        assert "File not found" not in err


def test_keras_is_declared_with_the_range_the_installed_one_is_in():
    from pathlib import Path

    import keras
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    (keras_requirement,) = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "keras"]
    assert keras_requirement.specifier.contains(keras.__version__)


def test_engine_imports_no_private_keras_module_unguarded():
    """Every ``keras.src`` import sits in a try block (or a sys.modules lookup) with a fallback; the model
    check's one (engine/model/check.py, the lead's file) is listed as known."""
    import ast
    from pathlib import Path

    root = Path(__file__).parents[2] / "engine"
    unguarded = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        guarded = {id(node) for t in ast.walk(tree) if isinstance(t, ast.Try) for b in t.body for node in ast.walk(b)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras.src") \
                    and id(node) not in guarded:
                unguarded.append(f"{path.relative_to(root)}:{node.lineno}")
    assert len(unguarded) <= 1 and all(u.startswith("model/check.py:") for u in unguarded), unguarded


def test_the_importer_and_the_backbone_work_where_keras_moves_its_private_modules(monkeypatch):
    import sys

    import keras

    from tapedeck.engine.model.importer import experiment_from_model
    from tapedeck.engine.spec.backbone_layer import _in_stateless_scope

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(inputs))
    for name in ("keras.src.models.functional", "keras.src.backend.common.stateless_scope"):
        monkeypatch.setitem(sys.modules, name, None)   # an import of it raises ImportError
    from tapedeck.engine.model import importer

    assert importer._is_functional(model) and not importer._is_functional(keras.Sequential())
    assert experiment_from_model(model).experiment.model.api == "functional"
    assert _in_stateless_scope() is False


@pytest.mark.parametrize("module,never", [("runs/portable.py", "tapedeck.engine.runs.exports"),
                                          ("analysis/heads.py", "tapedeck.engine.analysis.reopen"),
                                          ("training/initial_weights.py", "tapedeck.engine.training.run")])
def test_two_file_import_circles_of_issue_21_are_untied(module, never):
    """exports → portable and reopen → heads remain; the way back (even inside a function) is gone: what
    both sides need lives in engine.runs.export_common and engine.analysis.confusion."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).parents[2] / "engine" / module).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert never not in imported


def test_atomic_writes_flush_the_file_and_the_rename_to_disk(tmp_path, monkeypatch):
    """Without fsync a power cut could leave a zero-length history.csv or checkpoint after the rename."""
    import os

    from tapedeck.engine import files

    synced = []
    real = os.fsync

    def spy(handle):
        synced.append(os.readlink(f"/proc/self/fd/{handle}") if os.path.exists("/proc/self/fd") else handle)
        return real(handle)

    monkeypatch.setattr(files.os, "fsync", spy)
    files.write_text_atomic(tmp_path / "history.csv", "epoch\n1\n")
    with files.atomic_path(tmp_path / "checkpoint.keras") as temp:
        temp.write_bytes(b"PK")
    if os.path.exists("/proc/self/fd"):
        assert synced.count(str(tmp_path)) == 2 and len(synced) == 4, synced
    else:
        assert len(synced) == 4


def test_an_imported_mixed_precision_model_says_which_precision_it_chose():
    """The import copied mixed_bfloat16 from the layers into training.precision without a word."""
    import keras

    from tapedeck.engine.model.importer import experiment_from_model

    layers = [keras.Input((4,)), keras.layers.Dense(3, activation="softmax", dtype="mixed_bfloat16", name="out")]
    imported = experiment_from_model(keras.Sequential(layers))
    assert imported.experiment.training.precision == "mixed_bfloat16"
    assert any("training.precision is mixed_bfloat16" in note for note in imported.notes), imported.notes


def test_check_names_the_png_whose_header_announces_100000_by_100000_pixels(tmp_path, capsys):
    """check said nothing (exit 0) and train skipped the file later: the check reads the same headers."""
    from tests.support.datafiles import write_class_folder

    folder = write_class_folder(tmp_path / "photos", classes=("cat", "dog"), per_class=6, size=(8, 8))
    bad.bomb_png(folder / "cat" / "a_bomb.png", side=100_000)

    def two_classes(e):
        e["model"]["layers"][-1]["units"] = 2

    experiment = _experiment(tmp_path, {"source": "folder", "path": str(folder), "limit": None,
                                        "validation_split": 0.0}, change=two_classes)
    assert main(["check", experiment]) == 0
    err = capsys.readouterr().err
    assert "a run will skip 1 image file(s) that do not decode: cat/a_bomb.png (refused as a possible " \
           "decompression bomb" in err, err[-1500:]


def test_initial_weights_holding_nan_are_refused_naming_the_layer(tmp_path, capsys):
    """Own case: a weights file of the right keys and shapes with NaN in one kernel made the run 'diverge'
    at its first step (exit 1), as if the learning rate were to blame."""
    from tapedeck.engine.model.build import build_model
    from tapedeck.engine.model.importer import save_weights
    from tapedeck.engine.spec.experiment import Experiment

    experiment = bad.base_experiment()
    model = build_model(Experiment.from_dict(experiment), (8, 8, 1))
    path = save_weights(model, tmp_path / "exp.weights.npz")
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    key = next(k for k in arrays if arrays[k].ndim == 2)
    arrays[key][0, 0] = np.nan
    np.savez(path, **arrays)
    experiment["training"]["initial_weights"] = str(path)
    assert main(["train", _write(tmp_path, experiment), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"layer {key.split(':')[0]!r} holds NaN or infinite weights in exp.weights.npz" in err, err[-1500:]


def test_runs_given_one_run_folder_shows_it_and_says_what_it_is(tmp_path, capsys):
    """`tapedeck runs RUN_DIR` said "no runs in RUN_DIR": the folder is a run, not a folder of runs."""
    from tests.support.run_support import copy_run, trained_run

    run = copy_run(trained_run(), tmp_path)
    assert main(["runs", str(run)]) == 0
    out, err = capsys.readouterr()
    assert "no runs" not in out and run.name in out and "completed" in out, out
    assert f"tapedeck: note: {run} is one run's folder, not a folder of runs" in err, err
    assert f"`tapedeck runs {tmp_path}` lists it with the others" in err, err
    assert f"compare, export and gradcam take the run's folder itself, e.g. `tapedeck export {run} --format" in err
    assert main(["runs", str(tmp_path)]) == 0
    assert "one run's folder" not in capsys.readouterr().err
