"""Every script of benchmarks/, bad values: exit status 2, exactly one line on stderr
(`NAME.py: error: ...`), no traceback and nothing written, refused before anything is loaded
or trained. Run as `python /abs/path/benchmarks/NAME.py` from a scratch folder."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import benchmark_script

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("ablation", "consumers", "demo_screenshot", "export_parity", "fd_sensitivity", "long_run",
            "pretrained_table", "quality", "sample_speed", "train_speed")  # fmt: skip

# Placeholders, filled per test: A_FILE (an empty file), A_DIR (an empty folder), UNRELATED (a
# folder of someone's files), RUN (a folder laid out as a finished run), EXPORT (the shipped
# fashion_mnist generator: an export with ONNX and TFLite files, no .keras).
CASES = [
    ("ablation", ["--images", "0"], "--images: must be a positive integer, got 0"),
    ("ablation", ["--images", "-5"], "--images: must be a positive integer, got -5"),
    ("ablation", ["--images", "lots"], "--images: 'lots' is not an integer"),
    ("ablation", ["--n", "3"], "--n: must be more than k=5 and at most 10,000 (the test images), got 3"),
    ("ablation", ["--n", "20000"], "--n: must be more than k=5 and at most 10,000"),
    ("ablation", ["--arms", "nosuch"], "--arms: unknown arm nosuch; choose from baseline, warmup,"),
    ("ablation", ["--arms", ","], "--arms: no arm given; choose from baseline"),
    ("ablation", ["--out", "A_FILE"], "A_FILE: exists and is not a folder"),
    ("ablation", ["--out", ""], "--out: '' is not a usable path"),
    ("consumers", [], "the following arguments are required: exports"),
    ("consumers", ["UNRELATED"], "UNRELATED/manifest.json: no manifest"),
    ("consumers", ["nowhere"], "argument exports: nowhere: no such folder"),
    ("consumers", ["A_FILE"], "A_FILE: is a file, not a folder"),
    ("consumers", ["EXPORT"], "no keras artifact (the generator the others are compared with); it has "),
    ("consumers", ["EXPORT", "--n", "0"], "--n: must be a positive integer, got 0"),
    ("consumers", ["EXPORT", "--n", "600000"], "--n: must be at most 500,000 images, got 600000"),
    ("demo_screenshot", ["--port", "1"], "unrecognized arguments: --port 1"),
    ("export_parity", ["nowhere"], "argument runs: nowhere: no such folder"),
    ("export_parity", ["A_FILE"], "A_FILE: is a file, not a folder"),
    ("export_parity", ["UNRELATED"], "UNRELATED: not a finished run (no config.json or generator.keras in it)"),
    ("export_parity", ["RUN", "--n", "0"], "--n: must be a positive integer, got 0"),
    ("export_parity", ["RUN", "--out", "A_FILE"], "--out: A_FILE: exists and is not a folder"),
    ("export_parity", ["RUN", "--out", "RUN/.."], "holds or lies inside the source"),
    ("export_parity", ["RUN", "RUN"], "two runs named finished-run"),
    ("fd_sensitivity", ["nowhere"], "no such export folder or model file, nor a pretrained generator"),
    ("fd_sensitivity", ["UNRELATED"], "neither an export folder"),
    ("fd_sensitivity", ["fashion_mnist", "--dataset", "cifar10"], "--dataset: invalid choice: 'cifar10'"),
    ("fd_sensitivity", ["fashion_mnist", "--formats", "onnx"], "--formats: takes two different artifacts, got onnx"),
    ("fd_sensitivity", ["fashion_mnist", "--formats", "onnx,onnx"], "takes two different artifacts, got onnx"),
    ("fd_sensitivity", ["fashion_mnist", "--formats", "onnx,pt"], "--formats: unknown format pt; choose from keras"),
    ("fd_sensitivity", ["fashion_mnist", "--formats", "onnx,keras"], "has no keras artifact"),
    ("fd_sensitivity", ["fashion_mnist", "--n", "0"], "--n: must be a positive integer, got 0"),
    ("fd_sensitivity", ["fashion_mnist", "--seed", "-1"], "--seed: must be a non-negative integer, got -1"),
    ("long_run", [], "the following arguments are required: --out"),
    ("long_run", ["--out", "run", "--chunk", "0"], "--chunk: must be a positive integer, got 0"),
    ("long_run", ["--out", "run", "--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    ("long_run", ["--out", "run", "--n", "5"], "--n: must be more than k=5"),
    ("long_run", ["--out", "run", "--recipe", "nosuch"], "--recipe: invalid choice: 'nosuch'"),
    ("long_run", ["--out", "run", "--dataset", "cifar10"], "--dataset: invalid choice: 'cifar10'"),
    ("long_run", ["--out", "A_FILE"], "A_FILE: exists and is not a folder"),
    ("long_run", ["--out", "run", "--ship-grid", "grid.png"], "--ship-grid: needs --ship"),
    ("long_run", ["--out", "run", "--ship", "A_FILE"], "--ship: A_FILE: exists and is not a folder"),
    ("long_run", ["--out", "run", "--ship", "UNRELATED"], "not a fashiongan export; refusing to replace it"),
    ("long_run", ["--out", "run", "--ship", "run/shipped"], "--ship run/shipped: is, holds or lies inside the run"),
    ("long_run", ["--out", "run", "--ship", "x", "--ship-grid", "A_DIR"], "A_DIR: is a folder; give a file name"),
    ("quality", ["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    ("quality", ["--variants", "nosuch"], "--variants: invalid choice: 'nosuch'"),
    ("quality", ["--n", "0"], "--n: must be a positive integer, got 0"),
    ("quality", ["--out", "A_FILE"], "A_FILE: exists and is not a folder"),
    ("quality", ["--data-dir", "nowhere"], "--data-dir: nowhere: no such folder"),
    ("quality", ["--data-dir", "A_FILE"], "A_FILE: is a file, not a folder"),
    ("quality", ["--docs", "nowhere.md"], "--docs: nowhere.md: no such file"),
    ("quality", ["--docs", "A_FILE"], "no single <!-- quality:begin --> ... <!-- quality:end --> block"),
    ("quality", ["--docs", "A_DIR"], "--docs: A_DIR: is a folder, not a docs page"),
    ("ablation", ["--out", "x", "--docs", "A_FILE"], "no single <!-- ablation:x:begin --> ... <!-- ablation:x:end -->"),
    ("long_run", ["--out", "r", "--docs", "A_FILE"], "no single <!-- long_run:r:begin --> ... <!-- long_run:r:end -->"),
    ("train_speed", ["--docs", "A_FILE"], "no single <!-- train_speed:begin --> ... <!-- train_speed:end -->"),
    ("export_parity", ["RUN", "--docs", "A_FILE"], "no single <!-- export_parity:begin -->"),
    ("consumers", ["EXPORT", "--docs", "A_FILE"], "no single <!-- consumers:begin -->"),
    ("sample_speed", ["EXPORT", "--docs", "nowhere.md"], "--docs: nowhere.md: no such file"),
    ("pretrained_table", ["--names", "nosuch"], "--names: unknown generator nosuch; choose from"),
    ("pretrained_table", ["--docs", "A_FILE"], "no single <!-- pretrained_table:begin -->"),
    ("quality", ["--ship-grid", "grid.png"], "--ship-grid: needs --ship"),
    ("quality", ["--ship", "UNRELATED"], "not a fashiongan export; refusing to replace it"),
    ("quality", ["--ship", "runs/quality/dense"], "is, holds or lies inside the run runs/quality/dense"),
    ("quality", ["--report-only", "--out", "A_DIR"], "no evaluated runs under"),
    ("sample_speed", [], "the following arguments are required: exports"),
    ("sample_speed", ["UNRELATED"], "UNRELATED/manifest.json: no manifest"),
    ("sample_speed", ["nowhere"], "nowhere: no such folder"),
    ("sample_speed", ["A_FILE"], "A_FILE: is a file, not a folder"),
    ("sample_speed", ["EXPORT"], "no tflite, keras artifact (the cold starts)"),
    ("sample_speed", ["EXPORT", "--calls", "0"], "--calls: must be a positive integer, got 0"),
    ("sample_speed", ["EXPORT", "--calls", "-3"], "--calls: must be a positive integer, got -3"),
    ("train_speed", ["--variants", "nosuch"], "--variants: unknown variant nosuch; choose from dense,"),
    ("train_speed", ["--variants", ""], "--variants: no variant given"),
    ("train_speed", ["--variants", "dense,cdcgan"], "cdcgan: conditional"),
    ("train_speed", ["--sides", "jax,nosuch"], "--sides: unknown side nosuch; choose from tf-tutorial"),
    ("train_speed", ["--steps", "0"], "--steps: must be a positive integer, got 0"),
    ("train_speed", ["--steps", "-1"], "--steps: must be a positive integer, got -1"),
    ("train_speed", ["--batch-size", "0"], "--batch-size: must be a positive integer, got 0"),
    ("train_speed", ["--warmup", "0"], "--warmup: must be a positive integer, got 0"),
    ("train_speed", ["--steps-per-execution", "0"], "--steps-per-execution: must be a positive integer"),
    ("train_speed", ["--peak-tflops", "0"], "--peak-tflops: must be a positive"),
    ("train_speed", ["--xla", "maybe"], "--xla: invalid choice: 'maybe'"),
    ("train_speed", ["--strategy", "tpu"], "--strategy: invalid choice: 'tpu'"),
    ("train_speed", ["--mixed-precision", "fp8"], "--mixed-precision: invalid choice: 'fp8'"),
    ("train_speed", ["--device-data", "maybe"], "--device-data: invalid choice: 'maybe'"),
    ("train_speed", ["--data-dir", "nowhere"], "--data-dir: nowhere: no such folder"),
    ("train_speed", ["--data-dir", "A_FILE"], "A_FILE: is a file, not a folder"),
]


def snapshot(*folders: Path) -> dict:
    return {path: path.stat().st_mtime_ns for folder in folders for path in folder.rglob("*")}


def make_places(folder: Path) -> dict[str, str]:
    """The placeholders' files and folders, made in `folder`."""
    (folder / "A_FILE").write_text("")
    (folder / "A_DIR").mkdir()
    (folder / "UNRELATED").mkdir()
    (folder / "UNRELATED" / "notes.txt").write_text("mine")
    run = folder / "finished-run"
    run.mkdir()
    for name in ("config.json", "generator.keras"):
        (run / name).write_text("")
    places = {name: str(folder / name) for name in ("A_FILE", "A_DIR", "UNRELATED")}
    return {**places, "RUN": str(run), "EXPORT": str(ROOT / "pretrained" / "fashion_mnist")}


def fill(arg: str, places: dict[str, str]) -> str:
    """`arg` with a leading placeholder (A_FILE, RUN/..) replaced by its path."""
    head = arg.split("/")[0]
    return places[head] + arg[len(head) :] if head in places else arg


@pytest.mark.parametrize("name, args, expected", CASES, ids=[" ".join([name, *args]) for name, args, _ in CASES])
def test_bad_values_are_one_line_exit_2_and_write_nothing(tmp_path, name, args, expected):
    places = make_places(tmp_path)
    expected = re.sub(r"\b(?:" + "|".join(places) + r")\b", lambda match: places[match[0]], expected)
    before = snapshot(tmp_path, Path(places["EXPORT"]))
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *(fill(arg, places) for arg in args)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith(f"{name}.py: error: ") and expected in lines[0], lines[0]
    assert snapshot(tmp_path, Path(places["EXPORT"])) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_scripts_run_by_a_relative_path_from_the_repository_root(name):
    result = subprocess.run([sys.executable, f"benchmarks/{name}.py", "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith(f"usage: {name}.py"), result.stderr[-2000:]


@pytest.mark.parametrize("name", COMMANDS)
def test_scripts_load_by_their_path_with_their_siblings(name):
    assert callable(benchmark_script(name).main)


def test_a_report_replaces_its_own_block_only_and_stamps_date_hardware_and_command(tmp_path, monkeypatch, capsys):
    common = benchmark_script("_common")
    page = tmp_path / "results.md"
    page.write_text("intro\n<!-- a:begin -->\nold\n<!-- a:end -->\nmiddle\n<!-- b:begin -->\nkept\n<!-- b:end -->\n")
    monkeypatch.setattr(sys, "argv", ["/somewhere/benchmarks/x.py", "--n", "5", "--docs", "results.md"])
    report = common.Report("a", page)
    report.print("| figure |")
    report.print("| 1.5 |")
    report.write("2 CPU cores (test)")
    text = page.read_text()
    assert capsys.readouterr().out == "| figure |\n| 1.5 |\n"
    assert (
        text.startswith("intro\n<!-- a:begin -->\n_") and "\nmiddle\n<!-- b:begin -->\nkept\n<!-- b:end -->\n" in text
    )
    stamp = text.splitlines()[2]
    assert re.fullmatch(
        r"_\d{4}-\d\d-\d\d, 2 CPU cores \(test\); `python benchmarks/x.py --n 5 --docs results.md`_", stamp
    )
    assert "old" not in text and "| figure |\n| 1.5 |\n<!-- a:end -->" in text
    page.write_text("<!-- a:begin -->\n<!-- a:end -->\n<!-- a:begin -->\n<!-- a:end -->\n")  # two blocks: ambiguous
    with pytest.raises(common.FashionGANError, match="no single <!-- a:begin -->"):
        common.Report("a", page)


def test_every_table_in_the_results_page_is_written_by_a_script():
    """A table in docs/results.md lies inside a block whose name is a benchmark script's."""
    text = (ROOT / "docs" / "results.md").read_text()
    blocks = re.findall(r"<!-- ([\w:.+-]+):begin -->(.*?)<!-- \1:end -->", text, re.S)
    outside = re.sub(r"<!-- ([\w:.+-]+):begin -->.*?<!-- \1:end -->", "", text, flags=re.S)
    assert not re.search(r"^\|.*\|$", outside, re.M), "a table outside any script's block"
    for name, body in blocks:
        assert (ROOT / "benchmarks" / f"{name.split(':')[0]}.py").is_file(), name
        assert re.match(r"\s*_\d{4}-\d\d-\d\d, .+; `python benchmarks/", body), f"{name}: no date, hardware, command"
