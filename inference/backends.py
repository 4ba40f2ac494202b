"""One small runtime wrapper per exported format. Each imports its runtime only when built:
ONNX needs onnxruntime, TFLite needs ai_edge_litert; only .keras, SavedModel and .h5 import
TensorFlow. Every backend maps (noise, labels) to float32 images N×28×28×1 in [0, 1]."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.errors import FashionGANError, describe_error


class BackendError(FashionGANError):
    """A model file that its runtime cannot load or run."""


def _needs_tensorflow(what: str):
    try:
        import tensorflow as tf
    except ImportError:
        raise BackendError(
            f"{what} needs TensorFlow: pip install 'fashiongan[train]' (or use the ONNX or TFLite export)"
        ) from None
    return tf


class Backend:
    format: str = ""
    input_names: tuple[str, ...] = ("noise",)

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def latent_dim(self) -> int:
        raise NotImplementedError

    @property
    def conditional(self) -> bool:
        return "label" in self.input_names

    def run(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def _feeds(self, noise, labels) -> dict:
        feeds = {"noise": np.ascontiguousarray(noise, dtype=np.float32)}
        if self.conditional:
            feeds["label"] = np.ascontiguousarray(labels, dtype=np.int32)
        return feeds


class OnnxBackend(Backend):
    format = "onnx"

    def __init__(self, path: Path, providers: list[str] | None = None):
        super().__init__(path)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own exception types
            raise BackendError(f"{path}: not a loadable ONNX model ({describe_error(error)})") from None
        self.input_names = tuple(value.name for value in self.session.get_inputs())
        self._latent_dim = self.session.get_inputs()[0].shape[1]

    @property
    def latent_dim(self) -> int:
        return int(self._latent_dim)

    def run(self, noise, labels=None):
        return self.session.run(["images"], self._feeds(noise, labels))[0]


class TFLiteBackend(Backend):
    """LiteRT's interpreter, the runtime of Android and iOS. Files exported with a fixed batch
    are run one row at a time."""

    format = "tflite"

    def __init__(self, path: Path, num_threads: int | None = None):
        super().__init__(path)
        import os

        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads or os.cpu_count())
            self.runner = self.interpreter.get_signature_runner("serving_default")
        except Exception as error:  # LiteRT raises ValueError/RuntimeError for bad files
            raise BackendError(f"{path}: not a loadable TFLite generator ({describe_error(error)})") from None
        details = self.runner.get_input_details()
        self.input_names = tuple(name for name in ("noise", "label") if name in details)
        self.batch_size = int(details["noise"]["shape"][0])
        self._latent_dim = int(details["noise"]["shape"][1])

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    def run(self, noise, labels=None):
        feeds = self._feeds(noise, labels)
        step = self.batch_size if self.batch_size > 0 else len(noise)
        chunks = [
            self.runner(**{name: value[start : start + step] for name, value in feeds.items()})["images"]
            for start in range(0, len(noise), step)
        ]
        return np.concatenate(chunks)


class KerasBackend(Backend):
    format = "keras"

    def __init__(self, path: Path):
        super().__init__(path)
        tf = _needs_tensorflow("a .keras model")
        import keras

        try:
            self.model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise BackendError(f"{path}: not a loadable Keras model ({describe_error(error)})") from None
        self.input_names = tuple(tensor.name for tensor in self.model.inputs)
        self._call = tf.function(lambda *inputs: self.model(list(inputs) if len(inputs) > 1 else inputs[0], training=False))

    @property
    def latent_dim(self) -> int:
        return int(self.model.inputs[0].shape[1])

    def run(self, noise, labels=None):
        return np.asarray(self._call(*self._feeds(noise, labels).values()))


class SavedModelBackend(Backend):
    format = "savedmodel"

    def __init__(self, path: Path):
        super().__init__(path)
        tf = _needs_tensorflow("a SavedModel")
        try:
            self.loaded = tf.saved_model.load(str(path))
            self.signature = self.loaded.signatures["serving_default"]
        except Exception as error:  # TensorFlow raises many types for a bad folder
            raise BackendError(f"{path}: not a loadable SavedModel ({describe_error(error)})") from None
        self.specs = self.signature.structured_input_signature[1]
        self.input_names = tuple(name for name in ("noise", "label") if name in self.specs)

    @property
    def latent_dim(self) -> int:
        return int(self.specs["noise"].shape[1])

    def run(self, noise, labels=None):
        import tensorflow as tf

        feeds = {name: tf.constant(value) for name, value in self._feeds(noise, labels).items()}
        return self.signature(**feeds)["images"].numpy()


class H5Backend(Backend):
    """The legacy HDF5 file, loaded with tf_keras (Keras 2)."""

    format = "h5"

    def __init__(self, path: Path):
        super().__init__(path)
        _needs_tensorflow("a .h5 model")
        import tf_keras

        try:
            self.model = tf_keras.models.load_model(path, compile=False)
        except Exception as error:  # h5py and tf_keras raise many types for a bad file
            raise BackendError(f"{path}: not a loadable Keras 2 .h5 model ({describe_error(error)})") from None
        self.input_names = tuple(tensor.name.split(":")[0] for tensor in self.model.inputs)

    @property
    def latent_dim(self) -> int:
        return int(self.model.inputs[0].shape[1])

    def run(self, noise, labels=None):
        inputs = list(self._feeds(noise, labels).values())
        return np.asarray(self.model(inputs if len(inputs) > 1 else inputs[0], training=False))


BACKENDS = {
    "onnx": OnnxBackend,
    "tflite": TFLiteBackend,
    "keras": KerasBackend,
    "savedmodel": SavedModelBackend,
    "h5": H5Backend,
}


def open_artifact(artifact: str, path: Path) -> Backend:
    """The backend for a manifest artifact name (the three TFLite files share one backend)."""
    return BACKENDS["tflite" if artifact.startswith("tflite") else artifact](path)
