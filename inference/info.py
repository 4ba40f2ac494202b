"""What a generator is, without running it or importing TensorFlow: `describe(target)` reads an
export folder's (or pretrained name's) manifest and evaluation, or a lone ONNX or TFLite file's
own metadata, and `format_info` lays that out for a terminal (`fashiongan info`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from fashiongan import spec
from fashiongan.errors import FashionGANError
from fashiongan.inference import backends
from fashiongan.inference.manifest import DESCRIPTION_JSON_KEYS, changed_files, read_manifest
from fashiongan.pretrained import generator_dir, resolve

EVALUATION_FILE = "evaluation.json"
# The manifest's fields that `info` repeats; the rest (training run, versions) stays in the file.
DESCRIBED_FIELDS = ("variant", "dataset", "conditional", "class_names", "latent_dim", "noise", "inputs", "outputs")
# What a lone file is read with: its suffix, the backend that reads it.
LONE_FILES = {".onnx": backends.OnnxBackend, ".tflite": backends.TFLiteBackend}


class InfoError(FashionGANError):
    """A target that is no export folder, pretrained name, ONNX or TFLite file."""


def describe(target: str | os.PathLike) -> dict:
    """The facts of an export folder, a pretrained generator's name or a lone .onnx/.tflite."""
    path = resolve(target)
    if path.is_dir():
        return describe_export(path, pretrained=generator_dir(str(target)) is not None)
    if path.is_file() and path.suffix in LONE_FILES:
        return describe_file(path)
    if not path.exists():
        raise InfoError(f"{target}: no such file or folder, and not a pretrained generator")
    raise InfoError(f"{target}: info reads an export folder, a pretrained name, or a .onnx or .tflite file")


def describe_export(folder: Path, *, pretrained: bool = False) -> dict:
    """An export folder, from its manifest: every artifact with its size, whether it still matches
    its checksum, and the oldest runtime that runs it; its evaluation figures where shipped."""
    manifest = read_manifest(folder)
    facts: dict = {"source": str(folder), "kind": "pretrained" if pretrained else "export"}
    facts |= {field: manifest[field] for field in DESCRIBED_FIELDS if field in manifest}
    facts["output_range"] = manifest["output_range"]
    facts["artifacts"] = {name: _artifact(folder, name, record) for name, record in manifest["artifacts"].items()}
    evaluation = folder / EVALUATION_FILE
    if evaluation.is_file():
        facts["evaluation"] = _figures(evaluation)
    return facts


def _artifact(folder: Path, name: str, record: dict) -> dict:
    artifact = spec.ARTIFACT_FORMATS.get(name)
    runtime = spec.RUNTIMES[artifact.runtime] if artifact else "unknown"
    if "min_runtime_version" in record:
        runtime += f" (TFLite {record['min_runtime_version']} or newer)"
    elif artifact and artifact.runtime == "onnx":
        runtime += f" (opset {spec.ONNX_OPSET})"
    facts = {
        "path": record["path"],
        "bytes": record["bytes"],
        "checksum": "changed" if changed_files(folder, record) else "ok",
        "runtime": runtime,
    }
    if "weights" in record:
        facts["weights"] = record["weights"]
    return facts


def _figures(path: Path) -> dict:
    """Each format's headline figures from a shipped evaluation.json."""
    try:
        evaluation = json.loads(path.read_text())
        return {
            name: {"samples": record["n"]}
            | {key: value for key, value in record["generator"].items() if not isinstance(value, list)}
            for name, record in evaluation["formats"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise InfoError(f"{path}: not an evaluation file (no formats with generator figures)") from None


def describe_file(path: Path) -> dict:
    """A lone ONNX or TFLite file: what its metadata says, and its tensors as its runtime sees them."""
    backend = LONE_FILES[path.suffix](path)
    facts: dict = {"source": str(path), "kind": backend.format, "bytes": path.stat().st_size}
    for key, value in backend.description.items():
        facts[key] = _decoded(value) if key in DESCRIPTION_JSON_KEYS else value
    facts["latent_dim"] = backend.latent_dim
    facts["inputs"], facts["outputs"] = _tensors(backend)
    facts.pop("output", None)  # the metadata's one-line summary of what `outputs` now lists
    if isinstance(backend, backends.TFLiteBackend):
        version = backends.tflite_metadata(path).get("min_runtime_version", b"").rstrip(b"\0 ").decode()
        facts["min_runtime_version"] = version or None
    return facts


ONNX_DTYPES = {"float": "float32", "double": "float64", "float16": "float16"}  # ONNX's names, numpy's


def _tensors(backend: backends.OnnxBackend | backends.TFLiteBackend) -> tuple[list[dict], list[dict]]:
    """The runtime's inputs (in the contract's order) and outputs: name, dtype and shape (None
    for a dynamic axis)."""
    if not isinstance(backend, backends.TFLiteBackend):
        inputs = [_onnx_tensor(value) for value in backend.session.get_inputs()]
        outputs = [_onnx_tensor(value) for value in backend.session.get_outputs()]
    else:
        inputs = [_tflite_tensor(name, detail) for name, detail in backend.runner.get_input_details().items()]
        outputs = [_tflite_tensor(name, detail) for name, detail in backend.runner.get_output_details().items()]
    order = {name: index for index, name in enumerate(backend.input_names)}
    return sorted(inputs, key=lambda tensor: order.get(tensor["name"], len(order))), outputs


def _onnx_tensor(value: Any) -> dict:  # an onnxruntime NodeArg
    kind = value.type.removeprefix("tensor(").removesuffix(")")
    shape = [dim if isinstance(dim, int) else None for dim in value.shape]
    return {"name": value.name, "dtype": ONNX_DTYPES.get(kind, kind), "shape": shape}


def _tflite_tensor(name: str, detail: dict) -> dict:
    return {"name": name, "dtype": np.dtype(detail["dtype"]).name, "shape": [int(dim) for dim in detail["shape"]]}


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def format_info(facts: dict) -> str:
    """The facts as aligned `key: value` lines, artifacts and figures one per line."""
    lines = []
    for key, value in facts.items():
        if key == "artifacts":
            lines.append("artifacts:")
            for name, record in value.items():
                lines.append(
                    f"  {name}: {record['path']}, {record['bytes']:,} bytes, checksum {record['checksum']}, "
                    f"{record['runtime']}" + (f", {record['weights']} weights" if "weights" in record else "")
                )
        elif key == "evaluation":
            lines.append("evaluation:")
            for name, figures in value.items():
                shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())
                lines.append(f"  {name}: {shown}")
        else:
            lines.append(f"{key}: {json.dumps(value) if isinstance(value, (list, dict)) else value}")
    return "\n".join(lines)
