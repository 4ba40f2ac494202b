"""The registry of GAN variants: each pairs a generator and a discriminator builder with the
settings of the recipe it comes from.

Every builder serves the unconditional and the class-conditional network: with
`num_classes` > 0 the generator takes a `label` input beside `noise` (a learned label embedding
concatenated to the noise) and the discriminator takes `label` beside `images` (a projection
discriminator, Miyato & Koyama 2018: logits = w·φ(x) + b + embed(label)·φ(x))."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import keras
from keras import layers

from inference.errors import FashionGANError

IMAGE_SHAPE = (28, 28, 1)
OUTPUT_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
LABEL_EMBEDDING_SIZE = 32


def generator_inputs(latent_dim: int, num_classes: int) -> tuple[list, object]:
    """The generator's inputs, and the tensor its first layer sees (noise, or noise ⊕ embedding)."""
    noise = keras.Input((latent_dim,), name="noise")
    if not num_classes:
        return [noise], noise
    label = keras.Input((), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, LABEL_EMBEDDING_SIZE, name="label_embedding")(label)
    return [noise, label], layers.Concatenate(name="noise_and_label")([noise, embedded])


def discriminator_inputs(num_classes: int) -> list:
    images = keras.Input(IMAGE_SHAPE, name="images")
    return [images, keras.Input((), dtype="int32", name="label")] if num_classes else [images]


def discriminator_logits(features, inputs: list, num_classes: int, wrap=lambda layer: layer):
    """Logits from flat features; with classes, plus the projection term embed(label)·features.
    `wrap` wraps the weight layers (spectral normalisation)."""
    logits = wrap(layers.Dense(1, name="unconditional_logits"))(features)
    if num_classes:
        embedded = layers.Embedding(num_classes, features.shape[-1], embeddings_initializer="glorot_uniform",
                                    name="label_projection")(inputs[1])
        logits = layers.Add()([logits, layers.Dot(axes=1)([embedded, features])])
    return layers.Identity(name="logits")(logits)


def _model(inputs: list, outputs, name: str) -> keras.Model:
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)


def dense_generator(latent_dim: int, num_classes: int = 0) -> keras.Model:
    inputs, x = generator_inputs(latent_dim, num_classes)
    for units in (256, 512, 1024):
        x = layers.Dense(units, activation="relu")(x)
    x = layers.Dense(28 * 28, activation="tanh")(x)
    images = layers.Reshape(IMAGE_SHAPE, name="raw_images")(x)
    return _model(inputs, images, "generator")


def dense_discriminator(num_classes: int = 0) -> keras.Model:
    inputs = discriminator_inputs(num_classes)
    x = layers.Flatten()(inputs[0])
    for units in (1024, 512, 256):
        x = layers.Dense(units, activation="relu")(x)
    return _model(inputs, discriminator_logits(x, inputs, num_classes), "discriminator")


def fashiongan_generator(latent_dim: int, num_classes: int = 0) -> keras.Model:
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
    x = inputs[0]
    for filters in (32, 64, 128, 256):
        x = layers.Conv2D(filters, 5)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(0.4)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    return _model(inputs, discriminator_logits(x, inputs, num_classes), "discriminator")


def dcgan_generator(latent_dim: int, num_classes: int = 0) -> keras.Model:
    # BatchNorm is synchronized: under tf.distribute it normalizes with the global batch's
    # statistics, so every replica and worker keeps the same moving averages; on one device it
    # is the plain layer.
    inputs, x = generator_inputs(latent_dim, num_classes)
    x = layers.Dense(7 * 7 * 256, use_bias=False)(x)
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
    return _model(inputs, images, "generator")


def dcgan_discriminator(num_classes: int = 0) -> keras.Model:
    inputs = discriminator_inputs(num_classes)
    x = inputs[0]
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
    x = inputs[0]
    for filters, size, strides in ((64, 4, 2), (128, 4, 2), (256, 3, 1)):
        x = layers.SpectralNormalization(layers.Conv2D(filters, size, strides=strides, padding="same"))(x)
        x = layers.LeakyReLU(0.1)(x)
    x = layers.Flatten()(x)
    return _model(inputs, discriminator_logits(x, inputs, num_classes, layers.SpectralNormalization),
                  "discriminator")


@dataclass(frozen=True)
class Variant:
    """A named GAN recipe. Export and inference read latent_dim, output_range, image_shape and
    conditional from here (through the manifest), never guess them. `classic` marks the
    tutorial recipes that the newer variants are measured against."""

    name: str
    description: str
    latent_dim: int
    output_activation: str
    build_generator: Callable[..., keras.Model]
    build_discriminator: Callable[..., keras.Model]
    g_learning_rate: float
    d_learning_rate: float
    beta_1: float = 0.9
    batch_size: int = 256
    label_noise: float = 0.0
    loss: str = "bce"
    num_classes: int = 0
    ema_momentum: float = 0.999
    classic: bool = True
    image_shape: tuple[int, int, int] = IMAGE_SHAPE

    @property
    def output_range(self) -> tuple[float, float]:
        return OUTPUT_RANGES[self.output_activation]

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def make_generator(self) -> keras.Model:
        return self.build_generator(self.latent_dim, self.num_classes)

    def make_discriminator(self) -> keras.Model:
        return self.build_discriminator(self.num_classes)


SNGAN = Variant(
    name="sngan",
    description="DCGAN generator against a spectrally normalised discriminator; hinge "
    "loss, Adam 2e-4 beta1 0.5, batch 64",
    latent_dim=100,
    output_activation="tanh",
    build_generator=dcgan_generator,
    build_discriminator=sn_discriminator,
    g_learning_rate=2e-4,
    d_learning_rate=2e-4,
    beta_1=0.5,
    batch_size=64,
    loss="hinge",
    classic=False,
)

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
        Variant(
            name="cdcgan",
            description="class-conditional DCGAN: label embedding into the generator, projection "
            "discriminator; BCE, Adam 2e-4 beta1 0.5, batch 64",
            latent_dim=100,
            output_activation="tanh",
            build_generator=dcgan_generator,
            build_discriminator=dcgan_discriminator,
            g_learning_rate=2e-4,
            d_learning_rate=2e-4,
            beta_1=0.5,
            batch_size=64,
            num_classes=10,
            classic=False,
        ),
        SNGAN,
        replace(
            SNGAN,
            name="csngan",
            description="class-conditional sngan: label embedding into the generator, spectrally "
            "normalised projection discriminator; hinge loss, Adam 2e-4 beta1 0.5, batch 64",
            num_classes=10,
        ),
    )
}


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise FashionGANError(f"unknown variant {name!r}; choose one of: {', '.join(VARIANTS)}")
    return VARIANTS[name]
