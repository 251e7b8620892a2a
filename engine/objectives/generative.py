"""What every generative objective's run shares (a GAN's, a VAE's): the session that never raises
and ends in one Finished event, the thread's dtype policy and seed, the data held in memory, the check
of every model, the run folder, each model built from its stack with its own optimizer, RunStarted
naming the models, the judge, an epoch's record (history row, sample grid PNG, events) and the models
saved at the end. A subclass writes ``_train`` (its step and loop) and ``_epoch_end``.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from tapedeck.engine.files import atomic_path
from tapedeck.engine.objectives import checkpoints
from tapedeck.engine.objectives.checkpoints import CHECKPOINTS
from tapedeck.engine.objectives.model_optimizers import make_optimizer, prepare_optimizers
from tapedeck.engine.objectives.session import ObjectiveSession
from tapedeck.engine.spec.objectives import CLASSIFY, ObjectiveSpec, objective_kind
from tapedeck.engine.training.events import EpochEnd, Finished, RunStarted, SampleGrid
from tapedeck.engine.training.optimizers import current_learning_rate
from tapedeck.engine.training.run import UserProblemError, _count, _describe, _summary

__all__ = ["GenerativeSession", "UserProblemError", "CHECKPOINTS"]


class GenerativeSession(ObjectiveSession):
    # What ``loss`` and ``accuracy`` of the BatchEnd/EpochEnd events mean (RunStarted.figures) and which
    # named figure each is; a subclass says.
    figures: dict = {}
    loss_figure = ""
    accuracy_figure = ""
    divergence_advice = "lower the learning rates"

    def __init__(self, experiment, reporter, control, runs_dir, resume_dir):
        self.experiment, self.emit, self.control = experiment, reporter, control
        self.runs_dir, self.resume_dir = runs_dir, resume_dir
        self.folder = None
        self.workers = None   # several worker processes: their agreed stop (engine.training.multi_worker)
        self.initial_epoch = 0   # a resumed run starts after its checkpoint's epoch
        self._clock = checkpoints.CheckpointClock()   # when the next checkpoint (engine.objectives.checkpoints)
        self.metrics: dict = {"objective": experiment.objective.to_dict()}
        self.started = time.perf_counter()

    def _prepare(self):
        """Everything before the step, in this order: refusals, the thread's policy and seed, the data, the
        check, the images, the run folder (or the one resumed), the models and optimizers (restored on a
        resume). Returns (dataset, images, labels, folder); the models are ``self.models``."""
        from tapedeck.engine.objectives.refusals import gan_refusals

        problems = gan_refusals(self.experiment, resuming=self.resume_dir is not None)
        if problems:
            raise UserProblemError(problems)
        self.strategy = self._strategy()   # first: a multi-worker strategy must exist before any other TF op
        self.workers = self._join_workers()
        self._set_thread_state()
        dataset = self._load_data()
        self._check(dataset)
        x_train, y_train = self._real(dataset)
        self.steps_per_epoch = len(x_train) // int(self.experiment.training.batch_size)
        folder = self._open_folder()
        with self.strategy.scope():   # every variable (models, optimizers, the step's own) where the strategy keeps it
            self.models = self._build(dataset)
        self._restore()
        return dataset, x_train, y_train, folder

    # -- shared steps ---------------------------------------------------------------------------
    def _set_thread_state(self) -> None:
        import keras

        training = self.experiment.training
        previous = keras.config.dtype_policy().name
        keras.config.set_dtype_policy(training.precision)
        self._held.callback(keras.config.set_dtype_policy, previous)
        if training.seed is not None:
            keras.utils.set_random_seed(int(training.seed))

    def _strategy(self):
        """training.distribute as a classifier's run reads it: ``mirrored`` (and ``auto`` over several GPUs) spread
        the step over this machine's devices, fit's train_step and the GradientTape loop alike (the loop's step
        runs on every replica through ``strategy.run``: engine.objectives.replicas)."""
        import tensorflow as tf

        from tapedeck.engine.training.strategy import StrategyError, make_strategy

        training = self.experiment.training
        if training.distribute == "none":
            return tf.distribute.get_strategy()
        try:
            strategy = make_strategy(training.distribute)
        except StrategyError as error:
            raise UserProblemError([str(error)]) from None
        if training.execution == "xla" and strategy.num_replicas_in_sync > 1:
            from tapedeck.engine.objectives.refusals import xla_across_replicas

            raise UserProblemError([xla_across_replicas(self.experiment.objective.kind)])   # auto: several GPUs
        self.metrics["replicas"] = int(strategy.num_replicas_in_sync)
        return strategy

    def _join_workers(self):
        """Several worker processes (multi_worker): as a classifier's run (engine.training.multi_worker), the chief
        writes the run folder and every other worker a temporary one; a stop asked on any worker stops all at one
        step (the callback returned, placed first); Pause and Step are not offered. None on one process."""
        from tapedeck.engine.training.multi_worker import join_workers, worker_count

        if worker_count(self.strategy) <= 1:
            return None
        self.metrics["workers"] = worker_count(self.strategy)
        self.runs_dir, self.resume_dir, self.control, agreed = join_workers(
            self.strategy, self.runs_dir, self.resume_dir, self.control, self._held)
        return agreed

    def _callbacks(self, *callbacks) -> list:
        """The loop's callbacks, the workers' agreed stop first where several workers train."""
        return ([self.workers] if self.workers is not None else []) + list(callbacks)

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
            raise UserProblemError([f"data.streaming: objective {self.experiment.objective.kind!r} trains from images "
                                    "held in memory; this set would be streamed from disk, so set data.streaming "
                                    "to \"off\" (or data.limit lower)"])
        return dataset

    def _check(self, dataset) -> None:
        from tapedeck.engine.model.check_models import check_models

        report = check_models(self.experiment, dataset.input_shape, dataset.num_classes)
        if not report.ok:
            raise UserProblemError(report.all_problems())

    def _open_folder(self):
        from tapedeck.engine.runs.folder import RunFolder, RunFolderError

        if self.resume_dir is not None:
            return self._open_for_resume()
        try:
            folder = RunFolder.create(self.runs_dir, self.experiment.name)
            self._held.enter_context(folder.locked())
            folder.write_history([])
        except RunFolderError as error:
            raise UserProblemError([str(error)]) from None
        self.folder = folder
        folder.write_experiment(self.experiment)
        return folder

    def _open_for_resume(self):
        """A run folder with a checkpoint of this objective: checked first, rewritten only from here on."""
        folder, epoch, _state = checkpoints.open_for_resume(self.resume_dir, self.experiment, self._held)
        self.folder, self.initial_epoch = folder, epoch
        self._clock.saved(epoch)
        return folder

    def _save_checkpoint(self, epoch: int) -> None:
        """Every model and optimizer of the run (keyed as ``self.models`` is), then checkpoint.json."""
        checkpoints.save_checkpoint(self.folder, self.models, epoch, self.experiment)
        self._clock.saved(epoch)

    def _checkpoint_due(self, epoch: int) -> bool:
        if self.workers is not None:   # every worker saves at the same epochs: each epoch, not by its own clock
            return epoch > self._clock.last
        return self._clock.due(epoch, int(self.experiment.training.epochs))

    def _restore(self) -> None:
        """A resumed run's models and optimizers as its checkpoint left them (the optimizers are built in
        ``_build``, so their slots exist to be read into)."""
        if not self.initial_epoch:
            return
        checkpoints.restore_checkpoint(self.models, self.folder, self.initial_epoch)

    def _real(self, dataset):
        """The training and validation images (and labels) together: a generative model has no held-out
        figure to watch, and the judge keeps the test images as its reference."""
        x = np.concatenate([dataset.x_train, dataset.x_val]) if len(dataset.x_val) else dataset.x_train
        y = np.concatenate([dataset.y_train, dataset.y_val]) if len(dataset.y_val) else dataset.y_train
        batch = int(self.experiment.training.batch_size)
        if len(x) < batch:
            raise UserProblemError([f"training.batch_size: {batch} is more than the {len(x)} training images; "
                                    f"lower the batch size (or the data limit's cut)"])
        return x, y.astype("int32")

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
            built[role] = self._wrap(role, built[role], dataset)
            built[role[0] + "_optimizer"] = make_optimizer(spec.optimizer, self.experiment.training,
                                                           self.steps_per_epoch)
        prepare_optimizers((built[role[0] + "_optimizer"], built[role]) for role in kind.models)
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
            initial_epoch=self.initial_epoch,
            num_classes=dataset.num_classes, class_names=list(dataset.class_names),
            sample_images=dataset.x_test[index], sample_labels=dataset.y_test[index], loop=training.loop,
            api=", ".join(sorted({self.experiment.models[role].api for role in roles})),
            precision=training.precision, warnings=tuple(getattr(dataset, "warnings", ()) or ()),
            objective=self.experiment.objective.kind, models=described, figures=dict(self.figures)))

    def _judge(self, dataset):
        if not int(self.experiment.objective.quality_samples):
            return None
        from tapedeck.engine.objectives.judge import judge_for

        data = self.experiment.data
        key = (data.source, data.path, data.limit, data.normalize, data.color_mode, str(data.image_size))
        return judge_for(dataset, key)

    def _inference(self, role: str):
        """``models[role]`` called in inference as a compiled function (traced once per batch shape): the grid
        and the judge's images each epoch cost a fraction of an eager call."""
        functions = self.__dict__.setdefault("_inference_functions", {})
        if role not in functions:
            import tensorflow as tf

            model = self.models[role]
            functions[role] = tf.function(lambda given: model(given, training=False), reduce_retracing=True)
        return functions[role]

    def _wrap(self, role, model, dataset):
        """A subclass may put something around a stack (a conditional GAN's label inputs)."""
        return model

    def _dataset(self, arrays, state):
        import tensorflow as tf

        seed = self.experiment.training.seed
        rows = len(arrays[0]) if isinstance(arrays, tuple) else len(arrays)
        data = tf.data.Dataset.from_tensor_slices(arrays).shuffle(rows, seed=seed)
        data = data.batch(state.batch_size, drop_remainder=True).prefetch(2)
        if self.experiment.training.loop == "tape" and self.strategy is not tf.distribute.get_strategy():
            return self.strategy.experimental_distribute_dataset(data)   # each replica its share of a batch
        return data

    def _record_epoch(self, epoch: int, figures: dict, quality: dict, seconds: float, grid: SampleGrid) -> None:
        """The epoch's figures as events and a history row, its grid as events and samples/epoch-NNN.png."""
        named = dict(figures, **{f"quality_{k}": v for k, v in quality.items()})
        optimizer = next(value for key, value in self.models.items() if key.endswith("_optimizer"))
        event = EpochEnd(epoch=epoch, loss=figures.get(self.loss_figure, float("nan")),
                         accuracy=figures.get(self.accuracy_figure, float("nan")), val_loss=None, val_accuracy=None,
                         learning_rate=current_learning_rate(optimizer), seconds=seconds, heads=named)
        self.state.completed_epochs.append(event)
        self.folder.append_history({"epoch": epoch, "loss": event.loss, "accuracy": event.accuracy,
                                    "learning_rate": event.learning_rate, "seconds": round(seconds, 4), **named})
        from tapedeck.engine.objectives.samples import grid_png

        write_picture(self.folder.path / "samples" / f"epoch-{epoch:03d}.png", grid_png(grid.images, grid.columns))
        self._tensorboard(epoch, named, grid)
        self.emit(event)
        self.emit(grid)
        if quality:
            self.metrics["quality"] = quality
        if self._checkpoint_due(epoch):
            self._save_checkpoint(epoch)

    def _tensorboard(self, epoch: int, named: dict, grid: SampleGrid) -> None:
        """training.tensorboard: every figure as a scalar and the grid as an image, per epoch (tensorboard/)."""
        if not self.experiment.training.tensorboard:
            return
        import tensorflow as tf

        from tapedeck.engine.objectives.samples import grid_array

        if getattr(self, "_summaries", None) is None:
            self._summaries = tf.summary.create_file_writer(str(self.folder.tensorboard_dir))
        with self._summaries.as_default():
            for name, value in named.items():
                tf.summary.scalar(name, float(value), step=epoch)
            tf.summary.image("samples", grid_array(grid.images, grid.columns)[None] / 255.0, step=epoch)
        self._summaries.flush()

    # -- the end --------------------------------------------------------------------------------
    def _finish(self, state, models, folder) -> Finished:
        run_dir = str(folder.path)
        last = state.completed_epochs[-1].epoch if state.completed_epochs else None
        if state.interrupted == "diverged":
            return Finished("diverged", f"a loss became {state.last_loss} at epoch {state.diverged_epoch}, step "
                            f"{state.diverged_step}; {self.divergence_advice}",
                            run_dir, step=state.diverged_step, epoch=state.diverged_epoch)
        if last and last > self._clock.last:   # a stop keeps its last epoch for a resume
            self._save_checkpoint(last)
        if state.train_samples_seen:
            for role in objective_kind(self.experiment.objective).models:
                with atomic_path(folder.path / f"{role}.keras") as temp:
                    models[role].save(temp)
        if state.interrupted == "stopped":
            return Finished("stopped", "stopped on request", run_dir, epoch=last)
        return Finished("completed", f"{last or 0} epoch(s) trained", run_dir, epoch=last)


def write_picture(path, data: bytes) -> None:
    """A sample grid, whole or not at all (a temporary name, then renamed) but not forced to the disk: a
    picture lost to a power cut costs nothing, and an fsync per epoch slowed short epochs."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)

