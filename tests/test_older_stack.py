"""Every variant's export, opened with an older stack than the project's own: TensorFlow 2.15
(`tf.keras` for the `.h5`, the SavedModel loader, the TFLite interpreter) and OpenCV 4's DNN
module for the ONNX file. They run in their own venv (`bash tests/workers/older_stack.sh` builds
.venv-older/; CI does), through tests/workers/older_stack_worker.py, which imports nothing of ours there.

A TFLite file whose manifest names a minimum runtime newer than TensorFlow 2.15 must be refused
there for an op version; every other file must give Keras' images."""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_export import backend_for, parity_inputs
from workers.older_stack_worker import CONSUMER_OF, older_stack_ready, open_in_older_stack

from fashiongan import spec
from fashiongan.inference.manifest import read_manifest

pytestmark = pytest.mark.slow


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


@pytest.mark.parametrize("name", sorted(spec.VARIANTS))
def test_the_older_stack_opens_every_artifact(exports, name, tmp_path):
    if not older_stack_ready():
        message = "the older stack is not installed: run `bash tests/workers/older_stack.sh`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    _, export_dir = exports[name]
    records = read_manifest(export_dir)["artifacts"]
    files = {
        artifact.name: (artifact.runtime, export_dir / artifact.path)
        for artifact in spec.ARTIFACTS
        if artifact.runtime in CONSUMER_OF
    }
    noise, labels = parity_inputs(name, count=3)
    versions, results = open_in_older_stack(files, noise, labels, tmp_path)
    tensorflow = _version(versions["tensorflow"])
    assert tensorflow[:2] == (2, 15) and versions["opencv"].startswith("4.")

    expected = backend_for(export_dir, "keras").run(noise, labels)
    for artifact, result in results.items():
        minimum = records[artifact].get("min_runtime_version")
        if minimum is not None and _version(minimum) > tensorflow:
            assert isinstance(result, str) and "version" in result, (artifact, minimum, result)
            continue
        assert not isinstance(result, str), (artifact, result)
        images = result.reshape(expected.shape)
        assert np.abs(images - expected).max() <= spec.ARTIFACT_FORMATS[artifact].tolerance, artifact
        if not spec.ARTIFACT_FORMATS[artifact].integer_io:  # int8 images are the user's to scale
            assert images.min() >= 0.0 and images.max() <= 1.0, artifact
