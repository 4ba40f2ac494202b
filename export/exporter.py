"""Export a trained generator to every format, into one folder, atomically.

Every format serves the same contract: inputs `noise` (float32 N×latent, standard normal) and,
for a conditional generator, `label` (int32 N); output `images`, float32 N×28×28×1 in [0, 1].
The graph is traced once, in inference mode, as a tf.function with an explicit input signature;
SavedModel, TFLite and ONNX are all made from that trace.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from inference.errors import FashionGANError, describe_error
from inference.manifest import (
    ARTIFACT_PATHS,
    FORMAT_VERSION,
    MANIFEST_FILE,
    OUTPUT_RANGE,
    describe_artifact,
)

FORMATS = ("keras", "savedmodel", "tflite", "onnx", "h5")
DEFAULT_FORMATS = ("keras", "savedmodel", "tflite", "onnx", "h5")
TFLITE_QUANTS = ("none", "float16", "dynamic")
ONNX_OPSET = 17
TFLITE_BATCH = 1  # static batch for TFLite: dynamic shapes after UpSampling2D leave non-builtin ops


class ExportError(FashionGANError):
    """The source is not an exportable generator, or a converter could not do its job."""


@dataclass(frozen=True)
class Source:
    """A generator to export, with what is known of the run it came from."""

    generator: object  # keras.Model
    variant: str
    dataset: str
    training: dict


def parse_choices(text: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    chosen = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [item for item in chosen if item not in allowed]
    if unknown or not chosen:
        raise FashionGANError(f"{flag}: unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(allowed)}")
    return chosen


# --- the source -----------------------------------------------------------------------------------


def load_source(path: str | os.PathLike, variant: str | None = None, dataset: str | None = None) -> Source:
    """A run directory (generator.keras + config.json) or a .keras generator file."""
    from model.train import CONFIG_FILE, GENERATOR_FILE, TrainConfig, latest_checkpoint

    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path}: no such run directory or .keras file")
    run_dir = path if path.is_dir() else path.parent
    model_path = path / GENERATOR_FILE if path.is_dir() else path
    if not model_path.is_file():
        raise ExportError(f"{path}: no {GENERATOR_FILE} in it (has the run finished?)")
    training: dict = {}
    config_path = run_dir / CONFIG_FILE
    if config_path.is_file():
        config = TrainConfig.load(config_path)
        checkpoint = latest_checkpoint(run_dir)
        state = json.loads((checkpoint / "state.json").read_text()) if checkpoint else {}
        training = {"run": str(run_dir), "epochs": state.get("epoch"), "steps": state.get("step"),
                    "seed": config.seed, "batch_size": config.batch_size}
        if variant and variant != config.variant:
            raise ExportError(f"{path} is a {config.variant} run, not {variant}")
        variant, dataset = config.variant, dataset or config.dataset
    if variant is None:
        raise ExportError(f"{path}: no {CONFIG_FILE} beside it to tell its variant; pass --variant")
    generator = _load_keras(model_path)
    _check_generator(generator, variant, model_path)
    return Source(generator, variant, dataset or "fashion_mnist", training)


def _load_keras(path: Path):
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many types for a file that is not a model
        raise ExportError(f"{path}: not a loadable Keras model ({describe_error(error)})") from None


def _check_generator(model, variant_name: str, path: Path) -> None:
    from model.variants import get_variant

    variant = get_variant(variant_name)
    inputs = [tuple(tensor.shape) for tensor in model.inputs]
    expected_inputs = [(None, variant.latent_dim)] + ([(None,)] if variant.conditional else [])
    output = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    if inputs != expected_inputs or output != (None, *variant.image_shape):
        raise ExportError(
            f"{path}: not a {variant_name} generator (inputs {inputs}, outputs "
            f"{[tuple(t.shape) for t in model.outputs]}; expected {expected_inputs} -> {(None, *variant.image_shape)})"
        )


# --- the serving graph ------------------------------------------------------------------------------


def serving_model(source: Source):
    """The generator with its output mapped to [0, 1], as one flat functional model named
    `generator` whose output layer is `images`."""
    import keras

    from model.variants import get_variant

    low, high = get_variant(source.variant).output_range
    images = keras.layers.Rescaling(1.0 / (high - low), -low / (high - low), name="images")(
        source.generator.outputs[0]
    )
    return keras.Model(source.generator.inputs, images, name="generator")


def input_specs(model, conditional: bool, batch: int | None = None):
    import tensorflow as tf

    specs = [tf.TensorSpec([batch, model.inputs[0].shape[1]], tf.float32, name="noise")]
    if conditional:
        specs.append(tf.TensorSpec([batch], tf.int32, name="label"))
    return specs


def serving_function(model, conditional: bool, batch: int | None = None):
    """A tf.function with an explicit signature that runs `model` in inference mode."""
    import tensorflow as tf

    if conditional:
        def serve(noise, label):
            return {"images": model([noise, label], training=False)}
    else:
        def serve(noise):
            return {"images": model(noise, training=False)}
    return tf.function(serve, input_signature=input_specs(model, conditional, batch))


# --- the formats --------------------------------------------------------------------------------------


def write_keras(model, folder: Path) -> None:
    model.save(folder / ARTIFACT_PATHS["keras"])


def write_savedmodel(model, conditional: bool, path: Path, batch: int | None = None) -> Path:
    """TF Serving layout through Keras's ExportArchive: `serving_default` takes the named inputs."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serving_function(model, conditional, batch))
    with _quiet():
        archive.write_out(str(path), verbose=False)
    return path


def write_tflite(model, conditional: bool, folder: Path, quants: tuple[str, ...], scratch: Path) -> None:
    """TFLite from a batch-1 SavedModel, builtin ops only: the conversion fails if it needs more."""
    import tensorflow as tf

    saved = write_savedmodel(model, conditional, scratch / "tflite_saved_model", batch=TFLITE_BATCH)
    for quant in quants:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serving_default"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quant != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quant == "float16":
            converter.target_spec.supported_types = [tf.float16]
        try:
            with _quiet():
                flatbuffer = converter.convert()
        except Exception as error:
            raise ExportError(f"TFLite conversion ({quant}) needs non-builtin ops or failed: {describe_error(error)}") from None
        key = "tflite" if quant == "none" else f"tflite_{quant}"
        (folder / ARTIFACT_PATHS[key]).write_bytes(flatbuffer)
        non_builtin = non_builtin_tflite_ops(folder / ARTIFACT_PATHS[key])
        if non_builtin:
            raise ExportError(f"{ARTIFACT_PATHS[key]} holds non-builtin ops: {', '.join(non_builtin)}")


def tflite_ops(path: Path) -> list[str]:
    """The operator names in a TFLite file, read before any delegate rewrites the graph."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return [op["op_name"] for op in interpreter._get_ops_details()]


def non_builtin_tflite_ops(path: Path) -> list[str]:
    """Flex (Select TF) and custom ops: anything that is not an upper-case builtin operator name."""
    return sorted({op for op in tflite_ops(path) if not re.fullmatch(r"[A-Z][A-Z0-9_]*", op) or op in ("CUSTOM", "DELEGATE")})


def write_onnx(model, conditional: bool, folder: Path) -> None:
    """ONNX through tf2onnx from the traced tf.function, with a dynamic `batch` axis."""
    import onnx
    import tf2onnx

    function = serving_function(model, conditional)
    try:
        with _quiet():
            proto, _ = tf2onnx.convert.from_function(
                function, input_signature=input_specs(model, conditional), opset=ONNX_OPSET
            )
    except Exception as error:
        raise ExportError(f"ONNX conversion failed: {describe_error(error)}") from None
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, folder / ARTIFACT_PATHS["onnx"])


def write_h5(model, folder: Path) -> None:
    """Legacy HDF5 for Keras 2 stacks, written by tf_keras from a rebuilt copy of the graph."""
    from export.keras2 import to_tf_keras

    try:
        legacy = to_tf_keras(model)
    except ValueError as error:
        raise ExportError(f"cannot write .h5: {error}") from None
    with _quiet():
        legacy.save(folder / ARTIFACT_PATHS["h5"], save_format="h5", include_optimizer=False)


# --- the export --------------------------------------------------------------------------------------


def build_manifest(source: Source, model, folder: Path, artifacts: list[str]) -> dict:
    import tensorflow as tf

    from model import data
    from model.variants import get_variant

    variant = get_variant(source.variant)
    info = data.get_dataset_info(source.dataset)
    inputs = [{"name": "noise", "shape": [None, variant.latent_dim], "dtype": "float32"}]
    if variant.conditional:
        inputs.append({"name": "label", "shape": [None], "dtype": "int32"})
    return {
        "format_version": FORMAT_VERSION,
        "fashiongan_version": _package_version(),
        "tensorflow_version": tf.__version__,
        "variant": variant.name,
        "dataset": info.name,
        "conditional": variant.conditional,
        "class_names": list(info.class_names) if variant.conditional else None,
        "latent_dim": variant.latent_dim,
        "noise": {"distribution": "standard_normal", "dtype": "float32"},
        "inputs": inputs,
        "outputs": [{"name": "images", "shape": [None, *variant.image_shape], "dtype": "float32"}],
        "output_range": list(OUTPUT_RANGE),
        "generator_output_range": list(variant.output_range),
        "tflite_batch_size": TFLITE_BATCH,
        "training": source.training,
        "artifacts": {name: describe_artifact(folder, ARTIFACT_PATHS[name]) for name in artifacts},
    }


def export(
    source_path: str | os.PathLike,
    out: str | os.PathLike,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    tflite_quants: tuple[str, ...] = ("none",),
    variant: str | None = None,
    dataset: str | None = None,
) -> Path:
    """Write every requested format and manifest.json into `out`, replacing it only on success."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: exists and is not a folder")
    source = load_source(source_path, variant, dataset)
    conditional = _is_conditional(source.variant)
    model = serving_model(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        folder, scratch = building / "export", building / "scratch"
        folder.mkdir()
        scratch.mkdir()
        written = []
        if "keras" in formats:
            write_keras(model, folder)
            written.append("keras")
        if "savedmodel" in formats:
            write_savedmodel(model, conditional, folder / ARTIFACT_PATHS["savedmodel"])
            written.append("savedmodel")
        if "tflite" in formats:
            write_tflite(model, conditional, folder, tflite_quants, scratch)
            written += ["tflite" if quant == "none" else f"tflite_{quant}" for quant in tflite_quants]
        if "onnx" in formats:
            write_onnx(model, conditional, folder)
            written.append("onnx")
        if "h5" in formats:
            write_h5(model, folder)
            written.append("h5")
        manifest = build_manifest(source, model, folder, written)
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
        _replace_folder(folder, out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return out


def _replace_folder(new: Path, target: Path) -> None:
    """Move `new` to `target`; an earlier `target` is set aside first and removed only after."""
    previous = None
    if target.exists():
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        os.replace(target, previous)
    os.replace(new, target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _is_conditional(variant_name: str) -> bool:
    from model.variants import get_variant

    return get_variant(variant_name).conditional


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fashiongan")
    except PackageNotFoundError:
        return "unknown"


@contextlib.contextmanager
def _quiet():
    """Silence the converters' prints, Python warnings and TensorFlow's Python logging."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
