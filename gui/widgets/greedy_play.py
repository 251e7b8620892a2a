"""One greedy episode of a finished reinforcement-learning run, recorded for the Environment tab to replay.

No Qt here: it runs in a Job's thread (TensorFlow and the environment are slow next to a frame). It loads the
run folder's ``policy.keras`` (and ``value.keras`` where the objective has one) as ``tapedeck evaluate`` does,
plays one episode with the most probable action from the evaluation seed, and returns it as the EnvFrames a
training run sends, so the same drawing and bars show it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tapedeck.engine.training.events import EnvFrames

__all__ = ["greedy_episode", "GREEDY"]

GREEDY = -1   # EnvFrames.update of a greedy replay (a run's updates count from 1)


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
