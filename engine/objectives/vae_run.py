"""A VAE run, start to finish: ``run_vae(experiment, reporter, control, runs_dir)``.

The figures are the loss and its two terms (``reconstruction``, ``kl``) and each model's gradient norm;
each epoch three pictures travel as SampleGrid events and PNG files: images decoded from the same
random codes (``samples/epoch-NNN.png``, scored by the judge), test images above their reconstructions
(``reconstructions-NNN.png``) and, for a 2-D code, the latent plane decoded on a 10 × 10 grid
(``latent-plane-NNN.png``). The run folder keeps ``encoder.keras`` (an image → its mean and
log-variance, concatenated) and ``decoder.keras`` (a code → an image).
"""
from __future__ import annotations

import numpy as np

from tapedeck.engine.objectives.generative import GenerativeSession, write_picture
from tapedeck.engine.training.events import Finished, SampleGrid

__all__ = ["run_vae"]

PLANE = 10   # the latent plane's grid: PLANE × PLANE codes


def run_vae(experiment, reporter, control, runs_dir="runs", resume_dir=None):
    return _VaeSession(experiment, reporter, control, runs_dir, resume_dir).execute()


class _VaeSession(GenerativeSession):
    figures = {"loss": "VAE loss: reconstruction + β · KL (the Samples tab has both terms)"}
    loss_figure = "loss"
    divergence_advice = "lower the learning rates (or use the mse reconstruction)"

    def _train(self) -> Finished:
        dataset, x_train, _labels, folder = self._prepare()
        training, objective, models = self.experiment.training, self.experiment.objective, self.models
        from tapedeck.engine.objectives.vae_step import FIGURES, VaeModel, VaeSteps
        from tapedeck.engine.training.callbacks import ControlCallback, RunState

        with self.strategy.scope():
            steps = VaeSteps(models["encoder"], models["decoder"], models["e_optimizer"], models["d_optimizer"],
                             objective, seed=training.seed, execution=training.execution)
            vae = VaeModel(steps, name="vae")
        self.steps = steps
        rng = np.random.default_rng(training.seed or 0)
        self.codes = rng.normal(size=(64, int(objective.latent_dim))).astype("float32")
        self.originals = dataset.x_test[dataset.sample_index[:8]]
        self.state = state = RunState(steps_per_epoch=len(x_train) // int(training.batch_size),
                                      batch_size=int(training.batch_size), train_samples=len(x_train))
        self._started_event(dataset, models, state)
        self.judge = self._judge(dataset)
        from tapedeck.engine.objectives.gan_loop import GanCallback

        callbacks = self._callbacks(GanCallback(self.emit, self.control, state, self._epoch_end, figures=FIGURES,
                                                loss="loss", accuracy="", watched=("loss",)),
                                    ControlCallback(self.control, state))
        self._loop(vae, x_train, callbacks, state)
        self.metrics.update(epochs_completed=len(state.completed_epochs), train_seconds=state.train_seconds,
                            traces=dict(steps.traces))
        return self._finish(state, models, folder)

    def _loop(self, vae, x_train, callbacks, state) -> None:
        training = self.experiment.training
        data = self._dataset(x_train, state)
        if self.control.stop_requested:
            state.interrupted = "stopped"
            return
        if training.loop == "tape":
            from tapedeck.engine.objectives.gan_loop import Callbacks, train_tape

            train_tape(self.steps.running, self.steps.step, vae, data, Callbacks(callbacks, vae),
                       int(training.epochs), self.initial_epoch)
        else:
            from tapedeck.engine.objectives.gan_loop import train_fit

            train_fit(vae, data, callbacks, int(training.epochs), self.initial_epoch, training)

    def _decode(self, codes) -> np.ndarray:
        return np.asarray(self._inference("decoder")(codes), dtype=np.float32)

    # -- each epoch ---------------------------------------------------------------------------------
    def _epoch_end(self, epoch: int, figures: dict, seconds: float) -> None:
        quality = self._quality()
        samples = SampleGrid(epoch=epoch, images=self._decode(self.codes), columns=8, quality=quality)
        self._record_epoch(epoch, figures, quality, seconds, samples)
        for grid, name in ((self._reconstructions(epoch), "reconstructions"), (self._plane(epoch), "latent-plane")):
            if grid is not None:
                from tapedeck.engine.objectives.samples import grid_png

                write_picture(self.folder.path / "samples" / f"{name}-{epoch:03d}.png",
                                   grid_png(grid.images, grid.columns))
                self.emit(grid)

    def _reconstructions(self, epoch: int) -> SampleGrid:
        """Test images (first row) above their reconstructions from the code's mean (second row)."""
        mean, _log_var = self.steps.encode(self.originals)
        rebuilt = self._decode(np.asarray(mean))
        return SampleGrid(epoch=epoch, images=np.concatenate([self.originals, rebuilt]), columns=len(self.originals),
                          kind="reconstructions")

    def _plane(self, epoch: int) -> SampleGrid | None:
        """A 2-D code space decoded at the standard normal's quantiles, so each cell covers equal mass."""
        if int(self.experiment.objective.latent_dim) != 2:
            return None
        from scipy.stats import norm

        axis = norm.ppf(np.linspace(0.05, 0.95, PLANE))
        codes = np.array([[x, y] for y in axis[::-1] for x in axis], dtype="float32")
        return SampleGrid(epoch=epoch, images=self._decode(codes), columns=PLANE, kind="latent_plane")

    def _quality(self) -> dict:
        count = int(self.experiment.objective.quality_samples)
        if self.judge is None or count <= 0:
            return {}
        codes = np.random.default_rng(12345).normal(size=(count, int(self.experiment.objective.latent_dim)))
        return self.judge.score(self._decode(codes.astype("float32"))).as_dict()
