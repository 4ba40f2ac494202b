"""Run generators on the Keras backend named by KERAS_BACKEND (jax, torch), in a process of its
own: python tests/keras_backend_worker.py JOBS_JSON, where each job is [model.keras,
inputs.npz, outputs.npy]. Prints the backend's name."""

import json
import sys

import keras
import numpy as np


def main() -> None:
    for model_path, inputs_path, output_path in json.loads(sys.argv[1]):
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        with np.load(inputs_path) as inputs:
            images = model({name: inputs[name] for name in inputs.files}, training=False)
        np.save(output_path, keras.ops.convert_to_numpy(images))
    print(keras.backend.backend())


if __name__ == "__main__":
    main()
