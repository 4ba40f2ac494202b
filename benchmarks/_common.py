"""What the scripts of benchmarks/ share: the `fashiongan` command's rule for bad input (one line
on stderr, exit status 2, no traceback, nothing written) and the argument types that refuse a bad
value before anything is loaded or trained.

A script imports it as a sibling after putting its own folder first on sys.path, so that it also
works when loaded by its path (tests/conftest.py's `benchmark_script`) or run from elsewhere.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import NoReturn

from fashiongan.cli import OneLineParser, path_text, positive_int
from fashiongan.errors import FashionGANError, describe_os_error

TEST_IMAGES = 10_000  # the test split of either dataset: the most samples an evaluation compares


def script_parser(script: str, doc: str | None) -> OneLineParser:
    """The parser of the script at `script` (its __file__): named after the file, described by the
    first paragraph of its docstring."""
    description = " ".join((doc or "").split("\n\n")[0].split())
    return OneLineParser(prog=Path(script).name, description=description)


def run_script(main: Callable[[], int | None], script: str) -> NoReturn:
    """Run `main` and exit with its status; a FashionGANError or an OSError becomes one line
    `NAME.py: error: ...` on stderr and exit status 2, as `fashiongan` reports them."""
    prog = Path(script).name
    try:
        status = main() or 0
    except FashionGANError as error:
        status = _refuse(prog, str(error))
    except OSError as error:  # a full disk, a read-only folder, a file where a folder should be
        status = _refuse(prog, describe_os_error(error))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)


def _refuse(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def comma_names(choices: Collection[str], what: str) -> Callable[[str], list[str]]:
    """An argument type: a comma-separated list of at least one of `choices`, each once, in the given order."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            given = f"unknown {what} {', '.join(unknown)}" if unknown else f"no {what} given"
            raise argparse.ArgumentTypeError(f"{given}; choose from {', '.join(choices)}")
        return list(dict.fromkeys(names))

    return parse


def existing_folder(text: str) -> Path:
    path = Path(path_text(text))
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a file, not a folder")
    return path


def output_folder(text: str) -> Path:
    """A folder to write into: absent (it is made) or a folder, never a file."""
    path = Path(path_text(text))
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a folder")
    return path


def export_target(text: str) -> Path:
    """A folder an export may replace: absent, empty or an earlier export (as `fashiongan export --out`)."""
    from fashiongan.export.exporter import is_export

    path = output_folder(text)
    if path.is_dir() and any(path.iterdir()) and not is_export(path):
        raise argparse.ArgumentTypeError(f"{text}: a folder that is not a fashiongan export; refusing to replace it")
    return path


def overlaps(folder: Path, other: Path) -> bool:
    """Whether one of the two folders is, holds or lies inside the other."""
    one, two = folder.resolve(), other.resolve()
    return one == two or one in two.parents or two in one.parents


def output_file(text: str) -> Path:
    """A file to write: absent or a file, never a folder (fashiongan.files' rule)."""
    from fashiongan.files import check_writable

    try:
        check_writable(path_text(text))
    except FashionGANError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return Path(text)


def export_folder(text: str) -> Path:
    """An export folder: one with a readable fashiongan manifest.json."""
    from fashiongan.inference.manifest import read_manifest

    path = existing_folder(text)
    try:
        read_manifest(path)
    except FashionGANError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return path


def manifest_with(export_dir: Path, artifacts: Collection[str], why: str) -> dict:
    """The manifest of `export_dir`, refused unless it lists each of `artifacts` (needed for `why`)."""
    from fashiongan.inference.manifest import read_manifest

    manifest = read_manifest(export_dir)
    missing = [name for name in artifacts if name not in manifest["artifacts"]]
    if missing:
        has = ", ".join(manifest["artifacts"]) or "none"
        raise FashionGANError(f"{export_dir}: no {', '.join(missing)} artifact ({why}); it has {has}")
    return manifest


def run_folder(text: str) -> Path:
    """A finished training run: a folder with its config and generator."""
    from fashiongan.model.run_folder import CONFIG_FILE, GENERATOR_FILE

    path = existing_folder(text)
    missing = [name for name in (CONFIG_FILE, GENERATOR_FILE) if not (path / name).is_file()]
    if missing:
        raise argparse.ArgumentTypeError(f"{text}: not a finished run (no {' or '.join(missing)} in it)")
    return path


def image_count(text: str) -> int:
    """Images drawn in one call: a positive integer up to the sampler's limit."""
    from fashiongan.inference.sampler import MAX_GENERATE_ROWS

    value = positive_int(text)
    if value > MAX_GENERATE_ROWS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_GENERATE_ROWS:,} images, got {value}")
    return value


def evaluation_count(text: str) -> int:
    """Samples for the evaluator: more than its k nearest neighbours, at most the test images."""
    from fashiongan.evaluation.evaluator import evaluate

    value, k = positive_int(text), inspect.signature(evaluate).parameters["k"].default
    if not k < value <= TEST_IMAGES:
        bounds = f"more than k={k} and at most {TEST_IMAGES:,} (the test images)"
        raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
    return value


def opens(artifact: str, args: argparse.Namespace) -> bool:
    """Whether a script measures `artifact`: a SavedModel (it runs its own graph) only with
    --trust-savedmodel (`add_trust_flag`), as `fashiongan sample`; the others always."""
    from fashiongan import spec

    return args.trust_savedmodel or spec.ARTIFACT_FORMATS[artifact].runtime not in spec.RUNS_GRAPH_CODE


def docs_file(text: str) -> Path:
    """An argument type: an existing Markdown page to write a results block into."""
    path = Path(path_text(text))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, not a docs page")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file (a docs page holding the script's markers)")
    return path


def add_docs_option(parser: argparse.ArgumentParser, block: str) -> None:
    """`--docs PAGE`: also write the script's table into PAGE, between its `block` markers."""
    parser.add_argument("--docs", type=docs_file, help=f"also write the table into this docs page's {block} block")


class Report:
    """The figures a script prints, kept to write into a docs page between the markers
    `<!-- NAME:begin -->` and `<!-- NAME:end -->`, under a line with the date, the hardware and
    the command, so a figure in the docs is always written by the script that measured it.
    A page without the block is refused when the report is made, before anything runs."""

    def __init__(self, name: str, docs: Path | None) -> None:
        self.name, self.docs, self.lines = name, docs, []
        self.begin, self.end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if docs is not None:
            self._parts(docs)

    def print(self, text: str = "", *, flush: bool = False) -> None:
        print(text, flush=flush)
        self.lines.append(text)

    def _parts(self, docs: Path) -> tuple[str, str]:
        text = docs.read_text()
        if text.count(self.begin) != 1 or text.count(self.end) != 1 or text.index(self.begin) > text.index(self.end):
            raise FashionGANError(f"{docs}: no single {self.begin} ... {self.end} block to fill")
        head, rest = text.split(self.begin, 1)
        return head, rest.split(self.end, 1)[1]

    def block(self, hardware: str) -> str:
        """What goes between the markers: when, where and how, then the printed lines."""
        import datetime
        import shlex

        command = shlex.join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
        stamp = f"_{datetime.date.today().isoformat()}, {hardware}; `{command}`_"
        return "\n".join([stamp, "", *self.lines]).strip()

    def write(self, hardware: str | None = None) -> None:
        """Replace the page's block with this report (nothing else on the page changes);
        `hardware` defaults to this machine's (`describe_hardware`)."""
        from fashiongan.files import write_atomic

        if self.docs is None:
            return
        if hardware is None:
            from fashiongan.model.runtime import describe_hardware

            hardware = describe_hardware()
        head, tail = self._parts(self.docs)
        write_atomic(self.docs, f"{head}{self.begin}\n{self.block(hardware)}\n{self.end}{tail}".encode())
