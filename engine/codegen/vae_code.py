"""The VAE script a person would write: an encoder and a decoder (each by the classifier's writer), the
reparameterised sample and the loss of two terms written out, trained with one tf.GradientTape in a
loop or with ``fit`` and an overridden ``train_step``; the decoded grid saved each epoch as Tapedeck saves
it. Needs TensorFlow/Keras, NumPy and Pillow (``save_img``)."""
from __future__ import annotations

from tapedeck.engine.codegen.data import data_code, section
from tapedeck.engine.codegen.fused_code import fused
from tapedeck.engine.codegen.gan_code import LOOP_WORDS, named_model
from tapedeck.engine.codegen.objective_options import (
    check_exportable,
    chief_writes,
    compile_options,
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

__all__ = ["vae_code"]


def vae_code(experiment, api, loop, model_parts) -> str:
    objective, training = experiment.objective, experiment.training
    check_exportable(training, loop)
    data = data_code(experiment.data)
    models = [named_model("encoder", experiment.models["encoder"], api or experiment.models["encoder"].api,
                          model_parts, None, "images, gives a mean and a log-variance per code value"),
              named_model("decoder", experiment.models["decoder"], api or experiment.models["decoder"].api,
                          model_parts, "(latent_dim,)", "codes, gives images")]
    mixed = training.precision == "mixed_float16"
    distributed = mirrored(training, loop)
    built = "\n\n\n".join(part.strip("\n") for part in [
        *models,
        optimizers_code(experiment, [(role, role[0], api or experiment.models[role].api)
                                     for role in ("encoder", "decoder")], default_beta=0.5, distributed=distributed,
                        examples={"encoder": 'np.zeros((1, *input_shape), "float32")',
                                  "decoder": 'np.zeros((1, latent_dim), "float32")'})])
    decorator = {"graph": "@tf.function\n", "eager": "", "xla": "@tf.function(jit_compile=True)\n"}[training.execution]
    parts = [
        _header(experiment, api, loop),
        imports(training, data.imports, fused(experiment)),
        workers_code(training),
        seed_code(training),
        precision_code(training),
        data.text,
        _settings(experiment),
        section("Models"),
        strategy_code(training) if distributed else "",
        in_scope(built) if distributed else built,
        section("Loss"),
        _loss(objective.reconstruction, mixed),
        section("Training"),
        _grid(),
        chief_writes(_tape_loop(decorator, mixed, distributed), ("encoder", "decoder"), training) if loop == "tape"
        else _fit_loop(training, mixed, distributed),
        'print(f"Saved the last decoded grid: samples/epoch-{epochs:03d}.png")',
    ]
    return "\n\n\n".join(part.strip("\n") for part in parts if part.strip()) + "\n"


def _header(experiment, api, loop) -> str:
    name = repr(experiment.name)[1:-1].replace('"""', "'''")
    return (f'"""{name}\n\nA variational autoencoder: an encoder to a mean and a log-variance per code value, a '
            f"sample drawn from them,\nand a decoder back to the image; the loss is the reconstruction plus the KL "
            f"term.\nTrained with {LOOP_WORDS[loop].replace('two tf.GradientTape blocks', 'one tf.GradientTape')}.\n"
            f"Exported from Tapedeck; runs on its own with TensorFlow 2 (Keras 3), NumPy and Pillow.\n" '"""')


def _settings(experiment) -> str:
    objective, training = experiment.objective, experiment.training
    real = ("x_real = np.concatenate([x_train, x_val]) if len(x_val) else x_train"
            if experiment.data.validation_split > 0 else "x_real = x_train")
    return "\n".join([
        section("Settings"),
        f"batch_size = {training.batch_size}",
        f"epochs = {training.epochs}",
        f"latent_dim = {objective.latent_dim}  # the size of each image's code",
        f"beta = {objective.beta!r}  # weight of the KL term (1: the plain VAE)",
        "",
        "# A VAE learns from the images alone: the training and validation images together.",
        real,
        f"train_ds = tf.data.Dataset.from_tensor_slices(x_real).shuffle(len(x_real){shuffle_seed(training)})"
        ".batch(batch_size, drop_remainder=True)",
    ])


_BCE = '''    rebuilt = tf.clip_by_value(rebuilt, 1e-7, 1.0 - 1e-7)
    error = -(images * tf.math.log(rebuilt) + (1.0 - images) * tf.math.log(1.0 - rebuilt))'''
_MSE = '''    error = tf.square(images - rebuilt)'''


def _loss(reconstruction: str, mixed: bool = False) -> str:
    return f'''def reconstruction_error(images, rebuilt):
    """Per image, summed over its pixels ({reconstruction})."""
{_BCE if reconstruction == "bce" else _MSE}
    return tf.reduce_sum(error, axis=[1, 2, 3])


def vae_loss(images):
    """Encode, draw a code from the mean and log-variance (the reparameterisation), decode; the loss
    is the reconstruction plus beta times the KL divergence of the code from a standard normal."""
    mean, log_var = tf.split({_float32("encoder(images, training=True)", mixed)}, 2, axis=-1)
    code = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
    rebuilt = {_float32("decoder(code, training=True)", mixed)}
    reconstruction = tf.reduce_mean(reconstruction_error(images, rebuilt))
    kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1))
    return reconstruction + beta * kl, reconstruction, kl


{_MIXED_APPLY if mixed else _APPLY}'''


def _grid() -> str:
    return '''# The same codes every epoch, so the grid shows the decoder change.
fixed_codes = np.random.default_rng(0).normal(size=(64, latent_dim)).astype("float32")


def save_grid(epoch):
    """samples/epoch-NNN.png: the decoder's images of the fixed codes, 8 x 8."""
    images = np.asarray(decoder(fixed_codes, training=False))
    grid = np.concatenate([np.concatenate(list(images[row * 8:(row + 1) * 8]), axis=1) for row in range(8)])
    os.makedirs("samples", exist_ok=True)
    keras.utils.save_img(f"samples/epoch-{epoch:03d}.png", grid, scale=True)'''


_APPLY = '''def apply(tape, loss):
    """Each model's gradients to its own optimizer."""
    gradients = tape.gradient(loss, encoder.trainable_variables + decoder.trainable_variables)
    count = len(encoder.trainable_variables)
    e_optimizer.apply_gradients(zip(gradients[:count], encoder.trainable_variables))
    d_optimizer.apply_gradients(zip(gradients[count:], decoder.trainable_variables))'''

_MIXED_APPLY = '''def apply(tape, scaled):
    """Each model's gradients, of the loss as its optimizer scaled it, to that optimizer (which unscales them)."""
    for optimizer, model, loss in zip((e_optimizer, d_optimizer), (encoder, decoder), scaled):
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))'''


def _float32(call: str, mixed: bool) -> str:
    """Under mixed_float16 the models answer in float16; the sample and the loss are taken in float32."""
    return f'tf.cast({call}, "float32")' if mixed else call


def _taped(indent: str, names: str, loss: str, mixed: bool, distributed: bool = False) -> str:
    """The step's tape. Mirrored, each replica's loss is divided by the replicas (the optimizers sum their
    gradients); under mixed_float16 the tape is kept for two gradients, one per optimizer's scale."""
    share = f"{loss} / strategy.num_replicas_in_sync" if distributed else loss
    if not mixed:
        if not distributed:
            return (f"{indent}with tf.GradientTape() as tape:\n{indent}    {names} = vae_loss(images)\n"
                    f"{indent}apply(tape, {loss})")
        return (f"{indent}with tf.GradientTape() as tape:\n{indent}    {names} = vae_loss(images)\n"
                f"{indent}    share = {share}\n{indent}apply(tape, share)")
    return (f"{indent}with tf.GradientTape(persistent=True) as tape:\n{indent}    {names} = vae_loss(images)\n"
            f"{indent}    scaled = e_optimizer.scale_loss({share}), d_optimizer.scale_loss({share})\n"
            f"{indent}apply(tape, scaled)")


_REPLICA_DOC = '''
    """One step on this replica's share of the batch."""'''


def _tape_loop(decorator: str, mixed: bool = False, distributed: bool = False) -> str:
    """Mirrored: the step runs on every replica (``strategy.run``) on its share of each batch, each replica's
    loss divided by the replicas (the optimizers sum their gradients), the running means made in the scope."""
    means = ('loss_mean = keras.metrics.Mean(name="loss")\n'
             'reconstruction_mean = keras.metrics.Mean(name="reconstruction")\nkl_mean = keras.metrics.Mean(name="kl")')
    step = "replica_step" if distributed else "train_step"
    mirrored = f'''


{replica_decorator(decorator)}def train_step(images):
    """The step on every replica at once."""
    strategy.run(replica_step, args=(images,))


# Each batch split between the replicas.
replica_ds = strategy.experimental_distribute_dataset(train_ds)''' if distributed else ""
    return f'''{in_scope(means) if distributed else means}


{"" if distributed else decorator}def {step}(images):{_REPLICA_DOC if distributed else ""}
{_taped("    ", "loss, reconstruction, kl", "loss", mixed, distributed)}
    loss_mean.update_state(loss)
    reconstruction_mean.update_state(reconstruction)
    kl_mean.update_state(kl){mirrored}


for epoch in range(epochs):
    for metric in (loss_mean, reconstruction_mean, kl_mean):
        metric.reset_state()
    for images in {"replica_ds" if distributed else "train_ds"}:
        train_step(images)
    print(f"Epoch {{epoch + 1}}/{{epochs}}: loss {{float(loss_mean.result()):.4f}}, "
          f"reconstruction {{float(reconstruction_mean.result()):.4f}}, kl {{float(kl_mean.result()):.4f}}")
    save_grid(epoch + 1)

encoder.save("encoder.keras")
decoder.save("decoder.keras")'''


# Under a strategy, fit builds a model that is not yet built by tracing its call(), which this one has not.
BUILT = "\n        self.built = True  # its models are built: nothing for fit to build"


def _fit_loop(training, mixed: bool = False, distributed: bool = False) -> str:
    options = ", ".join(compile_options(training))
    built = BUILT if distributed else ""
    made = f"vae = VAE()\nvae.compile({options})"
    return f'''class VAE(keras.Model):
    """fit with the step written out."""

    def __init__(self):
        super().__init__()
        self.trackers = [keras.metrics.Mean(name=name) for name in ("loss", "reconstruction", "kl")]{built}

    @property
    def metrics(self):
        return self.trackers  # reset by fit at each epoch

    def train_step(self, images):
{_taped("        ", "figures", "figures[0]", mixed, distributed)}
        for tracker, value in zip(self.trackers, figures):
            tracker.update_state(value)
        return {{tracker.name: tracker.result() for tracker in self.trackers}}


class SampleGrid(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        save_grid(epoch + 1)


{in_scope(made) if distributed else made}
vae.fit(train_ds, epochs=epochs, callbacks=[SampleGrid()], verbose=2)

encoder.save("encoder.keras")
decoder.save("decoder.keras")'''
