"""Sample-quality figures in a classifier's feature space (numpy only).

- Fréchet distance between Gaussians fitted to two feature sets (as FID, with a domain
  classifier's features in place of Inception's).
- Classifier score: exp(E[KL(p(y|x) || p(y))]), the Inception Score with the domain classifier.
- Precision and recall by k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019).
- Class coverage: the share of each predicted class among generated images.
"""

from __future__ import annotations

import numpy as np


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """|m_a - m_b|^2 + tr(C_a) + tr(C_b) - 2 tr((C_a^½ C_b C_a^½)^½), by symmetric eigensolves."""
    root_a = _psd_sqrt(np.atleast_2d(cov_a))
    middle = root_a @ np.atleast_2d(cov_b) @ root_a
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    difference = np.atleast_1d(mean_a) - np.atleast_1d(mean_b)
    return float(
        difference @ difference + np.trace(np.atleast_2d(cov_a)) + np.trace(np.atleast_2d(cov_b)) - 2 * trace_sqrt
    )


def feature_frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance(*gaussian_statistics(features_a), *gaussian_statistics(features_b))


def classifier_score(probabilities: np.ndarray, eps: float = 1e-12) -> float:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    marginal = probabilities.mean(axis=0, keepdims=True)
    kl = (probabilities * (np.log(probabilities + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0)


def knn_radii(features: np.ndarray, k: int = 5, chunk: int = 1000) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point in the same set."""
    radii = np.empty(len(features))
    for start in range(0, len(features), chunk):
        distances = _squared_distances(features[start : start + chunk], features)
        radii[start : start + chunk] = np.partition(distances, k, axis=1)[:, k]  # index 0 is the point itself
    return radii


def manifold_coverage(queries: np.ndarray, support: np.ndarray, radii: np.ndarray, chunk: int = 1000) -> float:
    """Share of `queries` inside at least one k-NN ball of the `support` set."""
    inside = 0
    for start in range(0, len(queries), chunk):
        distances = _squared_distances(queries[start : start + chunk], support)
        inside += int((distances <= radii[None, :]).any(axis=1).sum())
    return inside / len(queries)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Precision: share of fakes inside the real manifold; recall: share of reals inside the fake one."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    precision = manifold_coverage(fake, real, knn_radii(real, k))
    recall = manifold_coverage(real, fake, knn_radii(fake, k))
    return precision, recall


def class_shares(probabilities: np.ndarray, num_classes: int) -> np.ndarray:
    predicted = np.asarray(probabilities).argmax(axis=1)
    return np.bincount(predicted, minlength=num_classes) / len(predicted)


def label_agreement(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> tuple[float, list[float]]:
    """How often the classifier's prediction is the given label: overall, and per label (NaN for
    a label that does not occur)."""
    labels = np.asarray(labels)
    hits = np.asarray(probabilities).argmax(axis=1) == labels
    by_class = [float(hits[labels == c].mean()) if np.any(labels == c) else float("nan") for c in range(num_classes)]
    return float(hits.mean()), by_class
