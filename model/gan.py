"""The GAN as a thin keras.Model: alternating discriminator and generator updates per step.

One GAN, two sets of gradient plumbing. What a step computes (the real batch, the noise, the
losses, the order of the updates) is written once in keras.ops; `train_step` runs it under
TensorFlow (`tf.GradientTape`, tf.distribute), `stateless_train_step` under JAX (Keras'
stateless API: `stateless_call`, `jax.value_and_grad`, `optimizer.stateless_apply`), which
`jax_loop.fit` jits and drives.
"""

from __future__ import annotations

import keras
from keras import ops

from fashiongan.model.augment import diff_augment
from fashiongan.model.data import scale_images
from fashiongan.model.losses import GRADIENT_PENALTY_WEIGHT, LOSSES, gradient_penalty, interpolate
from fashiongan.model.variants import REAL_INPUT, generator_feed
from fashiongan.spec import LABEL_INPUT

NOISE_STREAM, AUGMENT_STREAM, LABEL_NOISE_STREAM, PENALTY_STREAM = 0, 1, 2, 3


def stateless_draw(kind: str, shape, seed_base: int, step, offset: int = 0):
    """`normal` or `uniform` [0, 1) float32 values, a pure function of (seed_base, step, offset),
    the offset folded in (not added to the step, which would repeat a draw one step later): a
    resumed run continues the same random stream. Under a TensorFlow multi-replica strategy
    each replica folds in its id, so replicas differ; under JAX the step sees the global batch."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        seed = tf.stack([tf.constant(seed_base, tf.int64), tf.cast(step, tf.int64)])
        if offset:
            seed = tf.random.experimental.stateless_fold_in(seed, offset)
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        draw = tf.random.stateless_normal if kind == "normal" else tf.random.stateless_uniform
        return draw(shape, seed=seed)
    import jax
    import jax.numpy as jnp

    seed = jnp.stack([jnp.uint32(seed_base % 2**32), jnp.asarray(step).astype(jnp.uint32)])
    key = jax.random.wrap_key_data(seed, impl="threefry2x32")
    for word in (seed_base >> 32, offset):  # seed bits above 32 (seed * 4 + stream), then the draw's offset
        if word:
            key = jax.random.fold_in(key, word)
    return (jax.random.normal if kind == "normal" else jax.random.uniform)(key, shape, jnp.float32)


class WarmupEMAAdam(keras.optimizers.Adam):
    """Adam whose moving average of the weights starts short: it copies the weights at step 0
    (as Keras' does), then takes momentum min(ema_momentum, (1 + t) / (10 + t)) at step t, as
    TensorFlow's ExponentialMovingAverage with `num_updates`, so the average of a short run is
    not held back by its first weights."""

    def _update_model_variables_moving_average(self, trainable_variables) -> None:
        if not self.use_ema:
            return
        step = ops.cast(self.iterations, "float32")
        momentum = ops.where(step > 0, ops.minimum(self.ema_momentum, (1.0 + step) / (10.0 + step)), 0.0)
        for variable, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is not None:
                rate = ops.cast(momentum, variable.dtype)
                average.assign(rate * average + (1 - rate) * variable)


class GAN(keras.Model):
    """Trains `generator` against `discriminator`; only the generator is exported.

    Each step draws one batch of noise and runs the generator once: the discriminator is
    updated on real and generated images, then the generator is updated against the updated
    discriminator on the same generated images (as PyTorch's DCGAN example does).

    Randomness (noise, label noise, penalty mixing) is drawn statelessly from (seed, step), so
    training is reproducible and a resumed run continues the same random stream.

    A batch is either float images (with int labels as targets for a conditional GAN), or int32
    indices into `images` (uint8 N×28×28, kept on the training device and scaled there to
    `value_range`) and `labels`.

    With `num_classes` > 0 both networks take labels: the generated images are asked for the
    labels of the real batch, so every class is drawn as often as the data holds it.

    The generator's optimizer may keep an exponential moving average of its weights
    (`use_ema`); `train.sampling_generator` reads it for sampling and export.

    `augment` names DiffAugment transforms (`model.augment`) applied to every image the
    discriminator sees, real and generated, in its update and in the generator's."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        loss: str = "bce",
        label_noise: float = 0.0,
        seed: int = 0,
        images=None,
        labels=None,
        num_classes: int = 0,
        value_range: tuple[float, float] = (-1.0, 1.0),
        augment: tuple[str, ...] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.loss_name = loss
        self.d_loss_fn, self.g_loss_fn = LOSSES[loss]
        self.label_noise = label_noise
        self.seed = seed
        self._images = images
        self._labels = labels
        self.num_classes = num_classes
        self.value_range = value_range
        self.augment = tuple(augment)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")

    def compile(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def build_optimizers(self) -> None:
        """Create optimizer slots up front, so a checkpoint can be restored before training."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    # --- what a step computes, on any backend ----------------------------------------------------

    def _draw(self, kind: str, shape, stream: int, step, offset: int = 0):
        return stateless_draw(kind, shape, self.seed * 4 + stream, step, offset)

    def real_batch(self, batch, labels, images=None, all_labels=None):
        """(images, labels) for a batch of images and labels, or of indices into the uint8
        `images` and `all_labels` kept on the device."""
        if "int" in str(batch.dtype):
            real = scale_images(ops.take(images, batch, axis=0), self.value_range)
            return real, (ops.take(all_labels, batch, axis=0) if self.num_classes else None)
        return batch, labels

    def augmented(self, images, step, offset: int):
        """`images` as the discriminator sees them: under the `augment` transforms, drawn from
        (seed, step, offset); real batches take offset 0, generated ones 1."""
        if not self.augment:
            return images
        uniform = lambda shape, draw: self._draw("uniform", shape, AUGMENT_STREAM, step, 4 * offset + draw + 1)  # noqa: E731
        return diff_augment(images, self.augment, uniform, self.value_range[0])

    def noise(self, batch_size, step):
        return self._draw("normal", (batch_size, self.latent_dim), NOISE_STREAM, step)

    def generator_input(self, noise, labels):
        """The generator's input: the noise, or [noise, labels] when conditional."""
        return generator_feed(noise, labels if self.num_classes else None)

    def named(self, name: str, inputs, labels) -> dict:
        """The discriminator's named inputs: `inputs` under `name`, and the labels when conditional."""
        return {name: inputs, LABEL_INPUT: labels} if self.num_classes else {name: inputs}

    def discriminator_loss(self, real_logits, fake_logits, step, penalty_gradients=None):
        """The discriminator's loss; `penalty_gradients` are the critic's input gradients at
        `penalty_points` (wgan-gp only)."""
        uniform = lambda shape, offset: self._draw("uniform", shape, LABEL_NOISE_STREAM, step, offset)  # noqa: E731
        loss = self.d_loss_fn(real_logits, fake_logits, self.label_noise, uniform)
        if penalty_gradients is not None:
            loss = loss + GRADIENT_PENALTY_WEIGHT * gradient_penalty(penalty_gradients)
        return loss

    @property
    def uses_penalty(self) -> bool:
        return self.loss_name == "wgan-gp"

    def penalty_points(self, real_images, fake_images, step):
        mix = self._draw("uniform", (ops.shape(real_images)[0], 1, 1, 1), PENALTY_STREAM, step)
        return interpolate(real_images, ops.stop_gradient(fake_images), mix)

    def step_logs(self, d_loss, g_loss, real_logits, fake_logits) -> dict:
        """The per-step figures both backends report (means over the batch)."""
        return {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": ops.mean(ops.sigmoid(real_logits)),
            "d_fake": ops.mean(ops.sigmoid(fake_logits)),
        }

    # --- TensorFlow: GradientTape and tf.distribute ------------------------------------------------

    def train_step(self, data):
        import tensorflow as tf

        batch, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        real_images, labels = self.real_batch(batch, labels, self._images, self._labels)
        step = self.g_optimizer.iterations
        real_images = self.augmented(real_images, step, 0)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        noise = self.noise(tf.shape(real_images)[0], step)

        def critic(images):
            return tf.cast(self.discriminator(self.named(REAL_INPUT, images, labels), training=True), tf.float32)

        generator_variables = self.generator.trainable_variables
        with tf.GradientTape(watch_accessed_variables=False) as g_tape:
            g_tape.watch([variable.value for variable in generator_variables])
            fake_images = self.generator(self.generator_input(noise, labels), training=True)
            fake_images = self.augmented(fake_images, step, 1)
            with tf.GradientTape() as d_tape:
                real_logits = critic(real_images)
                fake_logits = critic(tf.stop_gradient(fake_images))
                penalty_gradients = None
                if self.uses_penalty:
                    points = self.penalty_points(real_images, fake_images, step)
                    with tf.GradientTape() as input_tape:
                        input_tape.watch(points)
                        point_logits = critic(points)
                    penalty_gradients = input_tape.gradient(point_logits, points)
                d_loss = self.discriminator_loss(real_logits, fake_logits, step, penalty_gradients)
                scaled_d_loss = self.d_optimizer.scale_loss(d_loss / replicas)
            d_grads = d_tape.gradient(scaled_d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply(d_grads, self.discriminator.trainable_variables)

            g_loss = self.g_loss_fn(critic(fake_images))
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss / replicas)
        g_grads = g_tape.gradient(scaled_g_loss, generator_variables)
        self.g_optimizer.apply(g_grads, generator_variables)

        logs = self.step_logs(d_loss, g_loss, real_logits, fake_logits)
        for tracker in self.metrics:
            tracker.update_state(logs[tracker.name])
        results = {metric.name: metric.result() for metric in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 reduces multi-worker logs along axis 0, which a scalar lacks
            # (tensorflow/tensorflow#72388); a length-1 vector reduces to the same mean.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    # --- JAX: stateless_call, value_and_grad, stateless_apply -----------------------------------

    def stateless_train_step(self, state: dict, batch, step, images, all_labels):
        """One step as a pure function of `state` (the values of the networks' and optimizers'
        variables, keyed as in `jax_loop.STATE_KEYS`): returns (new state, step logs).
        `batch` is int32 indices into the device copies `images` and `all_labels`."""
        import jax

        real_images, labels = self.real_batch(batch, None, images, all_labels)
        real_images = self.augmented(real_images, step, 0)
        noise = self.noise(real_images.shape[0], step)
        generator, discriminator = self.generator, self.discriminator

        def generate(g_trainable):
            return generator.stateless_call(
                g_trainable, state["g_non_trainable"], self.generator_input(noise, labels), training=True
            )

        def critic(d_trainable, d_non_trainable, images):
            logits, d_non_trainable = discriminator.stateless_call(
                d_trainable, d_non_trainable, self.named(REAL_INPUT, images, labels), training=True
            )
            return ops.cast(logits, "float32"), d_non_trainable

        fake_images, pull_back, g_non_trainable = jax.vjp(generate, state["g_trainable"], has_aux=True)

        def d_loss_fn(d_trainable):
            real_logits, d_non_trainable = critic(d_trainable, state["d_non_trainable"], real_images)
            fake = ops.stop_gradient(self.augmented(fake_images, step, 1))
            fake_logits, d_non_trainable = critic(d_trainable, d_non_trainable, fake)
            penalty_gradients = None
            if self.uses_penalty:
                points = self.penalty_points(real_images, fake, step)

                def summed_critic(images):
                    logits, state_after = critic(d_trainable, d_non_trainable, images)
                    return ops.sum(logits), state_after

                penalty_gradients, d_non_trainable = jax.grad(summed_critic, has_aux=True)(points)
            loss = self.discriminator_loss(real_logits, fake_logits, step, penalty_gradients)
            return loss, (real_logits, fake_logits, d_non_trainable)

        (d_loss, (real_logits, fake_logits, d_non_trainable)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
            state["d_trainable"]
        )
        d_trainable, d_optimizer = self.d_optimizer.stateless_apply(state["d_optimizer"], d_grads, state["d_trainable"])

        def g_loss_fn(fake):
            logits, non_trainable = critic(d_trainable, d_non_trainable, self.augmented(fake, step, 1))
            return self.g_loss_fn(logits), non_trainable

        (g_loss, d_non_trainable), fake_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(fake_images)
        (g_grads,) = pull_back(fake_grads)
        g_trainable, g_optimizer = self.g_optimizer.stateless_apply(state["g_optimizer"], g_grads, state["g_trainable"])
        new_state = {
            "g_trainable": g_trainable,
            "g_non_trainable": g_non_trainable,
            "d_trainable": d_trainable,
            "d_non_trainable": d_non_trainable,
            "g_optimizer": g_optimizer,
            "d_optimizer": d_optimizer,
        }
        return new_state, self.step_logs(d_loss, g_loss, real_logits, fake_logits)
