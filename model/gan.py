"""The GAN as a thin keras.Model: alternating discriminator and generator updates in train_step."""

from __future__ import annotations

import keras
import tensorflow as tf

from fashiongan.model.data import scale_images
from fashiongan.model.losses import GRADIENT_PENALTY_WEIGHT, LOSSES, gradient_penalty
from fashiongan.model.variants import REAL_INPUT
from fashiongan.spec import LABEL_INPUT, NOISE_INPUT


class GAN(keras.Model):
    """Trains `generator` against `discriminator`; only the generator is exported.

    Each step draws one batch of noise and runs the generator once: the discriminator is
    updated on real and generated images, then the generator is updated against the updated
    discriminator on the same generated images (as PyTorch's DCGAN example does).

    Randomness (noise, label noise) is drawn statelessly from (seed, step, replica), so training
    is reproducible, a resumed run continues the same random stream, and replicas differ.

    A batch is either float images (with int labels as targets for a conditional GAN), or int32
    indices into `images` (uint8 N×28×28, kept on the training device and scaled there to
    `value_range`) and `labels`.

    With `num_classes` > 0 both networks take labels: the generated images are asked for the
    labels of the real batch, so every class is drawn as often as the data holds it.

    The generator's optimizer may keep an exponential moving average of its weights
    (`use_ema`); `train.sampling_generator` reads it for sampling and export."""

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

    def _step_seed(self, stream: int) -> tf.Tensor:
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64) * 4 + stream, step])
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        return seed

    def _real_batch(self, batch, labels):
        """(images, labels) for a batch of images and labels, or of indices into device copies."""
        if batch.dtype.is_integer:
            images = scale_images(tf.gather(self._images, batch), self.value_range)
            return images, (tf.gather(self._labels, batch) if self.num_classes else None)
        return batch, labels

    def _named(self, name: str, inputs, labels) -> dict:
        """A network's named inputs: `inputs` under `name`, and the labels when conditional."""
        return {name: inputs, LABEL_INPUT: labels} if self.num_classes else {name: inputs}

    def train_step(self, data):
        batch, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        real_images, labels = self._real_batch(batch, labels)
        batch_size = tf.shape(real_images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        noise = tf.random.stateless_normal((batch_size, self.latent_dim), seed=self._step_seed(0))

        def critic(images):
            return tf.cast(self.discriminator(self._named(REAL_INPUT, images, labels), training=True), tf.float32)

        generator_variables = self.generator.trainable_variables
        with tf.GradientTape(watch_accessed_variables=False) as g_tape:
            g_tape.watch([variable.value for variable in generator_variables])
            fake_images = self.generator(self._named(NOISE_INPUT, noise, labels), training=True)
            with tf.GradientTape() as d_tape:
                real_logits = critic(real_images)
                fake_logits = critic(tf.stop_gradient(fake_images))
                d_loss = self.d_loss_fn(real_logits, fake_logits, self.label_noise, self._step_seed(2))
                if self.loss_name == "wgan-gp":
                    penalty = gradient_penalty(critic, real_images, tf.stop_gradient(fake_images), self._step_seed(3))
                    d_loss += GRADIENT_PENALTY_WEIGHT * penalty
                scaled_d_loss = self.d_optimizer.scale_loss(d_loss / replicas)
            d_grads = d_tape.gradient(scaled_d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply(d_grads, self.discriminator.trainable_variables)

            g_logits = critic(fake_images)
            g_loss = self.g_loss_fn(g_logits)
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss / replicas)
        g_grads = g_tape.gradient(scaled_g_loss, generator_variables)
        self.g_optimizer.apply(g_grads, generator_variables)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(tf.sigmoid(real_logits))
        self.d_fake_tracker.update_state(tf.sigmoid(fake_logits))
        results = {metric.name: metric.result() for metric in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 reduces multi-worker logs along axis 0, which a scalar lacks
            # (tensorflow/tensorflow#72388); a length-1 vector reduces to the same mean.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results
