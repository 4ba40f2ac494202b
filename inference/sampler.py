"""Sample images from any exported generator. The same seed gives the same noise, so the same
images, from every format.

    sampler = inference.load("exports/dcgan")   # an export folder, one model file, or a pretrained name
    images = sampler.sample(16, seed=0)         # uint8, N×28×28
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fashiongan import pretrained, spec
from fashiongan.errors import FashionGANError
from fashiongan.inference.backends import Backend, open_artifact
from fashiongan.inference.grid import to_uint8
from fashiongan.inference.manifest import ManifestError, read_manifest, verify_artifact
from fashiongan.spec import MANIFEST_FILE

# Class names or indices: one for every image, or one per image.
Labels = str | int | Sequence[str | int] | np.ndarray | None


class SamplerError(FashionGANError):
    """Bad sampling request: counts, labels, formats."""


class Sampler:
    """Draws noise in numpy from a seed and runs it through one backend."""

    def __init__(self, backend: Backend, manifest: dict | None = None):
        self.backend = backend
        self.manifest = manifest
        self.latent_dim = backend.latent_dim
        self.conditional = backend.conditional
        names = (manifest or {}).get("class_names")
        self.class_names: list[str] | None = list(names) if names else None
        self.num_classes = len(self.class_names) if self.class_names else (10 if self.conditional else 0)
        if manifest is not None:
            _check_agreement(manifest, backend)

    @property
    def format(self) -> str:
        return self.backend.format

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """Standard-normal float32 noise, n×latent_dim, from numpy's generator for `seed`."""
        _check_count(n)
        _check_seed(seed)
        if n * self.latent_dim > MAX_NOISE_VALUES:
            raise SamplerError(f"{n} noise vectors of {self.latent_dim} values are over {MAX_NOISE_VALUES:,} values")
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def labels(self, n: int, labels: Labels = None) -> np.ndarray | None:
        """Class indices for n images: names or indices (one, or one per image); none given
        spreads the classes evenly."""
        if not self.conditional:
            if labels is not None and len(np.atleast_1d(labels)):
                raise SamplerError(f"labels given, but {self.backend.path} is an unconditional generator")
            return None
        if labels is None or not len(np.atleast_1d(labels)):
            return (np.arange(n) % self.num_classes).astype(np.int32)
        indices = np.array([self._label_index(label) for label in np.atleast_1d(labels)], dtype=np.int32)
        if len(indices) == 1:
            return np.repeat(indices, n)
        if len(indices) != n:
            raise SamplerError(f"{len(indices)} labels given for {n} images; give one, or one per image")
        return indices

    def _label_index(self, label: str | int) -> int:
        if isinstance(label, (str, np.str_)) and not _is_integer_text(str(label)):
            names = [name.lower() for name in self.class_names or []]
            if str(label).lower() not in names:
                raise SamplerError(
                    f"unknown class name {str(label)!r}; choose from {', '.join(self.class_names or [])}"
                )
            return names.index(str(label).lower())
        index = int(label)
        if not 0 <= index < self.num_classes:
            raise SamplerError(f"label {index} is out of range 0-{self.num_classes - 1}")
        return index

    def generate(self, noise: np.ndarray, labels: Labels = None) -> np.ndarray:
        """Float32 images N×28×28×1 in [0, 1] for the given noise (and labels)."""
        noise = np.asarray(noise, dtype=np.float32)
        if noise.ndim != 2 or noise.shape[1] != self.latent_dim:
            raise SamplerError(f"noise must be N×{self.latent_dim}, got {noise.shape}")
        images = self.backend.run(noise, self.labels(len(noise), labels))
        if images.shape != (len(noise), *spec.IMAGE_SHAPE):
            raise SamplerError(
                f"{self.backend.path} gave {spec.OUTPUT_NAME} of shape {images.shape}, not N×28×28×1: not a generator"
            )
        return images

    def sample(self, n: int, seed: int = 0, labels: Labels = None) -> np.ndarray:
        """n images as uint8 N×28×28."""
        return to_uint8(self.generate(self.noise(n, seed), labels))

    def interpolate(self, seed_a: int, seed_b: int, steps: int, label: str | int | None = None) -> np.ndarray:
        """uint8 images along the great circle between the noise of two seeds (slerp), so every
        point keeps the norm a standard-normal draw has."""
        _check_count(steps)
        start, end = self.noise(1, seed_a)[0], self.noise(1, seed_b)[0]
        noise = np.stack([_slerp(start, end, t) for t in np.linspace(0.0, 1.0, steps)]).astype(np.float32)
        return to_uint8(self.generate(noise, None if label is None else [label]))


def _slerp(start: np.ndarray, end: np.ndarray, t: float) -> np.ndarray:
    cosine = np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end))
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    if angle < 1e-6:
        return (1 - t) * start + t * end
    return (np.sin((1 - t) * angle) * start + np.sin(t * angle) * end) / np.sin(angle)


MAX_IMAGES = 100_000  # per call: 31 MB of noise and 314 MB of float32 images
MAX_NOISE_VALUES = 1 << 28  # a gigabyte of float32 noise


def _check_count(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or not 0 < n <= MAX_IMAGES:
        raise SamplerError(f"the number of images must be a positive integer up to {MAX_IMAGES:,}, got {n!r}")


def _is_integer_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SamplerError(f"a seed must be a non-negative integer, got {seed!r}")


def _check_agreement(manifest: dict, backend: Backend) -> None:
    if manifest.get("latent_dim") != backend.latent_dim:
        raise ManifestError(
            f"{MANIFEST_FILE} says latent size {manifest.get('latent_dim')}, "
            f"but {backend.path} takes {backend.latent_dim}"
        )
    if bool(manifest.get("conditional")) != backend.conditional:
        raise ManifestError(f"{MANIFEST_FILE} and {backend.path} disagree on whether the generator takes labels")


def _runtime_available(artifact: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(spec.ARTIFACT_FORMATS[artifact].module) is not None


def load(path: str | os.PathLike, format: str | None = None, trust_savedmodel: bool = False) -> Sampler:
    """A sampler for an export folder (its manifest picks and checks the file), one model file,
    or a pretrained generator by name (`fashion_mnist`) where no such path exists.

    No file is allowed to run code of its own: `.keras` loads in Keras' safe mode, `.h5` only if
    its config names the project's own layers, ONNX and TFLite hold no Python. A SavedModel runs
    whatever its graph does (TensorFlow's design), so a bare SavedModel folder (no manifest) is
    opened only with `trust_savedmodel=True`."""
    path = pretrained.resolve(path)
    if format is not None and format not in spec.ARTIFACT_FORMATS:
        raise SamplerError(f"unknown format {format!r}; choose from {', '.join(spec.ARTIFACT_NAMES)}")
    if not path.exists():
        known = ", ".join(pretrained.generator_names()) or "none installed"
        raise SamplerError(f"{path}: no such export folder or model file, nor a pretrained generator ({known})")
    if path.is_dir() and (path / MANIFEST_FILE).is_file():
        return _load_export(path, format)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            if not trust_savedmodel:
                raise SamplerError(
                    f"{path}: a SavedModel without a {MANIFEST_FILE} runs whatever its graph does; "
                    "open it only if you trust it (--trust-savedmodel)"
                )
            return Sampler(open_artifact("savedmodel", path))
        raise SamplerError(f"{path}: neither an export folder (no {MANIFEST_FILE}) nor a SavedModel")
    artifact = spec.SUFFIX_FORMATS.get(path.suffix.lower())
    if artifact is None:
        raise SamplerError(f"{path}: unknown model format {path.suffix!r}; expected {', '.join(spec.SUFFIX_FORMATS)}")
    manifest_path = path.parent / MANIFEST_FILE
    if manifest_path.is_file():
        manifest = read_manifest(path.parent)
        for name, record in manifest["artifacts"].items():
            if record["path"] == path.name:
                return Sampler(open_artifact(name, verify_artifact(path.parent, record)), manifest)
    return Sampler(open_artifact(artifact, path))


def _load_export(folder: Path, format: str | None) -> Sampler:
    manifest = read_manifest(folder)
    artifacts = manifest.get("artifacts", {})
    if format is not None:
        if format not in artifacts:
            raise SamplerError(f"{folder} has no {format} artifact; it has {', '.join(artifacts)}")
        chosen = format
    else:
        usable = [name for name in spec.PREFERRED_ARTIFACTS if name in artifacts and _runtime_available(name)]
        if not usable:
            raise SamplerError(f"{folder}: no artifact this install can run (has {', '.join(artifacts)})")
        chosen = usable[0]
    return Sampler(open_artifact(chosen, verify_artifact(folder, artifacts[chosen])), manifest)
