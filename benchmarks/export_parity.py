"""Export trained runs and measure each format against the Keras generator.

    python benchmarks/export_parity.py RUN_DIR [RUN_DIR ...] [--out exports/bench] [--n 64]

For each run: the export time (all formats, three TFLite files), then per artifact its size and
the largest absolute difference from the Keras generator in inference mode, in the [0, 1]
output contract, over `--n` noise vectors drawn with seed 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, add_docs_option, image_count, output_folder, run_folder, run_script, script_parser


def parse_arguments() -> argparse.Namespace:
    """The arguments, with each run's export folder checked as `fashiongan export --out` checks it."""
    from fashiongan.export.exporter import check_out

    parser = script_parser(__file__, __doc__)
    parser.add_argument("runs", nargs="+", type=run_folder)
    parser.add_argument("--out", type=output_folder, default=Path("exports/bench"), help="holds one export per run")
    parser.add_argument("--n", type=image_count, default=64, help="noise vectors per artifact")
    add_docs_option(parser, "export_parity")
    args = parser.parse_args()
    names = [run.name for run in args.runs]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice:
        parser.error(f"two runs named {twice}: their exports would share {args.out / twice}")
    for run in args.runs:
        check_out(args.out / run.name, run)
    return args


def main() -> None:
    args = parse_arguments()
    report = Report("export_parity", args.docs)

    import keras
    import numpy as np

    from fashiongan import spec
    from fashiongan.export import exporter
    from fashiongan.inference.backends import open_artifact
    from fashiongan.inference.manifest import read_manifest
    from fashiongan.model.variants import generator_feed
    from fashiongan.spec import get_variant

    report.print("| variant | artifact | size (bytes) | max abs diff vs Keras | mean abs diff |")
    report.print("| --- | --- | ---: | ---: | ---: |")
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
        expected = (np.asarray(generator(generator_feed(noise, labels), training=False)) - low) / (high - low)
        for artifact, record in manifest["artifacts"].items():
            path = export_dir / spec.ARTIFACT_FORMATS[artifact].path  # written just now: its SavedModel is ours
            images = open_artifact(artifact, path, trust_savedmodel=True).run(noise, labels)
            difference = np.abs(images - expected)
            figures = f"{record['bytes']:,} | {difference.max():.2e} | {difference.mean():.2e}"
            report.print(f"| {variant.name} | {artifact} | {figures} |")
    report.print()
    for run, seconds in timings:
        report.print(
            f"export of {run}: {seconds:.1f} s (keras, savedmodel, {len(spec.TFLITE_QUANTS)} tflite, onnx, h5)"
        )
    report.write()


if __name__ == "__main__":
    run_script(main, __file__)
