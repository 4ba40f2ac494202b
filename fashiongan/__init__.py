"""fashiongan: small GANs on Fashion-MNIST and MNIST, trained once, exported everywhere, sampled
anywhere.

    from fashiongan import inference
    sampler = inference.load("fashion_mnist")   # a pretrained name, an export folder or a model file
    images = sampler.sample(64, seed=0)         # uint8, N×28×28

Importing this package, `fashiongan.spec` or `fashiongan.inference` imports neither Keras nor
TensorFlow; `fashiongan.model` and `fashiongan.export` need the `[train]` extra.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

try:
    __version__ = version("fashiongan")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"

_SUBPACKAGES = ("spec", "errors", "inference", "evaluation", "export", "model", "demo", "pretrained")


def __getattr__(name: str) -> ModuleType:
    """`fashiongan.inference` and its siblings, imported on first use."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
