"""Optional dependencies: imported quietly, and named by the install extra that brings them.

TensorFlow and absl print start-up lines straight to file descriptor 2 when TensorFlow is
imported, whatever TF_CPP_MIN_LOG_LEVEL says. An error should be the one line a user reads, so
the import runs with that descriptor parked in a scratch file, which is replayed if the import
fails. `FASHIONGAN_VERBOSE=1` keeps everything.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

from fashiongan.errors import FashionGANError
from fashiongan.spec import TRAIN_BACKENDS

VERBOSE_ENV = "FASHIONGAN_VERBOSE"
EXTRA = "train"  # the install extra that brings every optional module imported through `require`


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def quiet_stderr(replay: bool = True) -> Iterator[None]:
    """Hide what native libraries write to file descriptor 2 inside the block, unless verbose;
    if the block raises, what they wrote is written out after all (unless `replay` is False:
    the caller's own error then says it all)."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            if replay:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def require_tensorflow_keras(needed_for: str) -> ModuleType:
    """Keras on its TensorFlow backend, whatever KERAS_BACKEND says: training, export and the
    classifier's training are TensorFlow programs (an export made under another backend would
    lack the SavedModel, TFLite and ONNX converters). Call it before Keras is first imported."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    require("tensorflow", needed_for)
    keras = require("keras", needed_for)
    if keras.backend.backend() != "tensorflow":
        raise FashionGANError(
            f"{needed_for} needs Keras on TensorFlow, but Keras was loaded on {keras.backend.backend()}"
        )
    return keras


def require_training_keras(backend: str, needed_for: str) -> ModuleType:
    """Keras on the backend training runs on: `tensorflow`, `jax`, or `auto` (KERAS_BACKEND if it
    names one of those, else TensorFlow where it is installed, else JAX). Call it before Keras
    is first imported."""
    if backend == "auto":
        named = os.environ.get("KERAS_BACKEND", "")
        chosen = named if named in TRAIN_BACKENDS[1:] else installed_backend()
        if chosen is None:
            raise FashionGANError(
                f"{needed_for} needs TensorFlow or JAX, which this install lacks: "
                f"pip install 'fashiongan[{EXTRA}]' or 'fashiongan[jax]'"
            )
        backend = chosen
    if backend == "tensorflow":
        return require_tensorflow_keras(needed_for)
    os.environ["KERAS_BACKEND"] = backend
    require(backend, needed_for, extra=backend)
    keras = require("keras", needed_for, extra=backend)
    if keras.backend.backend() != backend:
        raise FashionGANError(
            f"{needed_for} asked for Keras on {backend}, but Keras was loaded on {keras.backend.backend()}"
        )
    return keras


def installed_backend() -> str | None:
    """The Keras backend to take when none is named: TensorFlow where installed, else JAX."""
    return next((name for name in TRAIN_BACKENDS[1:] if importlib.util.find_spec(name)), None)


def import_keras(needed_for: str) -> ModuleType:
    """Keras on KERAS_BACKEND if set, else on `installed_backend()` (Keras itself would insist
    on TensorFlow)."""
    if "keras" not in sys.modules and not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = installed_backend() or "tensorflow"
    return require("keras", needed_for)


def require(module: str, needed_for: str, extra: str = EXTRA) -> ModuleType:
    """Import `module` quietly, or say in one line which extra installs it."""
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with quiet_stderr():
            return importlib.import_module(module)
    except ImportError:
        raise FashionGANError(
            f"{needed_for} needs {module}, which this install lacks: pip install 'fashiongan[{extra}]'"
        ) from None
