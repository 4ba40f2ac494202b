"""The shared harness, parametrised over every variant: build, serialise, reload, one train step."""
import keras
import numpy as np
import pytest

from model.cli import variant_names
from model.train import TrainConfig, build_gan
from model.variants import VARIANTS, get_variant

ALL_VARIANTS = sorted(VARIANTS)


def test_cli_lists_exactly_the_registry():
    assert sorted(variant_names()) == ALL_VARIANTS


def test_unknown_variant_names_the_choices():
    with pytest.raises(Exception, match="choose one of: dense, fashiongan, dcgan"):
        get_variant("wgan")


def _noise(variant, count=4, seed=0):
    return np.random.default_rng(seed).standard_normal((count, variant.latent_dim)).astype(np.float32)


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_generator_shape_and_output_range(name):
    variant = VARIANTS[name]
    generator = variant.build_generator(variant.latent_dim)
    images = np.asarray(generator(_noise(variant), training=False))
    assert images.shape == (4, *variant.image_shape)
    low, high = variant.output_range
    assert images.min() >= low and images.max() <= high and images.std() > 0
    logits = np.asarray(variant.build_discriminator()(images))
    assert logits.shape == (4, 1)


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_config_round_trip_and_keras_reload_in_safe_mode(name, tmp_path):
    variant = VARIANTS[name]
    generator = variant.build_generator(variant.latent_dim)
    clone = keras.Model.from_config(generator.get_config())
    assert clone.get_config() == generator.get_config()
    clone.set_weights(generator.get_weights())
    noise = _noise(variant)
    expected = np.asarray(generator(noise, training=False))
    np.testing.assert_array_equal(np.asarray(clone(noise, training=False)), expected)
    generator.save(tmp_path / "generator.keras")
    reloaded = keras.saving.load_model(tmp_path / "generator.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(reloaded(noise, training=False)), expected)


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_one_train_step_is_finite_and_moves_both_networks(name):
    variant = VARIANTS[name]
    gan = build_gan(TrainConfig(variant=name).resolved())
    before_g = [w.copy() for w in gan.generator.get_weights()]
    before_d = [w.copy() for w in gan.discriminator.get_weights()]
    low, high = variant.output_range
    real = np.random.default_rng(1).uniform(low, high, (8, 28, 28, 1)).astype(np.float32)
    logs = gan.train_on_batch(real, return_dict=True)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(value) for value in logs.values())
    assert 0 <= logs["d_real"] <= 1 and 0 <= logs["d_fake"] <= 1
    assert any(not np.array_equal(a, b) for a, b in zip(before_g, gan.generator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(before_d, gan.discriminator.get_weights()))
    assert int(gan.g_optimizer.iterations) == 1 and int(gan.d_optimizer.iterations) == 1


@pytest.mark.parametrize("loss", ["bce", "hinge", "lsgan", "wgan-gp"])
def test_every_loss_trains_a_step(loss):
    gan = build_gan(TrainConfig(variant="dcgan", loss=loss).resolved())
    before = [w.copy() for w in gan.generator.get_weights()]
    real = np.random.default_rng(2).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    logs = gan.train_on_batch(real, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, gan.generator.get_weights()))


def test_unknown_loss_is_refused():
    with pytest.raises(Exception, match="unknown loss 'ralsgan'; choose one of: bce, hinge, lsgan, wgan-gp"):
        TrainConfig(variant="dense", loss="ralsgan").resolved()
