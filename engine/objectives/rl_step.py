"""The reinforcement-learning step written out: act, then one GradientTape over what happened.

``fit`` cannot train a policy: there are no labelled pairs, only the actions the policy took and the
rewards that followed. The loss is built from them — REINFORCE's log-probability times the return,
actor-critic's times the advantage, PPO's clipped ratio of new to old probability — plus the value
model's regression on the returns and an entropy bonus. One function serves all three objectives; the
choice is made once when it is traced (Python constants), so each run traces it once.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = ["RlSteps", "FIGURES"]

# What an update reports (all objectives; PPO's ratio figures are 0 for the others).
FIGURES = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "policy_grad_norm",
           "value_grad_norm")


class RlSteps:
    """``act(observations)`` → (logits, values) and ``learn(...)`` → figures, for one objective.

    ``policy`` maps observations to one logit per action; ``value`` (None for REINFORCE) to one value.
    Execution follows the training setting: graph (``tf.function``), eager, or XLA (``jit_compile``). Both
    functions are traced for concrete shapes — acting for the copies played side by side (and once more
    for a greedy evaluation's), learning for the batch's length — which costs ~15% less CPU per update
    than one graph for any length; and each traced graph is then called as the concrete function it is,
    skipping tf.function's matching of the arguments to its traces on every call (an act call of a small
    policy costs ~40% less CPU so, and a run makes one per step of its environments)."""

    def __init__(self, kind: str, objective, policy, value, policy_optimizer, value_optimizer,
                 execution: str = "graph"):
        self.kind, self.policy, self.value = kind, policy, value
        self.policy_optimizer, self.value_optimizer = policy_optimizer, value_optimizer
        self.entropy_weight = float(objective.entropy)
        self.value_weight = float(objective.settings.get("value_weight", 0.0))
        self.huber = objective.settings.get("critic_loss") == "huber"
        self.clip = float(objective.settings.get("clip", 0.2))
        self.traces = {"act": 0, "learn": 0}
        self._concrete: dict = {}   # (function, shape) → its concrete function (the function itself if eager)
        policy_optimizer.build(policy.trainable_variables)   # its slots exist before tracing: one trace
        if value is not None:
            value_optimizer.build(value.trainable_variables)
        if execution == "eager":
            self._act, self._learn = self.act_step, self.learn_step
        else:
            xla = True if execution == "xla" else None   # None, not False: False costs ~3% per call
            self._act = tf.function(self._counted(self.act_step, "act"), jit_compile=xla)
            # learn: the batch's length is fixed per run for actor-critic and PPO, a few padded lengths for REINFORCE
            self._learn = tf.function(self._counted(self.learn_step, "learn"), jit_compile=xla)

    def _counted(self, function, key):
        def traced(*args):
            self.traces[key] += 1   # Python runs here only while tracing
            return function(*args)
        return traced

    # -- acting ------------------------------------------------------------------------------------
    def act(self, observations: np.ndarray):
        """Logits (N, A) and values (N,) as numpy; values are NaN without a value model."""
        shape = np.shape(observations)
        act = self._concrete.get(shape)
        if act is None:
            act = self._concrete[shape] = self._traced(self._act, tf.TensorSpec(shape, tf.float32))
        both = act(tf.constant(observations, tf.float32)).numpy()   # tf.constant: the cheaper way in
        return both[:, :-1], both[:, -1]

    def act_step(self, observations):
        """The logits and the value side by side, (N, A + 1): one tensor back per step, not two."""
        logits = tf.cast(self.policy(observations, training=False), tf.float32)
        if self.value is None:
            values = tf.fill(tf.shape(logits)[:1], float("nan"))
        else:
            values = tf.reshape(tf.cast(self.value(observations, training=False), tf.float32), [-1])
        return tf.concat([logits, values[:, None]], axis=1)

    # -- learning ----------------------------------------------------------------------------------
    def learn(self, observations, actions, advantages, returns, old_log_probs, weights) -> dict:
        """One update on a batch; every argument is a flat numpy array over the batch's steps."""
        length = len(actions)
        learn = self._concrete.get(("learn", length))
        if learn is None:
            learn = self._concrete[("learn", length)] = self._traced(
                self._learn, tf.TensorSpec(np.shape(observations), tf.float32), tf.TensorSpec((length,), tf.int32),
                *[tf.TensorSpec((length,), tf.float32)] * 4)
        figures = learn(*_tensors(observations, actions, advantages, returns, old_log_probs, weights))
        return dict(zip(FIGURES, figures.numpy().tolist()))   # one transfer, not one per figure

    @staticmethod
    def _traced(function, *specs):
        """The concrete function of ``function`` for these shapes (traced now if new); eager: itself."""
        return function.get_concrete_function(*specs) if hasattr(function, "get_concrete_function") else function

    def learn_step(self, observations, actions, advantages, returns, old_log_probs, weights):
        """The loss of the objective, its gradients, one update of each model with its own optimizer."""
        policy_variables = self.policy.trainable_variables
        value_variables = self.value.trainable_variables if self.value is not None else []
        with tf.GradientTape() as tape:
            loss, parts = self._loss(observations, actions, advantages, returns, old_log_probs, weights)
        gradients = tape.gradient(loss, policy_variables + value_variables)
        policy_gradients = gradients[:len(policy_variables)]
        value_gradients = gradients[len(policy_variables):]
        self.policy_optimizer.apply_gradients(zip(policy_gradients, policy_variables))
        if self.value is not None:
            self.value_optimizer.apply_gradients(zip(value_gradients, value_variables))
        figures = dict(parts, policy_grad_norm=tf.linalg.global_norm(policy_gradients),
                       value_grad_norm=tf.linalg.global_norm(value_gradients) if value_gradients else tf.constant(0.0))
        return tf.stack([tf.cast(figures[name], tf.float32) for name in FIGURES])

    def _loss(self, observations, actions, advantages, returns, old_log_probs, weights):
        """The objective's loss on a batch (inside the caller's tape) and its parts as figures.

        ``weights`` are 1 for real steps and 0 for padding (REINFORCE pads its batch of episodes to a few
        fixed lengths, so XLA compiles a handful of shapes rather than one per batch)."""
        if self.kind == "reinforce":   # the only objective whose batches are padded
            total = tf.maximum(tf.reduce_sum(weights), 1.0)

            def mean(values):
                return tf.reduce_sum(values * weights) / total
        else:
            mean = tf.reduce_mean

        logits = tf.cast(self.policy(observations, training=True), tf.float32)
        all_log_probs = tf.nn.log_softmax(logits)
        log_probs = tf.gather(all_log_probs, actions, batch_dims=1)
        entropy = mean(-tf.reduce_sum(tf.exp(all_log_probs) * all_log_probs, axis=-1))
        log_ratio = log_probs - old_log_probs
        ratio = tf.exp(log_ratio)
        if self.kind == "ppo":   # the clipped surrogate: no incentive to move the ratio beyond 1 ± clip
            clipped = tf.clip_by_value(ratio, 1.0 - self.clip, 1.0 + self.clip)
            policy_loss = -mean(tf.minimum(ratio * advantages, clipped * advantages))
        else:
            policy_loss = -mean(log_probs * advantages)
        value_loss = tf.constant(0.0)
        if self.value is not None:
            values = tf.reshape(tf.cast(self.value(observations, training=True), tf.float32), [-1])
            error = returns - values
            if self.huber:
                absolute = tf.abs(error)
                value_loss = mean(tf.where(absolute < 1.0, 0.5 * tf.square(error), absolute - 0.5))
            else:
                value_loss = mean(0.5 * tf.square(error))
        loss = policy_loss - self.entropy_weight * entropy + self.value_weight * value_loss
        return loss, {
            "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
            "approx_kl": mean((ratio - 1.0) - log_ratio),   # ≥ 0; how far this update moved the policy
            "clip_fraction": mean(tf.cast(tf.abs(ratio - 1.0) > self.clip, tf.float32)),
        }

    def layer_gradients(self, observations, actions, advantages, returns, old_log_probs, weights) -> tuple:
        """(model role, layer name, gradient norm) of each layer with weights: the gradient of the same loss
        on this batch, taken without applying it (the inspector's view of an update, before it). Run
        eagerly: a Step asks for it once, and a traced copy would cost a trace per run for nothing."""
        roles = [("policy", self.policy)] + ([("value", self.value)] if self.value is not None else [])
        variables = [(role, variable) for role, model in roles for variable in model.trainable_variables]
        with tf.GradientTape() as tape:
            loss, _parts = self._loss(*_tensors(observations, actions, advantages, returns, old_log_probs, weights))
        gradients = tape.gradient(loss, [variable for _role, variable in variables])
        squares: dict = {}
        for (role, variable), gradient in zip(variables, gradients):
            if gradient is not None:
                key = (role, variable.path.rsplit("/", 1)[0])
                squares[key] = squares.get(key, 0.0) + float(tf.reduce_sum(tf.square(gradient)))
        return tuple((role, layer, square ** 0.5) for (role, layer), square in squares.items())


def _tensors(observations, actions, advantages, returns, old_log_probs, weights):
    return (tf.constant(observations, tf.float32), tf.constant(actions, tf.int32),
            *(tf.constant(a, tf.float32) for a in (advantages, returns, old_log_probs, weights)))


def optimizer_for(settings, training):
    """A model's own optimizer; where it names none, the training section's optimizer and rate. Gradient
    clipping (training.clipnorm / global_clipnorm / clipvalue) and the fused update apply to each model's."""
    from tapedeck.engine.training.fused_update import fuse

    optimizer = _optimizer(settings, training)
    if training.fused_update:
        fuse(optimizer)
    return optimizer


def _optimizer(settings, training):
    name = (settings or {}).get("name", training.optimizer)
    rate = float((settings or {}).get("learning_rate", training.learning_rate))
    clip = {key: getattr(training, key) for key in ("clipnorm", "global_clipnorm", "clipvalue")
            if getattr(training, key) is not None}
    if name in ("adam", "adamw"):
        beta_1 = float((settings or {}).get("beta_1", 0.9))
        if name == "adamw":
            return keras.optimizers.AdamW(rate, weight_decay=training.weight_decay, beta_1=beta_1, **clip)
        return keras.optimizers.Adam(rate, beta_1=beta_1, **clip)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(rate, **clip)
    return keras.optimizers.SGD(rate, momentum=float(training.momentum), **clip)
