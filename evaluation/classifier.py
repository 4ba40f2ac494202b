"""The domain classifier behind the evaluator's features (as TF-GAN scores MNIST GANs with a
frozen MNIST classifier): a small CNN per dataset, trained on the train split only, stored as a
versioned artifact `<root>/<dataset>/v<N>/` holding classifier.keras and classifier.json.

Its input is the export contract: float32 N×28×28×1 in [0, 1]."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from fashiongan import pretrained
from fashiongan.errors import FashionGANError, describe_error
from fashiongan.extras import require
from fashiongan.files import atomic_folder
from fashiongan.model import data, sources
from fashiongan.spec import DATASETS, ONNX_OPSET

CLASSIFIER_FILE = "classifier.keras"
CLASSIFIER_ONNX = "classifier.onnx"  # the same network with outputs `features` and `logits`: no TensorFlow needed
CLASSIFIER_INFO = "classifier.json"
FEATURE_LAYER = "features"
CLASSIFIER_DIR_ENV = "FASHIONGAN_CLASSIFIER_DIR"
PACKAGED_ROOT = pretrained.CLASSIFIERS
USER_ROOT = sources.cache_dir() / "classifiers"  # a source's classifiers, by the source's name
ACCURACY_BARS = {"fashion_mnist": 0.92, "mnist": 0.99}


def build_classifier(num_classes: int = 10):
    import keras
    from keras import layers

    images = keras.Input((28, 28, 1), name="images")
    x = images
    for filters in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    features = layers.Dense(128, activation="relu", name=FEATURE_LAYER)(x)
    x = layers.Dropout(0.4)(features)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(images, logits, name="classifier")


def unit(images: np.ndarray) -> np.ndarray:
    """uint8 N×28×28 pixels as the classifier's input: float32 N×28×28×1 in [0, 1]."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., None]


def features_and_logits(folder: Path):
    """The Keras classifier of an artifact folder as one model with both outputs the evaluator
    reads: the feature layer and the logits."""
    import keras

    from fashiongan.inference.backends import load_keras

    model = load_keras(folder / CLASSIFIER_FILE, FashionGANError)
    try:
        features = model.get_layer(FEATURE_LAYER).output
    except ValueError:
        raise FashionGANError(f"{folder / CLASSIFIER_FILE}: no `{FEATURE_LAYER}` layer: not a classifier") from None
    return keras.Model(model.inputs[0], [features, model.outputs[0]])


def train_classifier(
    dataset: str,
    root: str | os.PathLike | None = None,
    epochs: int = 12,
    batch_size: int = 128,
    seed: int = 0,
    data_dir: str | None = None,
    verbose: int | str = "auto",
) -> Path:
    """Train on the train split, measure on the test split, and write the next version."""
    import keras

    info = data.dataset_spec(dataset, data_dir)
    dataset_root = Path(root or default_root(info.name)) / info.name
    for folder in (dataset_root, *dataset_root.parents):  # before minutes of training, not after
        if folder.exists():
            if not folder.is_dir():
                raise FashionGANError(f"--out: {folder} is a file, not a folder for classifier versions")
            break
    train_split = data.load_dataset(dataset, "train", data_dir)
    test_split = data.load_dataset(dataset, "test", data_dir)
    keras.utils.set_random_seed(seed)
    model = build_classifier(info.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 * 0.85**epoch)
    model.fit(
        unit(train_split.images),
        train_split.labels,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[schedule],
        verbose=verbose,
    )
    _, accuracy = model.evaluate(unit(test_split.images), test_split.labels, verbose=0)
    folder = _next_version(dataset_root)
    info_record = {
        "dataset": info.name,
        "source": dataset,
        "version": int(folder.name[1:]),
        "test_accuracy": float(accuracy),
        "trained_on": "train split",
        "train_images": len(train_split.images),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "feature_layer": FEATURE_LAYER,
        "feature_dim": int(model.get_layer(FEATURE_LAYER).output.shape[-1]),
        "input": "float32 Nx28x28x1 in [0, 1]",
    }
    with atomic_folder(folder) as building:  # the version appears whole or not at all
        save_for_inference(model, building / CLASSIFIER_FILE)
        write_onnx_twin(building)
        (building / CLASSIFIER_INFO).write_text(json.dumps(info_record, indent=2))
    return folder


def save_for_inference(model, path: Path) -> None:
    """Save the weights in an uncompiled copy: the optimizer state is of no use to the evaluator."""
    import keras

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    copy.save(path)


def write_onnx_twin(folder: Path) -> Path:
    """classifier.onnx beside classifier.keras: the feature and logit outputs, traced once in
    inference mode, so the evaluator runs on onnxruntime wherever it is installed."""
    import tensorflow as tf
    import tf2onnx

    both = features_and_logits(folder)
    signature = [tf.TensorSpec([None, 28, 28, 1], tf.float32, name="images")]

    @tf.function(input_signature=signature)
    def serve(images):
        features, logits = both(images, training=False)
        return {"features": features, "logits": logits}

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=ONNX_OPSET)
    path = folder / CLASSIFIER_ONNX
    path.write_bytes(proto.SerializeToString())
    return path


def _versions(dataset_root: Path) -> list[Path]:
    found = [p for p in dataset_root.glob("v*") if p.is_dir() and p.name[1:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[1:]))


def _next_version(dataset_root: Path) -> Path:
    versions = _versions(dataset_root)
    return dataset_root / f"v{int(versions[-1].name[1:]) + 1 if versions else 1}"


def default_root(name: str) -> Path:
    """Where train-classifier writes by default: the package's classifiers for a built-in, the
    user's cache folder for a source (the package folder is not the user's to write)."""
    return PACKAGED_ROOT if name in DATASETS else USER_ROOT


def find_classifier(dataset: str, path: str | os.PathLike | None = None, *, source: str | None = None) -> Path:
    """An explicit artifact folder, else the newest version for the dataset named `dataset`
    (a source's name holds its identity) under $FASHIONGAN_CLASSIFIER_DIR, then among the
    classifiers shipped with the package, then in the user's cache folder. `source` is what the
    user called it, for the advice when there is none."""
    if path is not None:
        folder = Path(path)
        if not (folder / CLASSIFIER_INFO).is_file():
            raise FashionGANError(f"--classifier {folder}: no {CLASSIFIER_INFO} in it")
        return folder
    roots = [Path(os.environ[CLASSIFIER_DIR_ENV])] if os.environ.get(CLASSIFIER_DIR_ENV) else []
    for root in roots + [PACKAGED_ROOT, USER_ROOT]:
        versions = _versions(root / dataset)
        if versions:
            return versions[-1]
    raise FashionGANError(
        f"no {dataset} classifier found; run: fashiongan train-classifier --dataset {source or dataset}"
    )


# What the evaluator reads of classifier.json, and the types it needs.
INFO_FIELDS: dict[str, type | tuple[type, ...]] = {"dataset": str, "version": int, "test_accuracy": (int, float)}


def read_classifier_info(folder: Path) -> dict:
    path = folder / CLASSIFIER_INFO
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise FashionGANError(f"{path}: unreadable ({error})") from None
    wrong = [name for name, kind in INFO_FIELDS.items() if not isinstance(info, dict) or
             not isinstance(info.get(name), kind) or isinstance(info.get(name), bool)]  # fmt: skip
    if wrong:
        raise FashionGANError(f"{path}: not a classifier record (needs {', '.join(wrong)})")
    return info


def _onnx_classifier(path: Path):
    """The ONNX twin as a function of a batch, refused unless it maps `images` to both outputs."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own types
        raise FashionGANError(f"{path}: not a loadable ONNX classifier ({describe_error(error)})") from None
    inputs = [value.name for value in session.get_inputs()]
    outputs = {value.name for value in session.get_outputs()}
    if inputs != ["images"] or not {"features", "logits"} <= outputs:
        raise FashionGANError(f"{path}: not a classifier (needs input images, outputs features and logits)")
    return lambda batch: session.run(["features", "logits"], {"images": batch})


class Classifier:
    """Logits and features of the frozen classifier, in batches: through onnxruntime where the
    artifact has its classifier.onnx (no TensorFlow), else through Keras."""

    def __init__(self, folder: Path, backend: str = "auto"):
        self.folder = folder
        self.info = read_classifier_info(folder)
        if backend == "onnx" or (backend == "auto" and (folder / CLASSIFIER_ONNX).is_file()):
            self.backend, self._run = "onnx", _onnx_classifier(folder / CLASSIFIER_ONNX)
        elif (folder / CLASSIFIER_FILE).is_file():
            require("keras", f"the classifier {folder}")
            both = features_and_logits(folder)
            self.backend = "keras"
            self._run = lambda batch: both(batch, training=False)
        else:
            raise FashionGANError(f"{folder}: holds neither {CLASSIFIER_ONNX} nor {CLASSIFIER_FILE}")

    def __call__(self, images: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """(features, softmax probabilities) for float32 images N×28×28×1 in [0, 1]."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        outputs = [self._run(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        features = np.concatenate([np.asarray(f, dtype=np.float64) for f, _ in outputs])
        logits = np.concatenate([np.asarray(logit, dtype=np.float64) for _, logit in outputs])
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return features, probabilities / probabilities.sum(axis=1, keepdims=True)
