"""Long training of one recipe with its curve of quality against training time: the run trains in
chunks of epochs; after each chunk its generator is exported to ONNX and evaluated (10,000
samples, labels spread evenly) and one row goes to <out>/curve.json.

    python benchmarks/long_run.py --dataset fashion_mnist --out runs/long-fashion_mnist --epochs 60
    python benchmarks/long_run.py ... --ship pretrained/fashion_mnist --ship-grid docs/pretrained-fashion-mnist.png

Stop it at any time: the next call resumes the run from its last checkpoint (exactly) and skips
the chunks already evaluated. A run folder started elsewhere (say an ablation arm of the same
recipe) can be copied to --out first and goes on from there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    Report,
    add_docs_option,
    evaluation_count,
    export_target,
    output_file,
    output_folder,
    overlaps,
    run_script,
    script_parser,
)
from ablation import ARMS, FIGURE_HEADERS, figure_cells
from quality import ship_run, training_record

from fashiongan import spec
from fashiongan.cli import positive_int
from fashiongan.errors import FashionGANError
from fashiongan.files import write_atomic

CURVE_FILE = "curve.json"
SNAPSHOTS_DIR = "snapshots"  # the generator after each evaluated chunk (the curve's points, kept)


def train_to(run: Path, recipe: dict, dataset: str, epochs: int) -> None:
    from fashiongan.model.run_folder import CONFIG_FILE
    from fashiongan.model.train import TrainConfig, train

    if (run / CONFIG_FILE).is_file():
        # Resumed even when its history already reaches `epochs`: a run stopped after its last
        # checkpoint but before it wrote generator.keras gets that file from the checkpoint.
        saved = TrainConfig.load(run / CONFIG_FILE)
        config = dataclasses.replace(saved, out=str(run), epochs=epochs, max_steps=None, time_budget=None)
        train(config, resume=True, verbose=2)
    else:
        train(TrainConfig(**recipe, dataset=dataset, epochs=epochs, out=str(run)), verbose=2)


def evaluate_chunk(run: Path, dataset: str, n: int) -> dict:
    from fashiongan.evaluation.evaluator import evaluate
    from fashiongan.export import exporter

    export_dir = run.parent / f"{run.name}-export"
    exporter.export(run, export_dir, formats=("onnx",))
    started = time.perf_counter()
    result = evaluate(export_dir, dataset, n=n)
    record = training_record(run)
    snapshot = run / SNAPSHOTS_DIR / f"epoch-{record['epochs']:04d}.keras"
    snapshot.parent.mkdir(exist_ok=True)
    shutil.copyfile(run / "generator.keras", snapshot)
    return {**record, "evaluate_seconds": time.perf_counter() - started, **result}


def table(rows: list[dict]) -> str:
    lines = [f"| epochs | train time | {FIGURE_HEADERS} |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['epochs']} | {row['train_seconds'] / 3600:.2f} h | {figure_cells(row['generator'], 2)} |")
    if rows:
        lines.append(f"| real floor | | {figure_cells(rows[-1]['real_floor'], 2, weakest=False)} |")
    return "\n".join(lines)


def parse_arguments() -> argparse.Namespace:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--dataset", choices=tuple(spec.DATASETS), default=spec.DEFAULT_DATASET)
    parser.add_argument("--out", type=output_folder, required=True)
    parser.add_argument("--recipe", choices=tuple(ARMS), default="warmup+ttur", help="an ablation arm")
    parser.add_argument("--epochs", type=positive_int, default=60)
    parser.add_argument("--chunk", type=positive_int, default=5, help="epochs between evaluations")
    parser.add_argument("--n", type=evaluation_count, default=10_000, help="samples per evaluation")
    parser.add_argument("--ship", type=export_target, help="then export the run's generator as this pretrained folder")
    parser.add_argument("--ship-grid", type=output_file, help="with --ship: a 10x10 grid PNG, one class per column")
    add_docs_option(parser, "long_run:OUT (OUT: --out's name)")
    args = parser.parse_args()
    if args.ship_grid and not args.ship:
        parser.error("--ship-grid: needs --ship")
    if args.ship and overlaps(args.ship, args.out):
        parser.error(f"--ship {args.ship}: is, holds or lies inside the run {args.out}; choose a folder beside it")
    return args


def main() -> None:
    args = parse_arguments()
    report = Report(f"long_run:{args.out.name}", args.docs)
    curve_path = args.out / CURVE_FILE
    rows = json.loads(curve_path.read_text()) if curve_path.is_file() else []
    targets = sorted({*range(args.chunk, args.epochs, args.chunk), args.epochs})  # the last chunk may be short
    for target in targets:
        if any(row["epochs"] >= target for row in rows):
            continue
        train_to(args.out, ARMS[args.recipe], args.dataset, target)
        rows.append(evaluate_chunk(args.out, args.dataset, args.n))
        write_atomic(curve_path, json.dumps(rows, indent=2).encode())
        print(table(rows), flush=True)
    report.print(table(rows))
    if args.ship and not rows:
        raise FashionGANError("nothing evaluated to ship")
    if args.ship:
        ship(args, rows[-1])
    report.write()


def ship(args: argparse.Namespace, last: dict) -> None:
    from fashiongan.model.runtime import describe_hardware

    command = f"python benchmarks/long_run.py --dataset {args.dataset} --out {args.out} --recipe {args.recipe} "
    record = {
        "variant": ARMS[args.recipe]["variant"],
        "dataset": args.dataset,
        "recipe": ARMS[args.recipe],
        "epochs": last["epochs"],
        "hardware": describe_hardware(),
        "train_seconds": last["train_seconds"],
        "reproduce": command + f"--epochs {last['epochs']} --chunk {args.chunk} --ship {args.ship}",
    }
    evaluation = ship_run(args.out, args.ship, args.dataset, args.n, args.ship_grid, record)
    for artifact, result in evaluation["formats"].items():
        figures = result["generator"]
        print(
            f"shipped {args.ship} ({artifact}): FD {figures['frechet_distance']:.2f}, "
            f"recall {figures['recall']:.3f}, label agreement {figures.get('label_agreement', float('nan')):.3f}"
        )


if __name__ == "__main__":
    run_script(main, __file__)
