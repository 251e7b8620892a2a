"""The exported script of a streamed experiment reads its files through tf.data as the app does — same
test images in the same order, same training and validation images — and runs as it is, in every loop."""
from __future__ import annotations

import re
import runpy

import numpy as np
import pytest

from tapedeck.engine.codegen.script import _imports, generate_code
from tapedeck.engine.codegen.streamed import streamed_data_code, streams
from tapedeck.engine.data.datasets import load_dataset
from tapedeck.engine.spec.experiment import Experiment
from tests.support.datafiles import images, write_idx_set, write_png

ACCURACY = re.compile(r"^Test accuracy: \d\.\d{4}$")


def _png_folder(root, per_class=8):
    colours = [(250, 10, 10), (10, 250, 10), (10, 10, 250)]
    for c, name in enumerate(("ant", "bee", "cow")):
        for i in range(per_class):
            write_png(root / name / f"{i}.png", (12, 10), tuple(max(0, v - 9 * i) for v in colours[c]))
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("streamed-code")
    x, y = images(40, 12, 12)
    xt, yt = images(12, 12, 12, seed=1)
    np.savez(tmp / "set.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    return {"folder": _png_folder(tmp / "pets"), "idx": write_idx_set(tmp / "idx", 40, 12, gz=False, size=12),
            "npz": tmp / "set.npz"}


def _experiment(source, path, loop="fit", **data):
    classes = 3 if source == "folder" else 10
    return Experiment.from_dict({
        "format": "tapedeck/1", "name": "streamed-code",
        "data": dict({"source": source, "path": str(path), "streaming": "on", "validation_split": 0.25}, **data),
        "model": {"api": "functional", "layers": [{"type": "Flatten"},
                                                  {"type": "Dense", "units": classes, "activation": "softmax"}]},
        "training": {"loop": loop, "epochs": 1, "batch_size": 4, "seed": 0},
    })


def _images_of(dataset):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(xs), np.concatenate(ys)


def _sorted(x, y):
    order = np.lexsort(x.reshape(len(x), -1).T)
    return x[order], y[order]


@pytest.mark.parametrize("source,options", [("folder", {}), ("folder", {"limit": 15, "labels": "one_hot"}),
                                            ("idx", {"limit": 30}), ("npz", {"normalize": False})])
def test_streamed_data_lines_give_the_apps_images(files, source, options):
    experiment = _experiment(source, files[source], **options)
    assert streams(experiment)
    code = streamed_data_code(experiment.data, 4)
    namespace: dict = {}
    exec(compile(_imports(code.imports) + "\n\n" + code.text, "data.py", "exec"), namespace)
    app = load_dataset(experiment.data)
    x_test, y_test = _images_of(namespace["test_ds"])
    if options.get("labels") == "one_hot":
        y_test = y_test.argmax(axis=1)
    np.testing.assert_allclose(x_test, app.x_test, atol=1e-6)   # in order
    assert np.array_equal(y_test, app.y_test)
    for part in ("train", "val"):
        x, y = _images_of(namespace[f"{part}_ds"])
        if options.get("labels") == "one_hot":
            y = y.argmax(axis=1)
        want_x, want_y = _sorted(getattr(app, f"x_{part}"), getattr(app, f"y_{part}"))
        have_x, have_y = _sorted(x, y)
        np.testing.assert_allclose(have_x, want_x, atol=1e-6, err_msg=part)
        assert np.array_equal(have_y, want_y), part
    assert namespace["num_train"] == len(app.x_train) and tuple(namespace["input_shape"]) == app.input_shape


@pytest.mark.parametrize("source,loop", [("folder", "fit"), ("folder", "tape"), ("folder", "train_step"),
                                         ("idx", "tape"), ("npz", "fit")])
def test_streamed_script_runs_as_it_is(files, source, loop, tmp_path, monkeypatch, capsys):
    text = generate_code(_experiment(source, files[source], loop))
    assert "tf.data.Dataset.from_tensor_slices((x_train, y_train))" not in text
    assert "num_parallel_calls=tf.data.AUTOTUNE" in text
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "script.py"
    script.write_text(text)
    runpy.run_path(str(script), run_name="__main__")   # from a file: AutoGraph reads the loop's source
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert ACCURACY.match(last), last


def test_a_set_the_app_loads_whole_gets_the_in_memory_script(files):
    off = generate_code(_experiment("folder", files["folder"], streaming="off"))
    assert "def read_folder(" in off and "tf.io.decode_image" not in off
