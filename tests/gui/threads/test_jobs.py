"""The one way to run work off the GUI thread: where the work runs, what comes back, and shutdown."""
from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer  # noqa: E402

from tapedeck.engine.errors import TapedeckError  # noqa: E402
from tapedeck.engine.training.events import Finished  # noqa: E402
from tapedeck.gui.threads.jobs import Job, running_jobs, shutdown_all  # noqa: E402


def _ticking(qtbot):
    """A GUI-thread timer: it only ticks while the event loop runs."""
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    return timer, ticks


def test_a_job_runs_off_the_gui_thread_and_reports_in_order(qtbot):
    seen, partial, done = [], [], []

    def work():
        seen.append(threading.current_thread())
        for i in range(50):
            job.report(i)
        time.sleep(0.3)
        return "result"

    job = Job("test-job")
    timer, ticks = _ticking(qtbot)
    job.start(work, lambda result, error: done.append((result, error)), partial.extend)
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    timer.stop()
    assert seen[0] is not threading.main_thread() and job.thread_name == "test-job"
    assert partial == list(range(50)) and done == [("result", None)]
    assert len(ticks) >= 5   # the GUI thread kept processing events meanwhile
    assert not job.running and job not in running_jobs()


def test_user_errors_arrive_as_their_message_and_faults_with_their_type(qtbot):
    done = []

    def fail(error):
        def work():
            raise error
        return work

    job = Job("errors")
    job.start(fail(TapedeckError("data.path: no such folder; pick one")), lambda r, e: done.append(e))
    qtbot.waitUntil(lambda: len(done) == 1, timeout=10_000)
    job.start(fail(ZeroDivisionError("division by zero")), lambda r, e: done.append(e))
    qtbot.waitUntil(lambda: len(done) == 2, timeout=10_000)
    assert done == ["data.path: no such folder; pick one", "ZeroDivisionError: division by zero"]


def test_shutdown_all_waits_for_every_job_and_reaches_its_cancel(qtbot):
    release = threading.Event()
    cancelled = []
    jobs = [Job(f"job-{i}") for i in range(3)]
    for job in jobs:
        job.start(lambda: release.wait(10), on_cancel=lambda: (cancelled.append(1), release.set()))
    assert len(running_jobs()) == 3
    assert shutdown_all(10_000)
    assert not running_jobs() and cancelled and all(not job.running for job in jobs)


def _record_thread(recorded, report_finished):
    def fake(*args, **kwargs):
        recorded.append(threading.current_thread())
        time.sleep(0.4)
        report_finished(args)
        return []
    return fake


def test_run_and_queue_controllers_train_off_the_gui_thread(qtbot, monkeypatch, tmp_path):
    """Sweeps once ran on the GUI thread while a single run did not: prove it for both."""
    from tapedeck.engine.spec.experiment import load_preset
    from tapedeck.gui.threads.queue_controller import QueueController
    from tapedeck.gui.threads.run_controller import RunController

    recorded: list = []
    monkeypatch.setattr("tapedeck.engine.training.run.run",
                        _record_thread(recorded, lambda args: args[1](Finished("completed", "", None))))
    monkeypatch.setattr("tapedeck.engine.queues.queue.run_queue",
                        _record_thread(recorded, lambda args: args[1](0, Finished("completed", "", None))))
    experiment = load_preset("digits_cnn")
    single, queue = RunController(str(tmp_path)), QueueController(str(tmp_path))
    events = []
    single.event.connect(events.append)
    queue.event.connect(lambda index, event: events.append((index, event)))
    for controller, start in ((single, lambda: single.start(experiment)), (queue, lambda: queue.start([experiment]))):
        timer, ticks = _ticking(qtbot)
        start()
        assert controller.running
        qtbot.waitUntil(lambda c=controller: not c.running, timeout=10_000)
        timer.stop()
        assert len(ticks) >= 5, "the GUI thread was blocked while the engine function ran"
    assert len(recorded) == 2 and all(t is not threading.main_thread() for t in recorded)
    assert [type(e).__name__ for e in events[:1]] == ["Finished"] and events[1][0] == 0
    assert queue.results == []


def test_closing_and_choosing_cancel_leaves_background_work_running(qtbot, make_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window = make_window()
    release = threading.Event()
    job = window.analysis.analysis_tab._job     # the Runs menu's jobs were stopped before the question
    job.start(lambda: release.wait(10), lambda result, error: None, on_cancel=release.set)
    edited = window.document.edited()
    edited.training.epochs = 3
    window.document.apply(edited, "epochs")
    window.ask_to_save = True
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Cancel)
    assert not window.close()
    assert job.running and not release.is_set()   # the person said Cancel: nothing was stopped
    window.ask_to_save = False
    assert window.close()
    assert not job.running and release.is_set()
