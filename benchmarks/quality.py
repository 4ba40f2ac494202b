"""Train every variant on real Fashion-MNIST with the same budget (epochs), export each to ONNX,
evaluate it with `fashiongan evaluate`'s evaluator, and print (and optionally write into
docs/results.md) one table with the hardware, the budget, the real-data floor and the issue's
targets.

    python benchmarks/quality.py --epochs 10 --out runs/quality --docs docs/results.md

Each variant trains with its own recipe settings (batch size, learning rates, loss) and the
default generator EMA. Runs resume where they stopped, so the script can be stopped and started
again; with --report-only, a variant still in training is listed with the epochs it has so far
and no figures, and is left out of the targets.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    Report,
    add_docs_option,
    evaluation_count,
    existing_folder,
    export_target,
    output_file,
    output_folder,
    overlaps,
    run_script,
    script_parser,
)

from fashiongan.cli import positive_int
from fashiongan.errors import FashionGANError
from fashiongan.files import write_atomic
from fashiongan.spec import VARIANTS

ORDER = ("cdcgan", "csngan", "sngan", "dcgan", "dense", "fashiongan")
COLLAPSED_SHARE = 0.02  # a class drawn at under a fifth of its share in the data
SHIP_LIMIT_BYTES = 15_000_000


def training_record(run: Path) -> dict:
    """Epochs done, training seconds (from the run's history.csv) and batch size."""
    batch_size = json.loads((run / "config.json").read_text())["batch_size"]
    history = run / "history.csv"
    rows = list(csv.DictReader(history.open())) if history.is_file() else []
    seconds, previous_step = 0.0, 0
    for row in rows:
        step = int(row["step"])
        seconds += (step - previous_step) * batch_size / float(row["images_per_second"])
        previous_step = step
    return {"epochs": int(rows[-1]["epoch"]) if rows else 0, "train_seconds": seconds, "batch_size": batch_size}


def run_variant(name: str, epochs: int, root: Path, n: int, data_dir: str | None) -> dict:
    from fashiongan.evaluation.evaluator import evaluate
    from fashiongan.export import exporter
    from fashiongan.model.run_folder import CONFIG_FILE
    from fashiongan.model.runtime import describe_hardware
    from fashiongan.model.train import TrainConfig, train

    run, export_dir, result_path = root / name, root / f"{name}-export", root / f"{name}.json"
    if result_path.is_file():
        earlier = json.loads(result_path.read_text())
        if earlier["epochs"] >= epochs:
            return earlier
    # Resumed even when its history already reaches `epochs`: a run stopped after its last
    # checkpoint but before it wrote generator.keras gets that file from the checkpoint.
    config = TrainConfig(variant=name, epochs=epochs, out=str(run), data_dir=data_dir)
    train(config, resume=(run / CONFIG_FILE).is_file(), verbose=2)
    exporter.export(run, export_dir, formats=("onnx",))
    result = evaluate(export_dir, "fashion_mnist", n=n, data_dir=data_dir)
    result.update(variant=name, classic=VARIANTS[name].classic, **training_record(run), hardware=describe_hardware())
    write_atomic(result_path, json.dumps(result, indent=2).encode())
    return result


def is_finished(result: dict, epochs: int) -> bool:
    """Trained for the whole budget and evaluated."""
    return result["epochs"] >= epochs and "generator" in result


def in_training(name: str, root: Path) -> dict | None:
    """A run with no evaluation yet: its epochs and training time so far, without figures."""
    if not (root / name / "config.json").is_file():
        return None
    return {"variant": name, "classic": VARIANTS[name].classic, **training_record(root / name)}


def agreement_text(figures: dict) -> str:
    return f"{figures['label_agreement']:.3f}" if "label_agreement" in figures else ""


def table(results: list[dict], epochs: int) -> str:
    evaluated = [result for result in results if "generator" in result]
    first = evaluated[0]
    floor = next((r["real_floor"] for r in evaluated if "label_agreement" in r["real_floor"]), first["real_floor"])
    lines = [
        f"Budget: {epochs} epochs of the 60,000 training images per variant, each with its recipe's "
        f"batch size and learning rates and a generator EMA (momentum 0.999); hardware: "
        f"{first['hardware']}. Figures: n={first['n']} ONNX samples against the test split, "
        f"in the features of classifier v{first['classifier']['version']} "
        f"(test accuracy {first['classifier']['test_accuracy']:.4f})."
        + (
            " The floor's label agreement is the classifier's accuracy on the same test images."
            if "label_agreement" in floor
            else ""
        ),
        "",
        "| variant | epochs | batch | train time | FD ↓ | classifier score ↑ | precision ↑ | recall ↑ "
        "| smallest class share ↑ | classes under 0.02 | label agreement ↑ |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        if "generator" not in result:
            state = "training" if result["epochs"] < epochs else "not evaluated"
            lines.append(
                f"| `{result['variant']}` | {result['epochs']} ({state}) | {result['batch_size']} "
                f"| {result['train_seconds'] / 60:.1f} min | | | | | | | |"
            )
            continue
        figures = result["generator"]
        kind = "" if result["classic"] else " (new)"
        lines.append(
            f"| `{result['variant']}`{kind} | {result['epochs']} | {result['batch_size']} "
            f"| {result['train_seconds'] / 60:.1f} min | {figures['frechet_distance']:.1f} "
            f"| {figures['classifier_score']:.2f} | {figures['precision']:.3f} | {figures['recall']:.3f} "
            f"| {figures['smallest_class_share']:.3f} "
            f"| {sum(share < COLLAPSED_SHARE for share in figures['class_shares'])} "
            f"| {agreement_text(figures)} |"
        )
    lines.append(
        f"| real floor (train vs test) | | | | {floor['frechet_distance']:.2f} | {floor['classifier_score']:.2f} "
        f"| {floor['precision']:.3f} | {floor['recall']:.3f} | {floor['smallest_class_share']:.3f} | 0 "
        f"| {agreement_text(floor)} |"
    )
    return "\n".join(lines)


def targets(results: list[dict], epochs: int) -> list[str]:
    """The issue's targets, each with what was measured and whether it was met."""
    finished = [r for r in results if is_finished(r, epochs)]
    classic = [r for r in finished if r["classic"]]
    new = [r for r in finished if not r["classic"]]
    if not classic or not new:
        return ["targets: need at least one finished classic and one finished new variant"]

    def fd(result):
        return result["generator"]["frechet_distance"]

    best_classic, best_new = min(classic, key=fd), min(new, key=fd)
    figures = best_new["generator"]
    checks = [
        (
            f"best new FD ({best_new['variant']}, {fd(best_new):.1f}) <= half the best classic "
            f"({best_classic['variant']}, {fd(best_classic):.1f})",
            fd(best_new) <= fd(best_classic) / 2,
        ),
        (f"its recall {figures['recall']:.3f} >= 0.8", figures["recall"] >= 0.8),
        (
            f"its smallest class share {figures['smallest_class_share']:.3f} >= 0.05",
            figures["smallest_class_share"] >= 0.05,
        ),
    ]
    for result in new:
        if "label_agreement" in result["generator"]:
            agreement = result["generator"]["label_agreement"]
            ceiling = result["real_floor"].get("label_agreement")
            ceiling_text = "" if ceiling is None else f" (the classifier on real test images: {ceiling:.3f})"
            checks.append(
                (f"{result['variant']} label agreement {agreement:.3f} >= 0.90{ceiling_text}", agreement >= 0.9)
            )
    unfinished = [
        f"{r['variant']} ({r['epochs']}/{epochs} epochs)" if r["epochs"] < epochs else f"{r['variant']} (not evaluated)"
        for r in results
        if r not in finished
    ]
    lines = [f"- {'met' if ok else 'NOT met'}: {text}" for text, ok in checks]
    if unfinished:
        lines.append(f"- not finished yet, left out of the targets: {', '.join(unfinished)}")
    return lines


SHIPPED_FORMATS = ("onnx", "tflite_dynamic")  # what a pretrained folder holds, each evaluated


def ship_run(run: Path, folder: Path, dataset: str, n: int, grid: Path | None, record: dict) -> dict:
    """Export a run's generator as a pretrained generator folder: ONNX, a dynamic-range int8
    TFLite, manifest.json and evaluation.json (`record` plus both files' figures); optionally a
    10×10 ONNX grid, one class per column (a conditional generator's labels go 0-9 in each row)."""
    from fashiongan import inference
    from fashiongan.evaluation.evaluator import evaluate
    from fashiongan.export import exporter
    from fashiongan.inference.grid import save_grid

    exporter.export(run, folder, formats=("onnx", "tflite"), tflite_quants=("dynamic",), onnx_weights="float16")
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    if size > SHIP_LIMIT_BYTES:
        raise FashionGANError(f"{folder}: {size / 1e6:.1f} MB is over the {SHIP_LIMIT_BYTES / 1e6:.0f} MB limit")
    formats = {artifact: evaluate(folder, dataset, n=n, format=artifact) for artifact in SHIPPED_FORMATS}
    for result in formats.values():
        result["model"] = str(folder)
    evaluation = {**record, "formats": formats}
    write_atomic(folder / "evaluation.json", json.dumps(evaluation, indent=2).encode())
    if grid is not None:
        save_grid(inference.load(folder, "onnx").sample(100, seed=0), grid, nrow=10, scale=2)
    return evaluation


def ship(results: list[dict], epochs: int, root: Path, folder: Path, grid: Path | None) -> dict:
    """Ship the best finished new variant (lowest FD) with ship_run."""
    finished = [r for r in results if is_finished(r, epochs) and not r["classic"]]
    if not finished:
        raise FashionGANError("no finished new variant to ship")
    best = min(finished, key=lambda r: r["generator"]["frechet_distance"])
    record = {
        "variant": best["variant"],
        "dataset": "fashion_mnist",
        "epochs": best["epochs"],
        "hardware": best["hardware"],
        "train_seconds": best["train_seconds"],
        "reproduce": f"python benchmarks/quality.py --epochs {epochs} --ship {folder}",
    }
    return ship_run(root / best["variant"], folder, "fashion_mnist", best["n"], grid, record)


def parse_arguments() -> argparse.Namespace:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--epochs", type=positive_int, default=10)
    parser.add_argument("--variants", nargs="+", default=list(ORDER), choices=list(VARIANTS))
    parser.add_argument("--out", type=output_folder, default="runs/quality")
    parser.add_argument("--n", type=evaluation_count, default=10000, help="samples per evaluation")
    parser.add_argument("--data-dir", type=existing_folder)
    add_docs_option(parser, "quality")
    parser.add_argument("--report-only", action="store_true", help="tabulate what has been evaluated, train nothing")
    parser.add_argument("--ship", type=export_target, help="export the best new variant into this folder")
    parser.add_argument("--ship-grid", type=output_file, help="with --ship: write a 10x10 sample grid PNG here")
    args = parser.parse_args()
    args.variants = list(dict.fromkeys(args.variants))
    if args.ship_grid and not args.ship:
        parser.error("--ship-grid: needs --ship")
    clash = next((name for name in args.variants if args.ship and overlaps(args.ship, args.out / name)), None)
    if clash:
        parser.error(f"--ship {args.ship}: is, holds or lies inside the run {args.out / clash}; choose another folder")
    return args


def main() -> int:
    args = parse_arguments()
    report = Report("quality", args.docs)  # a page without the block is refused now, not after the training
    root, data_dir = args.out, str(args.data_dir) if args.data_dir else None
    results = []
    for name in args.variants:
        if args.report_only:
            path = root / f"{name}.json"
            result = json.loads(path.read_text()) if path.is_file() else in_training(name, root)
            if result is not None:
                results.append(result)
            continue
        started = time.perf_counter()
        results.append(run_variant(name, args.epochs, root, args.n, data_dir))
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    if not any("generator" in result for result in results):
        raise FashionGANError(f"no evaluated runs under {root}")
    block = table(results, args.epochs) + "\n\n" + "\n".join(targets(results, args.epochs))
    report.print(block)
    report.write()
    if args.ship:
        shipped = ship(results, args.epochs, root, args.ship, args.ship_grid)
        for artifact, result in shipped["formats"].items():
            figures = result["generator"]
            print(
                f"shipped {shipped['variant']} ({artifact}): FD {figures['frechet_distance']:.1f}, "
                f"recall {figures['recall']:.3f}, label agreement {figures.get('label_agreement', float('nan')):.3f}"
            )
    return 0


if __name__ == "__main__":
    run_script(main, __file__)
