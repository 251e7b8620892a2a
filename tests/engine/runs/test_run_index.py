"""The runs folder as a table: read from real run folders, and survives the folders real life leaves."""
import json
import math

import pytest

from tapedeck.engine.runs.folder import RunFolder
from tapedeck.engine.runs.index import RunIndexError, delete_run, format_runs_table, list_runs, read_run
from tests.support.run_support import EPOCHS, LIMIT, copy_run, trained_run


def test_a_finished_run_is_summarised_from_its_files():
    path = trained_run()
    summary = read_run(path)
    history = RunFolder(path).read_history()
    metrics = json.loads((path / "metrics.json").read_text())
    assert summary.is_run and summary.status == "completed" and summary.note == ""
    assert (summary.name, summary.api, summary.loop) == ("history-run", "functional", "fit")
    assert summary.dataset == f"digits [{LIMIT}]"
    assert summary.epochs == len(history) == EPOCHS and summary.epochs_planned == EPOCHS
    best = max(history, key=lambda row: row["val_accuracy"])
    assert summary.best_val_accuracy == best["val_accuracy"] and summary.best_epoch == best["epoch"]
    assert summary.test_accuracy == metrics["test"]["accuracy"]
    name = path.name
    assert summary.date == f"{name[:4]}-{name[4:6]}-{name[6:8]} {name[9:11]}:{name[11:13]}:{name[13:15]}"


def test_half_written_and_foreign_folders_are_listed_with_a_note(tmp_path):
    good = copy_run(trained_run(), tmp_path)
    killed = tmp_path / "20200101-000000-killed"  # killed before the end: no metrics.json
    killed.mkdir()
    (killed / "experiment.json").write_text((good / "experiment.json").read_text())
    header = "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n"
    (killed / "history.csv").write_text(header + "1,2.1,0.3,2.0,0.")
    broken = tmp_path / "20200102-000000-broken"
    broken.mkdir()
    (broken / "experiment.json").write_text((good / "experiment.json").read_text())
    (broken / "metrics.json").write_text('{"status": "compl')
    (broken / "history.csv").write_bytes(b"\xff\xfe garbage")
    bad_json = tmp_path / "bad-json"
    bad_json.mkdir()
    (bad_json / "experiment.json").write_text("[1, 2")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "notes.txt").write_text("not a folder")

    runs = {s.path.name: s for s in list_runs(tmp_path)}
    assert set(runs) == {good.name, killed.name, broken.name}
    assert runs[killed.name].status == "incomplete" and "no metrics.json" in runs[killed.name].note
    assert runs[killed.name].epochs == 1 and runs[killed.name].best_val_accuracy == 0.0
    assert runs[broken.name].status == "incomplete" and "metrics.json unreadable" in runs[broken.name].note
    everything = {s.path.name: s for s in list_runs(tmp_path, include_foreign=True)}
    assert everything["foreign"].status == "not a run" and "no experiment.json" in everything["foreign"].note
    assert everything["bad-json"].status == "not a run" and "experiment.json unreadable" in everything["bad-json"].note
    table = format_runs_table(list(everything.values()))
    assert "note: no metrics.json" in table and table.splitlines()[0].startswith("name")


def test_newest_first_and_nan_is_no_best(tmp_path):
    old = copy_run(trained_run(), tmp_path)
    newer = tmp_path / "29990101-000000-diverged"
    newer.mkdir()
    (newer / "experiment.json").write_text((old / "experiment.json").read_text())
    RunFolder(newer).write_history([{"epoch": 1, "loss": math.nan, "val_accuracy": math.nan}])
    RunFolder(newer).write_metrics({"status": "diverged", "test": {"accuracy": math.nan}})
    runs = list_runs(tmp_path)
    assert [s.path for s in runs] == [newer, old]
    assert runs[0].status == "diverged" and runs[0].best_val_accuracy is None and runs[0].test_accuracy is None


def test_missing_folder_is_empty_and_a_file_is_refused(tmp_path):
    assert list_runs(tmp_path / "absent") == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunIndexError, match="is a file"):
        list_runs(tmp_path / "file")


def test_delete_removes_runs_only(tmp_path):
    run = copy_run(trained_run(), tmp_path)
    (tmp_path / "project").mkdir()
    with pytest.raises(RunIndexError, match="not a Tapedeck run"):
        delete_run(tmp_path / "project")
    delete_run(run)
    assert not run.exists() and (tmp_path / "project").exists()


def test_the_run_history_modules_load_without_tensorflow():
    """The Runs panel fills while TensorFlow is still loading in the background."""
    import subprocess
    import sys

    modules = [f"tapedeck.engine.{name}" for name in (
        "runs.index", "spec.diff", "queues.sweep", "queues.compare_apis", "queues.queue", "cli.runs", "runs.exports",
        "analysis.reopen", "analysis.feature_maps", "analysis.own_input", "model.inference")]
    code = (f"import sys, {', '.join(modules)}; "
            "heavy = [m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
