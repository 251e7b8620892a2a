"""Streaming (``data.streaming``): every file source read from disk batch by batch gives the in-memory
loader's images, trains in both loops, is chosen by size under ``auto``, and refuses clearly."""
from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from tapedeck.engine.data.datasets import DataError, load_dataset
from tapedeck.engine.data.streaming import StreamedImages, load_for, plan_data
from tapedeck.engine.spec.experiment import Experiment, ExperimentError
from tapedeck.engine.training.events import Finished, RunNote, RunStarted, TestResult
from tapedeck.engine.training.run import run
from tests.support.datafiles import (
    cifar10_files,
    images,
    write_class_folder,
    write_folder,
    write_idx_set,
    write_png,
    write_tar,
)
from tests.support.training_support import Recorder


def _npz(path, n_train=60, n_test=20, compressed=False):
    x, y = images(n_train, 16, 16)
    xt, yt = images(n_test, 16, 16, seed=1)
    (np.savez_compressed if compressed else np.savez)(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """One small set per file source, in its real on-disk format."""
    tmp = tmp_path_factory.mktemp("sources")
    return {
        "npz": _npz(tmp / "set.npz"),
        "idx": write_idx_set(tmp / "idx", n_train=60, n_test=20, gz=False, size=16),
        "cifar": write_folder(tmp / "cifar", cifar10_files(n_per_batch=12)),
        "folder": write_class_folder(tmp / "folder", per_class=10, size=(12, 10)),
    }


def _experiment(source, path, loop="fit", classes=None, **data):
    return Experiment.from_dict({
        "format": "tapedeck/1", "name": f"stream-{source}-{loop}",
        "data": dict({"source": source, "path": str(path), "streaming": "on", "validation_split": 0.2}, **data),
        "model": {"api": "sequential", "layers": [
            {"type": "Flatten"}, {"type": "Dense", "units": 16, "activation": "relu"},
            {"type": "Dense", "units": classes or (3 if source == "folder" else 10), "activation": "softmax"}]},
        "training": {"loop": loop, "epochs": 1, "batch_size": 8, "seed": 0},
    })


@pytest.mark.parametrize("source", ["npz", "idx", "cifar", "folder"])
def test_streamed_images_equal_the_in_memory_ones_split_for_split(sources, source):
    data = _experiment(source, sources[source], limit=40).data
    streamed, plan = load_for(data)
    whole = load_dataset(data)
    assert plan.streamed and isinstance(streamed.x_train, StreamedImages)
    assert streamed.class_names == whole.class_names and streamed.input_shape == whole.input_shape
    for part in ("train", "val", "test"):
        x, y = getattr(streamed, f"x_{part}"), getattr(streamed, f"y_{part}")
        assert np.array_equal(x[np.arange(len(x))], getattr(whole, f"x_{part}")), part
        assert np.array_equal(y, getattr(whole, f"y_{part}")), part
    assert np.array_equal(streamed.sample_index, whole.sample_index)
    batches = list(streamed.x_train.dataset(streamed.y_train, 8, shuffle=True))
    seen = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert len(seen) == len(whole.x_train)   # every training image once per epoch, in a shuffled order
    order = np.lexsort(seen.reshape(len(seen), -1).T)
    reference = np.lexsort(whole.x_train.reshape(len(seen), -1).T)
    assert np.array_equal(seen[order], whole.x_train[reference])
    assert np.array_equal(labels[order], whole.y_train[reference])
    with pytest.raises(DataError, match="batch by batch"):
        np.asarray(streamed.x_train)   # never loaded whole by accident


@pytest.mark.parametrize("source,loop", [("npz", "fit"), ("npz", "tape"), ("idx", "fit"), ("idx", "tape"),
                                         ("cifar", "fit"), ("cifar", "tape"), ("folder", "fit"), ("folder", "tape"),
                                         ("folder", "train_step")])
def test_each_source_streamed_trains_one_epoch_in_each_loop(sources, source, loop, tmp_path):
    recorder = Recorder()
    run_dir = run(_experiment(source, sources[source], loop), recorder, runs_dir=tmp_path)
    assert recorder.finished.reason == "completed", recorder.finished.message
    notes = [n.message for n in recorder.of(RunNote) if n.kind == "data_plan"]
    assert notes and notes[0].startswith("data: streamed from disk")
    metrics = json.loads((tmp_path / run_dir.split("/")[-1] / "metrics.json").read_text())
    assert metrics["data_streamed"] is True and metrics["epochs_completed"] == 1
    result = recorder.of(TestResult)[0]
    assert sum(map(sum, result.confusion)) == len(load_dataset(_experiment(source, sources[source]).data).y_test)


def test_auto_streams_only_a_set_over_the_memory_budget(tmp_path):
    path = _npz(tmp_path / "big.npz", n_train=1200, n_test=100)   # 1,300 × 16×16 float32 ≈ 1.3 MiB
    over = plan_data(_experiment("npz", path, streaming="auto", memory_budget_mb=1).data)
    assert over.streamed and "over data.memory_budget_mb 1" in over.message
    under = plan_data(_experiment("npz", path, streaming="auto", memory_budget_mb=2).data)
    assert not under.streamed and "within data.memory_budget_mb 2" in under.message
    assert "1.3 MiB" in under.message
    assert not plan_data(_experiment("npz", path, streaming="off").data).streamed


def test_check_command_says_which_it_chose(tmp_path, capsys):
    from tapedeck.engine.cli.main import main

    path = tmp_path / "exp.json"
    experiment = _experiment("npz", _npz(tmp_path / "set.npz"), streaming="auto", memory_budget_mb=1)
    path.write_text(json.dumps(experiment.to_dict()))
    assert main(["check", str(path)]) == 0
    assert "data: in memory (decoded ≈ 0.1 MiB, within data.memory_budget_mb 1)" in capsys.readouterr().out


def test_refusals_name_the_setting_and_the_fix(tmp_path):
    with pytest.raises(ExperimentError, match='data.streaming: "on" streams the file sources'):
        Experiment.from_dict({"format": "tapedeck/1", "data": {"source": "digits", "streaming": "on"}})
    with pytest.raises(ExperimentError, match="data.cache: only a streamed set is cached"):
        Experiment.from_dict({"format": "tapedeck/1", "data": {"source": "npz", "path": "x.npz",
                                                               "streaming": "off", "cache": "/tmp/c"}})
    with pytest.raises(ExperimentError, match=r'data.streaming: expected one of "auto", "on", "off"'):
        Experiment.from_dict({"format": "tapedeck/1", "data": {"streaming": "yes"}})
    compressed = _npz(tmp_path / "small.npz", compressed=True)
    with pytest.raises(DataError, match=r"x_train is compressed .*numpy.savez to stream it, or set data.streaming"):
        load_for(_experiment("npz", compressed).data)
    auto = plan_data(_experiment("npz", compressed, streaming="auto", memory_budget_mb=1).data)
    assert not auto.streamed and "cannot be memory-mapped" in auto.message
    gz = write_idx_set(tmp_path / "gz", gz=True)
    with pytest.raises(DataError, match=r"is gzipped.*gunzip -k"):
        load_for(_experiment("idx", gz).data)
    archive = write_tar(tmp_path / "cifar.tar.gz", "cifar-10-batches-py", cifar10_files(n_per_batch=4))
    with pytest.raises(DataError, match=r"extract it \(tar xzf cifar.tar.gz\)"):
        load_for(_experiment("cifar", archive).data)


def test_several_inputs_or_heads_refuse_on_and_load_in_memory_under_auto(sources):
    data = _experiment("npz", sources["npz"]).data
    two_heads = SimpleNamespace(model=SimpleNamespace(inputs=["image"], outputs=["digit", "parity"]))
    with pytest.raises(DataError, match=r"one output \(their labels\); this one has 1 input\(s\) and 2 output\(s\)"):
        plan_data(data, two_heads)
    parity = SimpleNamespace(model=SimpleNamespace(inputs=[], outputs=[SimpleNamespace(layer="d", target="parity")]))
    with pytest.raises(DataError, match="this one also uses 'parity'"):
        plan_data(data, parity)
    data.streaming = "auto"
    assert not plan_data(data, two_heads).streamed and not plan_data(data, parity).streamed
    assert plan_data(data, SimpleNamespace(model=SimpleNamespace(inputs=[], outputs=[]))).streamed is False


def test_analysis_of_a_streamed_run_predicts_batch_by_batch(sources, tmp_path):
    from tapedeck.engine.analysis.reopen import open_run

    experiment = _experiment("idx", sources["idx"])
    run_dir = run(experiment, Recorder(), runs_dir=tmp_path)
    analysed = open_run(run_dir)
    assert isinstance(analysed.dataset.x_test, StreamedImages)   # the test set stayed on disk
    confusion = analysed.confusion()
    metrics = json.loads((tmp_path / run_dir.split("/")[-1] / "metrics.json").read_text())
    assert confusion.tolist() == metrics["test"]["confusion"]
    wrong = analysed.most_confidently_wrong(4)
    if wrong:
        image = analysed.dataset.x_test[[wrong[0].index]][0]
        assert image.shape == (16, 16, 1) and image.dtype == np.float32


def test_a_broken_image_in_a_streamed_folder_is_skipped_and_named_before_training(tmp_path):
    root = write_class_folder(tmp_path / "pets", per_class=10, size=(12, 10))
    (root / "cat" / "cat_broken.png").write_bytes(b"not a png at all")
    write_png(root / "dog" / "dog_extra.png", (12, 10), (0, 250, 0))
    recorder = Recorder()
    # every file the run uses is decoded once when the set is opened: the broken one is named then,
    # wherever it lies (train or test), in the same words as in memory, and never met while training
    run_dir = run(_experiment("folder", root, loop="tape", validation_split=0.0), recorder, runs_dir=tmp_path / "runs")
    assert isinstance(recorder.finished, Finished) and recorder.finished.reason == "completed"
    warned = [w for w in recorder.of(RunStarted)[0].warnings if "do not decode" in w]
    assert len(warned) == 1 and "skipped 1 image file(s)" in warned[0] and "cat/cat_broken.png" in warned[0]
    assert not [n for n in recorder.of(RunNote) if "do not decode" in n.message]   # said once, not again
    metrics = json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "metrics.json").read_text())
    assert any("cat/cat_broken.png" in w for w in metrics["data_warnings"])
    result = recorder.of(TestResult)[0]
    assert sum(map(sum, result.confusion)) == len(load_dataset(_experiment("folder", root).data).y_test)
    assert load_dataset(_experiment("folder", root).data).warnings == warned


def test_a_broken_file_at_batch_size_one_is_left_out_before_training(tmp_path, capsys):
    """Batch size 1 and a broken file: found when the set is opened, so no step trains on nothing."""
    from tapedeck.engine.cli.main import main

    root = write_class_folder(tmp_path / "pets", per_class=4, size=(12, 10))
    (root / "cat" / "cat_broken.png").write_bytes(b"not a png at all")
    experiment = _experiment("folder", root, validation_split=0.0)
    experiment.training.batch_size = 1
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(experiment.to_dict()))
    assert main(["train", str(path), "--out", str(tmp_path / "runs")]) == 0
    err = capsys.readouterr().err
    assert "cat/cat_broken.png" in err and "skipped 1 image file(s)" in err and "Traceback" not in err


def test_a_file_broken_after_the_check_ends_the_epoch_with_its_name(tmp_path):
    """Pillow's files are decoded in the pipeline too: one that no longer decodes is a DataError naming
    it, which the run reports as the person's problem (one line, no traceback)."""
    from tapedeck.engine.errors import user_problem

    root = write_class_folder(tmp_path / "pets", per_class=4, size=(12, 10))   # .bmp and .gif go to Pillow
    dataset, _ = load_for(_experiment("folder", root, validation_split=0.0).data)
    for gif in root.rglob("*.gif"):
        gif.write_bytes(b"GIF89a broken now")
    with pytest.raises(Exception) as caught:
        list(dataset.x_train.dataset(dataset.y_train, 4, shuffle=False))
    line = user_problem(caught.value)
    assert line and ".gif: no longer decodes" in line and "remove or replace the broken file" in line


def test_only_tapedeck_errors_quoted_by_tensorflow_are_the_persons():
    from tapedeck.engine.errors import describe, user_problem

    quoted = RuntimeError("Graph execution error:\n  File x\ntapedeck.engine.data.readers.DataError: a.png: broken\n")
    assert user_problem(quoted) == "a.png: broken" and describe(quoted) == "a.png: broken"
    for text in ("tapedeck.engine.data.readers.ValueError: x", "tapedeck.nowhere.DataError: x", "plain"):
        assert user_problem(RuntimeError(text)) is None
    assert describe(RuntimeError("tapedeck.engine.data.readers.ValueError: x")).startswith("RuntimeError: ")


def test_cache_file_is_written_and_keyed_by_the_data(sources, tmp_path):
    cache = tmp_path / "cache" / "pets"
    recorder = Recorder()
    experiment = _experiment("folder", sources["folder"], cache=str(cache))
    experiment.training.epochs = 2
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run(experiment, recorder, runs_dir=tmp_path / "runs")
    assert recorder.finished.reason == "completed", recorder.finished.message
    assert not [w for w in seen if "ran out of data" in str(w.message)]   # Keras measuring the first epoch
    written = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert any(name.startswith("pets-") and "-train-" in name and name.endswith(".index") for name in written)
    assert any("-val-" in name for name in written)


def test_the_same_experiment_reaches_the_same_accuracy_streamed_or_in_memory(tmp_path):
    """Real handwritten digits (scikit-learn's 1,797) in an uncompressed .npz, trained streamed and whole."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images * 15).astype(np.uint8)
    np.savez(tmp_path / "digits.npz", x_train=x[:1400], y_train=digits.target[:1400], x_test=x[1400:],
             y_test=digits.target[1400:])
    accuracy = {}
    for mode in ("on", "off"):
        experiment = _experiment("npz", tmp_path / "digits.npz", streaming=mode)
        experiment.training.epochs = 5
        experiment.training.batch_size = 16
        experiment.model.layers[1].params["units"] = 64
        recorder = Recorder()
        run(experiment, recorder, runs_dir=tmp_path / mode)
        assert recorder.finished.reason == "completed", recorder.finished.message
        accuracy[mode] = recorder.of(TestResult)[0].accuracy
    assert accuracy["off"] > 0.8, accuracy   # a small dense net, 5 epochs
    assert abs(accuracy["on"] - accuracy["off"]) < 0.04, accuracy


def test_a_streamed_folder_keeps_its_pixels_after_the_first_epoch_only_within_the_budget(tmp_path):
    """Streamed "on" within data.memory_budget_mb: decoded once, then read from memory (files removed
    after the first epoch do not matter). Over the budget: decoded every epoch, nothing held."""
    import shutil

    root = write_class_folder(tmp_path / "pets", per_class=6, size=(12, 10))
    within = _experiment("folder", root, validation_split=0.0).data
    over = _experiment("folder", root, validation_split=0.0, image_size=[128, 128], memory_budget_mb=1).data
    assert "kept in memory as 8-bit pixels" in plan_data(within).message
    assert "decoded every epoch: set data.cache" in plan_data(over).message   # 18 × 128×128×3 float32 ≈ 3.4 MiB
    kept, streamed = load_for(within)[0], load_for(over)[0]
    pipes = [x.x_train.dataset(x.y_train, 4, shuffle=True) for x in (kept, streamed)]
    first = [np.concatenate([b[0].numpy() for b in pipe]) for pipe in pipes]
    shutil.rmtree(root)
    again = np.concatenate([b[0].numpy() for b in pipes[0]])
    assert np.array_equal(np.sort(again.reshape(len(again), -1), axis=0),
                          np.sort(first[0].reshape(len(again), -1), axis=0))
    with pytest.raises(Exception, match="No such file"):
        list(pipes[1])


def test_a_look_at_a_streamed_folder_checks_only_its_test_files(tmp_path):
    """The window's checks and data page load a set without training on it: the training files are
    not all decoded for that (a run's load does it), the test files are (their labels must align)."""
    write_class_folder(tmp_path / "pets" / "train", per_class=4, size=(12, 10))
    write_class_folder(tmp_path / "pets" / "test", per_class=2, size=(12, 10))
    (tmp_path / "pets" / "train" / "cat" / "cat_broken.png").write_bytes(b"not a png")
    (tmp_path / "pets" / "test" / "dog" / "dog_broken.png").write_bytes(b"not a png")
    data = _experiment("folder", tmp_path / "pets", validation_split=0.0).data
    looked = load_for(data, check_training=False)[0]
    assert len(looked.warnings) == 1 and "dog_broken.png" in looked.warnings[0]
    assert "cat_broken.png" not in looked.warnings[0] and len(looked.x_train) == 13 and len(looked.x_test) == 6
    trained = load_for(data)[0]
    assert "cat_broken.png" in trained.warnings[0] and "dog_broken.png" in trained.warnings[0]
    assert len(trained.x_train) == 12 and len(trained.x_test) == 6
