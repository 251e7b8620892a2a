"""A GAN run, start to finish, as a plain function: ``run_gan(experiment, reporter, control, runs_dir)``.

It reports the same events as a classifier's run (RunStarted, BatchEnd, EpochEnd, RunNote, Finished),
with the GAN's figures as named metrics (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, the two
gradient norms, the judge's ``quality_*``) and the fixed-noise samples as a SampleGrid each epoch. The
run folder keeps ``generator.keras`` and ``discriminator.keras`` (each loads in plain Keras),
``samples/epoch-NNN.png``, ``history.csv`` and ``metrics.json``. Like ``training.run.run`` it never
raises: everything ends in one Finished event (engine.objectives.generative).
"""
from __future__ import annotations

import numpy as np

from tapedeck.engine.objectives.gan_diagnosis import Diagnosis
from tapedeck.engine.objectives.generative import GenerativeSession
from tapedeck.engine.training.events import Finished, RunNote, SampleGrid

__all__ = ["run_gan", "GRID"]

GRID = 64   # fixed-noise samples drawn each epoch (an 8 × 8 grid)


def run_gan(experiment, reporter, control, runs_dir="runs", resume_dir=None):
    return _GanSession(experiment, reporter, control, runs_dir, resume_dir).execute()


class _GanSession(GenerativeSession):
    figures = {"loss": "Discriminator loss (the Samples tab has both models')",
               "accuracy": "Discriminator accuracy: real and generated told apart"}
    loss_figure, accuracy_figure = "d_loss", "d_accuracy"
    divergence_advice = "lower the learning rates (or try the wgan-gp loss)"

    @property
    def conditional(self) -> bool:
        return "label_input" in self.experiment.objective.settings   # cgan: the label goes into both models

    def _train(self) -> Finished:
        dataset, x_train, y_train, folder = self._prepare()
        training, objective, models = self.experiment.training, self.experiment.objective, self.models
        self.real = x_train   # the nearest real image to each sample: is the generator copying?
        from tapedeck.engine.objectives.gan_step import GanModel, GanSteps
        from tapedeck.engine.training.callbacks import ControlCallback, RunState

        with self.strategy.scope():
            steps = GanSteps(models["generator"], models["discriminator"], models["g_optimizer"],
                             models["d_optimizer"], objective, seed=training.seed, execution=training.execution)
            gan = GanModel(steps, objective.d_steps, name="gan")
        self.noise, self.grid_labels = self._fixed_inputs(dataset.num_classes)
        self.state = state = RunState(steps_per_epoch=len(x_train) // int(training.batch_size),
                                      batch_size=int(training.batch_size), train_samples=len(x_train))
        self._started_event(dataset, models, state)
        self.diagnosis = Diagnosis(dataset.num_classes, objective.loss)
        self.judge = self._judge(dataset)
        from tapedeck.engine.objectives.gan_loop import GanCallback

        callbacks = self._callbacks(GanCallback(self.emit, self.control, state, self._epoch_end),
                                    ControlCallback(self.control, state))
        self._loop(steps, gan, (x_train, y_train) if self.conditional else x_train, callbacks, state)
        self.metrics.update(epochs_completed=len(state.completed_epochs), train_seconds=state.train_seconds,
                            traces=dict(steps.traces))
        return self._finish(state, models, folder)

    def _wrap(self, role, model, dataset):
        """A conditional GAN's stacks fed their input and the label's code (engine.objectives.conditional)."""
        if not self.conditional:
            return model
        from tapedeck.engine.objectives import conditional

        objective = self.experiment.objective
        if role == "generator":
            return conditional.wrap_generator(model, objective, dataset.num_classes)
        return conditional.wrap_discriminator(model, objective, dataset.num_classes, dataset.input_shape)

    def _fixed_inputs(self, num_classes: int):
        """The grid's noise, the same every epoch: 64 vectors, or (conditional) 8 per class for up to 10
        classes, one row per class."""
        rows = min(int(num_classes), 10) if self.conditional else GRID // 8
        rng = np.random.default_rng(self.experiment.training.seed or 0)
        noise = rng.normal(size=(rows * 8, int(self.experiment.objective.latent_dim))).astype("float32")
        labels = np.repeat(np.arange(rows), 8).astype("int32") if self.conditional else None
        return noise, labels

    def _generate(self, noise, labels=None) -> np.ndarray:
        given = [noise, labels.reshape(-1, 1)] if self.conditional else noise
        return np.asarray(self._inference("generator")(given), dtype=np.float32)

    def _loop(self, steps, gan, arrays, callbacks, state) -> None:
        training = self.experiment.training
        data = self._dataset(arrays, state)
        if self.control.stop_requested:
            state.interrupted = "stopped"
            return
        if training.loop == "tape":
            from tapedeck.engine.objectives.gan_loop import Callbacks, train_tape

            train_tape(steps.running, self._tape_update(steps, state), gan, data, Callbacks(callbacks, gan),
                       int(training.epochs), self.initial_epoch)
        else:
            from tapedeck.engine.objectives.gan_loop import train_fit

            train_fit(gan, data, callbacks, int(training.epochs), self.initial_epoch, training)

    def _tape_update(self, steps, state):
        """The GradientTape loop's step: ``d_steps`` discriminator updates, then one generator update; while
        stepping (Step D, Step G, Step both) only the model asked for, and the request's last step taken apart
        (engine.objectives.gan_inspect). fit's train_step always trains both."""
        from tapedeck.engine.objectives.gan_inspect import StepInspector

        d_steps = int(self.experiment.objective.d_steps)
        inspector = StepInspector(steps, self.conditional, int(self.experiment.training.seed or 0))
        taken = [self.initial_epoch * state.steps_per_epoch]

        from tapedeck.engine.objectives.replicas import first_local

        strategy = self.strategy

        def update(real, labels):
            stepping = self.control.steps_left is not None
            part = (self.control.step_part or "both") if stepping else "both"
            seen = None
            if self.control.steps_left == 1:   # mirrored: the first replica's share of the batch is looked at
                seen = inspector.before(first_local(strategy, real), first_local(strategy, labels), part)
            if part != "g":
                for _ in range(d_steps):
                    steps.d_step(real, labels)
            if part != "d":
                steps.g_step(real, labels)
            taken[0] += 1
            if seen is not None:
                self.emit(inspector.after(seen, taken[0], (taken[0] - 1) // state.steps_per_epoch + 1, part))
        return update

    # -- each epoch ---------------------------------------------------------------------------------
    def _epoch_end(self, epoch: int, figures: dict, seconds: float) -> None:
        quality = self._quality()
        grid = SampleGrid(epoch=epoch, images=self._generate(self.noise, self.grid_labels), columns=8,
                          labels=self.grid_labels, quality=quality)
        self._record_epoch(epoch, figures, quality, seconds, grid)
        nearest = self.real[_nearest(grid.images, self.real)]
        self.emit(SampleGrid(epoch=epoch, images=nearest, columns=grid.columns, labels=grid.labels,
                             kind="nearest_real"))
        for kind, note in self.diagnosis.notes(epoch, figures, quality or None):
            self.metrics.setdefault("diagnoses", []).append(note)
            self.emit(RunNote(kind, note))

    def _quality(self) -> dict:
        count = int(self.experiment.objective.quality_samples)
        if self.judge is None or count <= 0:
            return {}
        rng = np.random.default_rng(12345)
        noise = rng.normal(size=(count, int(self.experiment.objective.latent_dim))).astype("float32")
        labels = rng.integers(0, self.judge.num_classes, count).astype("int32") if self.conditional else None
        images = self._generate(noise, labels)
        quality = self.judge.score(images).as_dict()
        if self.conditional:   # asked for a class: does the judge see that class?
            quality["label_accuracy"] = self.judge.accuracy(images, labels)
        return quality


def _nearest(images, real) -> np.ndarray:
    """Index into ``real`` of each image's nearest real image (squared pixel distance): a sample that is its
    neighbour's copy shows memorisation, not generation."""
    a = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    b = np.asarray(real, dtype=np.float32).reshape(len(real), -1)
    distances = (a ** 2).sum(1)[:, None] - 2.0 * a @ b.T + (b ** 2).sum(1)[None, :]
    return distances.argmin(axis=1)
