"""Reinforcement learning on CartPole-v1: Tapedeck's loop against a plain hand-written one, and the time
to solve.

1. Speed: environment steps per second of the ``cartpole_ppo`` preset run by Tapedeck (events, history,
   frames and all, timed between the arrival of its first and last update) against the same PPO written
   by hand the way a person would (gymnasium ``make_vec``, a Sequential policy and value model, two
   ``tf.function``s, a GradientTape) — same environments, steps, epochs, minibatches and networks —
   interleaved round by round so both see the same machine load; per wall second and per CPU second of
   the process (the fairer figure on a shared machine). Target (issue 22): ratio ≥ 1.0.
2. Time to solve: each preset run to its target (greedy mean return ≥ 475 over 20 episodes), seconds
   from the run's start (model build included, TensorFlow's import not) and environment steps.

    python tests/benchmarks/bench_rl.py [--rounds 3] [--updates 30] [--seeds 0 1 2] [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def hand_written_ppo(updates: int, seed: int, envs=8, steps=128, epochs=4, minibatches=4, rate=1e-3, gamma=0.99,
                     lam=0.95, clip=0.2) -> tuple[float, float]:
    """PPO on CartPole-v1 as a person writes it; environment steps per wall second and per CPU second of
    this process (all its threads), from update 1's end to the last's."""
    import gymnasium as gym
    import keras
    import numpy as np
    import tensorflow as tf
    from gymnasium.vector import AutoresetMode

    keras.utils.set_random_seed(seed)
    env = gym.make_vec("CartPole-v1", num_envs=envs, vectorization_mode="sync",
                       vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    obs, _ = env.reset(seed=seed)

    def network(outputs):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation="tanh"),
                                 keras.layers.Dense(64, activation="tanh"), keras.layers.Dense(outputs)])

    policy, value = network(2), network(1)
    policy_opt = keras.optimizers.Adam(rate, global_clipnorm=0.5)
    value_opt = keras.optimizers.Adam(rate, global_clipnorm=0.5)

    @tf.function
    def act(o):
        logits = policy(o)
        action = tf.random.categorical(logits, 1)[:, 0]
        logp = tf.gather(tf.nn.log_softmax(logits), action, batch_dims=1)
        return action, logp, tf.squeeze(value(o), -1)

    @tf.function
    def train(o, a, old_logp, adv, ret):
        adv = (adv - tf.reduce_mean(adv)) / (tf.math.reduce_std(adv) + 1e-8)
        with tf.GradientTape(persistent=True) as tape:
            logp_all = tf.nn.log_softmax(policy(o))
            logp = tf.gather(logp_all, a, batch_dims=1)
            ratio = tf.exp(logp - old_logp)
            policy_loss = -tf.reduce_mean(tf.minimum(ratio * adv, tf.clip_by_value(ratio, 1 - clip, 1 + clip) * adv))
            value_loss = tf.reduce_mean(0.5 * tf.square(ret - tf.squeeze(value(o), -1)))
        policy_opt.apply_gradients(zip(tape.gradient(policy_loss, policy.trainable_variables),
                                       policy.trainable_variables))
        value_opt.apply_gradients(zip(tape.gradient(value_loss, value.trainable_variables), value.trainable_variables))

    rng = np.random.default_rng(seed)
    marks = []
    for _update in range(updates):
        buf = {k: [] for k in ("o", "a", "logp", "v", "r", "d")}
        for _ in range(steps):
            a, logp, v = (x.numpy() for x in act(tf.constant(obs, tf.float32)))
            next_obs, r, term, trunc, info = env.step(a)
            r = r.astype("float32")
            cut = trunc & ~term
            if cut.any():   # a time limit is not a failure: bootstrap from the last observation's value
                r[cut] += gamma * act(tf.constant(np.stack(info["final_obs"][cut]), tf.float32))[2].numpy()
            for k, x in zip(buf, (obs, a, logp, v, r, (term | trunc).astype("float32"))):
                buf[k].append(x)
            obs = next_obs
        last = act(tf.constant(obs, tf.float32))[2].numpy()
        v, r, d = (np.array(buf[k]) for k in ("v", "r", "d"))
        adv, gae = np.zeros_like(r), 0.0
        for t in reversed(range(steps)):
            following = last if t == steps - 1 else v[t + 1]
            delta = r[t] + gamma * following * (1 - d[t]) - v[t]
            gae = delta + gamma * lam * (1 - d[t]) * gae
            adv[t] = gae
        ret = adv + v
        o = np.array(buf["o"], "float32").reshape(-1, 4)
        a = np.array(buf["a"]).reshape(-1).astype("int32")
        old_logp = np.array(buf["logp"]).reshape(-1)
        adv, ret = adv.reshape(-1), ret.reshape(-1)
        size = len(a) // minibatches
        for _ in range(epochs):
            order = rng.permutation(len(a))
            for start in range(0, len(a), size):
                i = order[start:start + size]
                train(o[i], a[i], old_logp[i], adv[i], ret[i])
        marks.append((time.perf_counter(), time.process_time()))
    env.close()
    steps_done = (updates - 1) * envs * steps
    return steps_done / (marks[-1][0] - marks[0][0]), steps_done / (marks[-1][1] - marks[0][1])


def tapedeck_ppo(updates: int, seed: int, runs: str) -> tuple[float, float]:
    """The cartpole_ppo preset through Tapedeck's run; steps per second from update 1's event to the last's."""
    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset
    from tapedeck.engine.training.events import EpochEnd

    experiment = load_preset("cartpole_ppo")
    experiment.training.epochs, experiment.training.seed = updates, seed
    experiment.objective.settings["stop_at_target"] = False
    marks = []

    def reporter(event):
        if isinstance(event, EpochEnd):
            marks.append((time.perf_counter(), time.process_time(), event.heads["env_steps"]))

    run(experiment, reporter, runs_dir=runs)
    steps_done = marks[-1][2] - marks[0][2]
    return steps_done / (marks[-1][0] - marks[0][0]), steps_done / (marks[-1][1] - marks[0][1])


def time_to_solve(preset: str, seed: int, runs: str) -> dict:
    import json

    from tapedeck.engine.objectives.run import run
    from tapedeck.engine.spec.experiment import load_preset

    experiment = load_preset(preset)
    experiment.training.seed = seed
    started = time.perf_counter()
    run_dir = run(experiment, lambda event: None, runs_dir=runs)
    wall = time.perf_counter() - started
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    return {"wall": wall, "solved": metrics.get("solved"), "greedy": metrics.get("greedy"),
            "updates": metrics.get("updates_completed")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=30, help="PPO updates per speed measurement")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of cartpole_ppo's solve")
    parser.add_argument("--quick", action="store_true", help="speed rounds and one PPO solve only")
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.list_physical_devices()
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} cores visible")
    with tempfile.TemporaryDirectory() as runs:
        ours, theirs = [], []
        for round_ in range(args.rounds):
            ours.append(tapedeck_ppo(args.updates, round_, runs))
            theirs.append(hand_written_ppo(args.updates, round_))
            print(f"round {round_ + 1}: Tapedeck {ours[-1][0]:,.0f} steps/s ({ours[-1][1]:,.0f} per CPU s), "
                  f"hand-written {theirs[-1][0]:,.0f} steps/s ({theirs[-1][1]:,.0f} per CPU s)")
        for what, index in (("wall", 0), ("CPU", 1)):
            mine, plain = (statistics.median(r[index] for r in rows) for rows in (ours, theirs))
            print(f"PPO CartPole-v1 environment steps per {what} second (median of {args.rounds}): Tapedeck "
                  f"{mine:,.0f}, hand-written {plain:,.0f}, ratio {mine / plain:.2f}x")
        jobs = [("cartpole_ppo", seed) for seed in (args.seeds[:1] if args.quick else args.seeds)]
        if not args.quick:
            jobs += [("cartpole_reinforce", 0), ("cartpole_actor_critic", 0)]
        for preset, seed in jobs:
            result = time_to_solve(preset, seed, runs)
            solved, greedy = result["solved"], result["greedy"]
            if solved:
                print(f"{preset} seed {seed}: solved in {solved['seconds']:.1f} s ({solved['env_steps']:,} steps, "
                      f"{solved['update']} updates); greedy mean {greedy['mean']:.1f} ± {greedy['spread']:.1f} over "
                      f"{greedy['episodes']} episodes; run wall {result['wall']:.1f} s")
            else:
                print(f"{preset} seed {seed}: NOT solved in {result['updates']} updates ({result['wall']:.1f} s); "
                      f"greedy mean {greedy['mean']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
