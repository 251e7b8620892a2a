"""What each bundled preset is, in words: a title and one line of what it teaches.

The preset files stay plain experiment files (the same format a person saves), so their notes live
here; File ▸ Open preset lists them by title, with the lesson as the item's tip.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PresetNote", "preset_note"]

_APIS = {"sequential": "Sequential", "functional": "Functional API", "subclassing": "Model subclass"}
_LOOPS = {"fit": "model.fit", "tape": "GradientTape loop", "train_step": "fit with a custom train_step"}
_SETS = {"mnist": ("MNIST", "the TensorFlow 2 quickstart's CNN on MNIST"),
         "cifar100": ("CIFAR-100", "the TensorFlow CNN tutorial's network on CIFAR-100's 100 classes")}


@dataclass(frozen=True)
class PresetNote:
    title: str
    teaches: str


_NOTES = {
    "digits_cnn": PresetNote("Digits CNN (offline default)",
                             "A small convolutional network on scikit-learn's 8×8 digits: trains in seconds, "
                             "no download."),
    "digits_residual": PresetNote("Digits residual block",
                                  "A skip connection (Add): what the Functional API and subclassing can express "
                                  "and Sequential cannot."),
    "digits_gan": PresetNote(
        "Digits GAN (DCGAN, two models)",
        "A generator and a discriminator trained against each other with two GradientTapes: why the "
        "tutorial says the step must sometimes be written out. Samples from fixed noise each epoch, judged "
        "by a classifier of the real digits."),
    "digits_cgan": PresetNote(
        "Digits conditional GAN (ask for a digit)",
        "The label goes into both models (one-hot, concatenated): the generator learns to draw the digit it "
        "is asked for, one row per class in the sample grid."),
    "cartpole_ppo": PresetNote(
        "CartPole PPO (reinforcement learning)",
        "No data set: a policy learns to balance the pole from the rewards of its own play. PPO's clipped "
        "passes over each batch of experience solve CartPole-v1 in seconds to a minute."),
    "cartpole_reinforce": PresetNote(
        "CartPole REINFORCE",
        "The simplest policy gradient: whole episodes, each action pushed up by the (normalized) return that "
        "followed it; one model, no value estimate."),
    "cartpole_actor_critic": PresetNote(
        "CartPole actor-critic (A2C)",
        "Two models: a policy and a value model that judges states; short stretches of play, advantages by "
        "GAE(λ), updates without waiting for an episode to end."),
    "acrobot_actor_critic": PresetNote(
        "Acrobot actor-critic",
        "Swing a two-link arm up above the bar (Acrobot-v1, three actions, reward -1 per step): the same "
        "actor-critic on a harder, sparse-feeling task."),
    "mnist_gan": PresetNote(
        "MNIST GAN (DCGAN, 28×28)",
        "The digits DCGAN grown to MNIST's 28×28 images: a 7×7 start upsampled twice by Conv2DTranspose. Needs "
        "MNIST (downloaded by Keras, or the IDX files in a folder)."),
    "digits_gan_strong_discriminator": PresetNote(
        "Digits GAN that fails: the discriminator too strong",
        "On purpose: the discriminator learns 20 times faster and steps 5 times per generator step, so it tells "
        "every generated image apart from epoch 1 (D(G(z)) near 0) and the samples stay blobs; the Samples tab "
        "says so in words."),
    "digits_gan_mode_collapse": PresetNote(
        "Digits GAN that fails: mode collapse",
        "On purpose: a 2-value latent vector, a fast generator and no label smoothing: the generator settles on "
        "nearly one kind of image whatever the noise, and the judge's class histogram shows it."),
    "digits_vae": PresetNote(
        "Digits VAE (2-D latent plane)",
        "An encoder and a decoder with a loss of two terms, reconstruction and KL, through a random sample: the "
        "latent plane decoded as a map of the digits."),
    "digits_two_heads_functional": PresetNote(
        "Digits, two heads — Functional API",
        "One image, two outputs: the digit and its parity (even/odd, derived from the digit label), a shared "
        "trunk and a weighted sum of two losses — what the Functional API exists for."),
    "digits_two_heads_subclassing": PresetNote(
        "Digits, two heads — Model subclass",
        "The two-head digits model as a keras.Model subclass: call takes a dict and returns one output per "
        "head (digit and the derived parity target)."),
    "mnist_two_heads_functional": PresetNote(
        "MNIST, two heads — Functional API",
        "The quickstart CNN on MNIST with a second head for the digit's parity (derived from the label)."),
    "mnist_two_heads_subclassing": PresetNote(
        "MNIST, two heads — Model subclass",
        "The two-head MNIST model as a keras.Model subclass whose call returns a dict of outputs."),
    "cifar100_fine_coarse_functional": PresetNote(
        "CIFAR-100 fine + coarse — Functional API",
        "One convolutional trunk, two heads: CIFAR-100's 100 classes and its 20 superclasses at once."),
    "cifar100_fine_coarse_subclassing": PresetNote(
        "CIFAR-100 fine + coarse — Model subclass",
        "The fine/coarse CIFAR-100 model as a keras.Model subclass with a dict of outputs."),
    "npz_image_and_features": PresetNote(
        "Two inputs: image + feature vector (npz)",
        "An image and a vector of numbers enter separately and meet in a Concatenate; reads "
        "digits_with_features.npz (x_train, x_train_features, y_train and their test twins; see the README)."),
}


def preset_note(name: str) -> PresetNote:
    """The note of preset ``name``; the tutorial presets are named <set>_cnn_<api>_<loop>."""
    if name in _NOTES:
        return _NOTES[name]
    parts = name.split("_")
    if len(parts) == 4 and parts[0] in _SETS and parts[2] in _APIS and parts[3] in _LOOPS:
        label, what = _SETS[parts[0]]
        api, loop = _APIS[parts[2]], _LOOPS[parts[3]]
        return PresetNote(f"{label} CNN — {api}, {loop}",
                          f"{what[0].upper()}{what[1:]}, written as a {api} model and trained with a {loop}.")
    return PresetNote(name.replace("_", " "), "")
