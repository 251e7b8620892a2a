"""The runs list's memory: a run folder is read again only when its files changed."""
import json
import os

from tapedeck.engine.runs.listing import RunsListing
from tests.support.fake_runs import fake_run


def test_unchanged_runs_are_not_read_again_and_changed_ones_are(tmp_path):
    runs = [fake_run(tmp_path, f"20261206-1200{n:02d}-run{n}") for n in range(5)]
    listing = RunsListing()
    first = listing.list(tmp_path)
    assert listing.reads == 5 and [s.status for s in first] == ["completed"] * 5
    again = listing.list(tmp_path)
    assert listing.reads == 5 and all(a is b for a, b in zip(first, again))

    metrics = runs[2] / "metrics.json"
    stat = metrics.stat()
    metrics.write_text(json.dumps({"status": "stopped"}))
    os.utime(metrics, ns=(stat.st_atime_ns, stat.st_mtime_ns))   # same time (a copy that kept it): the size tells
    changed = {s.name: s.status for s in listing.list(tmp_path)}
    assert listing.reads == 6 and changed["20261206-120002-run2"] == "stopped"


def test_new_and_deleted_runs_show_and_go(tmp_path):
    fake_run(tmp_path, "20261206-120000-a")
    listing = RunsListing()
    assert len(listing.list(tmp_path)) == 1
    fake_run(tmp_path, "20261206-120001-b")
    assert [s.name for s in listing.list(tmp_path)] == ["20261206-120001-b", "20261206-120000-a"]
    import shutil

    shutil.rmtree(tmp_path / "20261206-120000-a")
    assert [s.name for s in listing.list(tmp_path)] == ["20261206-120001-b"]
    assert len(listing._known) == 1   # the deleted run is forgotten, not kept forever
