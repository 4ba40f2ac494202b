"""GAN losses on discriminator logits, in keras.ops so every backend trains with the same code.

Each entry of LOSSES is (discriminator_loss, generator_loss). A discriminator loss takes the
real and fake logits, the label-noise amount and `uniform(shape, offset)`, a function drawing
stateless uniform [0, 1) values for the step (see `gan.GAN`); `wgan-gp` adds
`gradient_penalty` in the train step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

GRADIENT_PENALTY_WEIGHT = 10.0

Uniform = Callable[[tuple, int], Any]


def _bce(targets, logits):
    """mean(max(x, 0) - x t + log(1 + exp(-|x|))): sigmoid cross-entropy on logits x, targets t."""
    return ops.mean(ops.relu(logits) - logits * targets + ops.softplus(-ops.abs(logits)))


def bce_discriminator_loss(real_logits, fake_logits, label_noise: float = 0.0, uniform: Uniform | None = None):
    """Binary cross-entropy for real (target 1) plus fake (target 0). With `label_noise` > 0 the
    targets are moved towards each other by up to that much, uniformly at random."""
    real_targets = ops.ones_like(real_logits)
    fake_targets = ops.zeros_like(fake_logits)
    if label_noise:
        if uniform is None:
            raise ValueError("label noise needs a uniform draw")
        real_targets = real_targets - label_noise * uniform(ops.shape(real_logits), 0)
        fake_targets = fake_targets + label_noise * uniform(ops.shape(fake_logits), 1)
    return _bce(real_targets, real_logits) + _bce(fake_targets, fake_logits)


def bce_generator_loss(fake_logits):
    """Non-saturating generator loss: binary cross-entropy of fakes against target 1."""
    return _bce(ops.ones_like(fake_logits), fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits, label_noise: float = 0.0, uniform: Uniform | None = None):
    """mean(relu(1 - D(real))) + mean(relu(1 + D(fake))) (label noise does not apply)."""
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def critic_generator_loss(fake_logits):
    """-mean(D(fake)): the generator loss of the hinge and Wasserstein GANs."""
    return -ops.mean(fake_logits)


def lsgan_discriminator_loss(real_logits, fake_logits, label_noise: float = 0.0, uniform: Uniform | None = None):
    """Least squares: 0.5 mean((D(real) - 1)^2) + 0.5 mean(D(fake)^2)."""
    return 0.5 * ops.mean(ops.square(real_logits - 1.0)) + 0.5 * ops.mean(ops.square(fake_logits))


def lsgan_generator_loss(fake_logits):
    return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


def wasserstein_discriminator_loss(real_logits, fake_logits, label_noise: float = 0.0, uniform: Uniform | None = None):
    """mean(D(fake)) - mean(D(real)); the train step adds the gradient penalty."""
    return ops.mean(fake_logits) - ops.mean(real_logits)


def interpolate(real_images, fake_images, mix):
    """Points between real and fake images, one mixing weight in [0, 1) per image."""
    return mix * real_images + (1.0 - mix) * ops.cast(fake_images, real_images.dtype)


def gradient_penalty(input_gradients):
    """mean((||grad D(x_hat)|| - 1)^2), from the critic's gradients at the interpolated points
    (each backend's train step computes those with its own autodiff)."""
    flat = ops.reshape(ops.cast(input_gradients, "float32"), (ops.shape(input_gradients)[0], -1))
    return ops.mean(ops.square(ops.sqrt(ops.sum(ops.square(flat), axis=1)) - 1.0))


# keyed by the names of fashiongan.spec.LOSSES
LOSSES = {
    "bce": (bce_discriminator_loss, bce_generator_loss),
    "hinge": (hinge_discriminator_loss, critic_generator_loss),
    "lsgan": (lsgan_discriminator_loss, lsgan_generator_loss),
    "wgan-gp": (wasserstein_discriminator_loss, critic_generator_loss),
}
