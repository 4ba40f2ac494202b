"""How far apart two formats of one export draw, and how much the evaluator's FD moves for
differences that small: the FD of each format's samples as drawn, rounded to 8 bits (what a PNG
holds) and with one grey level of Gaussian noise added.

    python benchmarks/fd_sensitivity.py fashion_mnist [--formats onnx,tflite_dynamic] [--n 10000]

The samples, the real test images and the seed are the evaluator's (`fashiongan evaluate`), so
the "as drawn" column repeats its FD.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import comma_names, evaluation_count, run_script, script_parser

from fashiongan import inference, spec
from fashiongan.cli import non_negative_int, path_text
from fashiongan.evaluation import metrics
from fashiongan.evaluation.classifier import Classifier, find_classifier, unit
from fashiongan.evaluation.evaluator import draw_samples
from fashiongan.model import data

GREY_LEVEL = 1 / 255


def parse_arguments() -> argparse.Namespace:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("model", type=path_text, help="pretrained name or export folder")
    parser.add_argument("--dataset", choices=tuple(spec.DATASETS), default=spec.DEFAULT_DATASET)
    formats = comma_names(spec.ARTIFACT_NAMES, "format")
    parser.add_argument("--formats", type=formats, default="onnx,tflite_dynamic", help="two artifacts of the export")
    parser.add_argument("--n", type=evaluation_count, default=10_000, help="samples per format")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    args = parser.parse_args()
    if len(args.formats) != 2:
        parser.error(f"--formats: takes two different artifacts, got {','.join(args.formats)}")
    return args


def main() -> None:
    args = parse_arguments()
    formats = args.formats
    samplers = {format: inference.load(args.model, format) for format in formats}  # a bad model fails first
    net = Classifier(find_classifier(args.dataset))
    test = data.load_dataset(args.dataset, "test")
    real_order = np.random.default_rng(args.seed).permutation(len(test.images))[: args.n]
    real_features, _ = net(unit(test.images[real_order]))
    samples = {format: draw_samples(sampler, args.n, args.seed)[0] for format, sampler in samplers.items()}

    grey_levels = np.abs(samples[formats[0]] - samples[formats[1]]) / GREY_LEVEL
    print(f"{formats[0]} against {formats[1]}, {args.n:,} samples: mean difference {grey_levels.mean():.2f} "
          f"grey levels, 99th percentile {np.quantile(grey_levels, 0.99):.1f}")  # fmt: skip
    print("| format | FD as drawn | rounded to 8 bits | + 1 grey level of noise |")
    print("|---|---:|---:|---:|")
    for format, images in samples.items():
        noisy = images + np.random.default_rng(1).normal(0.0, GREY_LEVEL, images.shape)
        variants = (images, np.round(images / GREY_LEVEL) * GREY_LEVEL, np.clip(noisy, 0.0, 1.0))
        distances = [metrics.feature_frechet_distance(real_features, net(v.astype(np.float32))[0]) for v in variants]
        print(f"| {format} | " + " | ".join(f"{d:.2f}" for d in distances) + " |")


if __name__ == "__main__":
    run_script(main, __file__)
