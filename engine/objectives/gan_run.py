"""A GAN run, start to finish, as a plain function: ``run_gan(experiment, reporter, control, runs_dir)``.

It reports the same events as a classifier's run (RunStarted, BatchEnd, EpochEnd, RunNote, Finished),
with the GAN's figures as named metrics (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, the two
gradient norms, the judge's ``quality_*``) and the fixed-noise samples as a SampleGrid each epoch. The
run folder keeps ``generator.keras`` and ``discriminator.keras`` (each loads in plain Keras),
``samples/epoch-NNN.png``, ``history.csv`` and ``metrics.json``. Like ``training.run.run`` it never
raises: everything ends in one Finished event.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback

import numpy as np

from tapedeck.engine.errors import user_problem
from tapedeck.engine.files import atomic_path, write_bytes_atomic
from tapedeck.engine.objectives.gan_diagnosis import Diagnosis
from tapedeck.engine.objectives.refusals import gan_refusals
from tapedeck.engine.spec.objectives import CLASSIFY, ObjectiveSpec, objective_kind
from tapedeck.engine.text import cut_words
from tapedeck.engine.training.events import EpochEnd, Finished, RunNote, RunStarted, SampleGrid
from tapedeck.engine.training.run import UserProblemError, _count, _describe, _summary

__all__ = ["run_gan", "GRID"]

GRID = 64   # fixed-noise samples drawn each epoch (an 8 × 8 grid)


def run_gan(experiment, reporter, control, runs_dir="runs", resume_dir=None):
    return _GanSession(experiment, reporter, control, runs_dir, resume_dir).execute()


class _GanSession:
    def __init__(self, experiment, reporter, control, runs_dir, resume_dir):
        self.experiment, self.emit, self.control = experiment, reporter, control
        self.runs_dir, self.resume_dir = runs_dir, resume_dir
        self.folder = None
        self.metrics: dict = {"objective": experiment.objective.to_dict()}
        self.started = time.perf_counter()

    def execute(self):
        with contextlib.ExitStack() as self._held:
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

    # -- the run proper ---------------------------------------------------------------------------
    def _train(self) -> Finished:
        problems = gan_refusals(self.experiment, resuming=self.resume_dir is not None)
        if problems:
            raise UserProblemError(problems)
        self._set_thread_state()
        dataset = self._load_data()
        self._check(dataset)
        x_train = np.concatenate([dataset.x_train, dataset.x_val]) if len(dataset.x_val) else dataset.x_train
        y_train = np.concatenate([dataset.y_train, dataset.y_val]) if len(dataset.y_val) else dataset.y_train
        training, objective = self.experiment.training, self.experiment.objective
        self.conditional = "label_input" in objective.settings   # cgan: the label goes into both models
        batch = int(training.batch_size)
        if len(x_train) < batch:
            raise UserProblemError([f"training.batch_size: {batch} is more than the {len(x_train)} training images; "
                                    f"lower the batch size (or the data limit's cut)"])
        folder = self._open_folder()
        models = self._build(dataset)
        from tapedeck.engine.objectives.gan_step import GanModel, GanSteps
        from tapedeck.engine.training.callbacks import ControlCallback, RunState

        steps = GanSteps(models["generator"], models["discriminator"], models["g_optimizer"],
                         models["d_optimizer"], objective, seed=training.seed, execution=training.execution)
        gan = GanModel(steps, objective.d_steps, name="gan")
        self.noise, self.grid_labels = self._fixed_inputs(dataset.num_classes)
        state = RunState(steps_per_epoch=len(x_train) // batch, batch_size=batch, train_samples=len(x_train))
        self._started_event(dataset, models, state)
        self.diagnosis = Diagnosis(dataset.num_classes, objective.loss)
        self.judge = self._judge(dataset)
        self.models = models
        from tapedeck.engine.objectives.gan_loop import GanCallback

        callbacks = [GanCallback(self.emit, self.control, state, self._epoch_end), ControlCallback(self.control, state)]
        self.state = state
        self._loop(steps, gan, (x_train, y_train.astype("int32")) if self.conditional else x_train, callbacks, state)
        self.metrics.update(epochs_completed=len(state.completed_epochs), train_seconds=state.train_seconds,
                            traces=dict(steps.traces))
        return self._finish(state, models, folder)

    def _set_thread_state(self) -> None:
        import keras

        training = self.experiment.training
        previous = keras.config.dtype_policy().name
        keras.config.set_dtype_policy(training.precision)
        self._held.callback(keras.config.set_dtype_policy, previous)
        if training.seed is not None:
            keras.utils.set_random_seed(int(training.seed))

    def _load_data(self):
        from tapedeck.engine.data.datasets import DataError
        from tapedeck.engine.data.streaming import load_for

        try:
            dataset, plan = load_for(self.experiment.data, self.experiment)
        except DataError as error:
            raise UserProblemError([str(error)]) from None
        except Exception as error:  # noqa: BLE001 — Keras's loaders raise a bare Exception offline
            raise UserProblemError([f"data.source {self.experiment.data.source!r}: could not load "
                                    f"({_describe(error)})"]) from None
        if plan.streamed:
            raise UserProblemError(["data.streaming: a GAN trains from images held in memory; this set would be "
                                    "streamed from disk, so set data.streaming to \"off\" (or data.limit lower)"])
        return dataset

    def _check(self, dataset) -> None:
        from tapedeck.engine.model.check_models import check_models

        report = check_models(self.experiment, dataset.input_shape, dataset.num_classes)
        if not report.ok:
            raise UserProblemError(report.all_problems())

    def _open_folder(self):
        from tapedeck.engine.runs.folder import RunFolder, RunFolderError

        try:
            folder = RunFolder.create(self.runs_dir, self.experiment.name)
            self._held.enter_context(folder.locked())
            folder.write_history([])
        except RunFolderError as error:
            raise UserProblemError([str(error)]) from None
        self.folder = folder
        folder.write_experiment(self.experiment)
        return folder

    def _build(self, dataset) -> dict:
        """Each model from its stack in its own API, and its own optimizer (Adam, β₁ 0.5 by default)."""
        from tapedeck.engine.model.build import BuildError, build_model
        from tapedeck.engine.model.check_models import io_shapes

        shapes = io_shapes(self.experiment, dataset.input_shape, num_classes=dataset.num_classes)
        kind = objective_kind(self.experiment.objective)
        built = {}
        for role, spec in self.experiment.stacks().items():
            single = dataclasses.replace(self.experiment, name=role, model=spec, models={},
                                         objective=ObjectiveSpec(CLASSIFY))
            try:
                built[role] = build_model(single, shapes[kind.io[role][0]])
            except BuildError as error:
                raise UserProblemError([f"models.{role}: {error}"]) from None
            if self.conditional:   # the stack fed its input and the label's code
                from tapedeck.engine.objectives import conditional

                objective = self.experiment.objective
                built[role] = (conditional.wrap_generator(built[role], objective, dataset.num_classes)
                               if role == "generator" else
                               conditional.wrap_discriminator(built[role], objective, dataset.num_classes,
                                                              dataset.input_shape))
            built[role[0] + "_optimizer"] = _optimizer(spec.optimizer, self.experiment.training)
        return built

    def _started_event(self, dataset, models, state) -> None:
        training = self.experiment.training
        roles = objective_kind(self.experiment.objective).models
        described = tuple((role, _count(models[role].trainable_weights), _summary(models[role])) for role in roles)
        index = dataset.sample_index
        self.emit(RunStarted(
            run_dir=str(self.folder.path), name=self.experiment.name,
            summary="\n\n".join(f"{role}\n{summary}" for role, _n, summary in described),
            trainable=sum(n for _r, n, _s in described),
            non_trainable=sum(_count(models[role].non_trainable_weights) for role in roles),
            epochs=int(training.epochs), steps_per_epoch=state.steps_per_epoch, batch_size=state.batch_size,
            num_classes=dataset.num_classes, class_names=list(dataset.class_names),
            sample_images=dataset.x_test[index], sample_labels=dataset.y_test[index], loop=training.loop,
            api=", ".join(sorted({self.experiment.models[role].api for role in roles})),
            precision=training.precision, warnings=tuple(getattr(dataset, "warnings", ()) or ()),
            objective=self.experiment.objective.kind, models=described,
            figures={"loss": "Discriminator loss (the Samples tab has both models')",
                     "accuracy": "Discriminator accuracy: real and generated told apart"}))

    def _judge(self, dataset):
        if not int(self.experiment.objective.quality_samples):
            return None
        from tapedeck.engine.objectives.judge import judge_for

        data = self.experiment.data
        key = (data.source, data.path, data.limit, data.normalize, data.color_mode, str(data.image_size))
        return judge_for(dataset, key)

    def _fixed_inputs(self, num_classes: int):
        """The grid's noise, the same every epoch: 64 vectors, or (conditional) 8 per class for up to 10
        classes, one row per class."""
        rows = min(int(num_classes), 10) if self.conditional else GRID // 8
        rng = np.random.default_rng(self.experiment.training.seed or 0)
        noise = rng.normal(size=(rows * 8, int(self.experiment.objective.latent_dim))).astype("float32")
        labels = np.repeat(np.arange(rows), 8).astype("int32") if self.conditional else None
        return noise, labels

    def _generate(self, noise, labels=None) -> np.ndarray:
        generator = self.models["generator"]
        given = [noise, labels.reshape(-1, 1)] if self.conditional else noise
        return np.asarray(generator(given, training=False), dtype=np.float32)

    def _loop(self, steps, gan, x_train, callbacks, state) -> None:
        import tensorflow as tf

        training = self.experiment.training
        seed = training.seed if training.seed is not None else None
        rows = len(x_train[0]) if isinstance(x_train, tuple) else len(x_train)
        data = tf.data.Dataset.from_tensor_slices(x_train).shuffle(rows, seed=seed)
        data = data.batch(state.batch_size, drop_remainder=True).prefetch(2)
        if self.control.stop_requested:
            state.interrupted = "stopped"
            return
        if training.loop == "tape":
            from tapedeck.engine.objectives.gan_loop import Callbacks, train_tape

            callback_list = Callbacks(callbacks, gan)
            train_tape(steps, gan, data, callback_list, int(training.epochs), 0, int(self.experiment.objective.d_steps))
        else:
            from tapedeck.engine.objectives.gan_loop import train_fit

            train_fit(gan, data, callbacks, int(training.epochs), 0, training.execution)

    # -- each epoch ---------------------------------------------------------------------------------
    def _epoch_end(self, epoch: int, figures: dict, seconds: float) -> None:
        images = self._generate(self.noise, self.grid_labels)
        quality = self._quality()
        named = dict(figures, **{f"quality_{k}": v for k, v in quality.items()})
        event = EpochEnd(epoch=epoch, loss=figures.get("d_loss", float("nan")),
                         accuracy=figures.get("d_accuracy", float("nan")), val_loss=None, val_accuracy=None,
                         learning_rate=float(self.models["g_optimizer"].learning_rate), seconds=seconds, heads=named)
        self.state.completed_epochs.append(event)
        self.folder.append_history({"epoch": epoch, "loss": event.loss, "accuracy": event.accuracy,
                                    "learning_rate": event.learning_rate, "seconds": round(seconds, 4), **named})
        from tapedeck.engine.objectives.samples import grid_png

        write_bytes_atomic(self.folder.path / "samples" / f"epoch-{epoch:03d}.png", grid_png(images, 8))
        self.emit(event)
        self.emit(SampleGrid(epoch=epoch, images=images, columns=8, labels=self.grid_labels, quality=quality))
        for note in self.diagnosis.notes(epoch, figures, quality or None):
            self.metrics.setdefault("diagnoses", []).append(note)
            self.emit(RunNote("diagnosis", note))
        if quality:
            self.metrics["quality"] = quality

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

    # -- the end --------------------------------------------------------------------------------
    def _finish(self, state, models, folder) -> Finished:
        run_dir = str(folder.path)
        last = state.completed_epochs[-1].epoch if state.completed_epochs else None
        if state.interrupted == "diverged":
            return Finished("diverged", f"a loss became {state.last_loss} at epoch {state.diverged_epoch}, step "
                            f"{state.diverged_step}; lower the learning rates (or try the wgan-gp loss)",
                            run_dir, step=state.diverged_step, epoch=state.diverged_epoch)
        if state.train_samples_seen:
            for role in objective_kind(self.experiment.objective).models:
                with atomic_path(folder.path / f"{role}.keras") as temp:
                    models[role].save(temp)
        if state.interrupted == "stopped":
            return Finished("stopped", "stopped on request", run_dir, epoch=last)
        return Finished("completed", f"{last or 0} epoch(s) trained", run_dir, epoch=last)


def _optimizer(settings, training):
    """A model's own optimizer; where it names none, the training section's optimizer and rate."""
    import keras

    name = (settings or {}).get("name", training.optimizer)
    rate = float((settings or {}).get("learning_rate", training.learning_rate))
    if name in ("adam", "adamw"):
        beta_1 = float((settings or {}).get("beta_1", 0.5))
        if name == "adamw":
            return keras.optimizers.AdamW(rate, weight_decay=training.weight_decay, beta_1=beta_1)
        return keras.optimizers.Adam(rate, beta_1=beta_1)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(rate)
    return keras.optimizers.SGD(rate)
