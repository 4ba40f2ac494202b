"""Ablation of the training options at one fixed budget of images: each arm trains on real
Fashion-MNIST for the same number of images, is exported to ONNX and evaluated (10,000 samples,
labels spread evenly), and one table compares them with the current `csngan` as the baseline.

    python benchmarks/ablation.py --images 300000 --out runs/ablation [--arms baseline,warmup]

A fixed number of images, not minutes, makes the arms comparable on a shared or busy machine;
each arm's own images per second (from its history.csv) gives the quality per minute. Runs resume
where they stopped and finished arms are not trained again.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, add_docs_option, comma_names, evaluation_count, output_folder, run_script, script_parser
from quality import training_record

from fashiongan.cli import positive_int
from fashiongan.files import write_atomic

TTUR = {"g_learning_rate": 1e-4, "d_learning_rate": 4e-4}
AUGMENT = {"augment": "translation,cutout"}
WARMUP = {"ema_warmup": True}


def scaled(rates: dict, factor: int) -> dict:
    """Both learning rates times `factor` (a power of two, so the floats stay exact)."""
    return {name: rate * factor for name, rate in rates.items()}


ARMS: dict[str, dict] = {
    "baseline": {"variant": "csngan"},
    "warmup": {"variant": "csngan", **WARMUP},
    "warmup+ttur": {"variant": "csngan", **WARMUP, **TTUR},
    "warmup+ttur+b256": {"variant": "csngan", **WARMUP, "batch_size": 256, **scaled(TTUR, 2)},
    "warmup+ttur+b32": {"variant": "csngan", **WARMUP, **TTUR, "batch_size": 32},
    "warmup+ttur+b16": {"variant": "csngan", **WARMUP, **TTUR, "batch_size": 16},
    "warmup+ttur2x+b16": {"variant": "csngan", **WARMUP, "batch_size": 16, **scaled(TTUR, 2)},
    "warmup+ttur4x+b16": {"variant": "csngan", **WARMUP, "batch_size": 16, **scaled(TTUR, 4)},
    "warmup+augment": {"variant": "csngan", **WARMUP, **AUGMENT},
    "warmup+augment+ttur": {"variant": "csngan", **WARMUP, **AUGMENT, **TTUR},
    "cdcgan+warmup": {"variant": "cdcgan", **WARMUP},
}


def run_arm(name: str, images: int, root: Path, n: int) -> dict:
    from fashiongan.evaluation.evaluator import evaluate
    from fashiongan.export import exporter
    from fashiongan.model.run_folder import CONFIG_FILE
    from fashiongan.model.train import TrainConfig, train

    run, result_path = root / name, root / f"{name}.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    settings = ARMS[name]
    probe = TrainConfig(variant=settings["variant"], **{k: v for k, v in settings.items() if k != "variant"})
    steps = math.ceil(images / probe.resolved().batch_size)
    config = TrainConfig(**{**settings, "epochs": 10_000, "max_steps": steps, "out": str(run)})
    train(config, resume=(run / CONFIG_FILE).is_file(), verbose=2)
    exporter.export(run, root / f"{name}-export", formats=("onnx",))
    result = evaluate(root / f"{name}-export", "fashion_mnist", n=n)
    result.update(arm=name, settings=settings, steps=steps, **training_record(run))
    write_atomic(result_path, json.dumps(result, indent=2).encode())
    return result


FIGURE_HEADERS = (
    "FD ↓ | precision ↑ | recall ↑ | smallest class share ↑ | label agreement ↑ | weakest class agreement ↑"
)


def figure_cells(figures: dict, fd_digits: int = 1, weakest: bool = True) -> str:
    """The cells every quality table here shares (FIGURE_HEADERS): FD, precision, recall,
    smallest class share, label agreement and (if asked and known) the weakest class's agreement."""
    agreement = (figures.get("label_agreement_by_class") or []) if weakest else []
    cells = [
        f"{figures['frechet_distance']:.{fd_digits}f}",
        *(f"{figures[name]:.3f}" for name in ("precision", "recall", "smallest_class_share")),
        f"{figures.get('label_agreement', float('nan')):.3f}",
    ]
    return " | ".join(cells) + (f" | {min(agreement):.3f}" if agreement else " |")


def table(results: list[dict], images: int) -> str:
    lines = [
        f"Budget: {images:,} training images per arm; n={results[0]['n']} ONNX samples, labels spread evenly.",
        "",
        f"| arm | settings | train time | images/s | {FIGURE_HEADERS} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        settings = ", ".join(f"{k}={v}" for k, v in result["settings"].items())
        rate = result["steps"] * result["batch_size"] / max(result["train_seconds"], 1e-9)
        lines.append(
            f"| {result['arm']} | {settings} | {result['train_seconds'] / 60:.1f} min | {rate:,.0f} "
            f"| {figure_cells(result['generator'])} |"
        )
    lines.append(f"| real floor | | | | {figure_cells(results[0]['real_floor'], 2, weakest=False)} |")
    return "\n".join(lines)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--images", type=positive_int, default=300_000, help="training images per arm")
    parser.add_argument("--out", type=output_folder, default=Path("runs/ablation"))
    parser.add_argument("--arms", type=comma_names(ARMS, "arm"), default=",".join(ARMS), help="comma-separated")
    parser.add_argument("--n", type=evaluation_count, default=10_000, help="samples per evaluation")
    add_docs_option(parser, "ablation:OUT (OUT: --out's name)")
    args = parser.parse_args()
    report = Report(f"ablation:{args.out.name}", args.docs)
    results = [run_arm(name, args.images, args.out, args.n) for name in args.arms]
    report.print(table(results, args.images))
    report.write()


if __name__ == "__main__":
    run_script(main, __file__)
