"""Evaluate a generator, in any exported format, against real data in a domain classifier's
feature space; always beside the real-data floor (train split against test split)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fashiongan.errors import FashionGANError
from fashiongan.evaluation import metrics
from fashiongan.evaluation.classifier import Classifier, find_classifier, unit
from fashiongan.files import write_atomic
from fashiongan.model import data
from fashiongan.spec import get_dataset


def _figures(features, probabilities, real_features, num_classes: int, k: int) -> dict:
    precision, recall = metrics.precision_recall(real_features, features, k)
    shares = metrics.class_shares(probabilities, num_classes)
    return {
        "frechet_distance": metrics.feature_frechet_distance(real_features, features),
        "classifier_score": metrics.classifier_score(probabilities),
        "precision": precision,
        "recall": recall,
        "class_shares": [float(share) for share in shares],
        "smallest_class_share": float(shares.min()),
    }


def draw_samples(sampler, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The `n` images the evaluator scores (noise from `seed`, labels spread evenly when the
    generator is conditional), clipped to [0, 1], and their labels."""
    labels = sampler.labels(n) if sampler.conditional else None
    images = sampler.generate(sampler.noise(n, seed), labels)
    return np.clip(images, 0.0, 1.0).astype(np.float32), labels


def evaluate(
    model: str | os.PathLike,
    dataset: str,
    n: int = 10000,
    classifier: str | os.PathLike | None = None,
    seed: int = 0,
    k: int = 5,
    data_dir: str | None = None,
    format: str | None = None,
    trust_savedmodel: bool = False,
    out: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Quality figures of `n` samples from `model` against `n` test images, and the floor;
    `out`, where the caller will write them, is refused up front if it is a file of the model;
    `progress` is told each stage as it starts."""
    report = progress or (lambda message: None)
    from fashiongan import inference

    if n <= k:
        raise FashionGANError(f"--n must be larger than k={k}, got {n}")
    sampler = inference.load(model, format, trust_savedmodel=trust_savedmodel)  # a bad path fails first
    if out is not None:
        sampler.check_output(out)
    info = data.dataset_spec(dataset, data_dir)
    test = data.load_dataset(dataset, "test", data_dir)
    train = data.load_dataset(dataset, "train", data_dir)
    if n > len(test.images):
        raise FashionGANError(
            f"--n {n} is more than the {len(test.images)} test images of {dataset}; pass a smaller --n"
        )
    if n > len(train.images):
        raise FashionGANError(
            f"--n {n} is more than the {len(train.images)} train images of {dataset}; pass a smaller --n"
        )
    net = Classifier(find_classifier(info.name, classifier, source=dataset))
    rng = np.random.default_rng(seed)
    real_order = rng.permutation(len(test.images))[:n]
    report(f"evaluate: classifier features of {n:,} test and {n:,} train images (the real-data floor)")
    real_features, real_probabilities = net(unit(test.images[real_order]))
    floor_features, floor_probabilities = net(unit(train.images[rng.permutation(len(train.images))[:n]]))

    report(f"evaluate: sampling {n:,} images from {sampler.format}")
    images, labels = draw_samples(sampler, n, seed)
    report("evaluate: classifier features of the samples, then k-NN precision and recall")
    features, probabilities = net(images)
    result: dict[str, Any] = {
        "model": str(model),
        "format": sampler.format,
        "dataset": info.name,
        "class_names": list(info.class_names),
        "n": n,
        "k": k,
        "seed": seed,
        "classifier": {
            "path": str(net.folder),
            "version": net.info.get("version"),
            "test_accuracy": net.info.get("test_accuracy"),
        },
        "generator": _figures(features, probabilities, real_features, info.num_classes, k),
        "real_floor": _figures(floor_features, floor_probabilities, real_features, info.num_classes, k),
    }
    if labels is not None:
        result["generator"].update(_agreement(probabilities, labels, info.num_classes))
        result["real_floor"].update(_agreement(real_probabilities, test.labels[real_order], info.num_classes))
    return result


def _agreement(probabilities, labels, num_classes: int) -> dict:
    """Label agreement; on real test images it is the classifier's accuracy, the ceiling that a
    generator's agreement is read against."""
    overall, by_class = metrics.label_agreement(probabilities, labels, num_classes)
    return {"label_agreement": overall, "label_agreement_by_class": by_class}


def format_table(result: dict) -> str:
    rows = [
        ("Fréchet distance", "frechet_distance", "{:.3f}"),
        ("classifier score", "classifier_score", "{:.3f}"),
        (f"precision (k={result['k']})", "precision", "{:.3f}"),
        (f"recall (k={result['k']})", "recall", "{:.3f}"),
        ("smallest class share", "smallest_class_share", "{:.3f}"),
    ]
    if "label_agreement" in result["generator"]:
        rows.append(("label agreement", "label_agreement", "{:.3f}"))
    lines = [
        f"{result['model']} ({result['format']}) on {result['dataset']}, n={result['n']}, classifier "
        f"v{result['classifier']['version']} (test accuracy {result['classifier']['test_accuracy']:.4f})",
        f"{'figure':<22} {'generator':>10} {'real floor':>11}",
    ]
    for title, key, pattern in rows:
        floor = result["real_floor"].get(key)
        lines.append(
            f"{title:<22} {pattern.format(result['generator'][key]):>10} "
            f"{pattern.format(floor) if floor is not None else '':>11}"
        )
    if "label_agreement_by_class" in result["generator"]:
        names = result.get("class_names") or get_dataset(result["dataset"]).class_names
        lines.append("label agreement by class (generator / real test images, i.e. the classifier's accuracy):")
        lines += [
            f"  {name:<20} {generated:>10.3f} {real:>11.3f}"
            for name, generated, real in zip(
                names, result["generator"]["label_agreement_by_class"], result["real_floor"]["label_agreement_by_class"]
            )
        ]
    return "\n".join(lines)


def write_json(result: dict, path: Path) -> Path:
    write_atomic(Path(path), json.dumps(result, indent=2).encode())
    return Path(path)
