"""What an export says of itself, written and read here alone: the folder's manifest (what each
artifact is, the contract, the run it came from, and checksums) and the description each ONNX
and TFLite file carries inside it. `export` writes both through `new_manifest` and
`file_description`; `inference` and `info` read them back. numpy-free and TensorFlow-free; the
artifacts' fixed file names are `fashiongan.spec.ARTIFACTS`."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import fashiongan
from fashiongan import spec
from fashiongan.errors import FashionGANError
from fashiongan.spec import LABEL_INPUT, MANIFEST_FILE, NOISE_INPUT, OUTPUT_NAME, DatasetSpec, VariantSpec

FORMAT_VERSION = 1
# The keys of a file's own description whose values are JSON text (the rest are plain text); a
# TFLite file adds `batch_size` and, full-integer, `quantization` to `file_description`'s keys.
DESCRIPTION_JSON_KEYS = ("conditional", "class_names", "latent_dim", "output_range", "batch_size", "quantization")


class ManifestError(FashionGANError):
    """A manifest that is missing, unreadable, or disagrees with the files beside it."""


def new_manifest(
    variant: VariantSpec, dataset: DatasetSpec, *, training: dict, artifacts: dict[str, dict], tensorflow_version: str
) -> dict:
    """The manifest of an export of `variant` trained on `dataset`: `artifacts` maps each name
    of `fashiongan.spec.ARTIFACTS` written to its `describe_artifact` record."""
    inputs = [{"name": NOISE_INPUT, "shape": [None, variant.latent_dim], "dtype": spec.NOISE_DTYPE}]
    if variant.conditional:
        inputs.append({"name": LABEL_INPUT, "shape": [None], "dtype": spec.LABEL_DTYPE})
    return {
        "format_version": FORMAT_VERSION,
        "fashiongan_version": fashiongan.__version__,
        "tensorflow_version": tensorflow_version,
        "variant": variant.name,
        "dataset": dataset.name,
        "conditional": variant.conditional,
        "class_names": list(dataset.class_names) if variant.conditional else None,
        "latent_dim": variant.latent_dim,
        "noise": {"distribution": spec.NOISE_DISTRIBUTION, "dtype": spec.NOISE_DTYPE},
        "inputs": inputs,
        "outputs": [{"name": OUTPUT_NAME, "shape": [None, *variant.image_shape], "dtype": spec.OUTPUT_DTYPE}],
        "output_range": list(spec.OUTPUT_RANGE),
        "generator_output_range": list(variant.output_range),
        "tflite_batch_size": spec.TFLITE_BATCH,
        "training": training,
        "artifacts": artifacts,
    }


def file_description(variant: VariantSpec, dataset: DatasetSpec) -> dict[str, str]:
    """What a generator file says of itself without its manifest: text key-value pairs (ONNX
    metadata props; the TFLite file's `fashiongan` metadata entry, as JSON)."""
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


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_artifact(root: Path, relative: str) -> dict:
    """Size and sha256 of a file, or of every file in a folder (the SavedModel)."""
    path = root / relative
    if path.is_file():
        return {"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    files = {
        str(file.relative_to(path)): {"bytes": file.stat().st_size, "sha256": sha256_file(file)}
        for file in sorted(path.rglob("*"))
        if file.is_file()
    }
    return {"path": relative, "bytes": sum(f["bytes"] for f in files.values()), "files": files}


def _expected_files(root: Path, record: dict) -> dict[Path, dict]:
    """Each file of an artifact record (one, or every file of a folder) with its size and sha256."""
    path = root / record["path"]
    if "files" in record:
        return {path / name: expected for name, expected in record["files"].items()}
    return {path: {"bytes": record["bytes"], "sha256": record["sha256"]}}


def artifact_files(root: Path, record: dict) -> list[Path]:
    """The files an artifact record lists, under the export folder `root`."""
    return list(_expected_files(root, record))


def _matches(file: Path, expected: dict) -> bool:
    return file.is_file() and file.stat().st_size == expected["bytes"] and sha256_file(file) == expected["sha256"]


def changed_files(root: Path, record: dict) -> list[Path]:
    """The files of an artifact that are missing or differ from the manifest's record."""
    return [file for file, expected in _expected_files(root, record).items() if not _matches(file, expected)]


def verify_artifact(root: Path, record: dict) -> Path:
    """Refuse an artifact whose size or checksum differs from the manifest's record."""
    for file, expected in _expected_files(root, record).items():
        if not file.is_file():
            raise ManifestError(f"{file}: listed in {MANIFEST_FILE} but missing")
        if not _matches(file, expected):
            raise ManifestError(f"{file}: checksum does not match {MANIFEST_FILE}; refusing to load it")
    return root / record["path"]


def read_manifest(export_dir: str | os.PathLike) -> dict:
    path = Path(export_dir) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest (is {export_dir} an export folder?)") from None
    except (OSError, ValueError) as error:
        raise ManifestError(f"{path}: unreadable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ManifestError(f"{path}: not a fashiongan manifest (format_version {FORMAT_VERSION})")
    problem = _structure_problem(manifest)
    if problem:
        raise ManifestError(f"{path}: malformed manifest: {problem}")
    return manifest


def _structure_problem(manifest: dict) -> str | None:
    """What is wrong with the fields a reader relies on, or None."""
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict):
        return "artifacts must be an object of name -> record"
    for name, record in artifacts.items():
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            return f"artifact {name!r} needs a path"
        if Path(record["path"]).is_absolute() or ".." in Path(record["path"]).parts:
            return f"artifact {name!r} path {record['path']!r} leaves the export folder"
        files = record.get("files", {"": record})
        if (
            not isinstance(files, dict)
            or not files
            or not all(
                isinstance(entry, dict) and _is_int(entry.get("bytes")) and isinstance(entry.get("sha256"), str)
                for entry in files.values()
            )
        ):
            return f"artifact {name!r} needs bytes and sha256 for each file"
    if "latent_dim" in manifest and not (_is_int(manifest["latent_dim"]) and manifest["latent_dim"] > 0):
        return "latent_dim must be a positive integer"
    if "conditional" in manifest and not isinstance(manifest["conditional"], bool):
        return "conditional must be true or false"
    names = manifest.get("class_names")
    if names is not None and not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        return "class_names must be a list of names"
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
