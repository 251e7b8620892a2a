"""A reinforcement-learning run, start to finish: ``run_rl(experiment, reporter, control, runs_dir)``.

REINFORCE, advantage actor-critic and PPO share it; what differs is how they play (whole episodes or
stretches of steps, engine.objectives.rl_play) and their loss (engine.objectives.rl_step). Each update
is one EpochEnd (``training.epochs`` counts updates) with the episode return, its running mean, the
episode length, policy and value loss, entropy (PPO: approximate KL and clip fraction) as named
metrics; every ``frame_every``-th update also sends the first environment's play as EnvFrames. When
the greedy policy reaches the target (CartPole-v1: mean return ≥ 475 over 20 episodes) the run ends
solved. The run folder keeps ``policy.keras`` (observations → action logits; and ``value.keras``),
``history.csv`` and ``metrics.json`` (seeds, when it was solved, the final greedy returns), and a
checkpoint of both models and their optimizers every 20 seconds and at the end
(engine.objectives.checkpoints), with what the run needs to go on: ``resume_dir`` continues it after
its last saved update, its random generator, running mean and counts where they were (the episodes
under way then start afresh). Like every run it never raises: everything ends in one Finished event.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import time

import numpy as np

from tapedeck.engine.files import atomic_path
from tapedeck.engine.objectives import checkpoints
from tapedeck.engine.objectives.environments import EnvError, env_spaces, greedy_returns
from tapedeck.engine.objectives.refusals import rl_refusals
from tapedeck.engine.objectives.session import ObjectiveSession
from tapedeck.engine.spec.objectives import CLASSIFY, ObjectiveSpec, objective_kind
from tapedeck.engine.training.events import EnvFrames, EpochEnd, Finished, RunStarted, UpdateInspected
from tapedeck.engine.training.run import UserProblemError, _count, _summary

__all__ = ["run_rl", "RUNNING_MEAN", "EVAL_SEED"]

RUNNING_MEAN = 100        # episodes in the running mean of the return (gymnasium's convention)
EVAL_SEED = 1_000_000     # greedy evaluations play episodes seeded apart from the training ones
HISTORY_INTERVAL = 1.0   # seconds between rewrites of history.csv
JUDGE_STEP = 0.05         # a greedy check again once the latest return gains this share of the target
JUDGE_EVERY = 10          # ... or this many updates after the last check (a check costs a few updates)
# A checkpoint (both models and optimizers: ~80 ms of CPU) once this many seconds have passed, and at the end
# or a stop: at a GAN's 5 s it cost ~4% of a CartPole run's CPU, at 20 s under 1%.
CHECKPOINT_EVERY_S = 20.0


def run_rl(experiment, reporter, control, runs_dir="runs", resume_dir=None):
    return _RlSession(experiment, reporter, control, runs_dir, resume_dir).execute()


class _RlSession(ObjectiveSession):
    def __init__(self, experiment, reporter, control, runs_dir, resume_dir):
        self.experiment, self.emit, self.control = experiment, reporter, control
        self.runs_dir, self.resume_dir = runs_dir, resume_dir
        self.objective = experiment.objective
        self.kind = objective_kind(experiment.objective)
        self.folder = None
        self.metrics: dict = {"objective": experiment.objective.to_dict()}
        self.started = time.perf_counter()
        self.eval_seconds = 0.0
        self.judged = None   # (update, latest mean return) of the last greedy check
        self.history: list[dict] = []
        self.summaries = None
        self.history_written = 0.0
        self.initial = 0          # a resumed run starts after its checkpoint's update
        self.resumed: dict = {}   # the checkpoint's state beside the weights (checkpoint.json)
        self.episodes = 0         # episodes finished in training, all sessions of the run together
        self.earlier_seconds = 0.0   # training time of the sessions before a resume
        self.clock = checkpoints.CheckpointClock(every=CHECKPOINT_EVERY_S)

    # -- before the first update ---------------------------------------------------------------------
    def _train(self) -> Finished:
        problems = rl_refusals(self.experiment, resuming=self.resume_dir is not None)
        try:
            self.spaces = env_spaces(self.objective.env)
        except EnvError as error:
            problems.insert(0, str(error))
        if problems:
            raise UserProblemError(problems)
        self._check()
        folder = self._open_folder()
        seed = self._seed()
        models = self._build()
        from tapedeck.engine.objectives.rl_play import Player
        from tapedeck.engine.objectives.rl_step import RlSteps, optimizer_for

        optimizers = {role: optimizer_for(self.experiment.models[role].optimizer, self.experiment.training)
                      for role in models}
        self.steps = RlSteps(self.kind.name, self.objective, models["policy"], models.get("value"),
                             optimizers["policy"], optimizers.get("value"), self.experiment.training.execution)
        count = int(self.objective.episodes_per_update) if self.kind.name == "reinforce" else int(self.objective.envs)
        self.models, self.optimizers = models, optimizers
        if self.initial:
            checkpoints.restore_checkpoint(self._saved(), folder, self.initial)
        self.player = Player(self.objective.env, count, seed, self.steps.act)
        self._held.callback(self.player.close)
        if self.initial:
            self._go_on()
        self.summaries = self._summaries(folder)
        self._started_event(models, count)
        return self._updates(folder)

    def _check(self) -> None:
        from tapedeck.engine.model.check_models import check_models

        shapes = {"observation": self.spaces.observation, "actions": (self.spaces.actions,)}
        report = check_models(self.experiment, self.spaces.observation, self.spaces.actions, shapes)
        if not report.ok:
            raise UserProblemError(report.all_problems())

    def _seed(self) -> int:
        """The run's seed (training.seed, or one drawn and recorded), for Keras and the environments."""
        import keras

        seed = self.resumed.get("seed", self.experiment.training.seed)
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1 - 10_000))
        keras.utils.set_random_seed(int(seed) + self.initial)   # a resume draws on, not what update 1 drew
        self.metrics["seeds"] = {"run": int(seed), "environments": f"{seed}, {seed} + 1, ... (one per copy)",
                                 "evaluation": f"{EVAL_SEED}, {EVAL_SEED} + 1, ... (one per greedy episode)"}
        return int(seed)

    def _open_folder(self):
        from tapedeck.engine.runs.folder import RunFolder, RunFolderError

        if self.resume_dir is not None:
            folder, self.initial, self.resumed = checkpoints.open_for_resume(self.resume_dir, self.experiment,
                                                                             self._held, unit="update")
            self.folder, self.history = folder, folder.read_history()
            self.clock.saved(self.initial)
            return folder
        try:
            folder = RunFolder.create(self.runs_dir, self.experiment.name)
            self._held.enter_context(folder.locked())
            folder.write_history([])
        except RunFolderError as error:
            raise UserProblemError([str(error)]) from None
        self.folder = folder
        folder.write_experiment(self.experiment)
        return folder

    def _build(self) -> dict:
        from tapedeck.engine.model.build import BuildError, build_model

        built = {}
        for role, spec in self.experiment.stacks().items():
            single = dataclasses.replace(self.experiment, name=role, model=spec, models={},
                                         objective=ObjectiveSpec(CLASSIFY))
            try:
                built[role] = build_model(single, self.spaces.observation)
            except BuildError as error:
                raise UserProblemError([f"models.{role}: {error}"]) from None
        return built

    # -- checkpoints -----------------------------------------------------------------------------------
    def _saved(self) -> dict:
        """What a checkpoint holds of TensorFlow's: every model and its optimizer, by role."""
        return {**self.models, **{f"{role}_optimizer": optimizer for role, optimizer in self.optimizers.items()}}

    def _save_checkpoint(self, update: int, recent) -> None:
        """The models and optimizers after ``update``, and beside them (checkpoint.json) what the curves and
        the play need to go on where they were."""
        state = {"seed": self.metrics["seeds"]["run"], "rng": self.player.rng.bit_generator.state,
                 "env_steps": self.player.env_steps, "episodes": self.episodes, "recent": list(recent),
                 "judged": list(self.judged) if self.judged else None, "seconds": self._seconds(),
                 "greedy_checks": self.metrics.get("greedy_checks", [])}
        self._write_history()   # never behind the checkpoint: a resume cuts it back to the checkpoint's update
        checkpoints.save_checkpoint(self.folder, self._saved(), update, self.experiment, state)
        self.clock.saved(update)

    def _go_on(self) -> None:
        """A resumed run's play and figures as its checkpoint left them; the environments start fresh
        episodes, seeded from the restored generator (a gymnasium environment's inner state is not saved)."""
        state, player = self.resumed, self.player
        try:
            player.rng.bit_generator.state = state["rng"]
            player.env_steps = int(state["env_steps"])
            self.episodes = int(state["episodes"])
            self.recent_start = [float(value) for value in state["recent"]][-RUNNING_MEAN:]
            self.judged = tuple(state["judged"]) if state.get("judged") else None
            self.earlier_seconds = float(state["seconds"])
            self.metrics["greedy_checks"] = list(state.get("greedy_checks") or [])
        except (KeyError, TypeError, ValueError) as error:
            what = f"{error.args[0]!r} is missing" if isinstance(error, KeyError) else f"a value is wrong: {error}"
            raise UserProblemError([f"{self.folder.checkpoint_state_path}: its state is damaged ({what}); start a "
                                    "new run"]) from None
        seed = int(player.rng.integers(0, 2**31 - 1 - player.count))
        player.reset(seed)
        self.metrics["seeds"]["resumed"] = {"update": self.initial, "environments": f"{seed}, {seed} + 1, ..."}

    def _seconds(self) -> float:
        """Training time of the run so far, the sessions before a resume included."""
        return round(self.earlier_seconds + time.perf_counter() - self.started, 2)

    def _summaries(self, folder):
        """training.tensorboard: a file writer for the run folder's tensorboard/ (one scalar per figure)."""
        if not self.experiment.training.tensorboard:
            return None
        import tensorflow as tf

        writer = tf.summary.create_file_writer(str(folder.tensorboard_dir))
        self._held.callback(writer.close)
        return writer

    def _started_event(self, models, count) -> None:
        training = self.experiment.training
        roles = self.kind.models
        described = tuple((role, _count(models[role].trainable_weights), _summary(models[role])) for role in roles)
        per_update = count * int(self.objective.settings.get("steps", 0)) or count
        self.emit(RunStarted(
            run_dir=str(self.folder.path), name=self.experiment.name,
            summary="\n\n".join(f"{role}\n{summary}" for role, _n, summary in described),
            trainable=sum(n for _r, n, _s in described),
            non_trainable=sum(_count(models[role].non_trainable_weights) for role in roles),
            epochs=int(training.epochs), steps_per_epoch=1, batch_size=per_update, initial_epoch=self.initial,
            num_classes=self.spaces.actions, class_names=[f"action {i}" for i in range(self.spaces.actions)],
            sample_images=np.zeros((0, *self.spaces.observation), np.float32), sample_labels=np.zeros(0, int),
            loop=training.loop, api=", ".join(sorted({self.experiment.models[role].api for role in roles})),
            precision=training.precision, objective=self.kind.name, models=described))

    # -- the updates ---------------------------------------------------------------------------------
    def _updates(self, folder) -> Finished:
        training, objective = self.experiment.training, self.objective
        target = self._target()
        recent = collections.deque(getattr(self, "recent_start", ()), maxlen=RUNNING_MEAN)
        done, solved, reason = self.initial, None, None
        for update in range(self.initial + 1, int(training.epochs) + 1):
            if self.control.paused and not self.control.stop_requested:
                self.control.wait_while_paused()
            if self.control.stop_requested:
                reason = "stopped"
                break
            inspect = self.control.begin_step()   # the last update of a Step request is taken apart
            figures, seconds = self._update(update, recent, inspect)
            done = update
            self._report(update, figures, seconds)
            self.control.step_done()
            if not all(math.isfinite(figures.get(name, 0.0)) for name in ("policy_loss", "value_loss")):
                reason = "diverged"
                break
            if target is not None and objective.stop_at_target and self._worth_judging(recent, target, update):
                solved = self._judge(update, target)
                if solved:
                    break
            if self.clock.due(update, int(training.epochs)):
                self._save_checkpoint(update, recent)
        if reason != "diverged" and done > self.clock.last:   # a stop (or solving) keeps its last update
            self._save_checkpoint(done, recent)
        self._write_history()
        self.metrics.update(updates_completed=done, env_steps=self.player.env_steps, traces=dict(self.steps.traces),
                            greedy_seconds=round(self.eval_seconds, 2))
        return self._finish(folder, done, reason, solved, target)

    def _target(self):
        target = self.objective.target
        if target is None:
            target = self.spaces.threshold
        self.metrics["target"] = target
        return None if target is None else float(target)

    def _update(self, update: int, recent, inspect: bool = False) -> tuple[dict, float]:
        """Play, then learn: one update; the figures of the episodes that ended meanwhile."""
        from tapedeck.engine.objectives.rl_play import Frames

        objective = self.objective
        # a Step's update is always sent: the person asked to see that one (frame_every 10 drew none of update 1)
        sampled = objective.frame_every and update % int(objective.frame_every) == 0
        frames = Frames() if inspect or sampled else None
        start = time.perf_counter()
        layers = ()
        if self.kind.name == "reinforce":
            played = self.player.play_episodes(float(objective.gamma), objective.baseline == "normalize", frames)
            batch = (played.observations, played.actions, played.advantages, played.returns, played.log_probs,
                     played.weights)
            if inspect:   # measured before the update changes the weights
                layers = self.steps.layer_gradients(*batch)
            figures = self.steps.learn(*batch)
        else:
            lam = 1.0 if objective.settings.get("returns") == "nstep" else float(objective.gae_lambda)
            played = self.player.play_steps(int(objective.steps), float(objective.gamma), lam, frames)
            if inspect:
                layers = self.steps.layer_gradients(
                    played.observations, played.actions,
                    _normalized(played.advantages, bool(objective.normalize_advantages)), played.returns,
                    played.log_probs, played.weights)
            figures = self._learn_batches(played)
        seconds = time.perf_counter() - start
        episodes = self.player.take_finished()
        self.episodes += len(episodes)
        recent.extend(value for value, _length in episodes)
        figures = {name: value for name, value in figures.items() if self._shows(name)}
        if self.kind.models != ("policy",):
            figures["value_mean"] = float(np.mean(played.values))
            figures["return_target_mean"] = float(np.mean(played.returns[played.weights > 0]))
            figures["explained_variance"] = _explained(played.values, played.returns)
        figures = {"episode_return": float(np.mean([r for r, _n in episodes])) if episodes else math.nan,
                   "return_mean": float(np.mean(recent)) if recent else math.nan,
                   "episode_length": float(np.mean([n for _r, n in episodes])) if episodes else math.nan,
                   "episodes": float(len(episodes)), "env_steps": float(self.player.env_steps),
                   "steps_per_second": played.steps / max(seconds, 1e-9), **figures}
        if frames is not None:
            self.emit(EnvFrames(update=update, env_id=objective.env, **frames.arrays()))
        if inspect:
            self.emit(_inspected(update, played, figures, layers))
        return figures, seconds

    def _shows(self, name: str) -> bool:
        if name in ("approx_kl", "clip_fraction"):
            return self.kind.name == "ppo"
        return not (name.startswith("value") and "value" not in self.kind.models)

    def _learn_batches(self, played) -> dict:
        """Actor-critic: one update on the whole stretch. PPO: ``epochs`` passes of ``minibatches``."""
        objective = self.objective
        normalize = bool(objective.normalize_advantages)
        if self.kind.name != "ppo":
            return self.steps.learn(played.observations, played.actions, _normalized(played.advantages, normalize),
                                    played.returns, played.log_probs, played.weights)
        size = len(played.actions) // int(objective.minibatches)
        totals: dict = {}
        count = 0
        for _epoch in range(int(objective.epochs)):
            order = self.player.rng.permutation(len(played.actions))
            for start in range(0, size * int(objective.minibatches), size):
                part = order[start:start + size]
                figures = self.steps.learn(played.observations[part], played.actions[part],
                                           _normalized(played.advantages[part], normalize), played.returns[part],
                                           played.log_probs[part], played.weights[part])
                count += 1
                for name, value in figures.items():
                    totals[name] = totals.get(name, 0.0) + value
        return {name: total / count for name, total in totals.items()}

    def _report(self, update: int, figures: dict, seconds: float) -> None:
        loss = figures["policy_loss"] + float(self.objective.settings.get("value_weight", 0.0)) * figures.get(
            "value_loss", 0.0)
        event = EpochEnd(epoch=update, loss=loss, accuracy=math.nan, val_loss=None, val_accuracy=None,
                         learning_rate=float(self.optimizers["policy"].learning_rate), seconds=seconds, heads=figures)
        self.history.append({"epoch": update, "loss": loss, "learning_rate": event.learning_rate,
                             "seconds": round(seconds, 4), **figures})
        if self.summaries is not None:   # TensorBoard: every figure, by update
            import tensorflow as tf

            with self.summaries.as_default(step=update):
                for name, value in {"loss": loss, **figures}.items():
                    if math.isfinite(value):
                        tf.summary.scalar(name, value)
        now = time.perf_counter()
        if now - self.history_written >= HISTORY_INTERVAL:
            self._write_history()
        self.emit(event)

    def _write_history(self) -> None:
        """history.csv rewritten whole (never half a row), at most once a HISTORY_INTERVAL and at the end:
        an update can take milliseconds, and rewriting thousands of rows after each would dominate."""
        self.folder.write_history(self.history)
        self.history_written = time.perf_counter()

    # -- judging and the end ---------------------------------------------------------------------------
    def _worth_judging(self, recent, target: float, update: int) -> bool:
        """Near the target (the latest episodes' mean within a quarter of it), and either better than at
        the last greedy check by JUDGE_STEP of the target or JUDGE_EVERY updates after it. It depends on
        the training alone, never on the clock, so a seeded run is judged — and ends — at the same update
        every time; near the end it costs about one greedy evaluation per few updates."""
        if not recent:
            return False
        latest = float(np.mean(list(recent)[-int(self.objective.eval_episodes):]))
        if latest < target - 0.25 * abs(target):
            return False
        judged = self.judged
        if judged is not None and latest < judged[1] + JUDGE_STEP * abs(target) and update - judged[0] < JUDGE_EVERY:
            return False
        self.judged = (update, latest)
        return True

    def _greedy(self) -> np.ndarray:
        start = time.perf_counter()
        returns = greedy_returns(lambda observations: self.steps.act(observations)[0], self.objective.env,
                                 int(self.objective.eval_episodes), EVAL_SEED)
        self.eval_seconds += time.perf_counter() - start
        return returns

    def _judge(self, update: int, target: float):
        returns = self._greedy()
        self.metrics.setdefault("greedy_checks", []).append({"update": update, "mean": float(returns.mean())})
        if returns.mean() < target:
            return None
        return {"update": update, "env_steps": self.player.env_steps,
                "seconds": self._seconds(), "mean": float(returns.mean()),
                "spread": float(returns.std())}

    def _finish(self, folder, done: int, reason, solved, target) -> Finished:
        run_dir = str(folder.path)
        if reason == "diverged":
            return Finished("diverged", f"a loss became non-finite at update {done}; lower the learning rates",
                            run_dir, epoch=done)
        if done:
            for role, model in self.models.items():
                with atomic_path(folder.path / f"{role}.keras") as temp:
                    model.save(temp)
            if solved:
                self.metrics["greedy"] = {"mean": solved["mean"], "spread": solved["spread"],
                                          "episodes": int(self.objective.eval_episodes)}
            else:
                returns = self._greedy()
                self.metrics["greedy"] = {"mean": float(returns.mean()), "spread": float(returns.std()),
                                          "episodes": len(returns)}
        self.metrics["solved"] = solved
        if reason == "stopped":
            return Finished("stopped", "stopped on request", run_dir, epoch=done or None)
        greedy = self.metrics.get("greedy")
        said = (f"; greedy mean return {greedy['mean']:.1f} ± {greedy['spread']:.1f} over {greedy['episodes']} "
                "episodes") if greedy else ""
        if solved:
            return Finished("completed", f"solved at update {done} ({solved['env_steps']:,} environment steps, "
                            f"{solved['seconds']:.0f} s){said}", run_dir, epoch=done)
        return Finished("completed", f"{done} update(s) trained{_aim(target, greedy, self.objective.stop_at_target)}"
                        f"{said}", run_dir, epoch=done)


def _aim(target, greedy, stop_at_target: bool) -> str:
    """The target's words in the closing line, true however the run ended: the final greedy check may
    reach the target although no check during training did, and a run told not to stop at the target
    did not fail to."""
    if target is None:
        return ""
    if greedy and greedy["mean"] >= target:
        return f" (the greedy policy reaches the target {target:g})"
    if not stop_at_target:
        return f" (stop_at_target off; the greedy mean is below the target {target:g})"
    return f" (target {target:g} not reached)"


def _inspected(update: int, played, figures: dict, layers: tuple = (), limit: int = 4096) -> UpdateInspected:
    """What one update learned from (padding left out, at most ``limit`` steps)."""
    real = np.flatnonzero(played.weights > 0)[:limit]
    return UpdateInspected(update=update, observations=played.observations[real], actions=played.actions[real],
                           probabilities=np.exp(played.log_probs[real]).astype(np.float32),
                           advantages=played.advantages[real], returns=played.returns[real],
                           values=played.values[real], figures=dict(figures), layers=tuple(layers))


def _normalized(values: np.ndarray, normalize: bool) -> np.ndarray:
    if not normalize or len(values) < 2:
        return values
    return (values - values.mean()) / (values.std() + 1e-8)


def _explained(values: np.ndarray, returns: np.ndarray) -> float:
    """1 - Var(returns - values) / Var(returns): how much of the return the value model predicts."""
    spread = float(np.var(returns))
    return math.nan if spread == 0 else 1.0 - float(np.var(returns - values)) / spread
