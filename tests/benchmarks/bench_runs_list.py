"""How long the Runs panel's refresh holds the GUI thread with many run folders.

Makes N small fake run folders (experiment.json, a five-epoch history.csv, metrics.json), then times
``RunsPanel.refresh()``: the time the call itself holds the GUI thread, the time until the table shows
every run, and the longest gap in the event loop meanwhile (a timer ticking every 5 ms measures it).
A second refresh shows what the listing's cache saves. Not a timed test; run it and read the numbers:

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_runs_list.py [N]
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tapedeck.engine.spec.experiment import load_preset  # noqa: E402

HISTORY = "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n" + "".join(
    f"{e},{1 / e:.4f},{0.8 + e / 100:.4f},{1.1 / e:.4f},{0.78 + e / 100:.4f},0.001,1.5\n" for e in range(1, 6))


def make_runs(root: Path, count: int) -> None:
    experiment = json.dumps(load_preset("digits_cnn").to_dict(), indent=2)
    metrics = json.dumps({"status": "completed", "epochs_completed": 5, "test": {"accuracy": 0.9, "loss": 0.3}})
    for n in range(count):
        folder = root / f"20261206-{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}-digits_cnn-{n}"
        folder.mkdir(parents=True)
        (folder / "experiment.json").write_text(experiment)
        (folder / "history.csv").write_text(HISTORY)
        (folder / "metrics.json").write_text(metrics)


def timed_refresh(app, panel, count: int) -> tuple[float, float, float]:
    """(seconds inside refresh(), seconds until the table shows the list, longest event-loop gap)."""
    from PySide6.QtCore import QTimer

    gaps, last = [0.0], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    listed = []
    if hasattr(panel, "listed"):
        panel.listed.connect(lambda: listed.append(True))
    started = time.perf_counter()
    last[0] = started
    panel.refresh()
    inside = time.perf_counter() - started
    if not hasattr(panel, "listed"):   # the panel before the background listing: refresh() did it all
        listed.append(True)
    gaps.append(inside)
    while not listed:
        app.processEvents()
        time.sleep(0.001)
    filled = time.perf_counter() - started
    app.processEvents()
    timer.stop()
    assert panel.table.rowCount() == count, panel.table.rowCount()
    return inside, filled, max(gaps)


def main(count: int = 1000) -> None:
    from PySide6.QtWidgets import QApplication

    from tapedeck.gui.runs.runs_panel import RunsPanel

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "runs"
        make_runs(root, count)
        panel = RunsPanel(str(root))
        panel.resize(1100, 600)
        panel.show()
        runs = sorted(root.iterdir())
        for label in ("first refresh", "second refresh (nothing changed)", "third refresh (one run changed)"):
            if label.startswith("third"):
                (runs[0] / "metrics.json").write_text(json.dumps({"status": "stopped"}))
            inside, filled, gap = timed_refresh(app, panel, count)
            print(f"{count} runs, {label}: refresh() held the GUI thread {inside * 1000:.0f} ms; table filled after "
                  f"{filled * 1000:.0f} ms; longest event-loop gap {gap * 1000:.0f} ms")
        panel.close()
        job = getattr(panel, "job", None)
        if job is not None:
            job.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
