"""Every name the rest of fashiongan reads, declared once: the input/output contract, the artifact
formats, the variants, the datasets, the losses and the runtime choices.

Standard library only, so the command line, the sampler and the demo read it without importing
numpy's heavier neighbours, Keras or TensorFlow. The CLI builds its `choices=` from it, the
exporter dispatches its writers by it, the sampler derives its preferences and runtime checks
from it, and the tests read the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from fashiongan.errors import FashionGANError

# --- the input/output contract of every exported generator ---------------------------------------

NOISE_INPUT = "noise"  # float32 N×latent_dim, standard normal
LABEL_INPUT = "label"  # int32 N, class indices (conditional generators only)
OUTPUT_NAME = "images"  # float32 N×28×28×1
NOISE_DTYPE = "float32"
LABEL_DTYPE = "int32"
OUTPUT_DTYPE = "float32"
NOISE_DISTRIBUTION = "standard_normal"
OUTPUT_RANGE = (0.0, 1.0)  # 0 black, 1 white, whatever the variant's own activation
IMAGE_SHAPE = (28, 28, 1)
MANIFEST_FILE = "manifest.json"  # beside the artifacts in every export folder
ONNX_OPSET = 17  # every ONNX file the project writes (generators and classifiers)
# How an ONNX generator stores its weights (`export --onnx-weights`); float16 halves the file and
# is cast to float32 once at load, so every op still computes in float32.
ONNX_WEIGHTS: tuple[str, ...] = ("float32", "float16")
ONNX_FLOAT16_TOLERANCE = 2e-3  # the largest difference from Keras a float16-stored file may show
TFLITE_BATCH = 1  # TFLite files take one image a call (UpSampling2D converts to builtins only so)
TFLITE_CALIBRATION_ROWS = 256  # representative noise (labels spread evenly) for the int8 file
TFLITE_INT8_TOLERANCE = 0.1  # the full-integer file against Keras: 0.034 measured on a trained csngan


# --- artifact formats ----------------------------------------------------------------------------


# Runtime name -> the Python module its inference backend imports (`fashiongan.inference.backends`).
RUNTIMES: dict[str, str] = {
    "onnx": "onnxruntime",
    "tflite": "ai_edge_litert",
    "keras": "tensorflow",
    "savedmodel": "tensorflow",
    "h5": "tf_keras",
}
# Runtimes that run the file's own graph, whatever it does (a SavedModel may write files): they
# open only where the user says the file is trusted, never because a manifest lists it.
RUNS_GRAPH_CODE: frozenset[str] = frozenset({"savedmodel"})


@dataclass(frozen=True)
class ArtifactFormat:
    """One file (or folder) of an export.

    `writer` is the exporter's writer that makes it (the `--formats` value); `runtime` names the
    inference backend that runs it (a key of RUNTIMES); `preference` orders an export folder's
    artifacts when no format is asked for (TensorFlow-free first); `tolerance` is the largest
    difference from the Keras generator the parity tests allow, in the [0, 1] output contract."""

    name: str
    path: str
    writer: str
    runtime: str
    preference: int
    tolerance: float
    quant: str | None = None  # the `--tflite-quant` value of a TFLite file

    @property
    def suffix(self) -> str:
        """The file suffix that names this format for a lone file ('' for a folder)."""
        return PurePosixPath(self.path).suffix

    @property
    def integer_io(self) -> bool:
        """A full-integer TFLite file: int8 noise in and int8 images out, each with its own scale
        and zero point in the file (the sampler quantizes and dequantizes)."""
        return self.quant == "int8"

    @property
    def module(self) -> str:
        """The Python module that running this artifact needs."""
        return RUNTIMES[self.runtime]


# In the order the exporter writes them.
ARTIFACTS: tuple[ArtifactFormat, ...] = (
    ArtifactFormat("keras", "generator.keras", writer="keras", runtime="keras", preference=5, tolerance=1e-4),
    ArtifactFormat(
        "savedmodel", "saved_model/1", writer="savedmodel", runtime="savedmodel", preference=6, tolerance=1e-4
    ),
    ArtifactFormat(
        "tflite", "generator.tflite", writer="tflite", runtime="tflite", preference=1, tolerance=1e-4, quant="none"
    ),
    ArtifactFormat(
        "tflite_float16",
        "generator_float16.tflite",
        writer="tflite",
        runtime="tflite",
        preference=2,
        tolerance=2e-3,
        quant="float16",
    ),
    ArtifactFormat(
        "tflite_dynamic",
        "generator_dynamic_int8.tflite",
        writer="tflite",
        runtime="tflite",
        preference=3,
        tolerance=1e-1,
        quant="dynamic",
    ),
    ArtifactFormat(  # full-integer: int8 weights, activations, noise and images (label stays int32)
        "tflite_int8",
        "generator_int8.tflite",
        writer="tflite",
        runtime="tflite",
        preference=4,
        tolerance=TFLITE_INT8_TOLERANCE,
        quant="int8",
    ),
    ArtifactFormat("onnx", "generator.onnx", writer="onnx", runtime="onnx", preference=0, tolerance=1e-4),
    ArtifactFormat("h5", "generator.h5", writer="h5", runtime="h5", preference=7, tolerance=1e-4),
)
ARTIFACT_FORMATS: dict[str, ArtifactFormat] = {artifact.name: artifact for artifact in ARTIFACTS}
ARTIFACT_NAMES: tuple[str, ...] = tuple(ARTIFACT_FORMATS)
PREFERRED_ARTIFACTS: tuple[str, ...] = tuple(a.name for a in sorted(ARTIFACTS, key=lambda a: a.preference))
EXPORT_FORMATS: tuple[str, ...] = tuple(dict.fromkeys(artifact.writer for artifact in ARTIFACTS))
TFLITE_QUANTS: tuple[str, ...] = tuple(a.quant for a in ARTIFACTS if a.writer == "tflite" and a.quant)


def _suffix_formats() -> dict[str, str]:
    """A lone model file's suffix picks its format: the first row with that suffix."""
    formats: dict[str, str] = {}
    for artifact in ARTIFACTS:
        if artifact.suffix:
            formats.setdefault(artifact.suffix, artifact.name)
    return formats


SUFFIX_FORMATS: dict[str, str] = _suffix_formats()


def artifacts_of(writer: str) -> tuple[ArtifactFormat, ...]:
    """The artifacts one writer makes, in preference order."""
    return tuple(a for a in sorted(ARTIFACTS, key=lambda a: a.preference) if a.writer == writer)


def tflite_artifact(quant: str) -> ArtifactFormat:
    """The TFLite artifact of one `--tflite-quant` value."""
    return next(a for a in ARTIFACTS if a.writer == "tflite" and a.quant == quant)


# --- datasets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folder: str  # the folder name Debian and Keras use
    class_names: tuple[str, ...]
    how_to_get: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


DATASETS: dict[str, DatasetSpec] = {
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        folder="fashion-mnist",
        class_names=(
            "t-shirt",
            "trouser",
            "pullover",
            "dress",
            "coat",
            "sandal",
            "shirt",
            "sneaker",
            "bag",
            "ankle-boot",
        ),
        how_to_get="install Debian's package: apt-get install -y dataset-fashion-mnist",
    ),
    "mnist": DatasetSpec(
        name="mnist",
        folder="mnist",
        class_names=tuple(str(digit) for digit in range(10)),
        how_to_get="run: fashiongan data mnist",
    ),
}
DEFAULT_DATASET = "fashion_mnist"


def get_dataset(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise FashionGANError(
            f"unknown dataset {name!r}: not a built-in ({', '.join(DATASETS)}), nor a folder of images or IDX "
            "files, an .npz file or tfds:NAME"
        )
    return DATASETS[name]


# --- losses --------------------------------------------------------------------------------------

LOSSES: dict[str, str] = {
    "bce": "non-saturating binary cross-entropy (label noise applies to it alone)",
    "hinge": "hinge loss for the discriminator, -mean D(fake) for the generator",
    "lsgan": "least squares",
    "wgan-gp": "Wasserstein with a gradient penalty of weight 10, one critic step per generator step",
}


# --- discriminator augmentation (DiffAugment, `fashiongan.model.augment`) ---------------------------

AUGMENTATIONS: dict[str, str] = {
    "translation": "shift by up to 1/8 of the image size, the border filled with the background",
    "cutout": "a square of half the image size, at a random place, set to 0",
}


def parse_augment(text: str) -> tuple[str, ...]:
    """'cutout,translation' -> ('translation', 'cutout'), the order they apply in; '' or
    'none' -> ()."""
    names = tuple(name.strip() for name in text.split(",") if name.strip() not in ("", "none"))
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise FashionGANError(
            f"unknown augmentation {', '.join(unknown)}; choose from none, {', '.join(AUGMENTATIONS)}"
        )
    return tuple(name for name in AUGMENTATIONS if name in names)  # applied in this order, once each


# --- variants ------------------------------------------------------------------------------------

OUTPUT_ACTIVATIONS: dict[str, tuple[float, float]] = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


@dataclass(frozen=True)
class VariantSpec:
    """A named GAN recipe: its networks (builder names in `fashiongan.model.variants`) and the
    settings of the recipe it comes from. Export and inference read latent_dim, output_range
    and conditional from here (through the manifest), never guess them. `classic` marks the
    tutorial recipes that the newer variants are measured against."""

    name: str
    description: str
    generator: str
    discriminator: str
    latent_dim: int
    output_activation: str
    g_learning_rate: float
    d_learning_rate: float
    beta_1: float = 0.9
    batch_size: int = 256
    label_noise: float = 0.0
    loss: str = "bce"
    num_classes: int = 0
    ema_momentum: float = 0.999
    ema_warmup: bool = False
    augment: str = ""
    classic: bool = True
    image_shape: tuple[int, int, int] = IMAGE_SHAPE

    @property
    def output_range(self) -> tuple[float, float]:
        return OUTPUT_ACTIVATIONS[self.output_activation]

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def input_names(self) -> tuple[str, ...]:
        return (NOISE_INPUT, LABEL_INPUT) if self.conditional else (NOISE_INPUT,)


_SNGAN = VariantSpec(
    name="sngan",
    description="DCGAN generator against a spectrally normalised discriminator; hinge loss, "
    "Adam 2e-4 beta1 0.5, batch 64",
    generator="dcgan",
    discriminator="spectral",
    latent_dim=100,
    output_activation="tanh",
    g_learning_rate=2e-4,
    d_learning_rate=2e-4,
    beta_1=0.5,
    batch_size=64,
    loss="hinge",
    classic=False,
)

VARIANTS: dict[str, VariantSpec] = {
    variant.name: variant
    for variant in (
        VariantSpec(
            name="dense",
            description="MLP GAN: Dense+ReLU generator (tanh, 784 -> 28x28) and MLP discriminator; BCE, Adam 1e-4",
            generator="dense",
            discriminator="dense",
            latent_dim=100,
            output_activation="tanh",
            g_learning_rate=1e-4,
            d_learning_rate=1e-4,
        ),
        VariantSpec(
            name="fashiongan",
            description="UpSampling2D+Conv2D generator (sigmoid) and Conv2D+Dropout discriminator with noisy "
            "labels; Adam G 1e-4, D 1e-5",
            generator="fashiongan",
            discriminator="fashiongan",
            latent_dim=128,
            output_activation="sigmoid",
            g_learning_rate=1e-4,
            d_learning_rate=1e-5,
            batch_size=128,
            label_noise=0.15,
        ),
        VariantSpec(
            name="dcgan",
            description="TensorFlow's DCGAN: Conv2DTranspose+BatchNorm generator (tanh) and strided Conv2D "
            "discriminator; BCE, Adam 1e-4",
            generator="dcgan",
            discriminator="dcgan",
            latent_dim=100,
            output_activation="tanh",
            g_learning_rate=1e-4,
            d_learning_rate=1e-4,
        ),
        VariantSpec(
            name="cdcgan",
            description="class-conditional DCGAN: label embedding into the generator, projection discriminator; "
            "BCE, Adam 2e-4 beta1 0.5, batch 64",
            generator="dcgan",
            discriminator="dcgan",
            latent_dim=100,
            output_activation="tanh",
            g_learning_rate=2e-4,
            d_learning_rate=2e-4,
            beta_1=0.5,
            batch_size=64,
            num_classes=10,
            classic=False,
        ),
        _SNGAN,
        replace(
            _SNGAN,
            name="csngan",
            description="class-conditional sngan: label embedding into the generator, spectrally normalised "
            "projection discriminator; hinge loss, Adam 2e-4 beta1 0.5, batch 64",
            num_classes=10,
        ),
    )
}
DEFAULT_VARIANT = "dcgan"


def get_variant(name: str) -> VariantSpec:
    if name not in VARIANTS:
        raise FashionGANError(f"unknown variant {name!r}; choose one of: {', '.join(VARIANTS)}")
    return VARIANTS[name]


def variant_for(variant: VariantSpec, dataset: DatasetSpec) -> VariantSpec:
    """The variant as it trains on `dataset`: a conditional one draws the dataset's classes (the
    one `num_classes` switch of the builders); an unconditional one is unchanged."""
    return replace(variant, num_classes=dataset.num_classes) if variant.conditional else variant


# --- training runtime choices --------------------------------------------------------------------

# training backends: Keras 3 on TensorFlow (tf.distribute) or on JAX (keras.distribution)
TRAIN_BACKENDS: tuple[str, ...] = ("auto", "tensorflow", "jax")
STRATEGIES: tuple[str, ...] = ("auto", "one", "mirrored", "multiworker")
SWITCHES: tuple[str, ...] = ("auto", "on", "off")
MIXED_PRECISION: tuple[str, ...] = ("auto", "off", "bfloat16", "float16")
