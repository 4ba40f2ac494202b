"""Open exports with every consumer the project knows of and print one table: consumer x variant
x artifact, each cell the largest difference from the Keras generator or the consumer's error.

    bash tests/workers/older_stack.sh   # TensorFlow 2.15 and OpenCV 4 in .venv-older/
    python benchmarks/consumers.py EXPORT_DIR [EXPORT_DIR ...] [--n 8]

Consumers: onnxruntime, OpenCV (this venv's), the ONNX reference evaluator, LiteRT, TensorFlow and
tf_keras (this venv's), onnx2torch where installed, and TensorFlow 2.15 / OpenCV 4 through
tests/workers/older_stack_worker.py in .venv-older/ where it is built.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "workers"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, add_docs_option, export_folder, image_count, manifest_with, opens, run_script, script_parser
from older_stack_worker import CONSUMER_OF, older_stack_ready, open_in_older_stack, run_opencv

from fashiongan.cli import add_trust_flag

REFUSAL_CHARS = 70  # of a consumer's error, in a table cell
MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")


def refusal(message: str) -> str:
    """A consumer's error as a table cell: an op version the runtime lacks by name, else its first line."""
    missing = MISSING_OP.search(message)
    if missing:
        return f"refused (`{missing[1]}` v{missing[2]})"
    return f"refused: {(message.splitlines() or [''])[0][:REFUSAL_CHARS]}"


def run_reference(path, noise, labels):
    import onnx
    from onnx.reference import ReferenceEvaluator

    feeds = {"noise": noise} if labels is None else {"noise": noise, "label": labels}
    return ReferenceEvaluator(onnx.load(path)).run(None, feeds)[0]


def run_onnx2torch(path, noise, labels):
    import onnx
    import torch
    from onnx2torch import convert

    inputs = [torch.from_numpy(noise)] + ([] if labels is None else [torch.from_numpy(labels)])
    with torch.no_grad():
        return convert(onnx.load(path)).eval()(*inputs).numpy()


def runtime_names() -> dict[str, str]:
    """The runtime (with its version) behind each of the sampler's backends."""
    import ai_edge_litert
    import keras
    import onnxruntime
    import tensorflow as tf
    import tf_keras

    litert = getattr(ai_edge_litert, "__version__", "")
    return {
        "onnx": f"onnxruntime {onnxruntime.__version__}",
        "tflite": f"LiteRT {litert}".strip(),
        "keras": f"Keras {keras.__version__} on TF {tf.__version__}",
        "savedmodel": f"TF {tf.__version__}",
        "h5": f"tf_keras {tf_keras.__version__}",
    }


def local_consumers() -> dict[str, tuple[str, object]]:
    """Name (with version) -> (artifact runtime it opens, runner) for what this venv holds."""
    import cv2
    import onnx

    found = {
        f"OpenCV {cv2.__version__} DNN": ("onnx", run_opencv),
        f"ONNX reference evaluator (onnx {onnx.__version__})": ("onnx", run_reference),
    }
    try:
        import onnx2torch
        import torch

        found[f"onnx2torch {onnx2torch.__version__} (torch {torch.__version__})"] = ("onnx", run_onnx2torch)
    except ImportError:
        pass
    return found


def cell(images, expected) -> str:
    return f"{np.abs(np.asarray(images).reshape(expected.shape) - expected).max():.1e}"


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("exports", nargs="+", type=export_folder)
    parser.add_argument("--n", type=image_count, default=8, help="inputs per artifact")
    add_trust_flag(parser)
    add_docs_option(parser, "consumers")
    args = parser.parse_args()
    report = Report("consumers", args.docs)
    why = "the generator the others are compared with"
    manifests = {export_dir: manifest_with(export_dir, ("keras",), why) for export_dir in args.exports}

    from fashiongan import spec
    from fashiongan.inference.backends import open_artifact

    rows: dict[tuple[str, str], dict[str, str]] = {}
    runtimes = runtime_names()
    variants = []
    for export_dir, manifest in manifests.items():
        variant = spec.get_variant(manifest["variant"])
        variants.append(variant.name)
        noise = np.random.default_rng(0).standard_normal((args.n, variant.latent_dim)).astype(np.float32)
        labels = np.arange(args.n, dtype=np.int32) % variant.num_classes if variant.conditional else None
        names = [name for name in spec.ARTIFACT_NAMES if name in manifest["artifacts"] and opens(name, args)]
        paths = {name: export_dir / spec.ARTIFACT_FORMATS[name].path for name in names}
        expected = open_artifact("keras", paths["keras"]).run(noise, labels)
        for name in names:
            runtime = spec.ARTIFACT_FORMATS[name].runtime
            images = open_artifact(name, paths[name], trust_savedmodel=args.trust_savedmodel).run(noise, labels)
            rows.setdefault((runtimes[runtime], name), {})[variant.name] = cell(images, expected)
        for consumer, (runtime, run) in local_consumers().items():
            for name in (name for name in names if spec.ARTIFACT_FORMATS[name].runtime == runtime):
                try:
                    value = cell(run(paths[name], noise, labels), expected)
                except Exception as error:  # the table reports what each consumer refuses
                    value = refusal(str(error))
                rows.setdefault((consumer, name), {})[variant.name] = value
        if older_stack_ready():
            files = {name: (spec.ARTIFACT_FORMATS[name].runtime, paths[name]) for name in names}
            files = {name: kept for name, kept in files.items() if kept[0] in CONSUMER_OF}
            with tempfile.TemporaryDirectory() as scratch:
                versions, results = open_in_older_stack(files, noise, labels, Path(scratch))
            for name, result in results.items():
                stack = f"OpenCV {versions['opencv']} DNN" if name == "onnx" else f"TF {versions['tensorflow']}"
                value = refusal(result) if isinstance(result, str) else cell(result, expected)
                rows.setdefault((stack, name), {})[variant.name] = value

    report.print(f"| consumer | artifact | {' | '.join(variants)} |")
    report.print(f"| --- | --- | {' | '.join('---:' for _ in variants)} |")
    for (consumer, name), values in rows.items():
        report.print(f"| {consumer} | {name} | {' | '.join(values.get(v, '–') for v in variants)} |")
    report.print(
        f"\nlargest |difference| from the .keras generator over {args.n} inputs; python {sys.version.split()[0]}"
    )
    report.write()


if __name__ == "__main__":
    run_script(main, __file__)
