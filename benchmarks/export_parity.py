"""Export trained runs and measure each format against the Keras generator.

    python benchmarks/export_parity.py RUN_DIR [RUN_DIR ...] [--out exports/bench] [--n 64]

For each run: the export time (all formats, three TFLite files), then per artifact its size and
the largest absolute difference from the Keras generator in inference mode, in the [0, 1]
output contract, over `--n` noise vectors drawn with seed 0.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("exports/bench"))
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()

    import keras
    import numpy as np

    from fashiongan import spec
    from fashiongan.export import exporter
    from fashiongan.inference.backends import open_artifact
    from fashiongan.inference.manifest import read_manifest
    from fashiongan.spec import get_variant

    print("| variant | artifact | size (bytes) | max abs diff vs Keras | mean abs diff |")
    print("| --- | --- | ---: | ---: | ---: |")
    timings = []
    for run in args.runs:
        started = time.perf_counter()
        export_dir = exporter.export(run, args.out / run.name, spec.EXPORT_FORMATS, spec.TFLITE_QUANTS)
        timings.append((run, time.perf_counter() - started))
        manifest = read_manifest(export_dir)
        variant = get_variant(manifest["variant"])
        noise = np.random.default_rng(0).standard_normal((args.n, variant.latent_dim)).astype(np.float32)
        labels = np.arange(args.n, dtype=np.int32) % variant.num_classes if variant.conditional else None
        generator = keras.saving.load_model(run / "generator.keras", safe_mode=True)
        low, high = variant.output_range
        inputs = {"noise": noise, "label": labels} if variant.conditional else {"noise": noise}
        expected = (np.asarray(generator(inputs, training=False)) - low) / (high - low)
        for artifact, record in manifest["artifacts"].items():
            images = open_artifact(artifact, export_dir / spec.ARTIFACT_FORMATS[artifact].path).run(noise, labels)
            difference = np.abs(images - expected)
            figures = f"{record['bytes']:,} | {difference.max():.2e} | {difference.mean():.2e}"
            print(f"| {variant.name} | {artifact} | {figures} |")
    print()
    for run, seconds in timings:
        print(f"export of {run}: {seconds:.1f} s (keras, savedmodel, {len(spec.TFLITE_QUANTS)} tflite, onnx, h5)")


if __name__ == "__main__":
    main()
