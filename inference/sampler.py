"""Sample images from any exported generator. The same seed gives the same noise, so the same
images, from every format.

    sampler = inference.load("exports/dcgan")   # an export folder, one model file, or a pretrained name
    images = sampler.sample(16, seed=0)         # uint8, N×28×28

Every call runs the model BATCH_ROWS rows at a time into one preallocated result, so memory
beyond the result itself does not grow with the number of images.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from fashiongan import pretrained, spec
from fashiongan.errors import FashionGANError
from fashiongan.files import check_writable, output_target
from fashiongan.inference.backends import Backend, open_artifact
from fashiongan.inference.grid import to_uint8
from fashiongan.inference.manifest import ManifestError, artifact_files, read_manifest, verify_artifact
from fashiongan.spec import MANIFEST_FILE

# Class names or indices: one for every image, or one per image.
Labels = str | int | Sequence[str | int] | np.ndarray | None

MAX_IMAGES = 100_000  # per sample() call: 78 MB of uint8 images
MAX_GENERATE_ROWS = 500_000  # per generate() call: 1.6 GB of float32 images
MAX_NOISE_VALUES = 1 << 28  # a gigabyte of float32 noise in one array
BATCH_ROWS = 500  # rows per runtime call: the largest generator's activations stay near 200 MB
DEFAULT_CLASSES = 10  # a conditional generator that names no classes: indices 0-9


class SamplerError(FashionGANError):
    """Bad sampling request: counts, labels, noise, formats."""


class Sampler:
    """Draws noise in numpy from a seed and runs it through one backend. `files` are the
    files it was opened from (the model, and the manifest and artifacts of its export), which
    no output may overwrite."""

    def __init__(self, backend: Backend, manifest: dict | None = None, files: frozenset[Path] = frozenset()):
        self.backend = backend
        self.manifest = manifest
        self.files = files
        self.latent_dim = backend.latent_dim
        self.conditional = backend.conditional
        names = (manifest or {}).get("class_names") or _described_class_names(backend)
        self.class_names: list[str] | None = list(names) if names else None
        self.num_classes = len(self.class_names) if self.class_names else (DEFAULT_CLASSES if self.conditional else 0)
        if manifest is not None:
            _check_agreement(manifest, backend)

    @property
    def format(self) -> str:
        return self.backend.format

    def check_output(self, path: str | os.PathLike) -> None:
        """Refuse, before anything is computed, an output path that is, or links to, a file
        this sampler reads, or that `fashiongan.files` would not write (a folder, a socket)."""
        check_writable(path)
        if output_target(path) in self.files:
            raise SamplerError(f"{path}: is a file of the model being sampled; choose another output")

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """Standard-normal float32 noise, n×latent_dim, from numpy's generator for `seed`."""
        _check_count(n, MAX_GENERATE_ROWS)
        self._check_noise_size(n)
        return np.concatenate(list(self._noise_batches(n, seed)))

    def _check_noise_size(self, n: int) -> None:
        """Refuse noise of more than MAX_NOISE_VALUES values before it is drawn."""
        if n * self.latent_dim > MAX_NOISE_VALUES:
            raise SamplerError(f"{n} noise vectors of {self.latent_dim} values are over {MAX_NOISE_VALUES:,} values")

    def _noise_batches(self, n: int, seed: int) -> Iterator[np.ndarray]:
        """noise(n, seed) in batches of BATCH_ROWS rows: one generator drawn in order, so the
        same values as one draw of n rows."""
        _check_seed(seed)
        generator = np.random.default_rng(seed)
        for start in range(0, n, BATCH_ROWS):
            yield generator.standard_normal((min(BATCH_ROWS, n - start), self.latent_dim)).astype(np.float32)

    def labels(self, n: int, labels: Labels = None) -> np.ndarray | None:
        """Class indices for n images: names or indices (one, or one per image); none given
        spreads the classes evenly."""
        given = _label_items(labels)
        if not self.conditional:
            if given:
                raise SamplerError(f"labels given, but {self.backend.path} is an unconditional generator")
            return None
        if not given:
            return (np.arange(n) % self.num_classes).astype(spec.LABEL_DTYPE)
        if len(given) not in (1, n):
            raise SamplerError(f"{len(given)} labels given for {n} images; give one, or one per image")
        indices = np.array([self._label_index(label) for label in given], dtype=spec.LABEL_DTYPE)
        return np.repeat(indices, n) if len(indices) == 1 else indices

    def _label_index(self, label: object) -> int:
        if isinstance(label, str) and not _is_integer_text(label):
            names = [name.lower() for name in self.class_names or []]
            if label.lower() not in names:
                choices = ", ".join(self.class_names) if self.class_names else f"indices 0-{self.num_classes - 1}"
                raise SamplerError(f"unknown class name {label!r}; choose from {choices}")
            return names.index(label.lower())
        index = int(label)  # type: ignore[call-overload]  # an int, integer text or a whole float by _label_items
        if not 0 <= index < self.num_classes:
            raise SamplerError(f"label {index} is out of range 0-{self.num_classes - 1}")
        return index

    def generate(self, noise: np.ndarray, labels: Labels = None) -> np.ndarray:
        """Float32 images N×28×28×1 in [0, 1] for the given noise (and labels)."""
        noise = _noise_array(noise, self.latent_dim)
        indices = self.labels(len(noise), labels)
        images = np.empty((len(noise), *spec.IMAGE_SHAPE), np.float32)
        for start in range(0, len(noise), BATCH_ROWS):
            rows = slice(start, start + BATCH_ROWS)
            images[rows] = self._batch(noise[rows], None if indices is None else indices[rows])
        return images

    def _batch(self, noise: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        images = self.backend.run(noise, labels)
        if images.shape != (len(noise), *spec.IMAGE_SHAPE):
            raise SamplerError(
                f"{self.backend.path} gave {spec.OUTPUT_NAME} of shape {images.shape}, not N×28×28×1: not a generator"
            )
        return images

    def sample(self, n: int, seed: int = 0, labels: Labels = None) -> np.ndarray:
        """n images as uint8 N×28×28, drawn and converted BATCH_ROWS at a time."""
        _check_count(n, MAX_IMAGES)
        indices = self.labels(n, labels)
        images = np.empty((n, *spec.IMAGE_SHAPE[:2]), np.uint8)
        for start, noise in zip(range(0, n, BATCH_ROWS), self._noise_batches(n, seed)):
            rows = slice(start, start + len(noise))
            images[rows] = to_uint8(self._batch(noise, None if indices is None else indices[rows]))
        return images

    def interpolate(self, seed_a: int, seed_b: int, steps: int, label: str | int | None = None) -> np.ndarray:
        """uint8 images along the great circle between the noise of two seeds (slerp), so every
        point keeps the norm a standard-normal draw has."""
        _check_count(steps, MAX_IMAGES)
        self._check_noise_size(steps)
        start, end = self.noise(1, seed_a)[0], self.noise(1, seed_b)[0]
        noise = np.stack([_slerp(start, end, t) for t in np.linspace(0.0, 1.0, steps)]).astype(np.float32)
        return to_uint8(self.generate(noise, None if label is None else [label]))


def _slerp(start: np.ndarray, end: np.ndarray, t: float) -> np.ndarray:
    cosine = np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end))
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    if angle < 1e-6:
        return (1 - t) * start + t * end
    return (np.sin((1 - t) * angle) * start + np.sin(t * angle) * end) / np.sin(angle)


def _check_count(n: object, limit: int) -> None:
    if not _is_index(n) or not 0 < n <= limit:  # type: ignore[operator]
        raise SamplerError(f"the number of images must be a positive integer up to {limit:,}, got {n!r}")


def _check_seed(seed: object) -> None:
    if not _is_index(seed) or seed < 0:  # type: ignore[operator]
        raise SamplerError(f"a seed must be a non-negative integer, got {seed!r}")


def _is_index(value: object) -> bool:
    """An integer that is not a bool (True is no count of images)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_integer_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _label_items(labels: Labels) -> list[str | int]:
    """Labels as a flat list of names and whole numbers; anything that cannot be a class is
    refused here (a nested list, a dict, NaN, 1.7, a bool)."""
    if labels is None:
        return []
    if isinstance(labels, np.ndarray):
        if labels.ndim > 1:
            raise SamplerError(f"labels must be one class or a 1-D list of classes, got shape {labels.shape}")
        items = labels.tolist() if labels.ndim else [labels.item()]
    elif isinstance(labels, (list, tuple)):
        items = list(labels)
    else:
        items = [labels]
    return [_label_item(item) for item in items]


def _label_item(item: object) -> str | int:
    if isinstance(item, (str, np.str_)):
        return str(item)
    if _is_index(item):
        return int(item)  # type: ignore[call-overload]
    if isinstance(item, (float, np.floating)) and math.isfinite(item) and float(item).is_integer():
        return int(item)
    raise SamplerError(f"a label must be a class name or a whole class index, got {item!r}")


def _noise_array(noise: object, latent_dim: int) -> np.ndarray:
    """Noise as float32 N×latent_dim, refused unless every value is a finite number."""
    if isinstance(noise, np.ndarray) and noise.dtype.kind not in "iuf":
        raise SamplerError(f"noise must hold numbers, got an array of {noise.dtype}")
    try:
        array = np.asarray(noise, dtype=np.float32)
    except (TypeError, ValueError):
        raise SamplerError(f"noise must be an N×{latent_dim} array of numbers, got {type(noise).__name__}") from None
    if array.ndim != 2 or array.shape[1] != latent_dim or not 0 < len(array) <= MAX_GENERATE_ROWS:
        raise SamplerError(f"noise must be N×{latent_dim} with N from 1 to {MAX_GENERATE_ROWS:,}, got {array.shape}")
    if not np.isfinite(array).all():
        raise SamplerError("noise holds NaN or infinite values")
    return array


def _described_class_names(backend: Backend) -> list[str] | None:
    """The class names a lone model file carries in its own metadata, if readable."""
    try:
        names = json.loads(backend.description.get("class_names", "null"))
    except ValueError:
        return None
    return names if isinstance(names, list) and names and all(isinstance(n, str) for n in names) else None


def _check_agreement(manifest: dict, backend: Backend) -> None:
    if manifest.get("latent_dim") != backend.latent_dim:
        raise ManifestError(
            f"{MANIFEST_FILE} says latent size {manifest.get('latent_dim')}, "
            f"but {backend.path} takes {backend.latent_dim}"
        )
    if bool(manifest.get("conditional")) != backend.conditional:
        raise ManifestError(f"{MANIFEST_FILE} and {backend.path} disagree on whether the generator takes labels")
    described = _described_class_names(backend)
    if described and manifest.get("class_names") and len(described) != len(manifest["class_names"]):
        raise ManifestError(
            f"{MANIFEST_FILE} names {len(manifest['class_names'])} classes, but {backend.path} has {len(described)}"
        )


def _runtime_available(artifact: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(spec.ARTIFACT_FORMATS[artifact].module) is not None


def load(path: str | os.PathLike, format: str | None = None, *, trust_savedmodel: bool = False) -> Sampler:
    """A sampler for an export folder (its manifest picks and checks the file), one model file,
    or a pretrained generator by name (`fashion_mnist`) where no such path exists.

    No file is allowed to run code of its own: `.keras` loads in Keras' safe mode, `.h5` only if
    its config names the project's own layers, ONNX and TFLite hold no Python. A SavedModel runs
    whatever its graph does (TensorFlow's design), so it opens only with `trust_savedmodel=True`,
    wherever it lies: a manifest's checksums prove only that the files match each other."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise SamplerError(f"a model is a path or a pretrained name, got {path!r}")
    if format is not None and (not isinstance(format, str) or format not in spec.ARTIFACT_FORMATS):
        raise SamplerError(f"unknown format {format!r}; choose from {', '.join(spec.ARTIFACT_NAMES)}")
    if not isinstance(trust_savedmodel, bool):
        raise SamplerError(f"trust_savedmodel must be True or False, got {trust_savedmodel!r}")
    path = pretrained.resolve(path)
    if not path.exists():
        known = ", ".join(pretrained.generator_names()) or "none installed"
        raise SamplerError(f"{path}: no such export folder or model file, nor a pretrained generator ({known})")
    if path.is_dir() and (path / MANIFEST_FILE).is_file():
        return _load_export(path, format, trust_savedmodel)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return Sampler(open_artifact("savedmodel", path, trust_savedmodel=trust_savedmodel), files=_files_of(path))
        raise SamplerError(f"{path}: neither an export folder (no {MANIFEST_FILE}) nor a SavedModel")
    artifact = spec.SUFFIX_FORMATS.get(path.suffix.lower())
    if artifact is None:
        raise SamplerError(f"{path}: unknown model format {path.suffix!r}; expected {', '.join(spec.SUFFIX_FORMATS)}")
    if (path.parent / MANIFEST_FILE).is_file():
        manifest = read_manifest(path.parent)
        for name, record in manifest["artifacts"].items():
            if record["path"] == path.name:
                backend = open_artifact(name, verify_artifact(path.parent, record), trust_savedmodel=trust_savedmodel)
                return Sampler(backend, manifest, _export_files(path.parent, manifest))
    return Sampler(open_artifact(artifact, path), files=_files_of(path))


def _load_export(folder: Path, format: str | None, trust_savedmodel: bool) -> Sampler:
    manifest = read_manifest(folder)
    artifacts = manifest.get("artifacts", {})
    if format is not None:
        if format not in artifacts:
            raise SamplerError(f"{folder} has no {format} artifact; it has {', '.join(artifacts)}")
        chosen = format
    else:
        runnable = [name for name in spec.PREFERRED_ARTIFACTS if name in artifacts and _runtime_available(name)]
        if not runnable:
            raise SamplerError(f"{folder}: no artifact this install can run (has {', '.join(artifacts)})")
        trusted = [name for name in runnable if spec.ARTIFACT_FORMATS[name].runtime not in spec.RUNS_GRAPH_CODE]
        chosen = (runnable if trust_savedmodel else trusted or runnable)[0]  # a SavedModel alone: refused below
    backend = open_artifact(chosen, verify_artifact(folder, artifacts[chosen]), trust_savedmodel=trust_savedmodel)
    return Sampler(backend, manifest, _export_files(folder, manifest))


def _files_of(path: Path) -> frozenset[Path]:
    """A model file, or every file of a model folder, as resolved paths."""
    found = [path] if path.is_file() else [file for file in path.rglob("*") if file.is_file()]
    return frozenset(output_target(file) for file in found)


def _export_files(folder: Path, manifest: dict) -> frozenset[Path]:
    """The manifest and every file it lists, as resolved paths."""
    listed = [folder / MANIFEST_FILE] + [file for record in manifest["artifacts"].values()
                                          for file in artifact_files(folder, record)]  # fmt: skip
    return frozenset(output_target(file) for file in listed)
