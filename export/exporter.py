"""Export a trained generator to every format, into one folder, atomically.

Each `--formats` value has one writer in WRITERS; the files it writes are its rows in
`fashiongan.spec.ARTIFACTS`. The writers share the serving graph (`serving`); TFLite and ONNX
have a module each (`tflite_writer`, `onnx_writer`); the manifest is written and read by
`fashiongan.inference.manifest`. The folder appears whole or not at all (`fashiongan.files`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from fashiongan import spec
from fashiongan.export.onnx_writer import onnx_weight_dtype, write_onnx
from fashiongan.export.serving import ExportError, Target, quiet, serving_model, write_savedmodel_folder
from fashiongan.export.source import Source, load_source
from fashiongan.export.tflite_writer import tflite_min_runtime, write_tflite
from fashiongan.files import atomic_folder
from fashiongan.inference.manifest import (
    ManifestError,
    artifact_files,
    changed_files,
    describe_artifact,
    new_manifest,
    read_manifest,
)

__all__ = ["WRITERS", "ExportError", "Source", "Target", "check_out", "export", "is_export", "load_source"]


def write_keras(target: Target) -> tuple[str, ...]:
    target.model.save(target.path("keras"))
    return ("keras",)


def write_savedmodel(target: Target) -> tuple[str, ...]:
    write_savedmodel_folder(target, target.path("savedmodel"))
    return ("savedmodel",)


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
    with quiet():
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
    with atomic_folder(out, restorable=is_export) as folder:
        scratch = folder / ".scratch"
        scratch.mkdir()
        target = Target(
            serving_model(source.generator, source.variant),
            source.variant,
            source.dataset,
            folder,
            scratch,
            tflite_quants,
            onnx_weights,
        )
        written: list[str] = []
        for writer, run in WRITERS.items():
            if writer in formats:
                started = time.monotonic()
                written += run(target)
                if progress:
                    progress(f"export: {writer} written in {time.monotonic() - started:.1f} s")
        shutil.rmtree(scratch)
        manifest = new_manifest(
            source.variant,
            source.dataset,
            training=source.training,
            artifacts={name: _artifact_record(folder, name) for name in written},
            tensorflow_version=_tensorflow_version(),
        )
        (folder / spec.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return out


def _tensorflow_version() -> str:
    import tensorflow as tf

    return tf.__version__


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
