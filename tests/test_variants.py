"""The shared harness, parametrised over every variant: build, serialise, reload, one train step."""

import keras
import numpy as np
import pytest

from fashiongan.errors import FashionGANError
from fashiongan.model.train import TrainConfig, build_gan
from fashiongan.model.variants import DISCRIMINATORS, GENERATORS, generator_feed, make_discriminator, make_generator
from fashiongan.spec import VARIANTS, get_variant

ALL_VARIANTS = sorted(VARIANTS)


def test_every_spec_row_names_builders_that_exist():
    assert {variant.generator for variant in VARIANTS.values()} <= set(GENERATORS)
    assert {variant.discriminator for variant in VARIANTS.values()} <= set(DISCRIMINATORS)


def test_unknown_variant_names_the_choices():
    with pytest.raises(FashionGANError, match="choose one of: dense, fashiongan, dcgan, cdcgan, sngan, csngan"):
        get_variant("wgan")


def _noise(variant, count=4, seed=0):
    return np.random.default_rng(seed).standard_normal((count, variant.latent_dim)).astype(np.float32)


def _inputs(variant, count=4, seed=0):
    """A generator's input: the noise, and for a conditional variant labels 0, 1, 2, ..."""
    labels = np.arange(count, dtype=np.int32) % variant.num_classes if variant.conditional else None
    return generator_feed(_noise(variant, count, seed), labels)


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_generator_shape_and_output_range(name):
    variant = VARIANTS[name]
    inputs = _inputs(variant)
    images = np.asarray(make_generator(variant)(inputs, training=False))
    assert images.shape == (4, *variant.image_shape)
    low, high = variant.output_range
    assert images.min() >= low and images.max() <= high and images.std() > 0
    discriminator_inputs = {"images": images, **({"label": inputs[1]} if variant.conditional else {})}
    logits = np.asarray(make_discriminator(variant)(discriminator_inputs))
    assert logits.shape == (4, 1)


@pytest.mark.parametrize("name", ALL_VARIANTS)
def test_config_round_trip_and_keras_reload_in_safe_mode(name, tmp_path):
    variant = VARIANTS[name]
    generator = make_generator(variant)
    clone = keras.Model.from_config(generator.get_config())
    assert clone.get_config() == generator.get_config()
    clone.set_weights(generator.get_weights())
    noise = _inputs(variant)
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
    labels = np.arange(8, dtype=np.int32) % 10 if variant.conditional else None
    logs = gan.train_on_batch(real, labels, return_dict=True)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(value) for value in logs.values())
    assert 0 <= logs["d_real"] <= 1 and 0 <= logs["d_fake"] <= 1
    assert any(not np.array_equal(a, b) for a, b in zip(before_g, gan.generator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(before_d, gan.discriminator.get_weights()))
    assert int(gan.g_optimizer.iterations) == 1 and int(gan.d_optimizer.iterations) == 1


@pytest.mark.parametrize("name", ["cdcgan", "csngan"])
def test_conditional_generator_draws_different_images_per_label(name):
    variant = VARIANTS[name]
    generator = make_generator(variant)
    noise = np.repeat(_noise(variant, 1), 10, axis=0)
    images = np.asarray(generator([noise, np.arange(10, dtype=np.int32)], training=False))
    assert all(not np.allclose(images[0], image) for image in images[1:])
    assert [tensor.name for tensor in generator.inputs] == ["noise", "label"]


def test_sngan_discriminator_is_spectrally_normalised_after_a_step():
    """Keras' SpectralNormalization divides each kernel by its largest singular value."""
    gan = build_gan(TrainConfig(variant="sngan").resolved())
    real = np.random.default_rng(3).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    gan.train_on_batch(real)
    wrapped = [layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 4
    for layer in wrapped:
        gan.discriminator({"images": real}, training=True)  # one more power iteration per call
        kernel = np.asarray(layer.kernel).reshape(-1, layer.kernel.shape[-1])
        assert np.linalg.norm(kernel, 2) == pytest.approx(1.0, abs=0.1)


def test_ema_generator_is_the_moving_average_and_the_raw_one_keeps_training():
    from fashiongan.model.variants import sampling_generator

    config = TrainConfig(variant="dense", ema_momentum=0.5).resolved()
    gan = build_gan(config)
    real = np.random.default_rng(4).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    gan.train_on_batch(real)
    after_first = [np.array(w) for w in gan.generator.trainable_weights]
    gan.train_on_batch(real)
    ema = sampling_generator(gan, "dense")
    for average, first, raw in zip(ema.trainable_weights, after_first, gan.generator.trainable_weights):
        np.testing.assert_allclose(np.asarray(average), 0.5 * np.asarray(first) + 0.5 * np.asarray(raw), atol=1e-6)
    raw_gan = build_gan(TrainConfig(variant="dense", ema_momentum=0).resolved())
    raw_gan.train_on_batch(real)
    for exported, raw in zip(sampling_generator(raw_gan, "dense").weights, raw_gan.generator.weights):
        np.testing.assert_array_equal(np.asarray(exported), np.asarray(raw))


@pytest.mark.parametrize("loss", ["bce", "hinge", "lsgan", "wgan-gp"])
def test_every_loss_trains_a_step(loss):
    gan = build_gan(TrainConfig(variant="dcgan", loss=loss).resolved())
    before = [w.copy() for w in gan.generator.get_weights()]
    real = np.random.default_rng(2).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    logs = gan.train_on_batch(real, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, gan.generator.get_weights()))


def test_unknown_loss_is_refused():
    with pytest.raises(FashionGANError, match="unknown loss 'ralsgan'; choose one of: bce, hinge, lsgan, wgan-gp"):
        TrainConfig(variant="dense", loss="ralsgan").resolved()


def test_the_sampling_generator_averages_weights_and_keeps_the_raw_batch_norm_statistics():
    from fashiongan.model.variants import sampling_generator

    gan = build_gan(TrainConfig(variant="dcgan", ema_momentum=0.5).resolved())
    real = np.random.default_rng(5).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    gan.train_on_batch(real)
    gan.train_on_batch(real)
    ema = sampling_generator(gan, "dcgan")
    raw_statistics = [np.asarray(w) for w in gan.generator.non_trainable_weights]
    assert raw_statistics and any(np.abs(w).max() > 0 for w in raw_statistics[::2])  # moving means have moved
    for exported, raw in zip(ema.non_trainable_weights, raw_statistics):
        np.testing.assert_array_equal(np.asarray(exported), raw)
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(ema.trainable_weights, gan.generator.trainable_weights)
    )


TRAINING_OPTIONS = {"augment": {"augment": "translation,cutout"}, "ema_warmup": {"ema_warmup": True}}


@pytest.mark.parametrize("option", sorted(TRAINING_OPTIONS))
def test_each_training_option_trains_a_step_on_tensorflow(option):
    gan = build_gan(TrainConfig(variant="csngan", **TRAINING_OPTIONS[option]).resolved())
    before = [w.copy() for w in gan.generator.get_weights()]
    real = np.random.default_rng(1).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    logs = gan.train_on_batch(real, np.arange(8, dtype=np.int32), return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, gan.generator.get_weights()))
    assert gan.augment == (("translation", "cutout") if option == "augment" else ())


def test_the_warm_up_average_follows_the_weights_closely_at_first():
    """The warm-up average copies the weights at step 0, then moves with momentum (1+t)/(10+t):
    2/11 at step 1, where Keras' plain average would keep 0.999 of its past."""
    gan = build_gan(TrainConfig(variant="dense", ema_warmup=True).resolved())
    real = np.random.default_rng(1).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    averages, weights = gan.g_optimizer._model_variables_moving_average, gan.generator.trainable_weights
    gan.train_on_batch(real, return_dict=True)
    first = [np.asarray(average.value).copy() for average in averages]
    for average, weight in zip(first, weights):
        np.testing.assert_array_equal(average, np.asarray(weight.value))
    gan.train_on_batch(real, return_dict=True)
    for before, average, weight in zip(first, averages, weights):
        expected = 2 / 11 * before + 9 / 11 * np.asarray(weight.value)
        np.testing.assert_allclose(np.asarray(average.value), expected, atol=1e-6)


def test_diff_augment_translates_and_cuts_out_as_drawn():
    from fashiongan.model.augment import diff_augment

    images = np.full((2, 28, 28, 1), 0.5, np.float32)
    draws = {0: [0.0, 1 - 1e-6], 1: [0.5, 0.5], 2: [0.0, 0.5], 3: [0.0, 0.5]}
    uniform = lambda shape, offset: np.asarray(draws[offset], np.float32)  # noqa: E731
    moved = np.asarray(diff_augment(images, ("translation",), uniform, -1.0))
    assert moved.shape == images.shape
    # reach round(28 / 8) = 4: draw 0 moves image 0 four rows up, draw ~1 image 1 four rows down;
    # the column draws (0.5) shift by 0
    assert (moved[0, -4:] == -1).all() and (moved[0, :-4] == 0.5).all()
    assert (moved[1, :4] == -1).all() and (moved[1, 4:] == 0.5).all()
    cut = np.asarray(diff_augment(images, ("cutout",), uniform, -1.0))
    assert (cut == 0).sum(axis=(1, 2, 3)).tolist() == [7 * 7, 14 * 14]  # a corner square, a whole one
    assert (cut[1, 7:21, 7:21] == 0).all() and (cut[1][cut[1] != 0] == 0.5).all()


def test_unknown_augmentations_are_refused():
    with pytest.raises(FashionGANError, match="unknown augmentation flip; choose from none, translation, cutout"):
        TrainConfig(variant="dcgan", augment="translation,flip").resolved()


def test_diff_augment_draws_a_shift_for_each_image():
    """A batch of eight copies of one image, translated as a GAN step does: the copies come out shifted differently."""
    gan = build_gan(TrainConfig(variant="dense", augment="translation").resolved())
    image = np.linspace(-1, 1, 28 * 28, dtype=np.float32).reshape(1, 28, 28, 1)  # every pixel differs: any shift shows
    moved = np.asarray(gan.augmented(np.repeat(image, 8, axis=0), 0, 0))
    distinct = len({copy.tobytes() for copy in moved})
    assert distinct > 1, "every image of the batch got the same shift"


def test_the_discriminator_sees_the_generated_images_augmented_too(monkeypatch):
    """In a TensorFlow step under translation, the generated batch reaches the discriminator as the
    generator's output shifted by the generated images' own draw, never as it came out."""
    gan = build_gan(TrainConfig(variant="dense", augment="translation").resolved())
    gan.run_eagerly = True  # so the networks' inputs and outputs can be read as they pass
    seen: dict[str, list] = {"generator": [], "discriminator": []}
    functional = type(gan.generator)
    assert type(gan.discriminator) is functional
    call = functional.__call__

    def recording(model, inputs, *args, **kwargs):
        outputs = call(model, inputs, *args, **kwargs)
        if model is gan.generator:
            seen["generator"].append(np.asarray(outputs))
        elif model is gan.discriminator:
            seen["discriminator"].append(np.asarray(inputs["images"]))
        return outputs

    monkeypatch.setattr(functional, "__call__", recording)
    real = np.random.default_rng(6).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    gan.train_on_batch(real)
    monkeypatch.undo()
    (generated,) = seen["generator"]
    shifted = np.asarray(gan.augmented(generated, 0, 1))  # step 0, the generated images' draw
    assert not np.array_equal(shifted, generated)
    assert any(np.array_equal(images, shifted) for images in seen["discriminator"])
    assert not any(np.array_equal(images, generated) for images in seen["discriminator"])
