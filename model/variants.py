"""The networks of the GAN variants: one builder per network, looked up by the names that each
variant's row in `fashiongan.spec.VARIANTS` gives.

Every builder serves the unconditional and the class-conditional network: with
`num_classes` > 0 the generator takes a `label` input beside `noise` (a learned label embedding
concatenated to the noise) and the discriminator takes `label` beside `images` (a projection
discriminator, Miyato & Koyama 2018: logits = w·φ(x) + b + embed(label)·φ(x))."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import layers

from fashiongan.spec import IMAGE_SHAPE, LABEL_INPUT, NOISE_INPUT, VariantSpec, get_variant

LABEL_EMBEDDING_SIZE = 32
REAL_INPUT = "images"  # the discriminator's image input


def generator_inputs(latent_dim: int, num_classes: int) -> tuple[object, object]:
    """The generator's inputs, and the tensor its first layer sees (noise, or noise ⊕ embedding).
    Keras' own convention: one `noise` input, or the list [noise, label] in that order, so a
    conditional generator takes g([noise, label]) and g({"noise": ..., "label": ...}) alike."""
    noise = keras.Input((latent_dim,), name=NOISE_INPUT)
    if not num_classes:
        return noise, noise
    label = keras.Input((), dtype="int32", name=LABEL_INPUT)
    embedded = layers.Embedding(num_classes, LABEL_EMBEDDING_SIZE, name="label_embedding")(label)
    return [noise, label], layers.Concatenate(name="noise_and_label")([noise, embedded])


def generator_feed(noise, labels=None):
    """What a generator built here is called with: the noise alone, or [noise, labels]."""
    return noise if labels is None else [noise, labels]


def discriminator_inputs(num_classes: int) -> dict:
    images = keras.Input(IMAGE_SHAPE, name=REAL_INPUT)
    if not num_classes:
        return {REAL_INPUT: images}
    return {REAL_INPUT: images, LABEL_INPUT: keras.Input((), dtype="int32", name=LABEL_INPUT)}


def discriminator_logits(features, inputs: dict, num_classes: int, wrap=lambda layer: layer):
    """Logits from flat features; with classes, plus the projection term embed(label)·features.
    `wrap` wraps the weight layers (spectral normalisation)."""
    logits = wrap(layers.Dense(1, name="unconditional_logits"))(features)
    if num_classes:
        embedded = layers.Embedding(
            num_classes, features.shape[-1], embeddings_initializer="glorot_uniform", name="label_projection"
        )(inputs[LABEL_INPUT])
        logits = layers.Add()([logits, layers.Dot(axes=1)([embedded, features])])
    return layers.Identity(name="logits")(logits)


def _model(inputs, outputs, name: str) -> keras.Model:
    return keras.Model(inputs, outputs, name=name)


def dense_generator(latent_dim: int, num_classes: int = 0, synchronized: bool = False) -> keras.Model:
    inputs, x = generator_inputs(latent_dim, num_classes)
    for units in (256, 512, 1024):
        x = layers.Dense(units, activation="relu")(x)
    x = layers.Dense(28 * 28, activation="tanh")(x)
    images = layers.Reshape(IMAGE_SHAPE, name="raw_images")(x)
    return _model(inputs, images, "generator")


def dense_discriminator(num_classes: int = 0) -> keras.Model:
    inputs = discriminator_inputs(num_classes)
    x = layers.Flatten()(inputs[REAL_INPUT])
    for units in (1024, 512, 256):
        x = layers.Dense(units, activation="relu")(x)
    return _model(inputs, discriminator_logits(x, inputs, num_classes), "discriminator")


def fashiongan_generator(latent_dim: int, num_classes: int = 0, synchronized: bool = False) -> keras.Model:
    inputs, x = generator_inputs(latent_dim, num_classes)
    x = layers.Dense(7 * 7 * 128)(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((7, 7, 128))(x)
    for _ in range(2):
        x = layers.UpSampling2D()(x)
        x = layers.Conv2D(128, 5, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    for _ in range(2):
        x = layers.Conv2D(128, 4, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    images = layers.Conv2D(1, 4, padding="same", activation="sigmoid", name="raw_images")(x)
    return _model(inputs, images, "generator")


def fashiongan_discriminator(num_classes: int = 0) -> keras.Model:
    inputs = discriminator_inputs(num_classes)
    x = inputs[REAL_INPUT]
    for filters in (32, 64, 128, 256):
        x = layers.Conv2D(filters, 5)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(0.4)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    return _model(inputs, discriminator_logits(x, inputs, num_classes), "discriminator")


def dcgan_generator(latent_dim: int, num_classes: int = 0, synchronized: bool = False) -> keras.Model:
    # `synchronized` BatchNorm normalizes with the global batch's statistics under tf.distribute,
    # so every replica and worker keeps the same moving averages. It is a training-time choice of
    # TensorFlow's multi-replica strategies: Keras refuses it on other backends, so no saved
    # generator carries it.
    inputs, x = generator_inputs(latent_dim, num_classes)
    x = layers.Dense(7 * 7 * 256, use_bias=False)(x)
    x = layers.BatchNormalization(synchronized=synchronized)(x)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((7, 7, 256))(x)
    for filters, strides in ((128, 1), (64, 2)):
        x = layers.Conv2DTranspose(filters, 5, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(synchronized=synchronized)(x)
        x = layers.LeakyReLU()(x)
    images = layers.Conv2DTranspose(
        1, 5, strides=2, padding="same", use_bias=False, activation="tanh", name="raw_images"
    )(x)
    return _model(inputs, images, "generator")


def dcgan_discriminator(num_classes: int = 0) -> keras.Model:
    inputs = discriminator_inputs(num_classes)
    x = inputs[REAL_INPUT]
    for filters in (64, 128):
        x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
        x = layers.LeakyReLU()(x)
        x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    return _model(inputs, discriminator_logits(x, inputs, num_classes), "discriminator")


def sn_discriminator(num_classes: int = 0) -> keras.Model:
    """SNGAN-style: every weight layer spectrally normalised (Keras' SpectralNormalization), no
    dropout or batch norm, LeakyReLU 0.1."""
    inputs = discriminator_inputs(num_classes)
    x = inputs[REAL_INPUT]
    for filters, size, strides in ((64, 4, 2), (128, 4, 2), (256, 3, 1)):
        x = layers.SpectralNormalization(layers.Conv2D(filters, size, strides=strides, padding="same"))(x)
        x = layers.LeakyReLU(0.1)(x)
    x = layers.Flatten()(x)
    return _model(inputs, discriminator_logits(x, inputs, num_classes, layers.SpectralNormalization), "discriminator")


GENERATORS: dict[str, Callable[..., keras.Model]] = {
    "dense": dense_generator,
    "fashiongan": fashiongan_generator,
    "dcgan": dcgan_generator,
}
DISCRIMINATORS: dict[str, Callable[..., keras.Model]] = {
    "dense": dense_discriminator,
    "fashiongan": fashiongan_discriminator,
    "dcgan": dcgan_discriminator,
    "spectral": sn_discriminator,
}


def make_generator(variant: VariantSpec | str, synchronized: bool = False) -> keras.Model:
    """A new generator of a variant (a `fashiongan.spec` row or its name). `synchronized`
    batch norm is for training under a TensorFlow multi-replica strategy only (builders without
    batch norm take and ignore it)."""
    variant = get_variant(variant) if isinstance(variant, str) else variant
    return GENERATORS[variant.generator](variant.latent_dim, variant.num_classes, synchronized)


def make_discriminator(variant: VariantSpec | str) -> keras.Model:
    variant = get_variant(variant) if isinstance(variant, str) else variant
    return DISCRIMINATORS[variant.discriminator](variant.num_classes)


def sampling_generator(gan, variant: VariantSpec | str, target=None):
    """The generator to sample and export: float32 layers holding the moving average of the
    generator's weights (the raw weights where the average is off), with the raw generator's
    batch-norm statistics. Writes into `target` (a generator of the same variant) if given;
    `variant` is the run's (its class count that of the dataset)."""
    target = target or make_generator(variant)
    target.set_weights(gan.generator.get_weights())
    optimizer = getattr(gan.g_optimizer, "inner_optimizer", gan.g_optimizer)
    if optimizer.use_ema:
        for variable, average in zip(target.trainable_variables, optimizer._model_variables_moving_average):
            variable.assign(np.asarray(average.value))
    return target
