"""Export a trained generator to every format, into one folder, atomically.

Every format serves the same contract (`fashiongan.spec`): inputs `noise` (float32 N×latent,
standard normal) and, for a conditional generator, `label` (int32 N); output `images`, float32
N×28×28×1 in [0, 1]. The graph is traced once, in inference mode, as a tf.function with an
explicit input signature; SavedModel, TFLite and ONNX are all made from that trace. Each
`--formats` value has one writer in WRITERS; the files it writes are its rows in
`fashiongan.spec.ARTIFACTS`.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fashiongan
from fashiongan import spec
from fashiongan.errors import FashionGANError, describe_error
from fashiongan.export import onnx_graph
from fashiongan.inference.backends import TFLITE_METADATA, tflite_metadata
from fashiongan.inference.manifest import (
    FORMAT_VERSION,
    ManifestError,
    artifact_files,
    changed_files,
    describe_artifact,
    read_manifest,
)
from fashiongan.spec import LABEL_INPUT, NOISE_INPUT, OUTPUT_NAME, DatasetSpec, VariantSpec, get_dataset, get_variant


class ExportError(FashionGANError):
    """The source is not an exportable generator, or a converter could not do its job."""


@dataclass(frozen=True)
class Source:
    """A generator to export, with what is known of the run it came from."""

    generator: Any  # keras.Model
    variant: VariantSpec
    dataset: DatasetSpec
    training: dict


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


# --- the source -----------------------------------------------------------------------------------


def load_source(path: str | os.PathLike, variant: str | None = None, dataset: str | None = None) -> Source:
    """A run directory (generator.keras + config.json) or a .keras generator file."""
    from fashiongan.model.config import TrainConfig
    from fashiongan.model.run_folder import CONFIG_FILE, GENERATOR_FILE, latest_checkpoint, read_state

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
        state = read_state(checkpoint) if checkpoint else {}
        training = {
            "run": str(run_dir),
            "epochs": state.get("epoch"),
            "steps": state.get("step"),
            "seed": config.seed,
            "batch_size": config.batch_size,
        }
        if variant and variant != config.variant:
            raise ExportError(f"{path} is a {config.variant} run, not {variant}")
        variant, dataset = config.variant, dataset or config.dataset
    if variant is None:
        raise ExportError(f"{path}: no {CONFIG_FILE} beside it to tell its variant; pass --variant")
    loaded = _load_keras(model_path)
    spec_row = get_variant(variant)
    _check_generator(loaded, spec_row, model_path)
    _check_finite(loaded, model_path)
    return Source(_rebuilt(loaded, spec_row), spec_row, get_dataset(dataset or spec.DEFAULT_DATASET), training)


def _rebuilt(loaded, variant: VariantSpec):
    """The variant's own generator holding the loaded weights: the export carries the project's
    layers and nothing a file brought along (synchronized batch norm from an older run, which
    Keras refuses on JAX and PyTorch, included)."""
    from fashiongan.model.variants import make_generator

    generator = make_generator(variant)
    try:
        generator.set_weights(loaded.get_weights())
    except ValueError as error:
        raise ExportError(f"the weights do not fit a {variant.name} generator ({describe_error(error)})") from None
    return generator


def _load_keras(path: Path):
    from fashiongan.inference.backends import load_keras

    return load_keras(path, ExportError)


def _check_generator(model, variant: VariantSpec, path: Path) -> None:
    inputs = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    expected_inputs: dict[str, tuple[int | None, ...]] = {NOISE_INPUT: (None, variant.latent_dim)}
    if variant.conditional:
        expected_inputs[LABEL_INPUT] = (None,)
    output = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    if inputs != expected_inputs or output != (None, *variant.image_shape):
        raise ExportError(
            f"{path}: not a {variant.name} generator (inputs {inputs}, outputs "
            f"{[tuple(t.shape) for t in model.outputs]}; expected {expected_inputs} -> {(None, *variant.image_shape)})"
        )


def _check_finite(model, path: Path) -> None:
    """Refuse a generator whose weights hold NaN or infinities: every format would serve images
    outside [0, 1] or none at all."""
    import numpy as np

    if not all(np.isfinite(weights).all() for weights in model.get_weights()):
        raise ExportError(f"{path}: the generator's weights hold NaN or infinite values (training diverged)")


# --- the serving graph ------------------------------------------------------------------------------


def serving_model(source: Source):
    """The generator with its output mapped to [0, 1], as one flat functional model named
    `generator` whose inputs are named (`noise`, `label`) and whose output layer is `images`.
    The mapping ends in a clamp to [0, 1] (ReLU with max_value 1), so every format keeps the
    contract exactly, not only up to the rounding of tanh or sigmoid."""
    import keras

    from fashiongan.model.variants import generator_feed

    low, high = source.variant.output_range
    generator = source.generator
    rescaled = keras.layers.Rescaling(1.0 / (high - low), -low / (high - low), name="rescaled")(generator.outputs[0])
    images = keras.layers.ReLU(max_value=1.0, name=OUTPUT_NAME)(rescaled)
    inputs = {tensor.name: tensor for tensor in generator.inputs}
    return keras.Model(generator_feed(*(inputs[name] for name in source.variant.input_names)), images, name="generator")


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


# --- the writers: each writes its artifacts into target.folder and returns their names ------------


def write_keras(target: Target) -> tuple[str, ...]:
    target.model.save(target.path("keras"))
    return ("keras",)


def _write_savedmodel(target: Target, path: Path, batch: int | None = None) -> Path:
    """TF Serving layout through Keras's ExportArchive: `serving_default` takes the named inputs."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(target.model)
    archive.add_endpoint("serving_default", serving_function(target.model, target.variant, batch))
    with _quiet():
        archive.write_out(str(path), verbose=False)
    return path


def write_savedmodel(target: Target) -> tuple[str, ...]:
    _write_savedmodel(target, target.path("savedmodel"))
    return ("savedmodel",)


def write_tflite(target: Target) -> tuple[str, ...]:
    """TFLite from a batch-1 SavedModel, builtin ops only: the conversion fails if it needs more."""
    import tensorflow as tf

    saved = _write_savedmodel(target, target.scratch / "tflite_saved_model", batch=spec.TFLITE_BATCH)
    written = []
    for quant in target.tflite_quants:
        artifact = spec.tflite_artifact(quant)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serving_default"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quant != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quant == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quant == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.representative_dataset = calibration_rows(target.variant)
            converter.inference_input_type = converter.inference_output_type = tf.int8
        try:
            with _quiet():
                flatbuffer = converter.convert()
        except Exception as error:
            raise ExportError(
                f"TFLite conversion ({quant}) needs non-builtin ops or failed: {describe_error(error)}"
            ) from None
        target.path(artifact.name).write_bytes(with_tflite_description(flatbuffer, target.variant, target.dataset))
        non_builtin = non_builtin_tflite_ops(target.path(artifact.name))
        if non_builtin:
            raise ExportError(f"{artifact.path} holds non-builtin ops: {', '.join(non_builtin)}")
        written.append(artifact.name)
    return tuple(written)


def calibration_rows(variant: VariantSpec):
    """The representative inputs the full-integer converter calibrates activations with: batch-1
    rows of the generator's own noise, labels spread evenly over the classes."""
    import numpy as np

    def rows():
        noise = np.random.default_rng(0).standard_normal((spec.TFLITE_CALIBRATION_ROWS, variant.latent_dim))
        for row, values in enumerate(noise.astype(spec.NOISE_DTYPE)):
            feeds = {NOISE_INPUT: values[None]}
            if variant.conditional:
                feeds[LABEL_INPUT] = np.array([row % variant.num_classes], spec.LABEL_DTYPE)
            yield feeds

    return rows


def with_tflite_description(flatbuffer: bytes, variant: VariantSpec, dataset: DatasetSpec) -> bytes:
    """The TFLite file with its description inside: a `fashiongan` metadata entry (the ONNX
    file's metadata props plus the batch size, as JSON) and the model's description string, so a
    mobile developer holding only the file can read the class names and the contract."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    description = {**self_description(variant, dataset), "batch_size": str(spec.TFLITE_BATCH)}
    description.update(integer_io_description(flatbuffer))
    model = schema.ModelT.InitFromPackedBuf(flatbuffer, 0)
    batch = f"batch {spec.TFLITE_BATCH}; metadata '{TFLITE_METADATA}' holds the rest as JSON"
    model.description = f"{summary_line(variant, dataset)}, {batch}"
    entry, payload = schema.MetadataT(), schema.BufferT()
    payload.data = np.frombuffer(json.dumps(description).encode(), np.uint8)
    model.buffers.append(payload)
    entry.name, entry.buffer = TFLITE_METADATA, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def integer_io_description(flatbuffer: bytes) -> dict[str, str]:
    """For a full-integer file, what its int8 `noise` and `images` mean: each tensor's scale and
    zero point (x = (q - zero_point) * scale), as JSON under `quantization`, and the inputs and
    output with their int8 type; nothing for a file with float inputs and outputs."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from fashiongan.inference.backends import integer_tensor

    runner = Interpreter(model_content=flatbuffer).get_signature_runner("serving_default")
    inputs = runner.get_input_details()
    tensors = {**inputs, **runner.get_output_details()}
    quantized = {name: detail["quantization"] for name, detail in tensors.items() if integer_tensor(detail)}
    if not quantized:
        return {}

    def typed(name: str) -> str:
        kind = "int8" if name in quantized else np.dtype(tensors[name]["dtype"]).name
        return f"{name}: {kind}"

    return {
        "inputs": ", ".join(typed(name) for name in inputs),
        "output": f"{typed(OUTPUT_NAME)} N×28×28×1",
        "quantization": json.dumps({name: [float(scale), int(zero)] for name, (scale, zero) in quantized.items()}),
    }


def tflite_ops(path: Path) -> list[str]:
    """The operator names in a TFLite file, read before any delegate rewrites the graph."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return [op["op_name"] for op in interpreter._get_ops_details()]


def tflite_min_runtime(path: Path) -> str:
    """The oldest TFLite runtime the converter says can run the file (its `min_runtime_version`
    metadata, e.g. 2.17.0 for dynamic-range int8 FULLY_CONNECTED version 12)."""
    version = tflite_metadata(path).get("min_runtime_version")
    if version is None:
        raise ExportError(f"{path.name}: the converter wrote no min_runtime_version")
    return version.rstrip(b"\0").decode()


def non_builtin_tflite_ops(path: Path) -> list[str]:
    """Flex (Select TF) and custom ops: anything that is not an upper-case builtin operator name."""
    return sorted(
        {op for op in tflite_ops(path) if not re.fullmatch(r"[A-Z][A-Z0-9_]*", op) or op in ("CUSTOM", "DELEGATE")}
    )


def with_resize_upsampling(model):
    """The model with each nearest UpSampling2D computed as a nearest-neighbour resize (the same
    pixels): tf2onnx writes Keras' repeat as 5-D Reshape and Tile, which OpenCV 4.11 and older
    compute wrongly, and a resize as one ONNX Resize. For conversion only; never saved."""
    import keras
    import tensorflow as tf

    class NearestResize(keras.layers.Layer):
        def __init__(self, size: tuple[int, int], **kwargs):
            super().__init__(**kwargs)
            self.size = size

        def call(self, images):
            height, width = images.shape[1] * self.size[0], images.shape[2] * self.size[1]
            return tf.raw_ops.ResizeNearestNeighbor(
                images=images, size=[height, width], align_corners=False, half_pixel_centers=False
            )

    def clone(layer):
        if isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest":
            if layer.data_format != "channels_last":
                raise ExportError(f"ONNX export: {layer.name} is channels_first, only channels_last is handled")
            return NearestResize(tuple(layer.size), name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    if not any(isinstance(layer, keras.layers.UpSampling2D) for layer in model.layers):
        return model
    cloned = keras.models.clone_model(model, clone_function=clone)
    cloned.set_weights(model.get_weights())
    return cloned


def write_onnx(target: Target) -> tuple[str, ...]:
    """ONNX through tf2onnx from the traced tf.function, with a dynamic `batch` axis."""
    import onnx
    import tf2onnx

    function = serving_function(with_resize_upsampling(target.model), target.variant)
    try:
        with _quiet():
            proto, _ = tf2onnx.convert.from_function(
                function, input_signature=input_specs(target.variant), opset=spec.ONNX_OPSET
            )
    except Exception as error:
        raise ExportError(f"ONNX conversion failed: {describe_error(error)}") from None
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx_graph.for_every_consumer(proto)
    if target.onnx_weights == "float16":
        onnx_graph.float16_weights(proto.graph)
    describe_onnx(proto, target.variant, target.dataset)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, target.path("onnx"))
    return ("onnx",)


def self_description(variant: VariantSpec, dataset: DatasetSpec) -> dict[str, str]:
    """What a generator file says of itself without its manifest: text key-value pairs."""
    return {
        "fashiongan_version": fashiongan.__version__,
        "variant": variant.name,
        "dataset": dataset.name,
        "conditional": json.dumps(variant.conditional),
        "class_names": json.dumps(list(dataset.class_names)),
        "latent_dim": str(variant.latent_dim),
        "noise_distribution": spec.NOISE_DISTRIBUTION,
        "inputs": ", ".join(variant.input_names),
        "output": f"{OUTPUT_NAME}: float32 N×28×28×1",
        "output_range": json.dumps(list(spec.OUTPUT_RANGE)),
    }


def summary_line(variant: VariantSpec, dataset: DatasetSpec) -> str:
    """One line on what a generator file is, for ONNX's doc string and TFLite's description."""
    return (
        f"fashiongan {variant.name} generator of {dataset.name} images: inputs {', '.join(variant.input_names)} "
        f"(noise {spec.NOISE_DISTRIBUTION}, {variant.latent_dim} wide), output {OUTPUT_NAME} in [0, 1]"
    )


def describe_onnx(proto, variant: VariantSpec, dataset: DatasetSpec) -> None:
    """The ONNX file's own description: metadata props, doc string, producer and graph name,
    and only the opset imports its nodes use (tf2onnx adds ai.onnx.ml unused)."""
    description = self_description(variant, dataset)
    del proto.metadata_props[:]
    for key, value in description.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name, proto.producer_version = "fashiongan", fashiongan.__version__
    proto.graph.name = "generator"
    proto.doc_string = summary_line(variant, dataset)
    used = {node.domain for node in proto.graph.node} | {""}
    kept = [opset for opset in proto.opset_import if opset.domain in used]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)


def _drop_keras3_only_keys(path: Path) -> None:
    """tf_keras 2.21 writes an InputLayer `optional` key that TF 2.15's tf.keras refuses
    (`Unrecognized keyword arguments: ['optional']`); it is always False here, so drop it."""
    import h5py

    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "InputLayer" and layer["config"].pop("optional", False):
                raise ExportError("an optional model input has no Keras 2 equivalent")
        handle.attrs["model_config"] = json.dumps(config)


def write_h5(target: Target) -> tuple[str, ...]:
    """Legacy HDF5 for Keras 2 stacks, written by tf_keras from a rebuilt copy of the graph."""
    from fashiongan.export.keras2 import to_tf_keras

    try:
        legacy = to_tf_keras(target.model)
    except ValueError as error:
        raise ExportError(f"cannot write .h5: {error}") from None
    with _quiet():
        legacy.save(target.path("h5"), save_format="h5", include_optimizer=False)
    _drop_keras3_only_keys(target.path("h5"))
    return ("h5",)


# One writer per `--formats` value (fashiongan.spec.EXPORT_FORMATS), in the order they run.
WRITERS: dict[str, Callable[[Target], tuple[str, ...]]] = {
    "keras": write_keras,
    "savedmodel": write_savedmodel,
    "tflite": write_tflite,
    "onnx": write_onnx,
    "h5": write_h5,
}


# --- the export --------------------------------------------------------------------------------------


def build_manifest(source: Source, folder: Path, artifacts: list[str]) -> dict:
    import tensorflow as tf

    variant = source.variant
    inputs = [{"name": NOISE_INPUT, "shape": [None, variant.latent_dim], "dtype": spec.NOISE_DTYPE}]
    if variant.conditional:
        inputs.append({"name": LABEL_INPUT, "shape": [None], "dtype": spec.LABEL_DTYPE})
    return {
        "format_version": FORMAT_VERSION,
        "fashiongan_version": fashiongan.__version__,
        "tensorflow_version": tf.__version__,
        "variant": variant.name,
        "dataset": source.dataset.name,
        "conditional": variant.conditional,
        "class_names": list(source.dataset.class_names) if variant.conditional else None,
        "latent_dim": variant.latent_dim,
        "noise": {"distribution": spec.NOISE_DISTRIBUTION, "dtype": spec.NOISE_DTYPE},
        "inputs": inputs,
        "outputs": [{"name": OUTPUT_NAME, "shape": [None, *variant.image_shape], "dtype": spec.OUTPUT_DTYPE}],
        "output_range": list(spec.OUTPUT_RANGE),
        "generator_output_range": list(variant.output_range),
        "tflite_batch_size": spec.TFLITE_BATCH,
        "training": source.training,
        "artifacts": {name: _artifact_record(folder, name) for name in artifacts},
    }


def _artifact_record(folder: Path, name: str) -> dict:
    """Path, size and sha256; for a TFLite file also the oldest runtime that can run it, for an
    ONNX file how its weights are stored."""
    relative = spec.ARTIFACT_FORMATS[name].path
    record = describe_artifact(folder, relative)
    if spec.ARTIFACT_FORMATS[name].writer == "tflite":
        record["min_runtime_version"] = tflite_min_runtime(folder / relative)
    if spec.ARTIFACT_FORMATS[name].writer == "onnx":
        record["weights"] = onnx_weight_dtype(folder / relative)
    return record


def onnx_weight_dtype(path: Path) -> str:
    """float16 where the file stores any weight as float16 (cast to float32 at load), else float32."""
    import onnx

    proto = onnx.load(path)
    stored = {tensor.data_type for tensor in proto.graph.initializer}
    return "float16" if onnx.TensorProto.FLOAT16 in stored else "float32"


def export(
    source_path: str | os.PathLike,
    out: str | os.PathLike,
    formats: tuple[str, ...] = spec.EXPORT_FORMATS,
    tflite_quants: tuple[str, ...] = spec.TFLITE_QUANTS[:1],
    variant: str | None = None,
    dataset: str | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    onnx_weights: str = spec.ONNX_WEIGHTS[0],
) -> Path:
    """Write every requested format and manifest.json into `out`, replacing it only on success;
    `progress` is told each format as it is written, and how long it took; `onnx_weights` is
    how the ONNX file stores its weights (`fashiongan.spec.ONNX_WEIGHTS`)."""
    if onnx_weights not in spec.ONNX_WEIGHTS:
        raise ExportError(f"unknown ONNX weights {onnx_weights}; choose from {', '.join(spec.ONNX_WEIGHTS)}")
    for chosen, allowed, name in ((formats, WRITERS, "format"), (tflite_quants, spec.TFLITE_QUANTS, "TFLite quant")):
        unknown = [item for item in chosen if item not in allowed]
        if unknown:
            raise ExportError(f"unknown {name} {', '.join(unknown)}; choose from {', '.join(allowed)}")
    out = Path(out)
    if not out.name or out.is_symlink():  # ".", "/" or a link: the folder it names (a link stays)
        out = out.resolve()
    check_out(out, Path(source_path))
    source = load_source(source_path, variant, dataset)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-{os.getpid()}-", dir=out.parent))
    try:
        target = Target(
            serving_model(source),
            source.variant,
            source.dataset,
            building / "export",
            building / "scratch",
            tflite_quants,
            onnx_weights,
        )
        target.folder.mkdir()
        target.scratch.mkdir()
        written: list[str] = []
        for writer, run in WRITERS.items():
            if writer in formats:
                started = time.monotonic()
                written += run(target)
                if progress:
                    progress(f"export: {writer} written in {time.monotonic() - started:.1f} s")
        manifest = build_manifest(source, target.folder, written)
        (target.folder / spec.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
        _replace_folder(target.folder, out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return out


def check_out(out: Path, source: Path) -> None:
    """Refuse an --out that would destroy anything but an earlier export: a file, a folder of
    other files, the source itself, a folder holding the source or one inside it."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: exists and is not a folder")
    target, origin = out.resolve(), source.resolve()
    if target == origin or target in origin.parents or origin in target.parents:
        raise ExportError(f"--out {out}: holds or lies inside the source {source}; choose a folder beside it")
    if out.is_dir() and any(out.iterdir()):
        if not is_export(out):
            raise ExportError(
                f"--out {out}: a folder that is not a fashiongan export (no {spec.MANIFEST_FILE} of one); "
                "refusing to replace it"
            )
        foreign = not_exported(out)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise ExportError(f"--out {out}: replacing it would lose what no export wrote ({shown}); move them first")


def is_export(folder: Path) -> bool:
    """Whether `folder` holds a fashiongan manifest."""
    try:
        read_manifest(folder)
    except ManifestError:
        return False
    return True


def not_exported(folder: Path) -> list[str]:
    """What in an export folder is not the export as its manifest records it: files and links
    the manifest does not list, and listed files changed since (relative names, sorted). An
    empty list means replacing the folder loses only what an export wrote (and empty folders)."""
    manifest = read_manifest(folder)
    listed: dict[Path, bool] = {folder / spec.MANIFEST_FILE: False}  # file -> changed since export
    for record in manifest["artifacts"].values():
        changed = changed_files(folder, record)
        listed.update({file: file in changed for file in artifact_files(folder, record)})
    found = []
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink() or (not path.is_dir() and path not in listed):
            found.append(name)
        elif listed.get(path):
            found.append(f"{name} (changed since export)")
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(out: Path, kind: str) -> list[tuple[Path, int]]:
    """Our own temporary folders beside `out` (`.NAME.building-PID-*`, `.NAME.previous-PID`)
    whose process is gone, with that process id."""
    found = []
    for path in out.parent.glob(f".{glob.escape(out.name)}.{kind}-*"):
        if path.is_symlink() or not path.is_dir():  # not a folder we made: left alone
            continue
        pid = path.name[len(f".{out.name}.{kind}-") :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            found.append((path, int(pid)))
    return found


def clean_leftovers(out: Path) -> None:
    """Undo what a killed export left: a half-built folder is removed; an earlier export that a
    kill left set aside mid-swap is put back when `out` is missing, else removed."""
    for path, _ in _leftovers(out, "building"):
        shutil.rmtree(path, ignore_errors=True)
    for path, _ in sorted(_leftovers(out, "previous"), key=lambda item: item[0].stat().st_mtime, reverse=True):
        if not out.exists() and is_export(path):
            os.replace(path, out)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _replace_folder(new: Path, target: Path) -> None:
    """Move `new` to `target`; an earlier `target` is set aside first and removed only after (a
    kill in between leaves it as `.NAME.previous-PID`, which the next export puts back)."""
    previous = None
    if target.exists():
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        os.replace(target, previous)
    os.replace(new, target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


@contextlib.contextmanager
def _quiet():
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
