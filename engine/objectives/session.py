"""The contract every objective's run keeps (a GAN's, a VAE's, an agent's), as the classifier's run keeps
it: ``execute()`` never raises; a person's mistake ends as one Finished event with its lines (exit 2 on the
command line), anything else as "failed" with a traceback in metrics.json; the run folder's metrics.json
says how it ended. A subclass writes ``_train()`` and sets ``folder``, ``metrics``, ``started``, ``emit``.
"""
from __future__ import annotations

import contextlib
import time
import traceback

from tapedeck.engine.errors import user_problem
from tapedeck.engine.text import cut_words
from tapedeck.engine.training.blas_threads import one_blas_thread
from tapedeck.engine.training.events import Finished
from tapedeck.engine.training.problems import UserProblemError
from tapedeck.engine.training.run import _describe

__all__ = ["ObjectiveSession"]


class ObjectiveSession:
    folder = None

    def _train(self) -> Finished:
        raise NotImplementedError

    def execute(self):
        with contextlib.ExitStack() as self._held:   # the run folder's lock, released however the run ends
            self._held.enter_context(one_blas_thread())   # NumPy's BLAS must not spin beside TF's pools
            try:
                finished = self._train()
            except UserProblemError as problem:
                problems = tuple(cut_words(line) for line in problem.problems)
                finished = Finished("failed", "\n".join(problems), self._run_dir(), problems=problems)
            except Exception as error:  # noqa: BLE001 — the contract: a run never raises
                problem = user_problem(error)
                problems = (cut_words(problem),) if problem else ()
                finished = Finished("failed", problems[0] if problems else cut_words(_describe(error)),
                                    self._run_dir(), problems=problems)
                if not problem:
                    self.metrics["traceback"] = traceback.format_exc()
            self._write_status(finished)
        self.emit(finished)
        return self._run_dir()

    def _run_dir(self):
        return str(self.folder.path) if self.folder is not None else None

    def _write_status(self, finished) -> None:
        if self.folder is None:
            return
        self.metrics.update(status=finished.reason, message=finished.message, epoch=finished.epoch,
                            wall_seconds=time.perf_counter() - self.started)
        try:
            self.folder.write_metrics(self.metrics)
        except OSError:
            traceback.print_exc()
