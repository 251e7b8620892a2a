"""The environments reinforcement learning plays, through gymnasium: what an id offers, refused in one
line when Tapedeck cannot train on it, and made as a seeded vector of copies.

Tapedeck's RL objectives take vector observations and a discrete set of actions (the policy's output is
one logit per action). Everything here is plain gymnasium and numpy: the run, the check, ``tapedeck
evaluate`` and the benchmark's hand-written loop all make their environments the same way.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from tapedeck.engine.errors import TapedeckError

__all__ = ["EnvSpaces", "EnvError", "env_spaces", "env_problems", "make_envs", "env_states",
           "greedy_returns", "step_envs", "SUPPORTED"]

SUPPORTED = ("vector observations (a Box of one dimension) and discrete actions, e.g. CartPole-v1, "
             "Acrobot-v1, MountainCar-v0")


class EnvError(TapedeckError):
    """An environment Tapedeck cannot train on (or one that failed), in one line naming it and the way out."""


@dataclass(frozen=True)
class EnvSpaces:
    """What the policy must take and give, and what counts as solved."""

    env_id: str
    observation: tuple        # the observation's shape, e.g. (4,)
    actions: int              # how many discrete actions
    threshold: float | None   # gymnasium's reward_threshold (475 for CartPole-v1), None where it has none
    max_steps: int | None     # the time limit of an episode


@functools.lru_cache(maxsize=64)
def env_spaces(env_id: str) -> EnvSpaces:
    """The spaces of ``env_id``, made once without rendering (and remembered: the window's checker asks on
    every edit); EnvError where it cannot be trained."""
    import gymnasium as gym

    where = f"objective.env: {env_id!r}"
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as error:
        raise EnvError(f"{where} is not an installed gymnasium environment ({_first_line(error)}); "
                         f"name one such as CartPole-v1 or Acrobot-v1") from None
    try:
        env = gym.make(env_id)
    except Exception as error:  # noqa: BLE001 — a third-party constructor may raise anything
        raise EnvError(f"{where} could not be made ({_first_line(error)}); install what it needs, or "
                         f"choose another environment") from None
    try:
        observation, actions = env.observation_space, env.action_space
    finally:
        env.close()
    if not isinstance(actions, gym.spaces.Discrete):
        raise EnvError(f"{where} has {type(actions).__name__} actions {actions}; Tapedeck's policies choose one "
                         f"of a few discrete actions, so choose an environment with {SUPPORTED}")
    if not isinstance(observation, gym.spaces.Box) or len(observation.shape) != 1:
        raise EnvError(f"{where} observes {observation}; Tapedeck's RL takes {SUPPORTED}, so choose such "
                         "an environment")
    if spec.max_episode_steps is None:
        raise EnvError(f"{where} has no time limit, so an episode may never end and an update (or a greedy "
                       "evaluation) would wait for ever; register it with max_episode_steps, or choose another")
    return EnvSpaces(env_id, tuple(int(d) for d in observation.shape), int(actions.n), spec.reward_threshold,
                     spec.max_episode_steps)


def env_problems(objective) -> list[str]:
    """The check's lines about the objective's environment; empty when it can be trained on."""
    try:
        env_spaces(objective.env)
    except EnvError as problem:
        return [str(problem)]
    return []


def make_envs(env_id: str, count: int, seed: int):
    """``count`` copies of ``env_id`` stepped together, seeded ``seed, seed + 1, ...``.

    Same-step autoreset: a finished episode's last observation is in ``info["final_obs"]`` and the
    observation returned is the next episode's first, so every step of the batch is one real step."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    envs = gym.make_vec(env_id, num_envs=int(count), vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    observations, _info = envs.reset(seed=[int(seed) + i for i in range(int(count))])
    envs.action_space.seed(int(seed))
    return envs, observations


def env_states(envs, index: int = 0) -> np.ndarray:
    """The physical state of copy ``index`` (``env.unwrapped.state``: what the window draws), or its
    observation's stand-in where the environment keeps none."""
    state = getattr(envs.envs[index].unwrapped, "state", None)
    return np.asarray(state if state is not None else [], dtype=np.float32).reshape(-1)


def greedy_returns(act, env_id: str, episodes: int, seed: int) -> np.ndarray:
    """The return of ``episodes`` episodes played side by side with the most probable action.

    ``act(observations) -> logits`` (a batch of float32 observations in, one row of logits each out).
    Each copy plays exactly one episode; copies already done keep stepping, their rewards ignored."""
    envs, observations = make_envs(env_id, episodes, seed)
    totals = np.zeros(episodes, dtype=np.float64)
    running = np.ones(episodes, dtype=bool)
    try:
        while running.any():
            logits = np.asarray(act(observations.astype(np.float32)))
            observations, rewards, terminated, truncated, _info = step_envs(envs, np.argmax(logits, axis=-1))
            totals += np.where(running, rewards, 0.0)
            running &= ~(terminated | truncated)
    finally:
        envs.close()
    return totals


def step_envs(envs, actions):
    """``envs.step`` with an environment's own failure turned into one line naming it."""
    try:
        return envs.step(actions)
    except Exception as error:  # noqa: BLE001 — the environment's code, not Tapedeck's
        name = envs.spec.id if envs.spec is not None else "the environment"
        raise EnvError(f"objective.env: {name!r} raised {type(error).__name__} in step ({_first_line(error)}); "
                         "fix or reinstall the environment, or choose another") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
