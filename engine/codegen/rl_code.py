"""The reinforcement-learning script a person would write: gymnasium environments played side by side,
the policy (and value) network in the chosen API, and the step written out — play, then one
``tf.GradientTape`` over what happened (REINFORCE, advantage actor-critic or PPO, as the experiment says).

Each network comes from the classifier's writer (``script._model_parts``), renamed ``policy`` / ``value``
and fed the environment's observation shape. The script trains until the greedy policy reaches the
target, saves ``policy.keras`` (and ``value.keras``) and needs TensorFlow/Keras, NumPy and gymnasium.
"""
from __future__ import annotations

import re

from tapedeck.engine.codegen.data import section
from tapedeck.engine.codegen.fused_code import fused, fused_definition, fused_install, fuses
from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["rl_code"]

NAMES = {"reinforce": "REINFORCE", "actor_critic": "advantage actor-critic", "ppo": "PPO"}
APIS = {"sequential": "the Sequential API", "functional": "the Functional API", "subclassing": "keras.Model subclasses"}
KERAS_OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


def rl_code(experiment, api, loop, model_parts) -> str:
    """``model_parts(spec, api)`` writes one stack; ``api`` None writes each model in its own API."""
    objective, training = experiment.objective, experiment.training
    kind = objective_kind(objective).name
    roles = objective_kind(objective).models
    chosen = {role: api or experiment.models[role].api for role in roles}
    decorator = {"graph": "@tf.function", "eager": "", "xla": "@tf.function(jit_compile=True)"}[training.execution]
    parts = [
        _header(experiment, kind, chosen),
        "import collections\n" + ("import types\n" if fused(experiment) else "") +
        "\nimport gymnasium as gym\nimport keras\nimport numpy as np\nimport tensorflow as tf\n"
        "from gymnasium.vector import AutoresetMode\nfrom keras import layers",
        f"# One call seeds Python's random, NumPy and TensorFlow; the environments get seed, seed + 1, ...\n"
        f"seed = {training.seed or 0}\nkeras.utils.set_random_seed(seed)\nrng = np.random.default_rng(seed)",
        _settings(experiment, kind),
        _environments(kind),
        section("Models"),
        *(_model(role, experiment.models[role], chosen[role], model_parts) for role in roles),
        _optimizers(experiment, roles),
        section("The step"),
        _act(decorator, "value" in roles),
        _learn(decorator, kind, "value" in roles),
        section("Playing"),
        _PLAY_COMMON,
        _PLAY_EPISODES if kind == "reinforce" else _PLAY_STEPS,
        section("Training"),
        _training(kind, roles),
    ]
    return "\n\n\n".join(part.strip("\n") for part in parts if part.strip()) + "\n"


def _header(experiment, kind, chosen) -> str:
    name = repr(experiment.name)[1:-1].replace('"""', "'''")
    words = APIS[next(iter(chosen.values()))] if len(set(chosen.values())) == 1 else \
        " and ".join(f"{APIS[value]} ({role})" for role, value in chosen.items())
    models = "a policy network" if len(chosen) == 1 else "a policy network and a value network"
    return (f'"""{name}\n\n{NAMES[kind]} on {experiment.objective.env}: {models}, written with {words},\n'
            "trained with the step written out: play with gymnasium, then tf.GradientTape over what happened.\n"
            "There is no fixed dataset (so no model.fit): the data comes from acting.\n"
            "Exported from Tapedeck; runs on its own with TensorFlow 2 (Keras 3), NumPy and gymnasium.\n"
            '"""')


def _settings(experiment, kind) -> str:
    o = experiment.objective
    lines = [section("Settings"),
             f"env_id = {o.env!r}",
             f"updates = {experiment.training.epochs}  # at most: the run ends once the greedy policy reaches target",
             f"gamma = {o.gamma!r}  # discount of future rewards",
             f"entropy_weight = {o.entropy!r}  # the entropy bonus keeps the policy exploring",
             f"target = {o.target!r}  # None: the environment's own reward threshold",
             f"eval_episodes = {o.eval_episodes}  # greedy episodes that judge the target",
             f"stop_at_target = {o.stop_at_target!r}"]
    if kind == "reinforce":
        lines += [f"envs_count = {o.episodes_per_update}  # whole episodes played side by side per update",
                  f"normalize_returns = {o.baseline == 'normalize'!r}  # the batch's mean return is the baseline"]
        return "\n".join(lines)
    lam = 1.0 if o.settings.get("returns") == "nstep" else o.gae_lambda
    lines += [f"envs_count = {o.envs}  # environments played side by side",
              f"steps = {o.steps}  # steps each environment plays per update",
              f"gae_lambda = {lam!r}  # GAE(lambda); 1.0 = n-step returns bootstrapped from the value",
              f"value_weight = {o.value_weight!r}",
              f"critic_loss = {o.critic_loss!r}  # the value network's loss: mse or huber",
              f"normalize_advantages = {o.normalize_advantages!r}"]
    if kind == "ppo":
        lines += [f"clip = {o.clip!r}  # the new/old probability ratio is clipped to 1 +- clip",
                  f"ppo_epochs = {o.epochs}  # passes over each batch of play",
                  f"minibatches = {o.minibatches}"]
    return "\n".join(lines)


def _environments(kind) -> str:
    return f'''{section("Environments")}
# Same-step autoreset: a finished episode's last observation is in info["final_obs"] and the observation
# returned is the next episode's first.
envs = gym.make_vec(env_id, num_envs=envs_count, vectorization_mode="sync",
                    vector_kwargs={{"autoreset_mode": AutoresetMode.SAME_STEP}})
observations, _ = envs.reset(seed=[seed + i for i in range(envs_count)])
input_shape = envs.single_observation_space.shape
num_actions = int(envs.single_action_space.n)
if target is None:
    target = envs.spec.reward_threshold'''


def _model(role: str, spec, api: str, model_parts) -> str:
    parts = model_parts(spec, api)
    text = "\n\n".join(part for part in (parts.class_text, parts.build_text) if part)
    text = re.sub(r"\bMyModel\b", role.capitalize(), text)
    text = re.sub(r"^model = ", f"{role} = ", text, flags=re.M)
    gives = "one logit per action" if role == "policy" else "one value: the return expected from there"
    built = f"\n{role}(np.zeros((1, *input_shape), \"float32\"))  # built, so it can be saved" \
        if api == "subclassing" else ""
    return f"# The {role} network: takes an observation, gives {gives}.\n{text}{built}"


def _optimizers(experiment, roles) -> str:
    training = experiment.training
    clip = "".join(f", {key}={getattr(training, key)!r}" for key in ("clipnorm", "global_clipnorm", "clipvalue")
                   if getattr(training, key) is not None)
    lines = ["# Each network has its own optimizer."]
    for role in roles:
        settings = experiment.models[role].optimizer or {"name": training.optimizer,
                                                         "learning_rate": training.learning_rate}
        name = settings.get("name", "adam")
        args = f"learning_rate={settings['learning_rate']!r}"
        if name in ("adam", "adamw"):
            args += f", beta_1={settings.get('beta_1', 0.9)!r}"
        lines.append(f"{role}_optimizer = keras.optimizers.{KERAS_OPTIMIZERS[name]}({args}{clip})")
        if fuses(training, [name]):
            lines.append(fused_install(f"{role}_optimizer"))
    if fused(experiment):
        lines[:0] = fused_definition()
    return "\n".join(lines)


def _act(decorator, value: bool) -> str:
    values = "tf.squeeze(value(observations), -1)" if value else "tf.fill(tf.shape(logits)[:1], float(\"nan\"))"
    return f'''{decorator}
def act(observations):
    """The policy's logits and the value estimate for a batch of observations."""
    logits = policy(observations)
    return logits, {values}'''.lstrip("\n")


def _learn(decorator, kind, value: bool) -> str:
    if kind == "ppo":
        surrogate = '''ratio = tf.exp(log_probs - old_log_probs)
        clipped = tf.clip_by_value(ratio, 1.0 - clip, 1.0 + clip)
        policy_loss = -tf.reduce_mean(tf.minimum(ratio * advantages, clipped * advantages))'''
    else:
        surrogate = "policy_loss = -tf.reduce_mean(log_probs * advantages)"
    value_part = apply_value = ""
    variables = "policy.trainable_variables"
    if value:
        value_part = '''
        error = returns - tf.squeeze(value(observations, training=True), -1)
        if critic_loss == "huber":
            value_loss = tf.reduce_mean(tf.where(tf.abs(error) < 1.0, 0.5 * tf.square(error), tf.abs(error) - 0.5))
        else:
            value_loss = tf.reduce_mean(0.5 * tf.square(error))
        loss += value_weight * value_loss'''
        variables = "policy.trainable_variables + value.trainable_variables"
        apply_value = "\n    value_optimizer.apply_gradients(zip(gradients[split:], value.trainable_variables))"
    return f'''{decorator}
def learn(observations, actions, advantages, returns, old_log_probs):
    """One update: the objective's loss, its gradients, each network's optimizer on its own share."""
    with tf.GradientTape() as tape:
        log_probs_all = tf.nn.log_softmax(policy(observations, training=True))
        log_probs = tf.gather(log_probs_all, actions, batch_dims=1)
        entropy = -tf.reduce_mean(tf.reduce_sum(tf.exp(log_probs_all) * log_probs_all, axis=-1))
        {surrogate}
        loss = policy_loss - entropy_weight * entropy{value_part}
    gradients = tape.gradient(loss, {variables})
    split = len(policy.trainable_variables)
    policy_optimizer.apply_gradients(zip(gradients[:split], policy.trainable_variables)){apply_value}
    return policy_loss, entropy'''.lstrip("\n")


_PLAY_COMMON = '''def sample(logits):
    """Draw an action per row of logits (Gumbel-max) and its log-probability."""
    log_probs = logits - logits.max(axis=-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=-1, keepdims=True))
    actions = np.argmax(log_probs - np.log(-np.log(rng.uniform(1e-12, 1.0, logits.shape))), axis=-1)
    return actions, log_probs[np.arange(len(actions)), actions]


def greedy_returns(episodes):
    """The return of episodes played with the most probable action, one per environment copy."""
    tests = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="sync",
                         vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    obs, _ = tests.reset(seed=[1_000_000 + i for i in range(episodes)])
    totals, running = np.zeros(episodes), np.ones(episodes, dtype=bool)
    while running.any():
        logits, _ = act(tf.constant(obs, tf.float32))
        obs, rewards, terminated, truncated, _ = tests.step(np.argmax(logits.numpy(), axis=-1))
        totals += np.where(running, rewards, 0.0)
        running &= ~(terminated | truncated)
    tests.close()
    return totals


episode_return = np.zeros(envs_count)
finished = []  # returns of the episodes that ended'''

_PLAY_EPISODES = '''def play_episodes():
    """Each environment plays one episode from a fresh start; every action is credited with the
    discounted return that followed it."""
    global observations
    observations, _ = envs.reset()
    episode_return[:] = 0.0
    running = np.ones(envs_count, dtype=bool)
    rows = []
    while running.any():
        logits, _ = act(tf.constant(observations, tf.float32))
        actions, log_probs = sample(logits.numpy())
        next_observations, rewards, terminated, truncated, _ = envs.step(actions)
        rows.append((observations.astype("float32"), actions, log_probs, rewards * running, running.copy()))
        episode_return[:] += rewards * running
        ended = running & (terminated | truncated)
        finished.extend(episode_return[ended].tolist())
        running &= ~(terminated | truncated)
        observations = next_observations
    returns, following = [], np.zeros(envs_count)
    for row in reversed(rows):
        following = row[3] + gamma * following
        returns.append(following)
    returns = np.array(returns[::-1], "float32")  # (steps, envs)
    taken = np.array([row[4] for row in rows])

    def pick(values):
        """The steps of each episode before it ended."""
        return np.asarray(values)[taken]

    advantages = pick(returns)
    if normalize_returns:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    return (pick([r[0] for r in rows]), pick([r[1] for r in rows]).astype("int32"), advantages.astype("float32"),
            pick(returns), pick([r[2] for r in rows]).astype("float32"))'''

_PLAY_STEPS = '''def play_steps():
    """Every environment plays `steps` steps; advantages by GAE(lambda) from the value network. An
    episode cut by its time limit is bootstrapped from its last observation's value."""
    global observations
    rows = []
    for _ in range(steps):
        logits, values = act(tf.constant(observations, tf.float32))
        actions, log_probs = sample(logits.numpy())
        next_observations, rewards, terminated, truncated, info = envs.step(actions)
        episode_return[:] += rewards
        done = terminated | truncated
        finished.extend(episode_return[done].tolist())
        episode_return[done] = 0.0
        rewards = rewards.astype("float32")
        cut = truncated & ~terminated
        if cut.any():  # the whole batch, so act keeps the one shape it was traced for
            finals = next_observations.astype("float32")
            finals[cut] = np.stack(info["final_obs"][cut])
            _, final_values = act(tf.constant(finals))
            rewards[cut] += gamma * final_values.numpy()[cut]
        rows.append((observations.astype("float32"), actions, log_probs, values.numpy(), rewards, done))
        observations = next_observations
    _, last_values = act(tf.constant(observations, tf.float32))
    values = np.array([row[3] for row in rows])
    advantages = np.zeros_like(values)
    following_value, following = last_values.numpy(), np.zeros(envs_count, "float32")
    for t in reversed(range(steps)):
        alive = 1.0 - rows[t][5]
        delta = rows[t][4] + gamma * following_value * alive - values[t]
        following = delta + gamma * gae_lambda * alive * following
        advantages[t] = following
        following_value = values[t]

    def flat(i):
        return np.array([row[i] for row in rows]).reshape(steps * envs_count, *rows[0][i].shape[1:])

    returns = (advantages + values).reshape(-1)
    return flat(0), flat(1).astype("int32"), advantages.reshape(-1), returns, flat(2).astype("float32")'''


def _training(kind, roles) -> str:
    if kind == "reinforce":
        update = '''    batch = play_episodes()
    policy_loss, entropy = learn(*(tf.constant(part) for part in batch))'''
    elif kind == "ppo":
        update = '''    observations_, actions, advantages, returns, old_log_probs = play_steps()
    size = len(actions) // minibatches
    for _ in range(ppo_epochs):
        order = rng.permutation(len(actions))
        for start in range(0, size * minibatches, size):
            i = order[start:start + size]
            adv = advantages[i]
            if normalize_advantages:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy_loss, entropy = learn(tf.constant(observations_[i]), tf.constant(actions[i]), tf.constant(adv),
                                         tf.constant(returns[i]), tf.constant(old_log_probs[i]))'''
    else:
        update = '''    observations_, actions, advantages, returns, old_log_probs = play_steps()
    if normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss, entropy = learn(tf.constant(observations_), tf.constant(actions), tf.constant(advantages),
                                 tf.constant(returns), tf.constant(old_log_probs))'''
    saves = "\n".join(f'{role}.save("{role}.keras")' for role in roles)
    return f'''recent = collections.deque(maxlen=100)  # the running mean of the return
for update in range(1, updates + 1):
{update}
    recent.extend(finished)
    latest = float(np.mean(finished)) if finished else float("nan")
    finished.clear()
    print(f"update {{update}}: episode return {{latest:.1f}}, running mean {{np.mean(recent) if recent else 0:.1f}}, "
          f"policy loss {{float(policy_loss):.4f}}, entropy {{float(entropy):.3f}}")
    near = target is not None and recent and np.mean(list(recent)[-eval_episodes:]) >= target - 0.25 * abs(target)
    if stop_at_target and near:  # near the target: ask the greedy policy
        greedy = greedy_returns(eval_episodes)
        if greedy.mean() >= target:
            print(f"Solved at update {{update}}: greedy mean return {{greedy.mean():.1f}} +- {{greedy.std():.1f}}")
            break

envs.close()
{saves}
greedy = greedy_returns(eval_episodes)
print(f"Greedy mean return over {{eval_episodes}} episodes: {{greedy.mean():.1f}} +- {{greedy.std():.1f}}")'''
