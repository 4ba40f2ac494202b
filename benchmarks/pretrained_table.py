"""Tabulate the shipped pretrained generators' figures from their `evaluation.json` files (the
evaluator's output, written when each was shipped), beside the real-data floor, and optionally
write the table into docs/results.md.

    python benchmarks/pretrained_table.py --docs docs/results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, add_docs_option, comma_names, run_script, script_parser
from ablation import FIGURE_HEADERS, figure_cells

from fashiongan import pretrained
from fashiongan.errors import FashionGANError
from fashiongan.spec import get_dataset


def rows(name: str) -> list[str]:
    """One row per evaluated file of the pretrained generator `name`, then its real floor."""
    path = pretrained.ROOT / name / "evaluation.json"
    try:
        record = json.loads(path.read_text())
        formats = record["formats"]
    except (OSError, ValueError, KeyError) as error:
        raise FashionGANError(f"{path}: no evaluation figures ({error})") from None
    classes = get_dataset(record["dataset"]).class_names
    title = f"`{name}` ({record['variant']}, {record['epochs']} epochs, {record['train_seconds'] / 3600:.1f} h)"
    lines = []
    for artifact, result in formats.items():
        figures = result["generator"]
        weakest = min(range(len(classes)), key=lambda c: figures["label_agreement_by_class"][c])
        lines.append(f"| {title} | {artifact} | {figure_cells(figures, 2)} ({classes[weakest]}) |")
        title = ""
    floor = next(iter(formats.values()))["real_floor"]
    lines.append(f"| | real floor | {figure_cells(floor, 2)} |")
    return lines


def main() -> None:
    parser = script_parser(__file__, __doc__)
    names = pretrained.generator_names()
    parser.add_argument(
        "--names", type=comma_names(names, "generator"), default=",".join(names), help="comma-separated"
    )
    add_docs_option(parser, "pretrained_table")
    args = parser.parse_args()
    report = Report("pretrained_table", args.docs)
    report.print(f"| generator | file | {FIGURE_HEADERS} |")
    report.print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.names:
        for line in rows(name):
            report.print(line)
    report.print()
    report.print("10,000 samples with labels spread evenly against the 10,000 test images; the floor is 10,000")
    report.print("training images against the same test images (`fashiongan evaluate NAME --format FORMAT`).")
    report.write()


if __name__ == "__main__":
    run_script(main, __file__)
