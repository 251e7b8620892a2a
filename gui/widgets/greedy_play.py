"""A finished reinforcement-learning run for the Environment tab: read back from its folder (``read_run``: its
figures per update, as the run showed them), and one greedy episode of its policy recorded to replay.

No Qt here: it runs in a Job's thread (TensorFlow and the environment are slow next to a frame). It loads the
run folder's ``policy.keras`` (and ``value.keras`` where the objective has one) as ``tapedeck evaluate`` does,
plays one episode with the most probable action from the evaluation seed, and returns it as the EnvFrames a
training run sends, so the same drawing and bars show it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tapedeck.engine.training.events import EnvFrames

__all__ = ["greedy_episode", "GREEDY", "ReopenedRun", "read_run"]

GREEDY = -1   # EnvFrames.update of a greedy replay (a run's updates count from 1)
# history.csv's columns that are a classifier's, not an update's figures (RL leaves them empty)
NOT_FIGURES = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")


@dataclass
class ReopenedRun:
    run_dir: str
    experiment: object
    history: list = field(default_factory=list)   # (update, {figure: value}) per history.csv row
    metrics: dict = field(default_factory=dict)   # metrics.json: how it ended, its greedy return
    actions: int = 0                              # the environment's action count (0: no longer known)
    target: float | None = None                   # the return that counted as solved
    has_policy: bool = False                      # policy.keras is there: Greedy replay can play it


def read_run(run_dir) -> ReopenedRun:
    """A reinforcement-learning run's folder, read in a Job's thread (gymnasium is asked for the action count
    and target). ReopenError names a folder that is no such run."""
    from tapedeck.engine.objectives.environments import EnvError, env_spaces
    from tapedeck.engine.objectives.reopen import ReopenError
    from tapedeck.engine.runs.folder import RunFolder
    from tapedeck.engine.spec.experiment import ExperimentError, load_experiment
    from tapedeck.engine.spec.objectives import objective_kind

    folder = Path(run_dir)
    try:
        experiment = load_experiment(folder / "experiment.json")
    except (ExperimentError, OSError) as error:
        raise ReopenError(f"{folder}: its experiment.json does not load ({str(error).splitlines()[0]})") from None
    if objective_kind(experiment.objective).data != "environment":
        raise ReopenError(f"{folder}: a {experiment.objective.kind} run, not a reinforcement-learning one")
    run_folder = RunFolder(folder)
    history = [(int(row["epoch"]), {key: value for key, value in row.items()
                                    if key not in NOT_FIGURES and isinstance(value, (int, float))})
               for row in run_folder.read_history() if isinstance(row.get("epoch"), (int, float))]
    metrics = run_folder.read_metrics()
    try:
        spaces = env_spaces(experiment.objective.env)
    except EnvError:   # uninstalled since: the curves still show
        spaces = None
    target = metrics.get("target", experiment.objective.target)
    if target is None and spaces is not None:
        target = spaces.threshold
    return ReopenedRun(str(folder), experiment, history, metrics, spaces.actions if spaces else 0,
                       None if target is None else float(target), (folder / "policy.keras").is_file())


def greedy_episode(run_dir, seed: int | None = None, max_steps: int = 10_000) -> EnvFrames:
    """Raises ValueError with one line naming what is missing or broken."""
    import keras

    import tapedeck.engine.model.build  # noqa: F401 — registers the class a subclassing API's model saves as
    from tapedeck.engine.objectives.environments import env_states, make_envs, step_envs
    from tapedeck.engine.objectives.rl_run import EVAL_SEED
    from tapedeck.engine.spec.experiment import ExperimentError, load_experiment

    folder = Path(run_dir)
    try:
        experiment = load_experiment(folder / "experiment.json")
    except (ExperimentError, OSError) as error:
        raise ValueError(f"{folder}: its experiment.json does not load ({error})") from None
    models = {}
    for role in ("policy", "value"):
        path = folder / f"{role}.keras"
        if path.is_file():
            try:
                models[role] = keras.models.load_model(path, compile=False)
            except Exception as error:  # noqa: BLE001 — a damaged file: say which
                raise ValueError(f"{path}: could not be loaded ({type(error).__name__}); train the run again") from None
    if "policy" not in models:
        raise ValueError(f"{folder}: has no policy.keras (the run ended before its first update)")
    env_id = experiment.objective.settings["env"]
    envs, observations = make_envs(env_id, 1, EVAL_SEED if seed is None else seed)
    rows = {key: [] for key in ("states", "observations", "probabilities", "values", "actions", "rewards",
                                "episode_ends")}
    try:
        for _step in range(max_steps):
            batch = observations.astype(np.float32)
            logits = np.asarray(_first(models["policy"](batch, training=False)))[0]
            probabilities = np.exp(logits - logits.max())
            probabilities /= probabilities.sum()
            value = (float(np.asarray(_first(models["value"](batch, training=False))).reshape(-1)[0])
                     if "value" in models else math.nan)
            action = int(np.argmax(logits))
            state = env_states(envs, 0)
            observation = batch[0]
            observations, rewards, terminated, truncated, _info = step_envs(envs, np.array([action]))
            done = bool(terminated[0] or truncated[0])
            for key, item in (("states", state), ("observations", observation), ("probabilities", probabilities),
                              ("values", value), ("actions", action), ("rewards", float(rewards[0])),
                              ("episode_ends", done)):
                rows[key].append(item)
            if done:
                break
    finally:
        envs.close()
    dtypes = {"actions": np.int64, "episode_ends": bool}
    return EnvFrames(update=GREEDY, env_id=env_id,
                     **{key: np.asarray(values, dtype=dtypes.get(key, np.float32)) for key, values in rows.items()})


def _first(output):
    """A model with several outputs: its first (the action logits)."""
    return output[0] if isinstance(output, (list, tuple)) else output
