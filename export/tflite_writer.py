"""The TFLite writer: builtin ops only, batch 1, with the file's own description inside, and
the readers of a written file's operators and oldest runtime."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fashiongan import spec
from fashiongan.errors import describe_error
from fashiongan.export.serving import ExportError, Target, quiet, write_savedmodel_folder
from fashiongan.inference.backends import TFLITE_METADATA, tflite_metadata
from fashiongan.inference.manifest import file_description, summary_line
from fashiongan.spec import LABEL_INPUT, NOISE_INPUT, OUTPUT_NAME, DatasetSpec, VariantSpec


def write_tflite(target: Target) -> tuple[str, ...]:
    """TFLite from a batch-1 SavedModel, builtin ops only: the conversion fails if it needs more."""
    import tensorflow as tf

    saved = write_savedmodel_folder(target, target.scratch / "tflite_saved_model", batch=spec.TFLITE_BATCH)
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
            with quiet():
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

    description = {**file_description(variant, dataset), "batch_size": str(spec.TFLITE_BATCH)}
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
