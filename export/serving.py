"""The serving graph every writer converts, and what each writer is handed.

Every format serves the same contract (`fashiongan.spec`): inputs `noise` (float32 N×latent,
standard normal) and, for a conditional generator, `label` (int32 N); output `images`, float32
N×28×28×1 in [0, 1]. The graph is traced once, in inference mode, as a tf.function with an
explicit input signature; SavedModel, TFLite and ONNX are all made from that trace.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashiongan import spec
from fashiongan.errors import FashionGANError
from fashiongan.spec import LABEL_INPUT, NOISE_INPUT, OUTPUT_NAME, DatasetSpec, VariantSpec


class ExportError(FashionGANError):
    """The source is not an exportable generator, or a converter could not do its job."""


@dataclass(frozen=True)
class Target:
    """What every writer gets: the serving model, its variant, the folder being built, a scratch
    folder, and the TFLite quantisations asked for."""

    model: Any  # keras.Model: the generator mapped to [0, 1], named inputs
    variant: VariantSpec
    dataset: DatasetSpec
    folder: Path
    scratch: Path
    tflite_quants: tuple[str, ...]
    onnx_weights: str = spec.ONNX_WEIGHTS[0]

    def path(self, artifact: str) -> Path:
        return self.folder / spec.ARTIFACT_FORMATS[artifact].path


def serving_model(generator, variant: VariantSpec):
    """The generator with its output mapped to [0, 1], as one flat functional model named
    `generator` whose inputs are named (`noise`, `label`) and whose output layer is `images`.
    The mapping ends in a clamp to [0, 1] (ReLU with max_value 1), so every format keeps the
    contract exactly, not only up to the rounding of tanh or sigmoid."""
    import keras

    from fashiongan.model.variants import generator_feed

    low, high = variant.output_range
    rescaled = keras.layers.Rescaling(1.0 / (high - low), -low / (high - low), name="rescaled")(generator.outputs[0])
    images = keras.layers.ReLU(max_value=1.0, name=OUTPUT_NAME)(rescaled)
    inputs = {tensor.name: tensor for tensor in generator.inputs}
    return keras.Model(generator_feed(*(inputs[name] for name in variant.input_names)), images, name="generator")


def input_specs(variant: VariantSpec, batch: int | None = None):
    import tensorflow as tf

    specs = [tf.TensorSpec([batch, variant.latent_dim], spec.NOISE_DTYPE, name=NOISE_INPUT)]
    if variant.conditional:
        specs.append(tf.TensorSpec([batch], spec.LABEL_DTYPE, name=LABEL_INPUT))
    return specs


def serving_function(model, variant: VariantSpec, batch: int | None = None):
    """A tf.function with an explicit signature that runs `model` in inference mode."""
    import tensorflow as tf

    def serve_conditional(noise, label):
        return {OUTPUT_NAME: model([noise, label], training=False)}

    def serve(noise):
        return {OUTPUT_NAME: model(noise, training=False)}

    return tf.function(serve_conditional if variant.conditional else serve, input_signature=input_specs(variant, batch))


def write_savedmodel_folder(target: Target, path: Path, batch: int | None = None) -> Path:
    """TF Serving layout through Keras's ExportArchive: `serving_default` takes the named inputs."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(target.model)
    archive.add_endpoint("serving_default", serving_function(target.model, target.variant, batch))
    with quiet():
        archive.write_out(str(path), verbose=False)
    return path


@contextlib.contextmanager
def quiet():
    """Silence the converters' prints (Python's and the native ones on fd 2, such as the
    full-integer converter's `fully_quantize` line), Python warnings and TensorFlow's logging."""
    import tensorflow as tf

    from fashiongan.extras import quiet_stderr

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), quiet_stderr():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
