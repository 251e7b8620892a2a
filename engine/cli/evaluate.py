"""``tapedeck evaluate RUN --episodes N``: a finished reinforcement-learning run's greedy policy, played
headless; prints the mean and spread of the return.

It reads only what the run folder keeps — ``experiment.json`` (which environment) and ``policy.keras``
loaded in plain Keras — so it judges exactly the file a person would take away. Exit 2 for a folder
that is not such a run.
"""
from __future__ import annotations

from pathlib import Path

from tapedeck.engine.cli.errors import USER_ERROR, fail, load_or_explain

__all__ = ["add_evaluate_arguments", "evaluate_command"]


def add_evaluate_arguments(parser) -> None:
    parser.add_argument("run", help="run folder of a reinforcement-learning run (it holds policy.keras)")
    parser.add_argument("--episodes", type=_positive_int, default=20, metavar="N",
                        help="greedy episodes to play (default: 20)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="seed of the first episode (default: the run's evaluation seed)")


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, received {text!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000, received {value}")
    return value


def evaluate_command(args) -> int:
    folder = Path(args.run)
    if not folder.is_dir():
        return fail(f"{args.run}: no such run folder; give a folder `tapedeck train` wrote")
    if not (folder / "experiment.json").is_file():
        return fail(f"{args.run}: has no experiment.json, so it is not a run folder; give a folder "
                    "`tapedeck train` wrote")
    experiment = load_or_explain(folder / "experiment.json")
    if experiment is None:
        return USER_ERROR
    from tapedeck.engine.spec.objectives import objective_kind

    kind = objective_kind(experiment.objective)
    if kind.data != "environment":
        return fail(f"{args.run}: a run of objective {kind.name!r} plays no environment; evaluate takes a "
                    "reinforcement-learning run (reinforce, actor_critic, ppo)")
    policy_path = folder / "policy.keras"
    if not policy_path.is_file():
        return fail(f"{policy_path}: missing; the run saved no policy (it ended before its first update), so "
                    "train it again")
    from tapedeck.engine.objectives.environments import EnvError, greedy_returns
    from tapedeck.engine.objectives.rl_run import EVAL_SEED

    policy = _load(policy_path)
    if policy is None:
        return USER_ERROR
    env_id = experiment.objective.env
    seed = EVAL_SEED if args.seed is None else args.seed
    try:
        returns = greedy_returns(lambda observations: policy(observations, training=False), env_id,
                                 args.episodes, seed)
    except EnvError as error:
        return fail(str(error))
    print(f"{env_id}: greedy policy over {len(returns)} episode(s) (seeds {seed}..{seed + len(returns) - 1}): "
          f"mean return {returns.mean():.1f} ± {returns.std():.1f} (min {returns.min():g}, max {returns.max():g})")
    return 0


def _load(path):
    import keras

    import tapedeck.engine.model.build  # noqa: F401 — registers TapedeckModel, the class a subclassing API's model saves as

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 — a damaged file: say which, no traceback
        lines = str(error).strip().splitlines()
        fail(f"{path}: could not be loaded ({type(error).__name__}{': ' + lines[0] if lines else ''}); "
             "train the run again")
        return None
