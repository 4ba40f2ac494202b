"""The GAN as a thin keras.Model: alternating discriminator and generator updates in train_step."""
from __future__ import annotations

import keras
import tensorflow as tf

from model.losses import LOSSES


class GAN(keras.Model):
    """Trains `generator` against `discriminator`; only the generator is exported.

    Randomness (noise, label noise) is drawn statelessly from (seed, step), so training is
    reproducible and a resumed run continues the same random stream."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        loss: str = "bce",
        label_noise: float = 0.0,
        seed: int = 0,
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
        return tf.stack([tf.constant(self.seed, tf.int64) * 4 + stream, step])

    def _noise(self, batch_size, stream: int) -> tf.Tensor:
        return tf.random.stateless_normal((batch_size, self.latent_dim), seed=self._step_seed(stream))

    def train_step(self, data):
        real_images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = tf.shape(real_images)[0]

        fake_images = self.generator(self._noise(batch_size, 0), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = self.d_loss_fn(real_logits, fake_logits, self.label_noise, self._step_seed(2))
        d_grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply(d_grads, self.discriminator.trainable_variables)

        with tf.GradientTape() as tape:
            fake_images = self.generator(self._noise(batch_size, 1), training=True)
            g_loss = self.g_loss_fn(self.discriminator(fake_images, training=True))
        g_grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply(g_grads, self.generator.trainable_variables)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(tf.sigmoid(real_logits))
        self.d_fake_tracker.update_state(tf.sigmoid(fake_logits))
        return {metric.name: metric.result() for metric in self.metrics}
