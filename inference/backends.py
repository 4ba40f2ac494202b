"""One small runtime wrapper per exported format. Each imports its runtime only when built:
ONNX needs onnxruntime, TFLite needs ai_edge_litert; only .keras, SavedModel and .h5 import
TensorFlow. Every backend maps (noise, labels) to float32 images N×28×28×1 in [0, 1]."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fashiongan import spec
from fashiongan.errors import FashionGANError, describe_error
from fashiongan.extras import import_keras, quiet_stderr


class BackendError(FashionGANError):
    """A model file that its runtime cannot load or run."""


def _needs_tensorflow(what: str) -> Any:
    try:
        with quiet_stderr():
            import tensorflow as tf
    except ImportError:
        raise BackendError(
            f"{what} needs TensorFlow: pip install 'fashiongan[train]' (or use the ONNX or TFLite export)"
        ) from None
    return tf


def load_keras(path: Path, error_type: type[FashionGANError] = BackendError) -> Any:
    """A `.keras` model loaded in Keras' safe mode (no lambdas, no modules outside Keras), not
    compiled; `error_type` names the file when it is not one."""
    import zipfile

    import keras

    if not zipfile.is_zipfile(path):
        raise error_type(f"{path}: not a loadable Keras model (a .keras file is a zip archive; this one is not)")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many types for a bad file
        raise error_type(f"{path}: not a loadable Keras model ({describe_error(error)})") from None


MAX_LATENT_DIM = 65_536  # far above any generator here; a bigger one is a hostile file


class Backend:
    """Runs one model file. `format` is its runtime's name in `fashiongan.spec.RUNTIMES`."""

    format: str = ""
    input_names: tuple[str, ...] = (spec.NOISE_INPUT,)
    _latent_dim: int

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def latent_dim(self) -> int:
        """The noise width, read from the model file and checked when it was opened."""
        return self._latent_dim

    @property
    def conditional(self) -> bool:
        return spec.LABEL_INPUT in self.input_names

    @property
    def description(self) -> dict[str, str]:
        """What the file says of itself (`fashiongan.inference.manifest.file_description`), or {} where the
        format holds no such metadata."""
        return {}

    def run(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Images for one batch; a runtime's own failure is a BackendError naming the file."""
        try:
            return self._run(noise, labels)
        except FashionGANError:
            raise
        except Exception as error:  # each runtime raises its own types
            raise BackendError(f"{self.path}: {self.format} could not run it ({describe_error(error)})") from None

    def _run(self, noise: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _feeds(self, noise: np.ndarray, labels: np.ndarray | None) -> dict[str, np.ndarray]:
        """The named inputs, in the contract's dtypes."""
        feeds = {spec.NOISE_INPUT: np.ascontiguousarray(noise, dtype=spec.NOISE_DTYPE)}
        if self.conditional:
            feeds[spec.LABEL_INPUT] = np.ascontiguousarray(labels, dtype=spec.LABEL_DTYPE)
        return feeds


def _contract_names(names: Iterable[str], path: Path) -> tuple[str, ...]:
    """The contract's input names among `names`, in the contract's order (noise, label);
    refuses a model without a `noise` input."""
    names = list(names)
    if spec.NOISE_INPUT not in names:
        raise BackendError(
            f"{path}: no `{spec.NOISE_INPUT}` input (it has {', '.join(map(str, names))}): not a generator"
        )
    return tuple(name for name in (spec.NOISE_INPUT, spec.LABEL_INPUT) if name in names)


def _latent_size(value: object, path: Path) -> int:
    """The noise width a model declares, if it is a number the sampler can feed."""
    if not isinstance(value, (int, np.integer)) or not 0 < int(value) <= MAX_LATENT_DIM:
        raise BackendError(f"{path}: noise width {value!r} is not a size from 1 to {MAX_LATENT_DIM}")
    return int(value)


def _check_output(outputs: Iterable[str], path: Path) -> None:
    names = list(outputs)
    if spec.OUTPUT_NAME not in names:
        raise BackendError(
            f"{path}: no `{spec.OUTPUT_NAME}` output (it has {', '.join(names) or 'none'}): not a generator"
        )


def _check_types(found: dict[str, object], expected: dict[str, object], path: Path) -> None:
    """Refuse inputs whose element type is not the contract's (a float `label`, say)."""
    for name, kind in found.items():
        if kind != expected[name]:
            raise BackendError(f"{path}: input `{name}` is {kind}, not the contract's {expected[name]}")


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
        inputs = {value.name: value for value in self.session.get_inputs()}
        self.input_names = _contract_names(inputs, path)
        self._latent_dim = _latent_size(inputs[spec.NOISE_INPUT].shape[-1], path)
        outputs = {value.name: value for value in self.session.get_outputs()}
        _check_output(outputs, path)
        _check_types(
            {name: value.type for name, value in inputs.items() if name in self.input_names},
            {spec.NOISE_INPUT: "tensor(float)", spec.LABEL_INPUT: "tensor(int32)"},
            path,
        )

    @property
    def description(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def _run(self, noise, labels):
        return self.session.run([spec.OUTPUT_NAME], self._feeds(noise, labels))[0]


class TFLiteBackend(Backend):
    """LiteRT's interpreter, the runtime of Android and iOS. Files exported with a fixed batch
    are run one row at a time."""

    format = "tflite"

    def __init__(self, path: Path, num_threads: int | None = None):
        super().__init__(path)
        import os

        from ai_edge_litert.interpreter import Interpreter

        try:
            with quiet_stderr(replay=False):  # LiteRT's "INFO: Created ... XNNPACK delegate" line
                self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads or os.cpu_count())
                self.runner = self.interpreter.get_signature_runner("serving_default")
        except Exception as error:  # LiteRT raises ValueError/RuntimeError for bad files
            raise BackendError(f"{path}: not a loadable TFLite generator ({describe_error(error)})") from None
        details = self.runner.get_input_details()
        self.input_names = _contract_names(details, path)
        for name in self.input_names:
            kind = np.dtype(details[name]["dtype"])
            wanted = np.dtype(spec.LABEL_DTYPE if name == spec.LABEL_INPUT else spec.NOISE_DTYPE)
            if kind != wanted and not integer_tensor(details[name]):
                raise BackendError(f"{path}: input `{name}` is {kind.name}, not the contract's {wanted.name}")
        shape = details[spec.NOISE_INPUT]["shape"]
        if len(shape) != 2:
            raise BackendError(f"{path}: `{spec.NOISE_INPUT}` has shape {list(shape)}, not [batch, latent]")
        self.batch_size = int(shape[0])
        self._latent_dim = _latent_size(shape[1], path)
        outputs = self.runner.get_output_details()
        _check_output(outputs, path)
        self.inputs, self.output = details, outputs[spec.OUTPUT_NAME]

    @property
    def description(self) -> dict[str, str]:
        try:
            described = json.loads(tflite_metadata(self.path).get(TFLITE_METADATA, b"{}"))
        except Exception:  # a flatbuffer LiteRT runs may still hold no readable metadata
            return {}
        return {str(key): str(value) for key, value in described.items()} if isinstance(described, dict) else {}

    def _run(self, noise, labels):
        feeds = {
            name: quantized(value, self.inputs[name]) if integer_tensor(self.inputs[name]) else value
            for name, value in self._feeds(noise, labels).items()
        }
        step = self.batch_size if self.batch_size > 0 else len(noise)
        chunks = [self._call({name: value[start : start + step] for name, value in feeds.items()}, step)
                  for start in range(0, len(noise), step)]  # fmt: skip
        images = np.concatenate(chunks)
        if integer_tensor(self.output):  # int8 steps of scale ~1/255 may round a hair past 1
            images = np.clip(dequantized(images, self.output), *spec.OUTPUT_RANGE)
        return images

    def _call(self, feeds: dict[str, np.ndarray], step: int) -> np.ndarray:
        """One runtime call of exactly `step` rows: a shorter last chunk is padded with copies of
        its first row, whose images are dropped."""
        rows = len(next(iter(feeds.values())))
        if rows < step:
            feeds = {
                name: np.concatenate([values, np.repeat(values[:1], step - rows, axis=0)])
                for name, values in feeds.items()
            }
        try:
            return self.runner(**feeds)[spec.OUTPUT_NAME][:rows]
        except Exception as error:  # LiteRT raises RuntimeError/ValueError with its own wording
            raise BackendError(
                f"{self.path}: LiteRT could not run it ({describe_error(error)}); its batch is fixed at "
                f"export to {step} row(s) a call"
            ) from None


TFLITE_METADATA = "fashiongan"  # the TFLite metadata entry holding the file's own description, as JSON


def tflite_metadata(path: Path) -> dict[str, bytes]:
    """A TFLite file's metadata entries, by name (LiteRT's flatbuffer schema; no TensorFlow)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    entries = (model.Metadata(index) for index in range(model.MetadataLength()))
    return {entry.Name().decode(): model.Buffers(entry.Buffer()).DataAsNumpy().tobytes() for entry in entries}


def integer_tensor(detail: dict) -> bool:
    """A full-integer file's quantized tensor (int8 with a scale), not an int32 label."""
    return np.issubdtype(detail["dtype"], np.integer) and bool(detail["quantization"][0])


def quantized(values: np.ndarray, detail: dict) -> np.ndarray:
    """Float values as a quantized input wants them: round(x / scale) + zero point, saturated."""
    scale, zero_point = detail["quantization"]
    bounds = np.iinfo(detail["dtype"])
    return np.clip(np.round(values / scale) + zero_point, bounds.min, bounds.max).astype(detail["dtype"])


def dequantized(values: np.ndarray, detail: dict) -> np.ndarray:
    """A quantized output as float32: (q - zero point) * scale."""
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - zero_point) * np.float32(scale)).astype(np.float32)


class KerasBackend(Backend):
    """A Keras 3 `.keras` generator, loaded in safe mode and called with its named inputs."""

    format = "keras"

    def __init__(self, path: Path):
        super().__init__(path)
        keras = import_keras("a .keras model")
        self.model = load_keras(path)
        self._inputs = {tensor.name: tensor for tensor in self.model.inputs}
        self.input_names = _contract_names(self._inputs, path)
        self._latent_dim = _latent_size(self._inputs[spec.NOISE_INPUT].shape[-1], path)
        self._call = lambda inputs: keras.ops.convert_to_numpy(self.model(inputs, training=False))
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            compiled = tf.function(lambda inputs: self.model(inputs, training=False))
            self._call = lambda inputs: np.asarray(compiled(inputs))

    def _run(self, noise, labels):
        feeds = self._feeds(noise, labels)
        if isinstance(self.model.input, dict):  # a generator written before inputs followed Keras' list
            return self._call(feeds)
        ordered = [feeds[tensor.name] for tensor in self.model.inputs]  # noise, or [noise, label]
        return self._call(ordered if len(ordered) > 1 else ordered[0])


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
        self.input_names = _contract_names(self.specs, path)
        self._latent_dim = _latent_size(self.specs[spec.NOISE_INPUT].shape[-1], path)

    def _run(self, noise, labels):
        import tensorflow as tf

        feeds = {name: tf.constant(value) for name, value in self._feeds(noise, labels).items()}
        return self.signature(**feeds)[spec.OUTPUT_NAME].numpy()


# What a Keras 2 .h5 generator may name: the layers, initializers and activations the project's
# generators use. tf_keras has no safe mode for HDF5: a Lambda layer, or a "__lambda__"
# activation, would run the file's own code when loaded, so anything else is refused unread.
H5_CLASSES = frozenset({
    "Functional", "InputLayer", "Dense", "Reshape", "Conv2D", "Conv2DTranspose", "BatchNormalization", "LeakyReLU",
    "UpSampling2D", "Embedding", "Concatenate", "Rescaling", "ReLU", "Activation", "Flatten", "Dropout",
    "GlorotUniform", "Zeros", "Ones", "RandomUniform",
})  # fmt: skip
H5_ACTIVATIONS = frozenset({"linear", "relu", "tanh", "sigmoid"})
H5_MODULES = frozenset({None, "keras.initializers", "keras.layers"})


def check_h5_config(path: Path) -> None:
    """Refuse a .h5 model whose config names anything but H5_CLASSES (before tf_keras reads it)."""
    import json

    import h5py

    try:
        with h5py.File(path, "r") as handle:
            config = json.loads(handle.attrs["model_config"])
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise BackendError(f"{path}: not a Keras 2 .h5 model ({describe_error(error)})") from None
    for key, value in _walk(config):
        refused = (
            (key == "class_name" and value not in H5_CLASSES)
            or (key == "activation" and value not in H5_ACTIVATIONS)
            or (key == "module" and value not in H5_MODULES)
            or (key == "registered_name" and value is not None)
            or key in ("function", "function_type")
        )
        if refused:
            raise BackendError(f"{path}: refusing to load a .h5 model with {key} {value!r} (it could run code)")


def _walk(node: Any) -> Iterable[tuple[str, Any]]:
    """Every (key, value) pair of a nested JSON config, leaves included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value if not isinstance(value, (dict, list)) else None
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


class H5Backend(Backend):
    """The legacy HDF5 file, loaded with tf_keras (Keras 2) once its config names nothing but
    the layers the project's generators use (`check_h5_config`)."""

    format = "h5"

    def __init__(self, path: Path):
        super().__init__(path)
        _needs_tensorflow("a .h5 model")
        check_h5_config(path)
        import tf_keras

        try:
            self.model = tf_keras.models.load_model(path, compile=False)
        except Exception as error:  # h5py and tf_keras raise many types for a bad file
            raise BackendError(f"{path}: not a loadable Keras 2 .h5 model ({describe_error(error)})") from None
        self.input_names = _contract_names((tensor.name.split(":")[0] for tensor in self.model.inputs), path)
        self._latent_dim = _latent_size(self.model.inputs[0].shape[-1], path)

    def _run(self, noise, labels):
        feeds = self._feeds(noise, labels)
        inputs = [feeds[name] for name in self.input_names]
        return np.asarray(self.model(inputs if len(inputs) > 1 else inputs[0], training=False))


# One backend per runtime (fashiongan.spec.RUNTIMES); each artifact row names its runtime.
BACKENDS: dict[str, type[Backend]] = {
    "onnx": OnnxBackend,
    "tflite": TFLiteBackend,
    "keras": KerasBackend,
    "savedmodel": SavedModelBackend,
    "h5": H5Backend,
}


def open_artifact(artifact: str, path: Path, *, trust_savedmodel: bool = False) -> Backend:
    """The backend for an artifact name of `fashiongan.spec.ARTIFACTS`. A runtime that runs
    the file's own graph code (`fashiongan.spec.RUNS_GRAPH_CODE`) opens only when the caller
    trusts the file: no manifest or checksum can vouch for what a graph does."""
    runtime = spec.ARTIFACT_FORMATS[artifact].runtime
    if runtime in spec.RUNS_GRAPH_CODE and not trust_savedmodel:
        raise BackendError(
            f"{path}: a SavedModel runs whatever its graph does (no manifest or checksum can vouch for it); "
            "open it only if you trust it (--trust-savedmodel)"
        )
    return BACKENDS[runtime](path)
