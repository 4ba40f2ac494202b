"""GAN losses on discriminator logits. Each entry of LOSSES is (discriminator_loss,
generator_loss); `wgan-gp` adds `gradient_penalty` in the train step."""

from __future__ import annotations

import tensorflow as tf

GRADIENT_PENALTY_WEIGHT = 10.0


def _bce(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits))


def bce_discriminator_loss(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, label_noise: float = 0.0, seed=None
) -> tf.Tensor:
    """Binary cross-entropy for real (target 1) plus fake (target 0). With `label_noise` > 0 the
    targets are moved towards each other by up to that much, uniformly at random."""
    real_targets = tf.ones_like(real_logits)
    fake_targets = tf.zeros_like(fake_logits)
    if label_noise:
        real_targets -= label_noise * _uniform(tf.shape(real_logits), seed, 0)
        fake_targets += label_noise * _uniform(tf.shape(fake_logits), seed, 1)
    return _bce(real_targets, real_logits) + _bce(fake_targets, fake_logits)


def bce_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating generator loss: binary cross-entropy of fakes against target 1."""
    return _bce(tf.ones_like(fake_logits), fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits, label_noise: float = 0.0, seed=None) -> tf.Tensor:
    """mean(relu(1 - D(real))) + mean(relu(1 + D(fake))) (label noise does not apply)."""
    return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))


def critic_generator_loss(fake_logits) -> tf.Tensor:
    """-mean(D(fake)): the generator loss of the hinge and Wasserstein GANs."""
    return -tf.reduce_mean(fake_logits)


def lsgan_discriminator_loss(real_logits, fake_logits, label_noise: float = 0.0, seed=None) -> tf.Tensor:
    """Least squares: 0.5 mean((D(real) - 1)^2) + 0.5 mean(D(fake)^2)."""
    return 0.5 * tf.reduce_mean(tf.square(real_logits - 1.0)) + 0.5 * tf.reduce_mean(tf.square(fake_logits))


def lsgan_generator_loss(fake_logits) -> tf.Tensor:
    return 0.5 * tf.reduce_mean(tf.square(fake_logits - 1.0))


def wasserstein_discriminator_loss(real_logits, fake_logits, label_noise: float = 0.0, seed=None) -> tf.Tensor:
    """mean(D(fake)) - mean(D(real)); the train step adds the gradient penalty."""
    return tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits)


def gradient_penalty(critic, real_images, fake_images, seed) -> tf.Tensor:
    """mean((||grad D(x_hat)|| - 1)^2) at random points x_hat between real and fake images;
    `critic` maps images to logits (the discriminator, with any labels bound)."""
    shape = tf.concat([tf.shape(real_images)[:1], tf.ones([tf.rank(real_images) - 1], tf.int32)], axis=0)
    mix = tf.random.stateless_uniform(shape, seed=seed, dtype=real_images.dtype)
    between = mix * real_images + (1.0 - mix) * tf.cast(fake_images, real_images.dtype)
    with tf.GradientTape() as tape:
        tape.watch(between)
        logits = tf.cast(critic(between), tf.float32)
    gradients = tf.reshape(tf.cast(tape.gradient(logits, between), tf.float32), [tf.shape(between)[0], -1])
    return tf.reduce_mean(tf.square(tf.norm(gradients, axis=1) - 1.0))


def _uniform(shape, seed, offset: int) -> tf.Tensor:
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, seed=seed + tf.constant([0, offset], seed.dtype))


# keyed by the names of fashiongan.spec.LOSSES
LOSSES = {
    "bce": (bce_discriminator_loss, bce_generator_loss),
    "hinge": (hinge_discriminator_loss, critic_generator_loss),
    "lsgan": (lsgan_discriminator_loss, lsgan_generator_loss),
    "wgan-gp": (wasserstein_discriminator_loss, critic_generator_loss),
}
