"""Opens exported files with an older stack than the project's own, in a side interpreter
(`tests/workers/older_stack.sh` builds it in .venv-older/: TensorFlow 2.15 with its built-in Keras 2,
OpenCV 4). Run there, it imports nothing of fashiongan: it is what a user holding only the files
would run. Imported on the project's side, `open_in_older_stack` runs it (the consumer tests and
benchmarks/consumers.py).

    older_stack_worker.py JOBS.json

JOBS.json is a list of {"consumer", "path", "inputs", "output"}: `inputs` an .npz with `noise`
(and `label`), `output` the .npy to write. Prints one JSON line: the stack's versions and, per
job, null or the error the consumer raised (its lines joined).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np


def run_opencv(path: str, noise: np.ndarray, label: np.ndarray | None) -> np.ndarray:
    import cv2

    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(noise, "noise")
    if label is not None:
        net.setInput(label, "label")
    return np.asarray(net.forward())


def run_tf_keras_h5(path: str, noise: np.ndarray, label: np.ndarray | None) -> np.ndarray:
    import tensorflow as tf

    model = tf.keras.models.load_model(path, compile=False)
    inputs = {"noise": noise} if label is None else {"noise": noise, "label": label}
    return np.asarray(model(inputs, training=False))


def run_savedmodel(path: str, noise: np.ndarray, label: np.ndarray | None) -> np.ndarray:
    import tensorflow as tf

    serve = tf.saved_model.load(path).signatures["serving_default"]
    feeds = {"noise": tf.constant(noise)}
    if label is not None:
        feeds["label"] = tf.constant(label)
    return np.asarray(next(iter(serve(**feeds).values())))


def run_tflite(path: str, noise: np.ndarray, label: np.ndarray | None) -> np.ndarray:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    by_name = {detail["name"]: detail for detail in interpreter.get_input_details()}
    output = interpreter.get_output_details()[0]
    images = []
    for row in range(len(noise)):  # the files are exported with batch size 1
        for name, values in (("noise", noise), ("label", label)):
            if values is not None:
                detail = next(d for key, d in by_name.items() if name in key)
                interpreter.set_tensor(detail["index"], as_input(values[row : row + 1], detail))
        interpreter.invoke()
        images.append(interpreter.get_tensor(output["index"]))
    scale, zero_point = output["quantization"]  # the full-integer file gives int8 images
    images = np.concatenate(images).astype(np.float32)
    return (images - np.float32(zero_point)) * np.float32(scale) if scale else images


def as_input(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if values.dtype.kind == "f" and scale:  # the full-integer file takes int8 noise
        values = np.clip(np.round(values / scale) + zero_point, -128, 127)
    return values.astype(detail["dtype"])


OLDER_PYTHON = Path(__file__).resolve().parents[2] / ".venv-older" / "bin" / "python"
CONSUMER_OF = {"onnx": "opencv", "h5": "tf_keras_h5", "savedmodel": "savedmodel", "tflite": "tflite"}  # by runtime
CONSUMERS = {
    "opencv": run_opencv,
    "tf_keras_h5": run_tf_keras_h5,
    "savedmodel": run_savedmodel,
    "tflite": run_tflite,
}


def versions() -> dict[str, str]:
    import cv2
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "opencv": cv2.__version__}


def main(jobs_path: str) -> None:
    errors = []
    with open(jobs_path) as handle:
        jobs = json.load(handle)
    for job in jobs:
        inputs = dict(np.load(job["inputs"]))
        label = inputs.get("label")
        try:
            np.save(job["output"], CONSUMERS[job["consumer"]](job["path"], inputs["noise"], label))
            errors.append(None)
        except Exception as error:  # the test reads which consumer refused which file, and why
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            errors.append(" | ".join(lines) or type(error).__name__)
    print(json.dumps({"versions": versions(), "errors": errors}))


def older_stack_ready() -> bool:
    return (OLDER_PYTHON.parents[1] / "complete").exists()


def open_in_older_stack(files: dict[str, tuple[str, Path]], noise, labels, scratch: Path) -> tuple[dict, dict]:
    """Run `files` ({name: (runtime, path)}) in the older stack on the same inputs: returns its
    versions, and per name the images or the consumer's error (a str)."""
    np.savez(scratch / "inputs.npz", **({"noise": noise} if labels is None else {"noise": noise, "label": labels}))
    jobs = [
        {"consumer": CONSUMER_OF[runtime], "path": str(path), "inputs": str(scratch / "inputs.npz"),
         "output": str(scratch / f"{name}.npy")}
        for name, (runtime, path) in files.items()
    ]  # fmt: skip
    (scratch / "jobs.json").write_text(json.dumps(jobs))
    environment = {**os.environ, "PYTHONPATH": "", "CUDA_VISIBLE_DEVICES": "-1"}
    done = subprocess.run([str(OLDER_PYTHON), __file__, str(scratch / "jobs.json")],
                          capture_output=True, text=True, timeout=600, env=environment)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the older stack's worker failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    results = {
        name: error if error else np.load(scratch / f"{name}.npy") for name, error in zip(files, report["errors"])
    }
    return report["versions"], results


if __name__ == "__main__":
    main(sys.argv[1])
