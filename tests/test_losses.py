"""Known answers for each loss from fixed logits: BCE(t, x) = max(x, 0) - x t + log(1 + exp(-|x|))."""
import math

import numpy as np
import pytest
import tensorflow as tf

from model.losses import LOSSES, bce_discriminator_loss, bce_generator_loss


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_bce_discriminator_known_answer():
    real, fake = tf.constant([[2.0], [0.5]]), tf.constant([[-1.0], [3.0]])
    expected = (softplus(-2.0) + softplus(-0.5)) / 2 + (softplus(-1.0) + softplus(3.0)) / 2
    assert float(bce_discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-6)


def test_bce_generator_known_answer():
    fake = tf.constant([[-1.0], [3.0], [0.0]])
    expected = (softplus(1.0) + softplus(-3.0) + math.log(2.0)) / 3
    assert float(bce_generator_loss(fake)) == pytest.approx(expected, rel=1e-6)


def test_label_noise_is_seeded_and_bounded():
    real, fake = tf.constant([[4.0]] * 64), tf.constant([[-4.0]] * 64)
    seed = tf.constant([3, 9], tf.int64)
    clean = float(bce_discriminator_loss(real, fake))
    noisy = float(bce_discriminator_loss(real, fake, 0.15, seed))
    assert noisy == float(bce_discriminator_loss(real, fake, 0.15, seed))
    # targets move by up to 0.15 towards each other: the loss rises, at most to targets 0.85 / 0.15
    worst = 2 * (softplus(-4.0) + 0.15 * 4.0)
    assert clean < noisy < worst
    # at logit 0 the loss is 2 ln 2 whatever the targets
    zeros = tf.zeros((8, 1))
    assert float(bce_discriminator_loss(zeros, zeros, 0.15, seed)) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_every_loss_pair_is_finite_and_ranks_a_good_discriminator_lower():
    confident = (tf.constant([[5.0]]), tf.constant([[-5.0]]))
    fooled = (tf.constant([[-5.0]]), tf.constant([[5.0]]))
    for name, (d_loss, g_loss) in LOSSES.items():
        assert float(d_loss(*confident)) < float(d_loss(*fooled)), name
        assert float(g_loss(confident[1])) > float(g_loss(fooled[1])), name
        assert np.isfinite(float(d_loss(*fooled))) and np.isfinite(float(g_loss(fooled[1])))
