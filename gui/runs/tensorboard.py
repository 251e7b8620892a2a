"""Runs ▸ Open in TensorBoard: ``tensorboard --logdir <run>/tensorboard`` as a child process (QProcess),
its address shown once it serves.

TensorBoard picks a free port itself (``--port 0``) and prints "TensorBoard … at http://localhost:N/";
that line is the only thing read from it. One process per log folder is kept and reused while the
window lives, and every one is ended when the window closes. A run writes these logs only when
"TensorBoard logs" is ticked in Data and training (``training.tensorboard``).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QUrl, Signal
from PySide6.QtGui import QDesktopServices

_URL = re.compile(r"(http://[^\s]+)")
STOP_WAIT_MS = 3000


def log_dir(run_dir) -> Path:
    from tapedeck.engine.runs.folder import RunFolder

    return RunFolder(run_dir).tensorboard_dir


class TensorBoardLauncher(QObject):
    url_ready = Signal(str, str)   # (run folder, address)
    failed = Signal(str, str)      # (run folder, what went wrong, in words)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.open_browser = True    # tests turn it off
        self.urls: dict[str, str] = {}
        self._processes: dict[str, QProcess] = {}
        self._output: dict[str, str] = {}

    def open(self, run_dir) -> bool:
        """Serve ``run_dir``'s logs (or show the address already serving them); False with a
        ``failed`` message when the run has none."""
        run_dir = str(run_dir)
        logs = log_dir(run_dir)
        if not logs.is_dir() or not any(logs.iterdir()):
            self.failed.emit(run_dir, f"{Path(run_dir).name} wrote no TensorBoard logs: tick “TensorBoard logs” "
                                      "in Data and training, then train (or resume) it again.")
            return False
        if run_dir in self.urls:
            self._ready(run_dir, self.urls[run_dir])
            return True
        if run_dir in self._processes:
            return True       # starting: its address follows
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("TF_CPP_MIN_LOG_LEVEL", "2")
        environment.insert("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES", ""))
        process.setProcessEnvironment(environment)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(lambda: self._read(run_dir))
        process.finished.connect(lambda code, _status: self._ended(run_dir, code))
        process.errorOccurred.connect(lambda _error: self._start_failed(run_dir))
        self._processes[run_dir] = process
        self._output[run_dir] = ""
        process.start(sys.executable, ["-m", "tensorboard.main", "--logdir", str(logs),
                                       "--host", "localhost", "--port", "0"])
        return True

    @property
    def running(self) -> list[str]:
        return [d for d, p in self._processes.items() if p.state() != QProcess.ProcessState.NotRunning]

    def shutdown(self) -> None:
        """End every TensorBoard this window started (on close)."""
        for run_dir, process in list(self._processes.items()):
            process.blockSignals(True)
            if process.state() != QProcess.ProcessState.NotRunning:
                process.terminate()
                if not process.waitForFinished(STOP_WAIT_MS):
                    process.kill()
                    process.waitForFinished(STOP_WAIT_MS)
            del self._processes[run_dir]
        self.urls.clear()

    def _read(self, run_dir: str) -> None:
        process = self._processes.get(run_dir)
        if process is None:
            return
        text = bytes(process.readAllStandardOutput()).decode(errors="replace")
        self._output[run_dir] = (self._output[run_dir] + text)[-4000:]
        if run_dir not in self.urls:
            found = _URL.search(self._output[run_dir])
            if found:
                self.urls[run_dir] = found.group(1)
                self._ready(run_dir, found.group(1))

    def _ready(self, run_dir: str, url: str) -> None:
        self.url_ready.emit(run_dir, url)
        if self.open_browser:
            QDesktopServices.openUrl(QUrl(url))

    def _ended(self, run_dir: str, code: int) -> None:
        self._processes.pop(run_dir, None)
        self.urls.pop(run_dir, None)
        if code != 0:
            last = [line for line in self._output.get(run_dir, "").splitlines() if line.strip()][-1:]
            self.failed.emit(run_dir, f"TensorBoard stopped (exit code {code})" + (f": {last[0]}" if last else ""))

    def _start_failed(self, run_dir: str) -> None:
        process = self._processes.get(run_dir)
        if process is not None and process.error() == QProcess.ProcessError.FailedToStart:
            self._processes.pop(run_dir, None)
            self.failed.emit(run_dir, f"TensorBoard could not be started: {process.errorString()} "
                                      "(pip install tensorboard)")
