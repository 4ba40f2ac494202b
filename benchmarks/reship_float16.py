"""Store a pretrained folder's generator.onnx weights in float16 (cast to float32 once at load;
`fashiongan export --onnx-weights float16` writes the same from a run), then refresh its
manifest record and its ONNX figures in evaluation.json. The TFLite file is left as it is.

    python benchmarks/reship_float16.py pretrained/fashion_mnist pretrained/mnist
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import run_script, script_parser

from fashiongan.cli import path_text
from fashiongan.errors import FashionGANError


def reship(folder: Path) -> dict:
    """Re-encode one folder's ONNX file and evaluate it in a scratch copy, then write the three
    changed files back (each atomically): a failure leaves the folder as it was. Returns the new
    ONNX figures."""
    import tempfile

    import onnx

    from fashiongan.evaluation.evaluator import evaluate
    from fashiongan.export import onnx_graph
    from fashiongan.export.onnx_writer import onnx_weight_dtype
    from fashiongan.files import write_atomic
    from fashiongan.inference.manifest import describe_artifact, read_manifest

    manifest = read_manifest(folder)
    record = manifest["artifacts"].get("onnx")
    if record is None:
        raise FashionGANError(f"{folder}: its manifest lists no onnx file")
    proto = onnx.load(folder / record["path"])
    if not onnx_graph.float16_weights(proto.graph):
        raise FashionGANError(f"{folder / record['path']}: no float32 weight left to store as float16")
    onnx.checker.check_model(proto, full_check=True)
    evaluation = json.loads((folder / "evaluation.json").read_text())
    previous = evaluation["formats"]["onnx"]
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / folder.name
        shutil.copytree(folder, copy)
        (copy / record["path"]).write_bytes(proto.SerializeToString())
        onnx_record = describe_artifact(copy, record["path"]) | {"weights": onnx_weight_dtype(copy / record["path"])}
        manifest["artifacts"]["onnx"] = onnx_record
        (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
        figures = evaluate(copy, manifest["dataset"], n=previous["n"], seed=previous["seed"], format="onnx")
        evaluation["formats"]["onnx"] = figures | {"model": previous["model"]}
        write_atomic(folder / record["path"], (copy / record["path"]).read_bytes())
    write_atomic(folder / "manifest.json", json.dumps(manifest, indent=2).encode())
    write_atomic(folder / "evaluation.json", json.dumps(evaluation, indent=2).encode())
    return figures


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("folders", nargs="+", type=path_text, help="pretrained folders (generator.onnx + manifest)")
    args = parser.parse_args()
    for folder in map(Path, args.folders):
        figures = reship(folder)["generator"]
        print(f"{folder}: FD {figures['frechet_distance']:.3f}, precision {figures['precision']:.3f}, "
              f"recall {figures['recall']:.3f}, label agreement {figures['label_agreement']:.4f}")  # fmt: skip


if __name__ == "__main__":
    run_script(main, __file__)
