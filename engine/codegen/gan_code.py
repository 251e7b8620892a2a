"""The GAN script a person would write: two models, two optimizers, and the step written out — two
``tf.GradientTape`` blocks in a loop, or ``fit`` with an overridden ``train_step`` (the Keras guide's
"DCGAN overriding train_step"). The fixed-noise grid is saved each epoch as Tapedeck saves it.

Each model comes from the same writer as a classifier's (``script._model_parts``), renamed; the data
section is the classifier's. The script needs TensorFlow/Keras, NumPy and Pillow (``save_img``).
"""
from __future__ import annotations

import re

from tapedeck.engine.codegen.data import data_code, section
from tapedeck.engine.codegen.fused_code import fused
from tapedeck.engine.codegen.objective_options import (
    check_exportable,
    chief_writes,
    compile_options,
    gradient_target,
    imports,
    in_scope,
    mirrored,
    optimizers_code,
    precision_code,
    replica_decorator,
    seed_code,
    shuffle_seed,
    strategy_code,
    workers_code,
)
from tapedeck.engine.spec.objectives import objective_kind

__all__ = ["gan_code"]

LOOP_WORDS = {"tape": "two tf.GradientTape blocks in a training loop written out",
              "train_step": "model.fit on a keras.Model whose train_step is overridden"}


def gan_code(experiment, api, loop, model_parts) -> str:
    """``model_parts(spec, api)`` writes one stack (script._model_parts over its resolved nodes); ``api``
    None writes each model in its own API."""
    objective, training = experiment.objective, experiment.training
    check_exportable(training, loop)
    cond = "label_input" in objective.settings   # cgan: the label goes into both models
    data = data_code(experiment.data)
    models = [_model(role, experiment.models[role], api or experiment.models[role].api, model_parts, cond)
              for role in objective_kind(objective).models]
    decorator = {"graph": "@tf.function", "eager": "", "xla": "@tf.function(jit_compile=True)"}[training.execution]
    body = _tape_loop(decorator, objective.loss, cond, training, mirrored(training, loop)) if loop == "tape" \
        else _fit_loop(training, objective.loss, cond, mirrored(training, loop))
    built = "\n\n\n".join(part.strip("\n") for part in [
        *models,
        _conditional(objective) if cond else "",
        optimizers_code(experiment, [(role, role[0], api or experiment.models[role].api)
                                     for role in ("generator", "discriminator")], default_beta=0.5,
                        distributed=mirrored(training, loop),
                        examples=None if cond else {"generator": 'np.zeros((1, latent_dim), "float32")',
                                                    "discriminator": 'np.zeros((1, *input_shape), "float32")'}),
    ] if part.strip())
    parts = [
        _header(experiment, api, loop),
        imports(training, data.imports, fused(experiment)),
        workers_code(training),
        seed_code(training),
        precision_code(training),
        data.text,
        _settings(experiment),
        section("Models"),
        strategy_code(training) if mirrored(training, loop) else "",
        in_scope(built) if mirrored(training, loop) else built,
        section("Losses"),
        _losses(objective.loss, cond, mirrored(training, loop)),
        section("Training"),
        _grid(cond),
        chief_writes(body, ("generator", "discriminator"), training),
        'print(f"Saved the last sample grid: samples/epoch-{epochs:03d}.png")',
    ]
    return "\n\n\n".join(part.strip("\n") for part in parts if part.strip()) + "\n"


def _header(experiment, api, loop) -> str:
    name = repr(experiment.name)[1:-1].replace('"""', "'''")
    names = {"sequential": "the Sequential API", "functional": "the Functional API",
             "subclassing": "keras.Model subclasses"}
    chosen = {role: api or spec.api for role, spec in experiment.models.items()}
    words = names[next(iter(chosen.values()))] if len(set(chosen.values())) == 1 else \
        " and ".join(f"{names[value]} ({role})" for role, value in chosen.items())
    return (f'"""{name}\n\nA generative adversarial network: a generator and a discriminator,\nwritten with {words},\n'
            f"trained against each other with {LOOP_WORDS[loop]}.\n"
            f"Exported from Tapedeck; runs on its own with TensorFlow 2 (Keras 3), NumPy and Pillow.\n"
            '"""')


def _model(role: str, spec, api: str, model_parts, cond: bool = False) -> str:
    """One stack of a GAN as the classifier's writer writes it, under the role's name."""
    if role == "generator":
        return named_model(role, spec, api, model_parts, "(latent_dim + label_width,)" if cond else "(latent_dim,)",
                           "latent vectors" + (" with the label's code" if cond else ""))
    return named_model(role, spec, api, model_parts,
                       "(*input_shape[:-1], input_shape[-1] + label_channels)" if cond else None,
                       "images" + (" with the label's channels" if cond else ""))


def named_model(role: str, spec, api: str, model_parts, input_expr: str | None, taken: str) -> str:
    """One stack as the classifier's writer writes it, renamed ``role`` (and its class ``Role``), fed
    ``input_expr`` instead of the data's ``input_shape`` where given."""
    parts = model_parts(spec, api)
    text = "\n\n".join(part for part in (parts.class_text, parts.build_text) if part)
    text = re.sub(r"\bMyModel\b", role.capitalize(), text)
    text = re.sub(r"^model = ", f"{role} = ", text, flags=re.M)
    if input_expr:
        text = re.sub(r"\binput_shape\b", input_expr, text)
    return f"# The {role}: takes {taken}.\n{text}"


def _settings(experiment) -> str:
    objective, training = experiment.objective, experiment.training
    lines = [section("Settings"),
             f"batch_size = {training.batch_size}",
             f"epochs = {training.epochs}",
             f"latent_dim = {objective.latent_dim}  # the noise vector the generator turns into an image",
             f"d_steps = {objective.d_steps}  # discriminator steps per generator step"]
    if objective.loss == "bce":
        lines.append(f"label_smoothing = {objective.label_smoothing!r}  # real images are labelled 1 - this")
    if objective.loss == "wgan-gp":
        lines.append(f"gp_weight = {objective.gp_weight!r}  # weight of the gradient penalty")
    lines += ["",
              "# A GAN learns from the images alone: the training and validation images together.",
              "x_real = np.concatenate([x_train, x_val]) if len(x_val) else x_train"
              if experiment.data.validation_split > 0 else "x_real = x_train"]
    if "label_input" in objective.settings:
        lines += ["y_real = (np.concatenate([y_train, y_val]) if len(x_val) else y_train).astype(\"int32\")"
                  if experiment.data.validation_split > 0 else "y_real = y_train.astype(\"int32\")",
                  *_label_widths(objective)]
    real = "(x_real, y_real[:, None])" if "label_input" in objective.settings else "x_real"
    lines += ["train_ds = (",
              f"    tf.data.Dataset.from_tensor_slices({real})",
              f"    .shuffle(len(x_real){shuffle_seed(training)})",
              "    .batch(batch_size, drop_remainder=True)",
              ")"]
    return "\n".join(lines)


def _label_widths(objective) -> list[str]:
    if objective.label_input == "one_hot":
        return ["label_width = num_classes  # the label's one-hot code beside the noise",
                "label_channels = num_classes  # and as one channel per class beside the image"]
    return [f"label_width = {objective.embedding_dim}  # a learned embedding of the label beside the noise",
            "label_channels = 1  # and a learned map of one value per pixel beside the image"]


def _conditional(objective) -> str:
    """The two stacks wrapped so each takes the label beside its input (as Tapedeck wraps them)."""
    if objective.label_input == "one_hot":
        g_code = "code = layers.CategoryEncoding(num_classes, output_mode=\"one_hot\")(label)"
        d_code = ("code = layers.CategoryEncoding(num_classes, output_mode=\"one_hot\")(label)\n"
                  "    planes = layers.UpSampling2D(input_shape[:2])(layers.Reshape((1, 1, num_classes))(code))")
    else:
        g_code = "code = layers.Flatten()(layers.Embedding(num_classes, label_width)(label))"
        d_code = ("code = layers.Flatten()(layers.Embedding(num_classes, input_shape[0] * input_shape[1])(label))\n"
                  "    planes = layers.Reshape((*input_shape[:2], 1))(code)")
    return f'''# The class label goes into both models: beside the noise, and beside the image.
def with_label_generator(stack):
    noise = keras.Input((latent_dim,))
    label = keras.Input((1,), dtype="int32")
    {g_code}
    return keras.Model([noise, label], stack(layers.Concatenate()([noise, code])))


def with_label_discriminator(stack):
    image = keras.Input(input_shape)
    label = keras.Input((1,), dtype="int32")
    {d_code}
    return keras.Model([image, label], stack(layers.Concatenate()([image, planes])))


generator = with_label_generator(generator)
discriminator = with_label_discriminator(discriminator)'''


_BCE = '''def discriminator_loss(real_output, fake_output):
    """Real images labelled 1 - label_smoothing, generated ones 0."""
    real_target = tf.fill(tf.shape(real_output), 1.0 - label_smoothing)
    return cross_entropy(real_target, real_output) + cross_entropy(tf.zeros_like(fake_output), fake_output)


def generator_loss(fake_output):
    """Non-saturating: the generator wants its images called real."""
    return cross_entropy(tf.ones_like(fake_output), fake_output)'''

_HINGE = '''def discriminator_loss(real_output, fake_output):
    return tf.reduce_mean(tf.nn.relu(1.0 - real_output)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_output))


def generator_loss(fake_output):
    return -tf.reduce_mean(fake_output)'''

_WGAN = '''def discriminator_loss(real_output, fake_output):
    """The critic's estimate of the Wasserstein distance, negated (the penalty is added in the step)."""
    return tf.reduce_mean(fake_output) - tf.reduce_mean(real_output)


def generator_loss(fake_output):
    return -tf.reduce_mean(fake_output)


def gradient_penalty(real, fake):
    """WGAN-GP: the critic's gradient norm held near 1 between real and generated images."""
    mix = tf.random.uniform([tf.shape(real)[0], 1, 1, 1])
    between = real + mix * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(between)
        output = discriminator(between, training=True)
    gradient = tape.gradient(output, between)
    norm = tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=[1, 2, 3]) + 1e-12)
    return tf.reduce_mean(tf.square(norm - 1.0))'''


_REPLICA_BCE = '''# The discriminator outputs logits. Each replica's loss is the mean over its share of the batch (a
# Keras loss object would already divide it by the replicas under a strategy; the step does that in sight).
def cross_entropy(target, output):
    return tf.reduce_mean(keras.losses.binary_crossentropy(target, output, from_logits=True))'''


def _losses(loss: str, cond: bool = False, distributed: bool = False) -> str:
    if loss == "bce" and distributed:
        return _REPLICA_BCE + "\n\n\n" + _BCE
    if loss == "bce":
        return ("# The discriminator outputs logits.\n"
                "cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)\n\n\n" + _BCE)
    if loss == "hinge":
        return _HINGE
    if cond:
        return (_WGAN.replace("def gradient_penalty(real, fake):", "def gradient_penalty(real, fake, labels):")
                .replace("output = discriminator(between, training=True)",
                         "output = discriminator([between, labels], training=True)"))
    return _WGAN


def _grid(cond: bool = False) -> str:
    if cond:
        fixed = '''# The same noise every epoch, 8 per class for up to 10 classes: one row per class.
rows = min(num_classes, 10)
fixed_noise = np.random.default_rng(0).normal(size=(rows * 8, latent_dim)).astype("float32")
fixed_labels = np.repeat(np.arange(rows), 8).astype("int32")[:, None]'''
        call = "generator([fixed_noise, fixed_labels], training=False)"
    else:
        fixed = '''# The same noise every epoch, so the grid shows the generator change.
rows = 8
fixed_noise = np.random.default_rng(0).normal(size=(64, latent_dim)).astype("float32")'''
        call = "generator(fixed_noise, training=False)"
    return fixed + f'''


def save_grid(epoch):
    """samples/epoch-NNN.png: what the generator makes of the fixed noise, 8 a row."""
    images = np.asarray({call})
    grid = np.concatenate([np.concatenate(list(images[row * 8:(row + 1) * 8]), axis=1) for row in range(rows)])
    os.makedirs("samples", exist_ok=True)
    keras.utils.save_img(f"samples/epoch-{{epoch:03d}}.png", grid, scale=True)'''


def _with(value: str, cond: bool) -> str:
    """A conditional GAN's models take the label beside their input."""
    return f"[{value}, labels]" if cond else value


def _f32(call: str, mixed: bool) -> str:
    """Under mixed_float16 the models answer in float16; the losses are taken in float32."""
    return f'tf.cast({call}, "float32")' if mixed else call


def _d_update(indent: str, loss: str, self_: str = "", cond: bool = False, training=None,
              distributed: bool = False) -> str:
    """The discriminator's update, written once for both loops (``self_`` = "self." inside the class)."""
    gp_args = "real, fake, labels" if cond else "real, fake"
    gp = f"\n{indent}    d_loss += gp_weight * gradient_penalty({gp_args})" if loss == "wgan-gp" else ""
    mixed = training is not None and training.precision == "mixed_float16"
    target = gradient_target("d_loss", "d", training, distributed) if training is not None else None
    gp += f"\n{indent}    scaled_loss = {target}" if target else ""
    fake = _f32(f"{self_}generator({_with('noise', cond)}, training=True)", mixed)
    real_output = _f32(f"{self_}discriminator({_with('real', cond)}, training=True)", mixed)
    fake_output = _f32(f"{self_}discriminator({_with('fake', cond)}, training=True)", mixed)
    return (f"{indent}noise = tf.random.normal((tf.shape(real)[0], latent_dim))\n"
            f"{indent}fake = {fake}\n"
            f"{indent}with tf.GradientTape() as tape:\n"
            f"{indent}    real_output = {real_output}\n"
            f"{indent}    fake_output = {fake_output}\n"
            f"{indent}    d_loss = discriminator_loss(real_output, fake_output){gp}\n"
            f"{indent}variables = {self_}discriminator.trainable_variables\n"
            f"{indent}d_optimizer.apply_gradients(zip(tape.gradient({'scaled_loss' if target else 'd_loss'}, "
            "variables), variables))")


def _g_update(indent: str, self_: str = "", cond: bool = False, training=None, distributed: bool = False) -> str:
    mixed = training is not None and training.precision == "mixed_float16"
    target = gradient_target("g_loss", "g", training, distributed) if training is not None else None
    fake = f"{self_}generator({_with('noise', cond)}, training=True)"
    fake_output = _f32(f"{self_}discriminator({_with(fake, cond)}, training=True)", mixed)
    scale = f"\n{indent}    scaled_loss = {target}" if target else ""
    return (f"{indent}noise = tf.random.normal((tf.shape(real)[0], latent_dim))\n"
            f"{indent}with tf.GradientTape() as tape:\n"
            f"{indent}    fake_output = {fake_output}\n"
            f"{indent}    g_loss = generator_loss(fake_output){scale}\n"
            f"{indent}variables = {self_}generator.trainable_variables\n"
            f"{indent}g_optimizer.apply_gradients(zip(tape.gradient({'scaled_loss' if target else 'g_loss'}, "
            "variables), variables))")


def _tape_loop(decorator: str, loss: str, cond: bool = False, training=None, distributed: bool = False) -> str:
    if distributed:
        return _mirrored_tape_loop(replica_decorator(decorator), loss, cond, training)
    deco = decorator + "\n" if decorator else ""
    args = "real, labels" if cond else "real"
    return f'''d_loss_mean = keras.metrics.Mean(name="d_loss")
g_loss_mean = keras.metrics.Mean(name="g_loss")


{deco}def discriminator_step({args}):
    """Teach the discriminator to tell real images from generated ones."""
{_d_update("    ", loss, cond=cond, training=training)}
    d_loss_mean.update_state(d_loss)


{deco}def generator_step({args}):
    """Teach the generator to make images the discriminator calls real."""
{_g_update("    ", cond=cond, training=training)}
    g_loss_mean.update_state(g_loss)


for epoch in range(epochs):
    d_loss_mean.reset_state()
    g_loss_mean.reset_state()
    for {args} in train_ds:
        for _ in range(d_steps):
            discriminator_step({args})
        generator_step({args})
    print(f"Epoch {{epoch + 1}}/{{epochs}}: d_loss {{float(d_loss_mean.result()):.4f}}, "
          f"g_loss {{float(g_loss_mean.result()):.4f}}")
    save_grid(epoch + 1)

generator.save("generator.keras")
discriminator.save("discriminator.keras")'''


def _mirrored_tape_loop(decorator: str, loss: str, cond: bool, training) -> str:
    """The two tapes run on every replica (``strategy.run``) on its share of each batch; each replica's loss is
    divided by the replicas, since the optimizer sums their gradients."""
    deco = decorator + "\n" if decorator else ""
    args = "real, labels" if cond else "real"
    given = f"({args})" if cond else f"({args},)"
    means = 'd_loss_mean = keras.metrics.Mean(name="d_loss")\ng_loss_mean = keras.metrics.Mean(name="g_loss")'
    return f'''# The running means, made in the scope: each replica adds its own and a read sums them.
{in_scope(means)}


def discriminator_step({args}):
    """Teach the discriminator to tell real images from generated ones (this replica's share of the batch)."""
{_d_update("    ", loss, cond=cond, training=training, distributed=True)}
    d_loss_mean.update_state(d_loss)


def generator_step({args}):
    """Teach the generator to make images the discriminator calls real (this replica's share)."""
{_g_update("    ", cond=cond, training=training, distributed=True)}
    g_loss_mean.update_state(g_loss)


{deco}def train_step({args}):
    """d_steps discriminator updates, then one generator update, each on every replica at once."""
    for _ in range(d_steps):
        strategy.run(discriminator_step, args={given})
    strategy.run(generator_step, args={given})


# Each batch split between the replicas.
replica_ds = strategy.experimental_distribute_dataset(train_ds)
for epoch in range(epochs):
    d_loss_mean.reset_state()
    g_loss_mean.reset_state()
    for {args} in replica_ds:
        train_step({args})
    print(f"Epoch {{epoch + 1}}/{{epochs}}: d_loss {{float(d_loss_mean.result()):.4f}}, "
          f"g_loss {{float(g_loss_mean.result()):.4f}}")
    save_grid(epoch + 1)

generator.save("generator.keras")
discriminator.save("discriminator.keras")'''


# Under a strategy, fit builds a model that is not yet built by tracing its call(), which this one has not.
BUILT = "\n        self.built = True  # its models are built: nothing for fit to build"


def _fit_loop(training, loss: str, cond: bool = False, distributed: bool = False) -> str:
    options = ", ".join(compile_options(training))
    built = BUILT if distributed else ""
    made = f"gan = GAN(generator, discriminator)\ngan.compile({options})"
    unpack = "real, labels = data" if cond else "real = data"
    return f'''class GAN(keras.Model):
    """fit with the step written out: d_steps discriminator updates, then one generator update."""

    def __init__(self, generator, discriminator):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.d_loss_mean = keras.metrics.Mean(name="d_loss")
        self.g_loss_mean = keras.metrics.Mean(name="g_loss"){built}

    @property
    def metrics(self):
        return [self.d_loss_mean, self.g_loss_mean]  # reset by fit at each epoch

    def train_step(self, data):
        {unpack}
        for _ in range(d_steps):
{_d_update("            ", loss, "self.", cond, training, distributed)}
{_g_update("        ", "self.", cond, training, distributed)}
        self.d_loss_mean.update_state(d_loss)
        self.g_loss_mean.update_state(g_loss)
        return {{"d_loss": self.d_loss_mean.result(), "g_loss": self.g_loss_mean.result()}}


class SampleGrid(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        save_grid(epoch + 1)


{in_scope(made) if distributed else made}
gan.fit(train_ds, epochs=epochs, callbacks=[SampleGrid()], verbose=2)

generator.save("generator.keras")
discriminator.save("discriminator.keras")'''
