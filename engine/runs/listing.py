"""The runs list with a memory: a run folder is read again only when its files changed.

Reading a run parses its experiment.json, history.csv and metrics.json; with a thousand runs that is
most of a second, and the Runs panel lists the folder again after every run. A folder's signature is
the modification time and size of the folder and of those three files (four ``stat`` calls): every
write of a run goes through a temporary file and a rename, which changes the folder's time, and the
files' own times catch a file copied in by hand over an older one.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from tapedeck.engine.runs.index import RunSummary, list_runs, read_listed

_READ_FILES = ("experiment.json", "history.csv", "metrics.json")


def signature(folder: Path) -> tuple:
    """What changes when anything read_run reads changes; a missing file counts as None."""
    marks = []
    for path in (folder, *(folder / name for name in _READ_FILES)):
        try:
            stat = os.stat(path)
        except OSError:
            marks.append(None)
        else:
            marks.append((stat.st_mtime_ns, stat.st_size))
    return tuple(marks)


class RunsListing:
    """``list_runs`` that keeps each folder's summary until its signature changes.

    One listing may run at a time per instance (the panel runs it in one background job); the lock
    only keeps a stray second caller from corrupting the memory. Summaries are shared between
    listings, so callers must not change them.
    """

    def __init__(self):
        self._known: dict[Path, tuple[tuple, RunSummary]] = {}
        self._lock = threading.Lock()
        self.reads = 0   # folders actually read (not answered from memory), for tests and benchmarks

    def list(self, runs_dir, include_foreign: bool = False) -> list[RunSummary]:
        with self._lock:
            seen: set[Path] = set()
            summaries = list_runs(runs_dir, include_foreign, read=lambda path: self._read(path, seen))
            for gone in set(self._known) - seen:   # deleted runs, or another runs folder listed before
                del self._known[gone]
            return summaries

    def _read(self, path: Path, seen: set[Path]) -> RunSummary:
        seen.add(path)
        mark = signature(path)
        known = self._known.get(path)
        if known is not None and known[0] == mark:
            return known[1]
        summary = read_listed(path)
        self.reads += 1
        self._known[path] = (mark, summary)
        return summary
