"""A run folder and its state: config.json, checkpoints (weights, optimizers, RNG states and the
position in the data), the final generator, the lock held while training, and the rules for
starting or resuming a run in a folder.

A run directory holds config.json, history.csv, logs/ (TensorBoard, where TensorFlow is
installed), samples/ (a grid per epoch), checkpoints/ (everything needed to resume) and the
final generator.keras.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np

from fashiongan.errors import FashionGANError, describe_error
from fashiongan.files import atomic_file, atomic_folder, ensure_free_space, write_atomic
from fashiongan.model.config import RESUMABLE_CHANGES, TrainConfig
from fashiongan.spec import DATASETS, DatasetSpec, get_dataset

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"  # the dataset's name and class names, and a source's identity
HISTORY_FILE = "history.csv"
GENERATOR_FILE = "generator.keras"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
KEEP_CHECKPOINTS = 2
LOCK_FILE = ".lock"  # held by the process training in the run folder


class TrainingError(FashionGANError):
    """Training could not go on (non-finite loss, inconsistent resume)."""


def _seed_states(gan) -> list:
    return [v for v in gan.variables if v.path.endswith("seed_generator_state")]


def save_checkpoint(gan, run_dir: Path, steps_per_epoch: int) -> Path:
    """Write networks, optimizers, RNG states and the position in the data (epochs done, steps
    into the next) to checkpoints/epoch-NNNN (or epoch-NNNN-step-S, stopped inside an epoch),
    atomically; keep the newest KEEP_CHECKPOINTS."""
    step = trained_steps(gan)
    check_finite_weights(gan, f"step {step}")
    epoch, step_in_epoch = divmod(step, steps_per_epoch)
    name = f"epoch-{epoch:04d}" + (f"-step-{step}" if step_in_epoch else "")
    final = run_dir / CHECKPOINTS_DIR / name
    with atomic_folder(final) as building:
        ensure_free_space(building, _checkpoint_bytes(gan, run_dir))
        gan.save_weights(building / "gan.weights.h5")
        state = {
            "epoch": epoch,
            "step": step,
            "step_in_epoch": step_in_epoch,
            "seed_generator_states": [np.asarray(v.numpy()).tolist() for v in _seed_states(gan)],
        }
        (building / "state.json").write_text(json.dumps(state))
    for old in list_checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old)
    return final


def write_dataset_record(run_dir: Path, dataset: str, data_dir: str | None) -> None:
    """Record what the run trains on, so export and resume need not read the data again; a
    resume refuses a source whose content changed since the run began."""
    from fashiongan.model import data, sources

    spec_row = data.dataset_spec(dataset, data_dir)
    record = {"name": spec_row.name, "class_names": list(spec_row.class_names), "source": dataset}
    if spec_row.name not in DATASETS:
        record["identity"] = sources.read_source(dataset, data_dir).identity
    path = run_dir / DATASET_FILE
    if path.is_file():
        earlier = read_dataset_record(run_dir)
        if earlier.get("identity") != record.get("identity"):
            raise TrainingError(
                f"--resume: {dataset} has changed since the run began (its content is not what {path} records)"
            )
    write_atomic(path, json.dumps(record, indent=2).encode())


def read_dataset_record(run_dir: Path) -> dict:
    path = run_dir / DATASET_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise TrainingError(f"{path}: unreadable ({error})") from None
    names = record.get("class_names") if isinstance(record, dict) else None
    if (
        not isinstance(record.get("name"), str)
        or not isinstance(names, list)
        or not all(isinstance(n, str) for n in names)
    ):
        raise TrainingError(f"{path}: not a dataset record (needs a name and a list of class names)")
    if not isinstance(record.get("name"), str):
        raise TrainingError(f"{path}: not a dataset record (needs a name and a list of class names)")
    return record


def dataset_of_run(run_dir: Path, dataset: str) -> DatasetSpec:
    """The dataset a run trained on, from its record; a built-in by name for an older run."""
    if not (run_dir / DATASET_FILE).is_file():
        return get_dataset(dataset)
    record = read_dataset_record(run_dir)
    return DatasetSpec(name=record["name"], folder=record["source"] if isinstance(record.get("source"), str) else "",
                       class_names=tuple(record["class_names"]), how_to_get="")  # fmt: skip


def check_finite_weights(model, when: str) -> None:
    """Refuse to write weights that hold NaN or infinities (a learning rate far too high can
    get there while the losses of that step are still finite)."""
    if not all(np.isfinite(np.asarray(variable.numpy(), np.float64)).all() for variable in model.variables):
        raise TrainingError(f"training diverged: non-finite weights at {when}; lower the learning rates")


def _checkpoint_bytes(gan, run_dir: Path) -> int:
    """What the next checkpoint will take: the last one's size, else the variables' bytes."""
    last = latest_checkpoint(run_dir)
    if last is not None and (last / "gan.weights.h5").is_file():
        return (last / "gan.weights.h5").stat().st_size
    return _variable_bytes(gan.variables + gan.d_optimizer.variables + gan.g_optimizer.variables)


def _variable_bytes(variables) -> int:
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)


def _checkpoint_step(folder: Path) -> int:
    """The training step a checkpoint holds (-1 if its state is unreadable: it sorts first)."""
    try:
        step = json.loads((folder / "state.json").read_text())["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return -1
    return step if isinstance(step, int) else -1


def list_checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoints, oldest first, ordered by their step as a number (names sort as
    text only up to epoch 9999)."""
    folders = [path for path in (run_dir / CHECKPOINTS_DIR).glob("epoch-*") if path.is_dir()]
    return sorted(folders, key=lambda path: (_checkpoint_step(path), path.name))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def read_state(checkpoint: Path) -> dict:
    """A checkpoint's state.json, checked for the keys and types resuming reads."""
    path = checkpoint / "state.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise TrainingError(f"{path}: unreadable checkpoint state ({error})") from None
    expected = {"epoch": int, "step": int, "seed_generator_states": list}
    if not isinstance(state, dict) or any(not isinstance(state.get(key), kind) for key, kind in expected.items()):
        raise TrainingError(f"{path}: not a fashiongan checkpoint state (needs integer epoch and step)")
    if not isinstance(state.setdefault("step_in_epoch", 0), int):
        raise TrainingError(f"{path}: step_in_epoch is not an integer")
    return state


def restore_checkpoint(gan, checkpoint: Path, steps_per_epoch: int) -> dict:
    """Load a checkpoint written by save_checkpoint into a built GAN; returns its state, whose
    position must be the one its weights were trained to in epochs of `steps_per_epoch`."""
    import warnings

    state = read_state(checkpoint)
    with warnings.catch_warnings(record=True) as warned:  # Keras warns of each variable a foreign file lacks
        warnings.simplefilter("always")
        try:
            gan.load_weights(checkpoint / "gan.weights.h5")
        except (OSError, ValueError, KeyError) as error:
            if any("Skipping" in str(warning.message) for warning in warned):
                raise TrainingError(
                    f"{checkpoint}: holds other networks than this run's variant (was its {CONFIG_FILE} edited?)"
                ) from None
            raise TrainingError(f"{checkpoint}: cannot restore checkpoint ({describe_error(error)})") from None
    _check_position(state, trained_steps(gan), steps_per_epoch, checkpoint / "state.json")
    seed_states = _seed_states(gan)
    if len(seed_states) != len(state["seed_generator_states"]):
        raise TrainingError(f"{checkpoint}: checkpoint does not match this variant's networks")
    for variable, value in zip(seed_states, state["seed_generator_states"]):
        variable.assign(np.asarray(value, dtype=variable.dtype))
    return state


def _check_position(state: dict, step: int, steps_per_epoch: int, path: Path) -> None:
    """A state's epoch, step and step_in_epoch must be the weights' own step in this run's epochs."""
    epoch, step_in_epoch = state["epoch"], state["step_in_epoch"]
    if state["step"] != step or (epoch, step_in_epoch) != divmod(step, steps_per_epoch):
        raise TrainingError(
            f"{path}: epoch {epoch}, step {state['step']}, step_in_epoch {step_in_epoch} is not where its weights "
            f"stopped (step {step}, {steps_per_epoch} steps an epoch)"
        )


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Hold an exclusive lock on the run folder while training: a second `train` on the same
    --out is refused at once. The kernel drops the lock when a process dies, so a killed run
    never blocks a later --resume. A folder this call created is removed again if nothing but
    the lock file was written."""
    import fcntl

    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise FashionGANError(
            f"--out {run_dir} is in use by another fashiongan train (pid {holder}); wait for it or choose another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        handle.close()  # the file stays: removing it would let two processes lock two different files
        if created and [entry.name for entry in run_dir.iterdir()] == [LOCK_FILE]:
            path.unlink()
            run_dir.rmdir()


def trained_steps(gan) -> int:
    """Steps trained so far: the generator optimizer's iteration count (one per step)."""
    return int(gan.g_optimizer.iterations.numpy())


def resume_config(out: str | os.PathLike, **changes) -> TrainConfig:
    """The settings a resume of the run in `out` trains with, for the CLI's --resume and for
    `train(resume_config(out, epochs=40), resume=True)` alike: the run's config.json with
    `changes` applied. max_steps and time_budget are one invocation's stops, not the run's: a
    resume that does not give them again goes on to the epochs. Where `out` holds no run, the
    defaults with `changes` (and `train` then says there is nothing to resume)."""
    path = Path(out) / CONFIG_FILE
    if not path.is_file():
        return TrainConfig(out=str(out), **changes)
    saved = TrainConfig.load(path)
    return dataclasses.replace(saved, **{"out": str(out), "max_steps": None, "time_budget": None, **changes})


def check_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> None:
    """Refuse to overwrite a run, or to resume one with settings it was not started with."""
    config_path = run_dir / CONFIG_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise FashionGANError(f"--out {run_dir}: exists and is not a directory")
    if resume:
        if not config_path.is_file():
            raise FashionGANError(f"--resume: {run_dir} holds no {CONFIG_FILE}; nothing to resume")
        saved = TrainConfig.load(config_path).resolved()
        for field in dataclasses.fields(TrainConfig):
            if field.name not in RESUMABLE_CHANGES and getattr(config, field.name) != getattr(saved, field.name):
                raise FashionGANError(
                    f"--resume: {run_dir} was started with {field.name}={getattr(saved, field.name)!r}, "
                    f"not {getattr(config, field.name)!r}"
                )
    elif config_path.exists():
        raise FashionGANError(f"--out {run_dir} already holds a run; pass --resume or choose another --out")


def save_generator(generator, path: Path) -> Path:
    check_finite_weights(generator, "the end of training")
    ensure_free_space(path.parent, _variable_bytes(generator.variables))
    with atomic_file(path) as temporary:
        generator.save(temporary)
    return path
