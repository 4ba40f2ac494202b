"""The registry of GAN variants: each pairs a generator and a discriminator builder with the
settings of the recipe it comes from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

from inference.errors import FashionGANError

IMAGE_SHAPE = (28, 28, 1)
OUTPUT_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


def dense_generator(latent_dim: int) -> keras.Model:
    noise = keras.Input((latent_dim,), name="noise")
    x = noise
    for units in (256, 512, 1024):
        x = layers.Dense(units, activation="relu")(x)
    x = layers.Dense(28 * 28, activation="tanh")(x)
    images = layers.Reshape(IMAGE_SHAPE, name="raw_images")(x)
    return keras.Model(noise, images, name="generator")


def dense_discriminator() -> keras.Model:
    images = keras.Input(IMAGE_SHAPE, name="images")
    x = layers.Flatten()(images)
    for units in (1024, 512, 256):
        x = layers.Dense(units, activation="relu")(x)
    logits = layers.Dense(1, name="logits")(x)
    return keras.Model(images, logits, name="discriminator")


def fashiongan_generator(latent_dim: int) -> keras.Model:
    noise = keras.Input((latent_dim,), name="noise")
    x = layers.Dense(7 * 7 * 128)(noise)
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
    return keras.Model(noise, images, name="generator")


def fashiongan_discriminator() -> keras.Model:
    images = keras.Input(IMAGE_SHAPE, name="images")
    x = images
    for filters in (32, 64, 128, 256):
        x = layers.Conv2D(filters, 5)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(0.4)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    logits = layers.Dense(1, name="logits")(x)
    return keras.Model(images, logits, name="discriminator")


def dcgan_generator(latent_dim: int) -> keras.Model:
    # BatchNorm is synchronized: under tf.distribute it normalizes with the global batch's
    # statistics, so every replica and worker keeps the same moving averages; on one device it
    # is the plain layer.
    noise = keras.Input((latent_dim,), name="noise")
    x = layers.Dense(7 * 7 * 256, use_bias=False)(noise)
    x = layers.BatchNormalization(synchronized=True)(x)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((7, 7, 256))(x)
    for filters, strides in ((128, 1), (64, 2)):
        x = layers.Conv2DTranspose(filters, 5, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(synchronized=True)(x)
        x = layers.LeakyReLU()(x)
    images = layers.Conv2DTranspose(
        1, 5, strides=2, padding="same", use_bias=False, activation="tanh", name="raw_images"
    )(x)
    return keras.Model(noise, images, name="generator")


def dcgan_discriminator() -> keras.Model:
    images = keras.Input(IMAGE_SHAPE, name="images")
    x = images
    for filters in (64, 128):
        x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
        x = layers.LeakyReLU()(x)
        x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    logits = layers.Dense(1, name="logits")(x)
    return keras.Model(images, logits, name="discriminator")


@dataclass(frozen=True)
class Variant:
    """A named GAN recipe. Export and inference read latent_dim, output_range, image_shape and
    conditional from here (through the manifest), never guess them."""

    name: str
    description: str
    latent_dim: int
    output_activation: str
    build_generator: Callable[[int], keras.Model]
    build_discriminator: Callable[[], keras.Model]
    g_learning_rate: float
    d_learning_rate: float
    beta_1: float = 0.9
    batch_size: int = 256
    label_noise: float = 0.0
    loss: str = "bce"
    conditional: bool = False
    image_shape: tuple[int, int, int] = IMAGE_SHAPE

    @property
    def output_range(self) -> tuple[float, float]:
        return OUTPUT_RANGES[self.output_activation]


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant(
            name="dense",
            description="MLP GAN: Dense+ReLU generator (tanh, 784 -> 28x28) and MLP discriminator; "
            "BCE, Adam 1e-4",
            latent_dim=100,
            output_activation="tanh",
            build_generator=dense_generator,
            build_discriminator=dense_discriminator,
            g_learning_rate=1e-4,
            d_learning_rate=1e-4,
        ),
        Variant(
            name="fashiongan",
            description="UpSampling2D+Conv2D generator (sigmoid) and Conv2D+Dropout discriminator "
            "with noisy labels; Adam G 1e-4, D 1e-5",
            latent_dim=128,
            output_activation="sigmoid",
            build_generator=fashiongan_generator,
            build_discriminator=fashiongan_discriminator,
            g_learning_rate=1e-4,
            d_learning_rate=1e-5,
            batch_size=128,
            label_noise=0.15,
        ),
        Variant(
            name="dcgan",
            description="TensorFlow's DCGAN: Conv2DTranspose+BatchNorm generator (tanh) and "
            "strided Conv2D discriminator; BCE, Adam 1e-4",
            latent_dim=100,
            output_activation="tanh",
            build_generator=dcgan_generator,
            build_discriminator=dcgan_discriminator,
            g_learning_rate=1e-4,
            d_learning_rate=1e-4,
        ),
    )
}


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise FashionGANError(f"unknown variant {name!r}; choose one of: {', '.join(VARIANTS)}")
    return VARIANTS[name]
