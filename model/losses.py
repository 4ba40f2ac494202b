"""GAN losses on discriminator logits. Each entry of LOSSES is (discriminator_loss, generator_loss)."""
from __future__ import annotations

import tensorflow as tf


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


def _uniform(shape, seed, offset: int) -> tf.Tensor:
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, seed=seed + tf.constant([0, offset], seed.dtype))


LOSSES = {"bce": (bce_discriminator_loss, bce_generator_loss)}
