"""Run generators on the Keras backend named by KERAS_BACKEND (jax, torch), in a process of its
own: python tests/workers/keras_backend_worker.py JOBS_JSON, where each job is [model.keras,
inputs.npz, outputs.npy]. Each generator is called every way Keras users call it (see
`call_every_way`); prints each model's input names, then the backend's name."""

import json
import sys
import warnings

import keras
import numpy as np


def call_every_way(model, noise, labels=None) -> np.ndarray:
    """The images for `noise` (and `labels`), called as Keras users call a generator: the bare
    array, or the list [noise, label], the tuple and the dict. Raises AssertionError if any form
    warns or the forms disagree."""
    forms = [noise] if labels is None else [[noise, labels], (noise, labels), {"noise": noise, "label": labels}]
    outputs = []
    for inputs in forms:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outputs.append(keras.ops.convert_to_numpy(model(inputs, training=False)))
            outputs.append(model.predict(inputs, verbose=0))
        raised = [str(warning.message) for warning in caught if issubclass(warning.category, UserWarning)]
        assert not raised, f"{type(inputs).__name__} call warns: {raised[0][:300]}"
    for output in outputs[1:]:
        np.testing.assert_allclose(output, outputs[0], atol=1e-6)
    return outputs[0]


def main() -> None:
    for model_path, inputs_path, output_path in json.loads(sys.argv[1]):
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        with np.load(inputs_path) as inputs:
            images = call_every_way(model, inputs["noise"], inputs["label"] if "label" in inputs.files else None)
        np.save(output_path, images)
        print(" ".join(tensor.name for tensor in model.inputs))
    print(keras.backend.backend())


if __name__ == "__main__":
    main()
