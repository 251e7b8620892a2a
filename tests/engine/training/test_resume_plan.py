"""engine.training.resume: what Resume and Train N more epochs will do, decided before training."""
from __future__ import annotations

import pytest

from tapedeck.engine.runs.folder import RunFolderError
from tapedeck.engine.training.resume import ResumeError, resume_plan
from tests.support.run_support import copy_run, trained_run


def test_a_finished_run_trains_more_but_does_not_resume(tmp_path):
    run_dir = copy_run(trained_run(), tmp_path)           # completed: 2 of 2 epochs
    with pytest.raises(ResumeError, match="all 2 planned epoch"):
        resume_plan(run_dir)
    plan = resume_plan(run_dir, more_epochs=3)
    assert plan.done_epochs == 2 and plan.experiment.training.epochs == 5 and plan.run_dir == str(run_dir)
    with pytest.raises(ResumeError, match="1 or more"):
        resume_plan(run_dir, more_epochs=0)
    (run_dir / "checkpoint.json").unlink()
    with pytest.raises(RunFolderError, match="no checkpoint"):
        resume_plan(run_dir, more_epochs=1)
