"""Known answers for each loss from fixed logits: BCE(t, x) = max(x, 0) - x t + log(1 + exp(-|x|))."""

import math

import numpy as np
import pytest
import tensorflow as tf

from fashiongan.model.losses import LOSSES, bce_discriminator_loss, bce_generator_loss


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


def seeded_uniform(shape, offset):
    return tf.random.stateless_uniform(shape, seed=[3, 9 + offset])


def test_label_noise_is_seeded_and_bounded():
    real, fake = tf.constant([[4.0]] * 64), tf.constant([[-4.0]] * 64)
    clean = float(bce_discriminator_loss(real, fake))
    noisy = float(bce_discriminator_loss(real, fake, 0.15, seeded_uniform))
    assert noisy == float(bce_discriminator_loss(real, fake, 0.15, seeded_uniform))
    # targets move by up to 0.15 towards each other: the loss rises, at most to targets 0.85 / 0.15
    worst = 2 * (softplus(-4.0) + 0.15 * 4.0)
    assert clean < noisy < worst
    # at logit 0 the loss is 2 ln 2 whatever the targets
    zeros = tf.zeros((8, 1))
    assert float(bce_discriminator_loss(zeros, zeros, 0.15, seeded_uniform)) == pytest.approx(2 * math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="label noise needs a uniform draw"):
        bce_discriminator_loss(real, fake, 0.15)


def test_every_loss_pair_is_finite_and_ranks_a_good_discriminator_lower():
    confident = (tf.constant([[5.0]]), tf.constant([[-5.0]]))
    fooled = (tf.constant([[-5.0]]), tf.constant([[5.0]]))
    for name, (d_loss, g_loss) in LOSSES.items():
        assert float(d_loss(*confident)) < float(d_loss(*fooled)), name
        assert float(g_loss(confident[1])) > float(g_loss(fooled[1])), name
        assert np.isfinite(float(d_loss(*fooled))) and np.isfinite(float(g_loss(fooled[1])))


def test_hinge_known_answer():
    from fashiongan.model.losses import critic_generator_loss, hinge_discriminator_loss

    real, fake = tf.constant([[2.0], [0.5]]), tf.constant([[-3.0], [0.25]])
    # real: relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; fake: relu(1-3)=0, relu(1.25)=1.25 -> 0.625
    assert float(hinge_discriminator_loss(real, fake)) == pytest.approx(0.875)
    assert float(critic_generator_loss(fake)) == pytest.approx(1.375)


def test_lsgan_known_answer():
    from fashiongan.model.losses import lsgan_discriminator_loss, lsgan_generator_loss

    real, fake = tf.constant([[2.0], [0.0]]), tf.constant([[1.0], [-1.0]])
    # 0.5 * mean(1, 1) + 0.5 * mean(1, 1) = 1; generator: 0.5 * mean(0, 4) = 1
    assert float(lsgan_discriminator_loss(real, fake)) == pytest.approx(1.0)
    assert float(lsgan_generator_loss(fake)) == pytest.approx(1.0)


def test_wasserstein_and_gradient_penalty_known_answers():
    from fashiongan.model.losses import gradient_penalty, interpolate, wasserstein_discriminator_loss

    real, fake = tf.constant([[2.0], [4.0]]), tf.constant([[-1.0], [0.0]])
    assert float(wasserstein_discriminator_loss(real, fake)) == pytest.approx(-0.5 - 3.0)
    # a linear critic D(x) = w.x has gradient w everywhere: the penalty is (|w| - 1)^2
    w = np.array([3.0, 0.0, 0.0, 4.0], np.float32).reshape(1, 2, 2, 1)  # |w| = 5
    assert float(gradient_penalty(np.repeat(w, 6, axis=0))) == pytest.approx(16.0, rel=1e-6)
    unit = w / 5.0  # gradients of norm 1 cost nothing
    assert float(gradient_penalty(np.repeat(unit, 3, axis=0))) == pytest.approx(0.0, abs=1e-12)
    points = np.asarray(
        interpolate(np.ones((2, 2, 2, 1), np.float32), np.zeros((2, 2, 2, 1)), np.float32([[[[0.25]]], [[[1.0]]]]))
    )
    assert points[0].max() == points[0].min() == 0.25 and np.all(points[1] == 1.0)
