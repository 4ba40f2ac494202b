"""The package's layout as tools see it: fashiongan/ links to the design card's top-level folders,
so pyright (and Pylance), mypy, setuptools and a plain import all find every subpackage in place."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYRIGHT = Path(sys.executable).with_name("basedpyright")  # pyright's resolver, with Node.js in its wheel


def test_fashiongan_links_to_each_top_level_subpackage():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    subpackages = [name.removeprefix("fashiongan.") for name in packages if name != "fashiongan"]
    assert sorted(subpackages) == ["demo", "evaluation", "export", "inference", "model", "pretrained"]
    for name in subpackages:
        link = ROOT / "fashiongan" / name
        assert link.is_symlink() and os.readlink(link) == f"../{name}", name  # relative: any clone
        assert (link / "__init__.py").is_file(), name


def unresolved_fashiongan_imports(files: list[Path], cwd: Path) -> list[str]:
    """pyright's unresolved-import diagnostics for fashiongan.* over `files`, run from `cwd`."""
    if not PYRIGHT.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install the [test] extra, which holds basedpyright")
        pytest.skip("basedpyright is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [str(PYRIGHT), "--outputjson", "--pythonpath", sys.executable, *map(str, files)],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads(done.stdout)
    return [
        f"{item['file']}:{item['range']['start']['line'] + 1}: {item['message']}"
        for item in report["generalDiagnostics"]
        if item.get("rule") == "reportMissingImports" and "fashiongan" in item["message"]
    ]


def test_pyright_resolves_every_fashiongan_import_in_the_checkout(tmp_path):
    """Over the package, the tests and the benchmarks, in this (editable) install; a planted
    import of a module that does not exist is the one diagnostic, so the check can fail."""
    probe = tmp_path / "probe.py"
    probe.write_text("import fashiongan.model.data\nimport fashiongan.no_such_module\n")
    package = [ROOT / "fashiongan", *(link for link in (ROOT / "fashiongan").iterdir() if link.is_symlink())]
    files = [path for folder in package + [ROOT / "tests", ROOT / "benchmarks"] for path in folder.rglob("*.py")]
    unresolved = unresolved_fashiongan_imports([*files, probe], ROOT)
    assert len(files) >= 70 and unresolved == [f'{probe}:2: Import "fashiongan.no_such_module" could not be resolved']


def package_imports() -> dict[str, set[str]]:
    """Each fashiongan module and the fashiongan modules it imports anywhere in its body (a lazy
    import inside a function counts: it hides a cycle, it does not remove one)."""
    import ast

    modules: dict[str, Path] = {}
    for folder in [ROOT / "fashiongan", *(link for link in (ROOT / "fashiongan").iterdir() if link.is_symlink())]:
        for path in folder.rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fashiongan"):
                found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("fashiongan")}
        graph[name] = {module for module in found if module in modules and module != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles among modules (a package's __init__ aside), by depth-first search."""
    cycles, done, path = [], set(), []

    def visit(module: str) -> None:
        if module in path:
            cycles.append(path[path.index(module) :] + [module])
            return
        if module in done:
            return
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    packages = {name for name in graph if (ROOT / Path(*name.split("."))).is_dir()}
    return [cycle for cycle in cycles if not set(cycle) & packages]


def test_no_module_of_the_package_imports_itself_back():
    graph = package_imports()
    assert {"fashiongan.model.train", "fashiongan.model.callbacks", "fashiongan.model.run_folder"} <= set(graph)
    assert "fashiongan.model.run_folder" in graph["fashiongan.model.callbacks"]  # the graph sees imports
    assert import_cycles(graph) == []
    assert import_cycles({"a.x": {"a.y"}, "a.y": {"a.x"}}) == [["a.x", "a.y", "a.x"]]  # and finds a cycle
