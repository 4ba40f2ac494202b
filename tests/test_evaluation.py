"""Quality figures: known answers, identities and the real-data extremes."""

from pathlib import Path

import numpy as np
import pytest
from conftest import benchmark_script

from fashiongan.evaluation import metrics
from fashiongan.evaluation.classifier import ACCURACY_BARS, PACKAGED_ROOT, find_classifier, read_classifier_info


def test_frechet_distance_known_answer_in_one_dimension():
    # For 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert metrics.frechet_distance(
        np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])
    ) == pytest.approx(4 + 1)


def test_frechet_distance_of_identical_and_shifted_sets():
    features = np.random.default_rng(0).normal(size=(2000, 8))
    assert metrics.feature_frechet_distance(features, features) == pytest.approx(0, abs=1e-8)
    shifted = features + np.array([2.0] + [0.0] * 7)
    assert metrics.feature_frechet_distance(features, shifted) == pytest.approx(4.0, rel=1e-6)


def test_classifier_score_extremes():
    confident_and_diverse = np.eye(10)[np.arange(1000) % 10]
    assert metrics.classifier_score(confident_and_diverse) == pytest.approx(10, rel=1e-6)
    collapsed = np.eye(10)[np.zeros(1000, dtype=int)]
    assert metrics.classifier_score(collapsed) == pytest.approx(1, rel=1e-6)
    uncertain = np.full((100, 10), 0.1)
    assert metrics.classifier_score(uncertain) == pytest.approx(1, rel=1e-6)


def test_precision_recall_detects_missing_modes():
    rng = np.random.default_rng(1)
    real = np.concatenate([rng.normal(0, 0.1, (300, 2)), rng.normal(5, 0.1, (300, 2))])
    same = np.concatenate([rng.normal(0, 0.1, (300, 2)), rng.normal(5, 0.1, (300, 2))])
    one_mode = rng.normal(0, 0.1, (600, 2))
    precision, recall = metrics.precision_recall(real, same)
    assert precision > 0.9 and recall > 0.9
    precision, recall = metrics.precision_recall(real, one_mode)
    assert precision > 0.9 and recall < 0.6  # every fake is realistic, half the real data is missed


def test_class_shares():
    probabilities = np.eye(3)[[0, 0, 1, 2]]
    assert metrics.class_shares(probabilities, 3).tolist() == [0.5, 0.25, 0.25]


def test_label_agreement_known_answer_overall_and_per_class():
    probabilities = np.eye(3)[[0, 1, 1, 2, 0]]
    overall, by_class = metrics.label_agreement(probabilities, np.array([0, 1, 0, 2, 0]), 3)
    assert overall == pytest.approx(0.8) and by_class[1:] == [1.0, 1.0] and by_class[0] == pytest.approx(2 / 3)
    _, by_class = metrics.label_agreement(probabilities, np.array([0, 0, 0, 2, 0]), 3)
    assert np.isnan(by_class[1])


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist"])
def test_packaged_classifier_reports_accuracy_above_the_bar(dataset):
    folder = find_classifier(dataset)
    assert folder.parent.parent == PACKAGED_ROOT
    info = read_classifier_info(folder)
    assert info["dataset"] == dataset and info["trained_on"] == "train split"
    assert info["test_accuracy"] >= ACCURACY_BARS[dataset]


@pytest.mark.slow
def test_test_split_against_itself_and_against_shuffled_pixels():
    """With the real Fashion-MNIST classifier and data: FD(test, test) is 0, and scrambling the
    pixels of each image makes it large."""
    from fashiongan.evaluation.classifier import Classifier
    from fashiongan.evaluation.evaluator import unit
    from fashiongan.model import data

    net = Classifier(find_classifier("fashion_mnist"))
    test = data.load_dataset("fashion_mnist", "test")
    images = test.images[:2000]
    features, _ = net(unit(images))
    scale = np.trace(np.cov(features, rowvar=False))
    assert abs(metrics.feature_frechet_distance(features, features)) <= 1e-6 * scale  # 0 up to rounding
    rng = np.random.default_rng(0)
    shuffled = np.stack([rng.permutation(image.ravel()).reshape(28, 28) for image in images])
    scrambled, _ = net(unit(shuffled))
    other_real, _ = net(unit(test.images[2000:4000]))
    real_gap = metrics.feature_frechet_distance(features, other_real)
    assert metrics.feature_frechet_distance(features, scrambled) > 20 * max(real_gap, 1e-3)


@pytest.mark.slow
def test_evaluate_any_format_beside_the_floor(exports, tiny_data_dir, tmp_path):
    from fashiongan.evaluation.evaluator import evaluate, format_table, write_json

    _, export_dir = exports["dcgan"]
    by_format = {
        fmt: evaluate(export_dir, "fashion_mnist", n=12, data_dir=str(tiny_data_dir), format=fmt)
        for fmt in ("onnx", "tflite")
    }
    result = by_format["onnx"]
    for side in ("generator", "real_floor"):
        figures = result[side]
        assert np.isfinite(figures["frechet_distance"]) and figures["frechet_distance"] >= 0
        assert 0 <= figures["precision"] <= 1 and 0 <= figures["recall"] <= 1
        assert sum(figures["class_shares"]) == pytest.approx(1)
        assert 1 <= figures["classifier_score"] <= 10
    # a one-step generator is far from the data; the real floor is not
    assert result["generator"]["frechet_distance"] > result["real_floor"]["frechet_distance"]
    assert by_format["tflite"]["generator"]["frechet_distance"] == pytest.approx(
        result["generator"]["frechet_distance"], rel=1e-3
    )
    table = format_table(result)
    assert "Fréchet distance" in table and "real floor" in table
    path = write_json(result, tmp_path / "eval.json")
    assert __import__("json").loads(path.read_text())["n"] == 12
    with pytest.raises(Exception, match="larger than k=5"):
        evaluate(export_dir, "fashion_mnist", n=3, data_dir=str(tiny_data_dir))


@pytest.mark.slow
def test_evaluate_conditional_generator_reports_label_agreement_beside_the_classifiers(exports, tiny_data_dir):
    from fashiongan.evaluation.classifier import Classifier, find_classifier
    from fashiongan.evaluation.evaluator import evaluate, format_table, unit
    from fashiongan.model import data

    _, export_dir = exports["cdcgan"]
    result = evaluate(export_dir, "fashion_mnist", n=12, data_dir=str(tiny_data_dir), format="onnx")
    generated, real = result["generator"], result["real_floor"]
    assert 0 <= generated["label_agreement"] <= 1 and len(generated["label_agreement_by_class"]) == 10
    # the real side is the classifier's accuracy on the same n test images the figures use
    test = data.load_dataset("fashion_mnist", "test", str(tiny_data_dir))
    order = np.random.default_rng(0).permutation(len(test.images))[:12]
    _, probabilities = Classifier(find_classifier("fashion_mnist"))(unit(test.images[order]))
    assert real["label_agreement"] == pytest.approx(float((probabilities.argmax(1) == test.labels[order]).mean()))
    present = [c for c in range(10) if np.any(test.labels[order] == c)]
    assert all(0 <= real["label_agreement_by_class"][c] <= 1 for c in present)
    table = format_table(result)
    assert "label agreement by class" in table and "ankle boot" in table.lower().replace("-", " ")


def _result(variant, classic, fd, recall=0.9, shares=(0.1,) * 10, epochs=10, agreement=None):
    generator = {
        "frechet_distance": fd,
        "classifier_score": 8.0,
        "precision": 0.9,
        "recall": recall,
        "class_shares": list(shares),
        "smallest_class_share": min(shares),
    }
    if agreement is not None:
        generator["label_agreement"] = agreement
    return {
        "variant": variant,
        "classic": classic,
        "epochs": epochs,
        "batch_size": 64,
        "train_seconds": 60.0,
        "generator": generator,
        "hardware": "test",
        "n": 100,
        "classifier": {"version": 1, "test_accuracy": 0.92},
        "real_floor": {
            "frechet_distance": 0.4,
            "classifier_score": 8.4,
            "precision": 0.95,
            "recall": 0.95,
            "smallest_class_share": 0.095,
        },
    }


def test_quality_targets_compare_the_best_finished_new_variant_with_the_best_classic():
    script = benchmark_script("quality")
    results = [
        _result("cdcgan", False, 40.0, recall=0.85, agreement=0.93),
        _result("sngan", False, 45.0, recall=0.6),
        _result("csngan", False, 10.0, recall=0.1, epochs=3, agreement=0.5),
        _result("dcgan", True, 80.0),
        _result("dense", True, 300.0, shares=(0.0,) * 9 + (1.0,)),
    ]
    lines = script.targets(results, epochs=10)
    assert lines[0] == "- met: best new FD (cdcgan, 40.0) <= half the best classic (dcgan, 80.0)"
    assert lines[1:4] == [
        "- met: its recall 0.850 >= 0.8",
        "- met: its smallest class share 0.100 >= 0.05",
        "- met: cdcgan label agreement 0.930 >= 0.90",
    ]
    assert lines[-1] == "- not finished yet, left out of the targets: csngan (3/10 epochs)"

    results[0]["generator"].update(frechet_distance=46.0, recall=0.7)
    lines = script.targets(results, epochs=10)
    assert (
        lines[0].startswith("- NOT met: best new FD (sngan, 45.0)") and lines[1] == "- NOT met: its recall 0.600 >= 0.8"
    )
    rows = script.table(results, epochs=10).splitlines()
    assert len([row for row in rows if row.startswith("| `")]) == len(results)
    assert "| `dense` | 10 | 64 | 1.0 min | 300.0 |" in script.table(results, 10) and "| 9 |" in rows[-2]
    assert rows[-1].startswith("| real floor (train vs test) | | | | 0.40 |")


def test_quality_report_lists_runs_in_training_without_counting_them():
    script = benchmark_script("quality")
    evaluated = [_result("cdcgan", False, 40.0, recall=0.85, agreement=0.93), _result("dcgan", True, 80.0)]
    in_training = {"variant": "fashiongan", "classic": True, "epochs": 4, "batch_size": 128, "train_seconds": 2880.0}
    not_evaluated = dict(in_training, variant="sngan", classic=False, epochs=10)
    evaluated[0]["real_floor"]["label_agreement"] = 0.92
    results = [in_training, *evaluated, not_evaluated]
    rows = script.table(results, epochs=10).splitlines()
    assert rows[-1].endswith("| 0.095 | 0 | 0.920 |") and "accuracy on the same test images" in rows[0]
    assert "| `fashiongan` | 4 (training) | 128 | 48.0 min | | | | | | | |" in rows
    assert "| `sngan` | 10 (not evaluated) | 128 | 48.0 min | | | | | | | |" in rows
    lines = script.targets(results, epochs=10)
    assert lines[0] == "- met: best new FD (cdcgan, 40.0) <= half the best classic (dcgan, 80.0)"
    assert "- met: cdcgan label agreement 0.930 >= 0.90 (the classifier on real test images: 0.920)" in lines
    assert lines[-1] == "- not finished yet, left out of the targets: fashiongan (4/10 epochs), sngan (not evaluated)"


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist"])
def test_the_shipped_onnx_classifier_scores_its_recorded_test_accuracy(dataset, request):
    """The shipped classifiers are their ONNX twins alone (the Keras originals are in git's
    history): each classifies the real test split as its classifier.json says it did."""
    from fashiongan.evaluation.classifier import CLASSIFIER_FILE, CLASSIFIER_INFO, CLASSIFIER_ONNX, Classifier
    from fashiongan.evaluation.evaluator import unit
    from fashiongan.model import data

    folder = find_classifier(dataset)
    assert sorted(path.name for path in folder.iterdir()) == sorted([CLASSIFIER_INFO, CLASSIFIER_ONNX])
    assert not (folder / CLASSIFIER_FILE).exists()
    data_dir = request.getfixturevalue("real_mnist_dir").parent if dataset == "mnist" else None
    test = data.load_dataset(dataset, "test", data_dir)
    net = Classifier(folder)
    features, probabilities = net(unit(test.images))
    assert net.backend == "onnx" and features.shape == (10000, 128) and probabilities.shape == (10000, 10)
    accuracy = float((probabilities.argmax(1) == test.labels).mean())
    assert accuracy == pytest.approx(read_classifier_info(folder)["test_accuracy"], abs=2e-4)


@pytest.mark.slow
def test_train_classifier_writes_the_next_version_with_its_onnx_twin(tiny_data_dir, tmp_path):
    from fashiongan.evaluation.classifier import Classifier, train_classifier

    first = train_classifier("fashion_mnist", tmp_path, epochs=1, data_dir=str(tiny_data_dir), verbose=0)
    second = train_classifier("fashion_mnist", tmp_path, epochs=1, data_dir=str(tiny_data_dir), verbose=0)
    assert (first.name, second.name) == ("v1", "v2") and find_classifier("fashion_mnist", second) == second
    info = read_classifier_info(second)
    assert info["version"] == 2 and 0 <= info["test_accuracy"] <= 1 and info["feature_dim"] == 128
    images = np.random.default_rng(0).uniform(0, 1, (8, 28, 28, 1)).astype(np.float32)
    onnx_features, _ = Classifier(second)(images)
    keras_features, _ = Classifier(second, backend="keras")(images)
    np.testing.assert_allclose(onnx_features, keras_features, atol=1e-4, rtol=1e-4)


class RowProfileClassifier:
    """Stands in for the domain classifier: an image's features are its row means (the synthetic
    classes differ by where their bright bar lies), its probabilities uniform. Records each batch."""

    def __init__(self, folder, backend=None):
        self.folder, self.info, self.batches = folder, {"version": 0, "test_accuracy": 1.0}, []

    def __call__(self, images):
        images = np.asarray(images, np.float32)
        self.batches.append(images)
        return images.mean(axis=(2, 3)), np.full((len(images), 10), 0.1, np.float32)


class OneModeSampler:
    """Stands in for a generator that covers one mode only: every image is of synthetic class 0."""

    format, conditional = "one-mode", False

    def noise(self, n, seed):
        return np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32)

    def generate(self, noise, labels=None):
        images = np.random.default_rng(9).integers(0, 40, (len(noise), 28, 28)).astype(np.float32)
        images[:, 4:8, 4:24] = 220  # class 0's bar (conftest.synthetic_split)
        return (images / 255)[..., None]

    def check_output(self, out):
        pass


def evaluate_with_stand_ins(monkeypatch, data_dir, n):
    """evaluate() of OneModeSampler, scored by a RowProfileClassifier; returns (result, classifier)."""
    from fashiongan import inference
    from fashiongan.evaluation import evaluator

    classifier = RowProfileClassifier(None)
    monkeypatch.setattr(inference, "load", lambda *args, **kwargs: OneModeSampler())
    monkeypatch.setattr(evaluator, "find_classifier", lambda *args, **kwargs: Path("stand-in"))
    monkeypatch.setattr(evaluator, "Classifier", lambda *args, **kwargs: classifier)
    return evaluator.evaluate("one-mode", "fashion_mnist", n=n, data_dir=str(data_dir)), classifier


def test_the_real_data_floor_scores_train_images_against_test_images(tiny_data_dir, monkeypatch):
    from fashiongan.evaluation.evaluator import unit
    from fashiongan.model import data

    _, classifier = evaluate_with_stand_ins(monkeypatch, tiny_data_dir, n=12)
    split_images = {
        split: {image.tobytes() for image in unit(data.load_dataset("fashion_mnist", split, str(tiny_data_dir)).images)}
        for split in ("train", "test")
    }
    scored = [{image.tobytes() for image in batch} for batch in classifier.batches]
    from_test = sum(batch <= split_images["test"] for batch in scored)
    from_train = sum(batch <= split_images["train"] for batch in scored)
    assert (from_test, from_train) == (1, 1)  # the test images, and beside them train images (the samples are neither)


def test_a_generator_of_one_mode_shows_high_precision_and_low_recall(tmp_path, monkeypatch):
    """Every generated image is realistic (class 0), but nine classes of ten are missed."""
    from conftest import write_idx_dataset

    result, _ = evaluate_with_stand_ins(monkeypatch, write_idx_dataset(tmp_path, train=200, test=200), n=200)
    generator = result["generator"]
    assert generator["precision"] > 0.8 and generator["recall"] < 0.3, generator
    assert result["real_floor"]["precision"] > 0.8 and result["real_floor"]["recall"] > 0.8, result["real_floor"]
