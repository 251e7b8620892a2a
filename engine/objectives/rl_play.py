"""Playing: the policy acts in a vector of environments and what happened is kept for one update.

Two shapes of experience: whole episodes (REINFORCE: each copy plays one episode from a fresh start,
the batch ends when the last is over) and fixed stretches of ``steps`` per copy (actor-critic, PPO:
episodes run on across updates; a stretch ends with the value of where it stopped). Actions are drawn
from the policy's logits in numpy with the run's seeded generator, so a seeded run replays exactly.
Finished episodes' returns and lengths are counted as they end, and the first copy's play can be
recorded frame by frame for the window.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tapedeck.engine.objectives.environments import env_states, make_envs, step_envs

__all__ = ["Player", "Played", "Frames", "discounted", "advantages"]


@dataclass
class Played:
    """One update's experience, flattened over steps (and copies); ``weights`` 0 marks padding; ``values``
    are the value model's estimates when acting (NaN without one)."""

    observations: np.ndarray
    actions: np.ndarray
    log_probs: np.ndarray
    values: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    weights: np.ndarray
    steps: int              # real environment steps taken for it


class Frames:
    """The first copy's play, step by step (engine.training.events.EnvFrames' fields)."""

    def __init__(self):
        self.rows = {key: [] for key in ("states", "observations", "probabilities", "values", "actions",
                                         "rewards", "episode_ends")}

    def add(self, **row) -> None:
        for key, value in row.items():
            self.rows[key].append(value)

    def arrays(self) -> dict:
        dtypes = {"actions": np.int64, "episode_ends": bool}
        return {key: np.asarray(values, dtype=dtypes.get(key, np.float32)) for key, values in self.rows.items()}


class Player:
    """The environments, the current observations and the episodes under way."""

    def __init__(self, env_id: str, count: int, seed: int, act):
        self.env_id, self.count, self.act = env_id, int(count), act
        self.envs, self.observations = make_envs(env_id, count, seed)
        self.rng = np.random.default_rng(seed)
        self.episode_return = np.zeros(self.count)
        self.episode_length = np.zeros(self.count, dtype=np.int64)
        self.finished: list[tuple[float, int]] = []   # (return, length) of episodes ended since last asked
        self.env_steps = 0

    def close(self) -> None:
        self.envs.close()

    def reset(self, seed: int) -> None:
        """Every copy starts a fresh episode, seeded ``seed, seed + 1, ...`` (a resumed run's play)."""
        self.observations, _info = self.envs.reset(seed=[int(seed) + i for i in range(self.count)])
        self.episode_return[:] = 0.0
        self.episode_length[:] = 0

    def take_finished(self) -> list[tuple[float, int]]:
        finished, self.finished = self.finished, []
        return finished

    # -- one step of every copy ----------------------------------------------------------------------
    def _step(self, frames: Frames | None, counting: np.ndarray | None = None):
        observations = np.asarray(self.observations, dtype=np.float32)
        logits, values = self.act(observations)
        log_probs_all = _log_softmax(logits)
        # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits)
        actions = np.argmax(log_probs_all - np.log(-np.log(self.rng.uniform(1e-12, 1.0, logits.shape))), axis=-1)
        log_probs = log_probs_all[np.arange(self.count), actions]
        if frames is not None:
            state = env_states(self.envs, 0)
        self.observations, rewards, terminated, truncated, info = step_envs(self.envs, actions)
        self.env_steps += self.count if counting is None else int(counting.sum())
        done = terminated | truncated
        self.episode_return += rewards
        self.episode_length += 1
        for index in np.flatnonzero(done if counting is None else done & counting):
            self.finished.append((float(self.episode_return[index]), int(self.episode_length[index])))
        self.episode_return[done] = 0.0
        self.episode_length[done] = 0
        if frames is not None:
            frames.add(states=state, observations=observations[0], probabilities=np.exp(log_probs_all[0]),
                       values=values[0], actions=actions[0], rewards=rewards[0], episode_ends=done[0])
        return observations, actions, log_probs, values, rewards.astype(np.float32), terminated, truncated, info

    # -- whole episodes (REINFORCE) ----------------------------------------------------------------
    def play_episodes(self, gamma: float, normalize: bool, frames: Frames | None = None) -> Played:
        """Each copy plays one episode from a fresh start; the return that followed each action is its
        advantage, scaled to mean 0 and spread 1 over the batch when ``normalize`` (the baseline)."""
        self.observations, _info = self.envs.reset()
        self.episode_return[:] = 0.0
        self.episode_length[:] = 0
        running = np.ones(self.count, dtype=bool)
        rows = []
        while running.any():
            observations, actions, log_probs, _values, rewards, terminated, truncated, _info = self._step(
                frames if running[0] else None, running)
            rows.append((observations, actions, log_probs, rewards, running.copy()))
            running &= ~(terminated | truncated)
        length = len(rows)
        mask = np.stack([row[4] for row in rows])                       # (T, N): the copy was still playing
        rewards = np.stack([row[3] for row in rows]) * mask
        returns = discounted(rewards, np.zeros_like(mask), np.zeros(self.count, np.float32), gamma)
        taken = mask.T.reshape(-1)                                      # episode by episode
        flat = {
            "observations": np.stack([row[0] for row in rows]).transpose(1, 0, 2).reshape(length * self.count, -1),
            "actions": np.stack([row[1] for row in rows]).T.reshape(-1),
            "log_probs": np.stack([row[2] for row in rows]).T.reshape(-1),
            "returns": returns.T.reshape(-1),
        }
        flat = {key: value[taken] for key, value in flat.items()}
        advantages = flat["returns"]
        if normalize and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        steps = int(taken.sum())
        padded = _bucket(steps)
        return Played(_pad(flat["observations"], padded), _pad(flat["actions"], padded),
                      _pad(flat["log_probs"], padded), np.full(padded, np.nan, np.float32), _pad(advantages, padded),
                      _pad(flat["returns"], padded), _pad(np.ones(steps, np.float32), padded), steps)

    # -- stretches of steps (actor-critic, PPO) ------------------------------------------------------
    def play_steps(self, steps: int, gamma: float, lam: float, frames: Frames | None = None) -> Played:
        """``steps`` steps of every copy; GAE(λ) advantages from the value model (λ = 1: returns to the
        end of the stretch bootstrapped from the value there, i.e. n-step). An episode cut by its time
        limit is bootstrapped from the value of its last observation, not counted as a failure."""
        rows = []
        for _ in range(int(steps)):
            observations, actions, log_probs, values, rewards, terminated, truncated, info = self._step(frames)
            cut = truncated & ~terminated
            if cut.any():   # the whole batch, so the acting function keeps its one traced shape
                finals = self.observations.astype(np.float32)
                finals[cut] = np.stack(info["final_obs"][cut])
                _logits, final_values = self.act(finals)
                rewards = rewards.copy()
                rewards[cut] += gamma * final_values[cut]
            rows.append((observations, actions, log_probs, values, rewards, terminated | truncated))
        _logits, last_values = self.act(self.observations.astype(np.float32))
        values = np.stack([row[3] for row in rows])
        rewards = np.stack([row[4] for row in rows])
        done = np.stack([row[5] for row in rows])
        advantage = advantages(rewards, values, done, last_values, gamma, lam)
        total = int(steps) * self.count
        flat = [np.stack([row[i] for row in rows]).reshape(total, *rows[0][i].shape[1:]) for i in range(4)]
        return Played(flat[0], flat[1], flat[2], flat[3], advantage.reshape(-1),
                      (advantage + values).reshape(-1), np.ones(total, np.float32), total)


def discounted(rewards, done, last_values, gamma: float) -> np.ndarray:
    """R_t = r_t + γ (1 - done_t) R_{t+1}, from the end backwards, starting from ``last_values``."""
    returns = np.zeros_like(rewards, dtype=np.float32)
    following = np.asarray(last_values, dtype=np.float32)
    for t in range(len(rewards) - 1, -1, -1):
        following = rewards[t] + gamma * (1.0 - done[t]) * following
        returns[t] = following
    return returns


def advantages(rewards, values, done, last_values, gamma: float, lam: float) -> np.ndarray:
    """GAE(λ): δ_t = r_t + γ V(s_{t+1}) (1 - done_t) - V(s_t), A_t = δ_t + γ λ (1 - done_t) A_{t+1}."""
    result = np.zeros_like(rewards, dtype=np.float32)
    following_value = np.asarray(last_values, dtype=np.float32)
    following = np.zeros_like(following_value)
    for t in range(len(rewards) - 1, -1, -1):
        alive = 1.0 - done[t]
        delta = rewards[t] + gamma * following_value * alive - values[t]
        following = delta + gamma * lam * alive * following
        result[t] = following
        following_value = values[t]
    return result


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _bucket(steps: int) -> int:
    """The padded batch length: the next power of two (at least 64), so a compiled step sees few shapes."""
    return max(64, 1 << (max(steps, 1) - 1).bit_length())


def _pad(values: np.ndarray, length: int) -> np.ndarray:
    padding = [(0, length - len(values))] + [(0, 0)] * (values.ndim - 1)
    return np.pad(values, padding)
