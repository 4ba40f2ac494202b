"""Every command the README shows runs as written: the short ones are run (in a scratch folder,
with a test export where the quick start would have made one), the long ones (training, export,
evaluation, servers, installs) are parsed against the real argument parsers."""

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
README = (ROOT / "README.md").read_text()
SETUP_COMMANDS = {"sudo", "apt-get", "python3", ".", "pip", "ruff", ".ci/typecheck", "bash"}
RUN_SUBCOMMANDS = {"sample", "variants", "info"}  # quick and side-effect free: run them
LOOP = re.compile(r"for (\w+) in ([^;]+); do (.+); done")


def bash_commands() -> list[list[str]]:
    """The commands of the README's bash blocks: continued lines joined, comments and leading
    VAR=value assignments dropped, `&&` chains split and simple for-loops unrolled."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"\s+&&\s+", line.strip()):
                loop = LOOP.fullmatch(part)
                if loop:
                    variable, values, body = loop.groups()
                    commands += [shlex.split(body.replace(f"${variable}", value)) for value in values.split()]
                elif shlex.split(part, comments=True):
                    words = shlex.split(part, comments=True)
                    while re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                        words = words[1:]
                    commands.append(words)
    return commands


def inline_commands() -> list[list[str]]:
    """`fashiongan ...` and `python benchmarks/...` in the prose, where they carry flags."""
    spans = re.findall(r"`((?:fashiongan|python benchmarks/)[^`]*)`", README)
    return [shlex.split(span) for span in spans if " --" in span]


def test_the_readme_shows_the_commands_this_test_reads():
    names = {command[0] for command in bash_commands()}
    assert {"fashiongan", "python"} <= names and names <= SETUP_COMMANDS | {"fashiongan", "python"}
    assert len([c for c in bash_commands() if c[0] == "fashiongan" and c[1] == "sample"]) >= 10
    assert len(inline_commands()) >= 5


@pytest.mark.parametrize(
    "command", [c for c in bash_commands() + inline_commands() if c[0] == "fashiongan"], ids=" ".join
)
def test_every_fashiongan_command_parses(command):
    args = cli.build_parser().parse_args(command[1:])  # a bad flag or value exits 2 here
    assert args.command == command[1]


@pytest.mark.parametrize("command", [c for c in bash_commands() if c[0] == "bash"], ids=" ".join)
def test_every_shell_script_the_readme_runs_exists_and_takes_its_arguments(command):
    script = ROOT / command[1]
    assert script.is_file() and command[1].startswith(("benchmarks/", "tests/"))
    text = script.read_text()
    for argument in command[2:]:
        assert argument in text, f"{command[1]} does not handle {argument}"


@pytest.mark.parametrize("command", [c for c in inline_commands() if c[0] == "python"], ids=" ".join)
def test_benchmark_commands_use_flags_the_scripts_have(command):
    script = ROOT / command[1]
    usage = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 0, usage.stderr
    for flag in (word.split("=")[0] for word in command[2:] if word.startswith("--")):
        assert flag in usage.stdout, f"{flag} is not a flag of {command[1]}"


@pytest.mark.slow
def test_short_commands_run_as_written(exports, tmp_path):
    """The sample commands, in a scratch folder holding a test export where the quick start
    writes `exports/quickstart`; the pretrained ones find the package's generator by name."""
    _, export_dir = exports["dcgan"]
    shutil.copytree(export_dir, tmp_path / "exports" / "quickstart")
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    ran = 0
    for command in bash_commands():
        if command[0] != "fashiongan" or command[1] not in RUN_SUBCOMMANDS:
            continue
        result = subprocess.run([sys.executable, "-m", "fashiongan", *command[1:]], capture_output=True, text=True,
                                cwd=tmp_path, env=environment, timeout=300)  # fmt: skip
        assert result.returncode == 0, f"{' '.join(command)}: {result.stderr[-1000:]}"
        if "--out" in command:
            assert (tmp_path / command[command.index("--out") + 1]).stat().st_size > 100
        ran += 1
    assert ran >= 10


def test_python_example_runs_as_written(tmp_path):
    (example,) = re.findall(r"```python\n(.*?)```", README, re.S)
    result = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "grid.png").stat().st_size > 100
