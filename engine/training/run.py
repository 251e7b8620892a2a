"""One training run, start to finish, as a plain function: ``run(experiment, reporter, control)``.

No Qt and no globals: the window calls it in a worker thread, the command line and the tests call
it directly. Everything Keras keeps per thread (dtype policy, seeds) is set here, inside the run.
Whatever goes wrong inside — bad data, a stack that does not check, an exception deep in
TensorFlow — ends as ``Finished(reason="failed", message=...)``; ``run`` itself never raises.
Every run ends with exactly one ``Finished`` event.
"""
from __future__ import annotations

import contextlib
import functools
import math
import platform
import time
import traceback

from tapedeck.engine.errors import user_problem
from tapedeck.engine.spec.experiment import FILE_SOURCES
from tapedeck.engine.spec.heads import is_multi
from tapedeck.engine.text import cut_words
from tapedeck.engine.training.blas_threads import one_blas_thread
from tapedeck.engine.training.control import RunControl
from tapedeck.engine.training.events import Finished, RunNote, RunStarted
from tapedeck.engine.training.heads_io import compile_kwargs, rows
from tapedeck.engine.training.prepared import Prepared as _Prepared
from tapedeck.engine.training.prepared import prepare as _prepare
from tapedeck.engine.training.problems import UserProblemError

__all__ = ["RunControl", "run", "UserProblemError"]


def run(experiment, reporter, control: RunControl | None = None, runs_dir="runs", resume_dir=None):
    """Train ``experiment``, reporting events to ``reporter``; returns the run folder (or None).

    A classifier's run. Another objective's (a GAN's, an agent's) is engine.objectives.run, which the command
    line and the window call; one handed here (a sweep or a queue of it) ends at once, saying so."""
    if not experiment.objective.is_classify:
        kind = experiment.objective.kind
        problem = (f"objective {kind!r}: sweeps, queues and API comparisons train classifiers; train it with "
                   f"Train in the window or `tapedeck train`")
        reporter(Finished("failed", problem, None, problems=(problem,)))
        return None
    control = control or RunControl()
    session = _Session(experiment, reporter, control, runs_dir, resume_dir)
    return session.execute()


class _Session:
    def __init__(self, experiment, reporter, control, runs_dir, resume_dir):
        self.experiment = experiment
        self.reporter = reporter
        self.control = control
        self.runs_dir = runs_dir
        self.resume_dir = resume_dir
        self.folder = None
        self._tape_loop = None
        self._gradient_source = None   # the fit-side inspection callback
        self._probe = None             # a custom train_step's gradient figures
        self.started = time.perf_counter()
        self.metrics: dict = {}

    def emit(self, event) -> None:
        self.reporter(event)

    def execute(self):
        with contextlib.ExitStack() as self._held:   # the run folder's lock, released however the run ends
            self._held.enter_context(one_blas_thread())   # NumPy's BLAS must not spin beside TF's pools
            try:
                finished = self._train()
            except UserProblemError as problem:   # long values cut: the window shows these as they are
                problems = tuple(cut_words(line) for line in problem.problems)
                finished = Finished("failed", "\n".join(problems), self._run_dir(), problems=problems)
            except Exception as error:  # noqa: BLE001 — the contract: a run never raises
                problem = user_problem(error)   # e.g. a streamed file that does not decode, quoted by TensorFlow
                if problem:
                    problems = (cut_words(problem),)
                    finished = Finished("failed", problems[0], self._run_dir(), problems=problems)
                else:
                    finished = Finished("failed", cut_words(_describe(error)), self._run_dir())
                self.metrics["traceback"] = traceback.format_exc()
            self._write_status(finished)
        try:
            self.emit(finished)
        except Exception:  # noqa: BLE001 — a broken listener must not turn into a crash here
            traceback.print_exc()
        return self._run_dir()

    def _run_dir(self):
        return str(self.folder.path) if self.folder is not None else None

    def _write_status(self, finished: Finished) -> None:
        if self.folder is None:
            return
        metrics = dict(self.metrics)
        metrics.update(
            status=finished.reason,
            message=finished.message,
            step=finished.step,
            epoch=finished.epoch,
            wall_seconds=time.perf_counter() - self.started,
        )
        try:
            self.folder.write_metrics(metrics)
        except OSError:
            traceback.print_exc()

    # -- the run proper ---------------------------------------------------------------------------
    def _train(self) -> Finished:
        import keras

        from tapedeck.engine.training.callbacks import (
            CheckpointCallback,
            ControlCallback,
            DivergenceCallback,
            ReporterCallback,
            RunState,
        )
        from tapedeck.engine.training.evaluation import evaluate_test, probability_converter
        from tapedeck.engine.training.inspection import Inspector, WeightInspectCallback
        from tapedeck.engine.training.optimizers import make_loss, schedule_callbacks
        from tapedeck.engine.training.strategy import StrategyError, make_strategy

        experiment = self.experiment
        training = experiment.training
        try:   # first: a multi-worker strategy must exist before any other TensorFlow op runs
            strategy = make_strategy(training.distribute)
        except StrategyError as error:
            raise UserProblemError([str(error)]) from None
        from tapedeck.engine.training.multi_worker import join_workers, worker_count

        self.metrics["workers"] = worker_count(strategy)   # off the chief: temporary folders, an agreed stop
        self.runs_dir, self.resume_dir, self.control, workers = join_workers(
            strategy, self.runs_dir, self.resume_dir, self.control, self._held)
        self._set_thread_state(training)

        dataset = self._load_data()
        self._check(dataset)
        if getattr(dataset, "warnings", None):
            self.metrics["data_warnings"] = list(dataset.warnings)
        self.several = None   # several inputs or heads: dicts by name and per-head losses (heads_io)
        if is_multi(experiment.model):   # its heads may all name their own targets: no target 'label'
            from tapedeck.engine.training.heads_io import SeveralHeads

            self.several = SeveralHeads(experiment, dataset)
            data = self.several.prepared(_Prepared)
        else:
            data = _prepare(dataset, experiment)
        self.metrics["replicas"] = int(strategy.num_replicas_in_sync)

        if training.tensorboard and not _tensorboard_available():
            raise UserProblemError(["training.tensorboard: the tensorboard package is not installed; "
                               "run `pip install tensorboard` or set tensorboard to false"])
        batch_size = int(training.batch_size)
        steps_per_epoch = max(1, math.ceil(rows(data.x_train) / batch_size))
        folder, initial_epoch = self._open_folder()
        self._train_inputs = data.x_train   # what the model is fed (a dict with several inputs): pacing times it
        model, optimizer = self._model(dataset, strategy, steps_per_epoch, folder, initial_epoch)
        if self.resume_dir is not None:
            if self.control.stop_requested:   # stopped before the resume began: the run stays as it was
                return Finished("stopped", "stopped before the resume began; the run is unchanged", str(folder.path))
            self._commit_resume(folder, initial_epoch)

        state = RunState(steps_per_epoch=steps_per_epoch, batch_size=batch_size, train_samples=rows(data.x_train))
        to_probabilities = probability_converter(training)
        sample_index = dataset.sample_index
        if self.several:
            sample_images, sample_labels = self.several.sample(data, sample_index)
            classes = self.several.started()
        else:
            sample_images, sample_labels = dataset.x_test[sample_index], dataset.y_test[sample_index]
            classes = {"num_classes": dataset.num_classes, "class_names": list(dataset.class_names)}
        self.emit(
            RunStarted(
                run_dir=str(folder.path),
                name=experiment.name,
                summary=_summary(model),
                trainable=_count(model.trainable_weights),
                non_trainable=_count(model.non_trainable_weights),
                epochs=int(training.epochs),
                steps_per_epoch=steps_per_epoch,
                batch_size=batch_size,
                **classes,
                sample_images=sample_images,
                sample_labels=sample_labels,
                initial_epoch=initial_epoch,
                loop=training.loop,
                api=experiment.model.api,
                precision=training.precision,
                warnings=tuple(getattr(dataset, "warnings", ()) or ()),
            )
        )

        self._setting_notes(training)
        if self._pacing_note:
            self.emit(RunNote("steps_per_execution", self._pacing_note))
        if getattr(self, "_weights_note", None):
            self.emit(RunNote("weights", self._weights_note))
        if self.experiment.data.source in FILE_SOURCES:   # where streaming is a choice, say which was made
            self.emit(RunNote("data_plan", self.data_plan.message))
        reporter = ReporterCallback(self.emit, state, sample_images, sample_labels, to_probabilities,
                                    on_epoch=lambda event: folder.append_history(_history_row(event)),
                                    heads=(self.several.plan, sample_index) if self.several else None)
        keras_callbacks = schedule_callbacks(training, data.has_validation,
                                             self.several.first_head if self.several else None)
        sees_gradients = training.loop in ("tape", "train_step")
        self.inspector = Inspector(self.emit, self.control, training.inspect_every if sees_gradients else 0,
                                   gradients_visible=sees_gradients, folder=folder.path)
        self.clock = self._step_clock(model, training)
        callbacks = [workers] * (workers is not None) + [self.clock, ControlCallback(self.control, state),
                                                         DivergenceCallback(state), reporter]
        if training.loop != "tape":
            self._gradient_source = WeightInspectCallback(self.inspector, steps_per_epoch, self._probe)
            callbacks.insert(1, self._gradient_source)
        callbacks += keras_callbacks
        if training.tensorboard:   # histogram_freq: weight histograms each epoch
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(folder.tensorboard_dir), write_graph=False,
                                                         histogram_freq=1))
        callbacks.append(self._held.enter_context(CheckpointCallback(folder, state)))   # no write outlives the run
        from tapedeck.engine.training.unfreeze import unfreeze_callback

        self._unfreeze = unfreeze_callback(self.experiment, lambda text: self.emit(RunNote("unfreeze", text)))
        if self._unfreeze is not None:
            callbacks.insert(-1, self._unfreeze)

        epochs = int(training.epochs)
        traces = {}
        if initial_epoch < epochs and not self.control.stop_requested:
            with strategy.scope():
                if training.loop == "tape":
                    traces = self._tape(model, optimizer, strategy, data, callbacks, epochs, initial_epoch)
                else:
                    from tapedeck.engine.training.fit_loop import train_fit

                    train_fit(model, data, batch_size, epochs, initial_epoch, callbacks)
        elif self.control.stop_requested:
            state.interrupted = "stopped"
        if traces:
            self.metrics["tape_traces"] = traces
        if self._unfreeze is not None:
            self.metrics["unfrozen"] = self._unfreeze.events
        self._broken_files_note(dataset)
        self.metrics.update(self.clock.summary(), gradients_recorded=self.inspector.recorded)

        finished = self._finish_reason(state, keras_callbacks, folder)
        self.metrics.update(
            epochs_completed=initial_epoch + len(state.completed_epochs),
            samples_per_second=(state.train_samples_seen / state.train_seconds) if state.train_seconds else None,
            train_seconds=state.train_seconds,
        )
        if finished.reason == "stopped" and not state.train_samples_seen:
            pass   # stopped before its first step: nothing was trained, so no model and no test figures
        elif finished.reason != "diverged":
            folder.save_model(model)
            if self.several:
                from tapedeck.engine.training.heads_io import evaluate

                result = evaluate(model, data.x_test, data.y_test, self.several.plan)
                self.metrics["test"] = self.several.test_metrics(result)
                self.emit(result)
                return finished
            result = evaluate_test(model, data.x_test, data.y_test, data.test_labels,
                                   make_loss(training), to_probabilities, dataset.num_classes,
                                   max(batch_size, 256))
            self.metrics["test"] = {
                "loss": result.loss,
                "accuracy": result.accuracy,
                "precision": result.precision,
                "recall": result.recall,
                "confusion": result.confusion,
                "class_names": list(dataset.class_names),
            }
            self.emit(result)
        else:
            folder.keep_checkpoint_as_model()
        return finished

    def _setting_notes(self, training) -> None:
        """Settings that run, but not as the person may expect: 16 bits without the hardware for them, a fused
        update asked of an optimizer that has none."""
        from tapedeck.engine.model.check_rules import precision_warning
        from tapedeck.engine.training.fused_update import unfused_note

        warning = precision_warning(training.precision)
        if warning:
            self.emit(RunNote("precision", warning))
        unfused = unfused_note(self.experiment)
        if unfused:
            self.emit(RunNote("fused_update", unfused))

    def _broken_files_note(self, dataset) -> None:
        """A streamed folder finds its broken files while training: skipped, and named here."""
        from tapedeck.engine.data.streaming import is_streamed

        broken = list(dataset.x_train.broken) if is_streamed(dataset.x_train) else []
        if broken:
            listed = "; ".join(broken[:8]) + (f"; and {len(broken) - 8} more" if len(broken) > 8 else "")
            warning = f"skipped {len(broken)} image file(s) that do not decode: {listed}"
            self.metrics.setdefault("data_warnings", []).append(warning)
            self.emit(RunNote("data", warning))

    def _pace(self, model, x_train, strategy, steps_per_epoch) -> None:
        """``steps_per_execution``: the experiment's number, or "auto" measured here (engine.training.pacing)."""
        from tapedeck.engine.training.pacing import one_step_reason, resolve_steps_per_execution

        training = self.experiment.training
        setting = training.steps_per_execution
        self._pacing_note = one_step_reason(setting, training.loop, strategy.num_replicas_in_sync,
                                            getattr(strategy.extended, "_num_workers", 1),
                                            self.control.steps_left is not None)
        if self._pacing_note:
            setting = 1
        steps, note = resolve_steps_per_execution(setting, model, x_train, int(self.experiment.training.batch_size),
                                                  steps_per_epoch)
        self.steps_per_execution = steps
        self._pacing_note = note or self._pacing_note
        self.metrics["steps_per_execution"] = steps

    def _step_clock(self, model, training):
        """Step time and trace count; the tape loop counts its own traces, fit's are counted here."""
        from tapedeck.engine.training.execution import StepClock, count_fit_traces

        if training.loop == "tape":
            traces = lambda: self._tape_loop.traces["train"] if self._tape_loop else 0  # noqa: E731
        else:
            counts = count_fit_traces(model)
            traces = lambda: counts["train"]  # noqa: E731
        return StepClock(self.emit, training.execution, traces,
                         self.steps_per_execution)

    def _gradient_writer(self, strategy):
        """TensorBoard logging on, one replica: the inspected steps' gradient and weight histograms
        (TF2's fit dropped write_grads; the tape loop holds the gradients, so it writes them)."""
        if not self.experiment.training.tensorboard or strategy.num_replicas_in_sync != 1:
            return None
        import tensorflow as tf

        return tf.summary.create_file_writer(str(self.folder.tensorboard_dir / "gradients"))

    def _scales(self, model):
        from tapedeck.engine.training.multipliers import layer_multipliers, variable_scales

        return variable_scales(model.trainable_variables, layer_multipliers(self.experiment))

    def _divergence_cause(self) -> str:
        """Which layer went first, where the loop can see gradients (tape, train_step); fit cannot."""
        source = self._tape_loop or self._gradient_source
        recent = source.recent_squares() if source is not None else []
        if not recent:
            return " (the GradientTape loop or a custom train_step names the layer that diverged first)"
        cause = self.inspector.diagnose(recent)
        return f"; {cause}" if cause else ""

    def _set_thread_state(self, training) -> None:
        import keras
        import tensorflow as tf

        previous = keras.config.dtype_policy().name
        keras.config.set_dtype_policy(training.precision)
        # Keras keeps the policy in a global: a run called on this thread (the CLI, a test) puts it back.
        self._held.callback(keras.config.set_dtype_policy, previous)
        self.metrics["precision"] = training.precision
        if training.deterministic:
            tf.config.experimental.enable_op_determinism()
        self.metrics["versions"] = {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
        }
        gpus = tf.config.list_logical_devices("GPU")
        cpu = f"CPU ({platform.processor() or platform.machine()})"
        self.metrics["device"] = ", ".join(d.name for d in gpus) if gpus else cpu

    def _load_data(self):
        from tapedeck.engine.data.datasets import DataError
        from tapedeck.engine.data.streaming import load_for

        try:
            dataset, self.data_plan = load_for(self.experiment.data, self.experiment)
            self.metrics.update(data_streamed=self.data_plan.streamed, data_plan=self.data_plan.message)
            return dataset
        except DataError as error:
            raise UserProblemError([str(error)]) from None
        except Exception as error:  # noqa: BLE001 — Keras's loaders raise a bare Exception offline
            source = self.experiment.data.source
            raise UserProblemError([f"data.source {source!r}: could not load ({_describe(error)})"]) from None

    def _check(self, dataset) -> None:
        from tapedeck.engine.model.check import check

        report = check(self.experiment, dataset.input_shape, dataset.num_classes)
        if not report.ok:
            raise UserProblemError(report.all_problems())

    def _open_folder(self):
        from tapedeck.engine.runs.folder import RunFolder, RunFolderError

        try:
            if self.resume_dir is not None:
                # Validate only: nothing in a finished run is rewritten until its checkpoint has loaded
                # (``_commit_resume``), so a resume that cannot proceed leaves the run as it was.
                folder = RunFolder.open_for_resume(self.resume_dir)
                self._held.enter_context(folder.locked())
                return folder, folder.resume_epoch(self.experiment)
            folder = RunFolder.create(self.runs_dir, self.experiment.name)
            self._held.enter_context(folder.locked())
            folder.write_history([])
        except RunFolderError as error:
            raise UserProblemError([str(error)]) from None
        self.folder = folder
        folder.write_experiment(self.experiment)
        return folder, 0

    def _commit_resume(self, folder, initial_epoch) -> None:
        """The resume can proceed: from here on the run folder records it."""
        folder.clean_scratch()
        folder.truncate_history(initial_epoch)
        self.folder = folder
        folder.write_experiment(self.experiment)

    def _model(self, dataset, strategy, steps_per_epoch, folder, initial_epoch):
        """Build (or reload) and compile inside the strategy scope, optimizer included."""
        import keras

        from tapedeck.engine.model.build import BuildError, build_model
        from tapedeck.engine.training.execution import compile_options
        from tapedeck.engine.training.optimizers import make_accuracy, make_loss, make_optimizer
        from tapedeck.engine.training.resume import carry_optimizer_state

        training = self.experiment.training
        if training.seed is not None:
            # Seeded here, right before the weights are drawn (the shape check before this draws
            # layers too), so a run matches the exported script with the same seed.
            keras.utils.set_random_seed(int(training.seed))
        with strategy.scope():
            if initial_epoch:
                model = _load_checkpoint(folder)
                from tapedeck.engine.training.unfreeze import optimizer_variables

                optimizer = carry_optimizer_state(model.optimizer, make_optimizer(training, steps_per_epoch),
                                                   optimizer_variables(model, self.experiment))   # a Backbone's too
            else:
                try:
                    model = build_model(self.experiment, dataset.input_shape,
                                        extra_shapes=self.several.extra_shapes() if self.several else None)
                except BuildError as error:
                    raise UserProblemError([str(error)]) from None
                from tapedeck.engine.training.initial_weights import start_from_weights

                self._weights_note = start_from_weights(model, training.initial_weights, folder)   # fine-tuning
                optimizer = make_optimizer(training, steps_per_epoch)
            if training.precision == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                # float16 underflows small gradients: scale the loss up, the gradients back down
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self._pace(model, getattr(self, "_train_inputs", dataset.x_train), strategy, steps_per_epoch)
            model.compile(
                optimizer=optimizer,
                **(self.several and compile_kwargs(self.several.plan)
                   or {"loss": make_loss(training), "metrics": [make_accuracy(training)]}),
                steps_per_execution=self.steps_per_execution,
                **compile_options(training.execution),
            )
            from tapedeck.engine.training.unfreeze import optimizer_variables

            # built for the variables a Backbone's unfreeze adds too: Keras refuses unknown ones later
            optimizer.build(optimizer_variables(model, self.experiment))
            if training.loop == "train_step":
                from tapedeck.engine.training.train_step import bind_train_step

                self._probe = bind_train_step(model, self._scales(model))
        return model, optimizer

    def _tape(self, model, optimizer, strategy, data, callbacks, epochs, initial_epoch):
        import keras

        from tapedeck.engine.training.optimizers import make_accuracy, make_loss
        from tapedeck.engine.training.tape_loop import TapeLoop

        training = self.experiment.training
        from tapedeck.engine.training.evaluation import probability_converter

        make_loop = TapeLoop
        if self.several:   # the weighted sum of the heads' losses, a metric per head
            from tapedeck.engine.training.tape_heads import HeadsTapeLoop

            make_loop = functools.partial(HeadsTapeLoop, self.several.plan)
        loop = make_loop(model, optimizer, make_loss(training, reduction=None),
                        lambda name: make_accuracy(training, name), strategy,
                        int(training.batch_size), execution=training.execution, inspector=self.inspector,
                        probabilities=probability_converter(training), scales=self._scales(model),
                        summaries=self._gradient_writer(strategy),
                        steps_per_execution=self.steps_per_execution)
        self._tape_loop = loop
        if self._unfreeze is not None:   # a Backbone unfreezing between epochs: the loop traces again
            self._unfreeze.listeners.append(lambda: loop.variables_changed(self._scales(model)))
        callback_list = keras.callbacks.CallbackList(
            callbacks, model=model, epochs=epochs, steps=math.ceil(rows(data.x_train) / training.batch_size),
            verbose=0,
        )
        return loop.fit(data, epochs, initial_epoch, callback_list)

    def _finish_reason(self, state, keras_callbacks, folder) -> Finished:
        run_dir = str(folder.path)
        if state.interrupted == "diverged":
            return Finished(
                "diverged",
                f"loss became {state.last_loss} at epoch {state.diverged_epoch}, step {state.diverged_step}"
                f"{self._divergence_cause()}; the last good epoch's weights are kept (lower the learning rate)",
                run_dir,
                step=state.diverged_step,
                epoch=state.diverged_epoch,
            )
        if state.interrupted == "stopped" and getattr(self.control, "prune_message", None):
            return Finished("pruned", self.control.prune_message, run_dir,
                            epoch=(state.completed_epochs[-1].epoch if state.completed_epochs else None))
        if state.interrupted == "stopped":
            return Finished("stopped", "stopped on request", run_dir,
                            epoch=(state.completed_epochs[-1].epoch if state.completed_epochs else None))
        import keras

        for callback in keras_callbacks:
            if isinstance(callback, keras.callbacks.EarlyStopping) and callback.stopped_epoch > 0:
                return Finished("early_stopped",
                                f"no improvement in {callback.monitor} for {callback.patience} epoch(s)",
                                run_dir, epoch=callback.stopped_epoch + 1)
        last = state.completed_epochs[-1].epoch if state.completed_epochs else None
        return Finished("completed", f"{last or 0} epoch(s) trained", run_dir, epoch=last)


def _load_checkpoint(folder):
    """The checkpoint's model, or a UserProblemError naming the file: a resume refused, not a failed run."""
    import keras

    try:
        return keras.models.load_model(folder.checkpoint_path)
    except Exception as error:  # noqa: BLE001 — a damaged or foreign file: the person's to see
        from tapedeck.engine.files import keras_file_damage

        why = keras_file_damage(folder.checkpoint_path, error)
        raise UserProblemError([f"{folder.checkpoint_path}: could not be loaded ({why}); "
                                "the checkpoint is damaged, so this run cannot be resumed: start a new run"]) from None


def _tensorboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _history_row(event) -> dict:
    return {
        "epoch": event.epoch,
        "loss": event.loss,
        "accuracy": event.accuracy,
        "val_loss": event.val_loss,
        "val_accuracy": event.val_accuracy,
        "learning_rate": event.learning_rate,
        "seconds": round(event.seconds, 4),
        **getattr(event, "heads", {}),
    }


def _summary(model) -> str:
    lines: list[str] = []
    try:
        model.summary(print_fn=lambda line, line_break=True: lines.append(line))
    except Exception as error:  # noqa: BLE001 — a summary is a courtesy, never a reason to fail
        return f"(no summary: {_describe(error)})"
    return "\n".join(lines)


def _count(weights) -> int:
    import numpy as np

    return int(sum(int(np.prod(w.shape)) for w in weights))


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text}" if text else name
