"""Every command the documentation shows runs as written: README.md, the docs/ pages,
CONTRIBUTING.md and the pretrained model cards. The short ones are run (in a scratch folder, with
a test export where the quick start would have made one), the long ones (training, export,
evaluation, servers, installs) are parsed against the real argument parsers. The README's two
set-up lines run scripts/quickstart.sh and scripts/test.sh, whose commands are checked the same
way."""

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fashiongan import cli

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = {
    path.relative_to(ROOT).as_posix(): path.read_text()
    for path in [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "CONTRIBUTING.md",
        *sorted((ROOT / "pretrained").glob("*/README.md")),
    ]
}
README = DOCUMENTS["README.md"]
MODEL_CARDS = sorted(name for name in DOCUMENTS if name.startswith("pretrained/"))
QUICKSTART, TEST_SCRIPT = ROOT / "scripts" / "quickstart.sh", ROOT / "scripts" / "test.sh"
SETUP_COMMANDS = {"sudo", "apt-get", "python3", ".", "pip", "ruff", ".ci/typecheck", "bash"}
RUN_SUBCOMMANDS = {"sample", "variants", "info"}  # quick and side-effect free: run them
LOOP = re.compile(r"for (\w+) in ([^;]+); do (.+); done")
SCRIPT_LOOP = re.compile(r"^(\s*for \w+ in [^;\n]+; do)\n(.*?)\n\s*done$", re.S | re.M)


def shell_commands(text: str) -> list[list[str]]:
    """The commands of shell text: continued lines joined, comments and leading VAR=value
    assignments dropped, `&&` chains split and simple for-loops unrolled."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        for part in re.split(r"\s+&&\s+", line.strip()):
            loop = LOOP.fullmatch(part)
            if loop:
                variable, values, body = loop.groups()
                for value in values.split():
                    commands.append(shlex.split(body.replace(f'"${variable}"', value).replace(f"${variable}", value)))
            elif shlex.split(part, comments=True):
                words = shlex.split(part, comments=True)
                while re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                    words = words[1:]
                commands.append(words)
    return commands


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def bash_commands(text: str) -> list[list[str]]:
    """The commands of a document's bash blocks."""
    return [command for block in bash_blocks(text) for command in shell_commands(block)]


def inline_commands(text: str) -> list[list[str]]:
    """`fashiongan ...` and `python benchmarks/...` in the prose, where they carry flags."""
    spans = re.findall(r"`((?:fashiongan|python benchmarks/)[^`]*)`", text)
    return [shlex.split(span) for span in spans if " --" in span]


def script_commands(path: Path) -> list[list[str]]:
    """The `fashiongan` commands of a set-up script: multi-line for-loops folded onto one line
    (then unrolled), `.venv/bin/fashiongan` read as `fashiongan`."""
    text = SCRIPT_LOOP.sub(lambda match: f"{match[1]} {match[2].strip()}; done", path.read_text())
    commands = [[Path(c[0]).name, *c[1:]] if c[0] == ".venv/bin/fashiongan" else c for c in shell_commands(text)]
    return [command for command in commands if command[0] == "fashiongan"]


def every(kind) -> list[tuple[str, list[str]]]:
    """(document, command) for every document, each command once, in the first document showing it."""
    seen, pairs = set(), []
    for name, text in DOCUMENTS.items():
        for command in kind(text):
            if tuple(command) not in seen:
                seen.add(tuple(command))
                pairs.append((name, command))
    return pairs


def ids(pairs) -> list[str]:
    return [f"{name}: {' '.join(command)}" for name, command in pairs]


DOCUMENTED = [pair for pair in every(bash_commands) + every(inline_commands) if pair[1][0] == "fashiongan"]
FASHIONGAN_COMMANDS = DOCUMENTED + [("scripts/quickstart.sh", command) for command in script_commands(QUICKSTART)]
SHELL_SCRIPTS = [pair for pair in every(bash_commands) if pair[1][0] == "bash"]
BENCHMARK_COMMANDS = [
    pair
    for pair in every(bash_commands) + every(inline_commands)
    if pair[1][0] == "python" and pair[1][1].startswith("benchmarks/")
]


def test_the_documents_this_test_reads_are_there():
    assert {"README.md", "CONTRIBUTING.md", "docs/training.md", "docs/results.md"} <= set(DOCUMENTS)
    assert MODEL_CARDS == ["pretrained/fashion_mnist/README.md", "pretrained/mnist/README.md"]


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_each_document_shows_only_commands_this_test_reads(name):
    names = {command[0] for command in bash_commands(DOCUMENTS[name])}
    assert names <= SETUP_COMMANDS | {"fashiongan", "python"}


def test_the_documents_show_the_commands_this_test_reads():
    everywhere = [command for text in DOCUMENTS.values() for command in bash_commands(text)]
    assert {"fashiongan", "python"} <= {command[0] for command in everywhere}
    assert "fashiongan" in {command[0] for command in bash_commands(README)}
    assert len([c for c in everywhere if c[0] == "fashiongan" and c[1] == "sample"]) >= 10
    assert len([c for text in DOCUMENTS.values() for c in inline_commands(text)]) >= 5
    assert len(inline_commands(README)) >= 5


@pytest.mark.parametrize("name, command", FASHIONGAN_COMMANDS, ids=ids(FASHIONGAN_COMMANDS))
def test_every_fashiongan_command_parses(name, command, tmp_path, monkeypatch):
    """Each command parses as written; a dataset path the documents use (`path/to/clothes`)
    is made first in a scratch folder, as a user's own would exist."""
    monkeypatch.chdir(tmp_path)
    for index, word in enumerate(command[:-1]):
        value = command[index + 1]
        if (word == "--dataset" or (word == "data" and index == 1)) and "/" in value and not value.startswith("tfds:"):
            (tmp_path / value).mkdir(parents=True)
    args = cli.build_parser().parse_args(command[1:])  # a bad flag or value exits 2 here
    assert args.command == command[1]


@pytest.mark.parametrize("name, command", SHELL_SCRIPTS, ids=ids(SHELL_SCRIPTS))
def test_every_shell_script_the_documents_run_exists_and_takes_its_arguments(name, command):
    script = ROOT / command[1]
    assert script.is_file() and command[1].startswith(("benchmarks/", "tests/", "scripts/"))
    text = script.read_text()
    for argument in command[2:]:
        assert argument in text, f"{command[1]} does not handle {argument}"


@functools.cache
def script_usage(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name, command", BENCHMARK_COMMANDS, ids=ids(BENCHMARK_COMMANDS))
def test_benchmark_commands_use_flags_the_scripts_have(name, command):
    usage = script_usage(command[1])
    assert usage.returncode == 0, usage.stderr
    for flag in (word.split("=")[0] for word in command[2:] if word.startswith("--")):
        assert flag in usage.stdout, f"{flag} is not a flag of {command[1]}"
    if "--docs" in command:  # the page it writes its table into holds that table's block
        page = (ROOT / command[command.index("--docs") + 1]).read_text()
        stem = Path(command[1]).stem
        if stem in ("ablation", "long_run"):  # one block per run folder: NAME:OUT
            out = command[command.index("--out") + 1] if "--out" in command else "runs/ablation"
            stem = f"{stem}:{Path(out).name}"
        assert f"<!-- {stem}:begin -->" in page and f"<!-- {stem}:end -->" in page, stem


@pytest.mark.parametrize("script", [QUICKSTART, TEST_SCRIPT], ids=lambda path: path.name)
def test_the_readme_sets_up_with_one_short_line_per_script(script):
    relative = script.relative_to(ROOT).as_posix()
    lines = [line for block in bash_blocks(README) for line in block.splitlines() if relative in line]
    assert lines == [f"bash {relative}"], lines
    assert all(len(line) <= 100 for line in lines)
    assert script.is_file()
    check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    text = script.read_text()
    assert "set -euo pipefail" in text and 'cd "$(dirname "$0")/.."' in text


def test_the_quick_start_script_trains_exports_samples_every_format_and_evaluates():
    commands = script_commands(QUICKSTART)
    assert [command[1] for command in commands] == ["train", "export"] + ["sample"] * 8 + ["evaluate"]
    formats = {command[command.index("--format") + 1] for command in commands if command[1] == "sample"}
    assert len(formats) == 8 and all("--trust-savedmodel" in c for c in commands if c[1] == "sample")


def test_ci_runs_the_test_script():
    text = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in text and "bash scripts/test.sh" in text
    for step in ("tests/workers/older_stack.sh", "ruff check .", "ruff format --check .", ".ci/typecheck", "pytest"):
        assert step in TEST_SCRIPT.read_text(), step


@pytest.mark.parametrize("card", MODEL_CARDS)
def test_model_cards_carry_the_figures_of_their_evaluation(card):
    """Front matter first, and each metric of it the folder's evaluation.json, rounded to 4 places."""
    text, folder = DOCUMENTS[card], ROOT / Path(card).parent
    assert text.startswith("---\nlibrary_name: fashiongan\n")
    front = text.split("\n---\n", 1)[0] + "\n"
    evaluation = json.loads((folder / "evaluation.json").read_text())
    artifacts = json.loads((folder / "manifest.json").read_text())["artifacts"]
    paths = {artifact["path"]: name for name, artifact in artifacts.items()}
    metrics = re.findall(r"- type: (\w+)\n\s+name: [^\n]*\(([^)\s]+)\)\n\s+value: ([0-9.]+)\n", front)
    assert len(metrics) == 6 * len(evaluation["formats"])
    for metric, path, value in metrics:
        assert round(evaluation["formats"][paths[path]]["generator"][metric], 4) == float(value), (metric, path)


RUNNABLE = [pair for pair in every(bash_commands) if pair[1][0] == "fashiongan" and pair[1][1] in RUN_SUBCOMMANDS]


@pytest.mark.slow
def test_short_commands_run_as_written(exports, tmp_path):
    """The sample and info commands of every document, in a scratch folder holding a test export
    where the quick start writes `exports/quickstart` (and a conditional one where the own-data
    example writes `exports/clothes`); the pretrained ones find the package's generator by name."""
    _, export_dir = exports["dcgan"]
    shutil.copytree(export_dir, tmp_path / "exports" / "quickstart")
    shutil.copytree(exports["cdcgan"][1], tmp_path / "exports" / "clothes")  # conditional, and it has coats
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    ran = 0
    for name, command in RUNNABLE:
        result = subprocess.run([sys.executable, "-m", "fashiongan", *command[1:]], capture_output=True, text=True,
                                cwd=tmp_path, env=environment, timeout=300)  # fmt: skip
        assert result.returncode == 0, f"{name}: {' '.join(command)}: {result.stderr[-1000:]}"
        if "--out" in command:
            assert (tmp_path / command[command.index("--out") + 1]).stat().st_size > 100
        ran += 1
    assert ran >= 10
    assert len([name for name, _ in RUNNABLE if name == "README.md"]) >= 5


def test_python_example_runs_as_written(tmp_path):
    (example,) = re.findall(r"```python\n(.*?)```", README, re.S)
    result = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "grid.png").stat().st_size > 100
