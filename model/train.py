"""Train a GAN variant: one plain `train(config)` function and its config (the callbacks are in
`callbacks.py`), on Keras' TensorFlow backend (`fit()`) or its JAX backend (`jax_loop.fit`),
whichever Keras was loaded on.

A run directory holds config.json, history.csv, logs/ (TensorBoard, where TensorFlow is
installed), samples/ (a grid per epoch), checkpoints/ (everything needed to resume) and the
final generator.keras.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashiongan import spec
from fashiongan.errors import FashionGANError, describe_error
from fashiongan.extras import quiet_stderr
from fashiongan.files import ensure_free_space, write_atomic
from fashiongan.model import data
from fashiongan.spec import get_variant

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
GENERATOR_FILE = "generator.keras"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
KEEP_CHECKPOINTS = 2
MAX_STEPS_PER_EXECUTION = 4096  # steps per host call; Keras overflows far beyond
MAX_GRID_SIZE = 64  # a 64×64 grid of the epoch's samples is a 7688-pixel square PNG
LOCK_FILE = ".lock"  # held by the process training in the run folder
# what --resume may change: the targets, the data's place and how (not what) to compute
RESUMABLE_CHANGES = (
    "epochs",
    "max_steps",
    "time_budget",
    "out",
    "data_dir",
    "strategy",
    "xla",
    "steps_per_execution",
    "mixed_precision",
    "device_data",
)


class TrainingError(FashionGANError):
    """Training could not go on (non-finite loss, inconsistent resume)."""


@dataclass
class TrainConfig:
    """Everything that defines a run; None means the variant's own setting."""

    variant: str = spec.DEFAULT_VARIANT
    dataset: str = spec.DEFAULT_DATASET
    epochs: int = 1
    out: str = "runs/dcgan"
    batch_size: int | None = None
    seed: int = 0
    data_dir: str | None = None
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    time_budget: float | None = None  # minutes of training for this invocation, then a clean stop
    g_learning_rate: float | None = None
    d_learning_rate: float | None = None
    beta_1: float | None = None
    grid_size: int = 4
    strategy: str = "auto"
    xla: str = "auto"
    steps_per_execution: int | None = None
    mixed_precision: str = "auto"
    device_data: str = "auto"
    loss: str | None = None
    ema_momentum: float | None = None
    ema_warmup: bool | None = None
    augment: str | None = None  # DiffAugment policy, e.g. "translation,cutout"; "none" for none

    def resolved(self) -> TrainConfig:
        """A copy with the variant's defaults filled in and every number checked."""
        variant = get_variant(self.variant)
        dataset = spec.get_dataset(self.dataset)
        batch_size = variant.batch_size if self.batch_size is None else self.batch_size
        scale = large_batch_lr_scale(batch_size, variant.batch_size) if batch_size > 0 else 1.0
        config = dataclasses.replace(
            self,
            batch_size=batch_size,
            g_learning_rate=variant.g_learning_rate * scale if self.g_learning_rate is None else self.g_learning_rate,
            d_learning_rate=variant.d_learning_rate * scale if self.d_learning_rate is None else self.d_learning_rate,
            beta_1=variant.beta_1 if self.beta_1 is None else self.beta_1,
            loss=self.loss or variant.loss,
            ema_momentum=variant.ema_momentum if self.ema_momentum is None else self.ema_momentum,
            ema_warmup=variant.ema_warmup if self.ema_warmup is None else self.ema_warmup,
            augment=",".join(spec.parse_augment(variant.augment if self.augment is None else self.augment)) or "none",
        )
        if config.loss not in spec.LOSSES:
            raise FashionGANError(f"unknown loss {config.loss!r}; choose one of: {', '.join(spec.LOSSES)}")
        for name in (
            "epochs",
            "batch_size",
            "steps_per_epoch",
            "max_steps",
            "time_budget",
            "grid_size",
            "g_learning_rate",
            "d_learning_rate",
            "steps_per_execution",
        ):
            value = getattr(config, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise FashionGANError(f"{name} must be positive and finite, got {value}")
        if config.steps_per_execution is not None and config.steps_per_execution > MAX_STEPS_PER_EXECUTION:
            raise FashionGANError(
                f"steps_per_execution must be at most {MAX_STEPS_PER_EXECUTION}, got {config.steps_per_execution}"
            )
        if config.grid_size > MAX_GRID_SIZE:
            raise FashionGANError(
                f"grid_size must be at most {MAX_GRID_SIZE} (a {MAX_GRID_SIZE}² grid), got {config.grid_size}"
            )
        if not isinstance(config.seed, int) or not 0 <= config.seed < 2**32:
            raise FashionGANError(f"seed must be an integer in [0, 2**32), got {config.seed!r}")
        if config.beta_1 is None or not 0 <= config.beta_1 < 1:
            raise FashionGANError(f"beta_1 must be in [0, 1), got {config.beta_1}")
        if config.ema_momentum is None or not 0 <= config.ema_momentum < 1:
            raise FashionGANError(
                f"ema_momentum must be in [0, 1) (0 turns the average off), got {config.ema_momentum}"
            )
        if variant.conditional and variant.num_classes != dataset.num_classes:
            raise FashionGANError(
                f"variant {variant.name} draws {variant.num_classes} classes, but {config.dataset} has "
                f"{dataset.num_classes}"
            )
        return config

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(dataclasses.asdict(self), indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """A saved config, each field checked against its declared type."""
        try:
            saved = json.loads(path.read_text())
            config = cls(**saved)
        except (OSError, ValueError, TypeError) as error:
            raise FashionGANError(f"{path}: not a fashiongan run config ({error})") from None
        for name, hint in typing.get_type_hints(cls).items():
            if not _fits(getattr(config, name), hint):
                raise FashionGANError(f"{path}: {name} is {getattr(config, name)!r}, not {hint}")
        return config


def _fits(value: object, hint: object) -> bool:
    """Whether a JSON value fits a field's type: an integer fits a float field, a bool fits no
    number field."""
    kinds = typing.get_args(hint) or (hint,)
    if float in kinds:
        kinds = (*kinds, int)
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


def large_batch_lr_scale(batch_size: int, reference_batch_size: int) -> float:
    """The learning-rate rule for large batches: above the recipe's batch size, Adam's learning
    rate grows with the square root of the batch ratio (applied only to rates not given)."""
    return math.sqrt(batch_size / reference_batch_size) if batch_size > reference_batch_size else 1.0


# --- checkpoints ---------------------------------------------------------------------------------


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
    checkpoints = run_dir / CHECKPOINTS_DIR
    final = checkpoints / name
    temporary = checkpoints / f".{name}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        temporary.mkdir(parents=True)
        ensure_free_space(temporary, _checkpoint_bytes(gan, run_dir))
        gan.save_weights(temporary / "gan.weights.h5")
        state = {
            "epoch": epoch,
            "step": step,
            "step_in_epoch": step_in_epoch,
            "seed_generator_states": [np.asarray(v.numpy()).tolist() for v in _seed_states(gan)],
        }
        (temporary / "state.json").write_text(json.dumps(state))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    for old in list_checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old)
    return final


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


# --- steps and logs (the callbacks are in model/callbacks.py) -----------------------------------


def trained_steps(gan) -> int:
    """Steps trained so far: the generator optimizer's iteration count (one per step)."""
    return int(gan.g_optimizer.iterations.numpy())


def tensorboard_available() -> bool:
    """Keras' TensorBoard callback writes through tf.summary: TensorFlow must be importable
    (a JAX-only install has no writer)."""
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


# --- training ------------------------------------------------------------------------------------


def build_gan(config: TrainConfig, runtime=None, split: data.Split | None = None):
    """Build the variant's networks and the compiled GAN around them (weights seeded by
    config.seed), inside the runtime's distribution scope. With `split` under TensorFlow, its
    images and labels are copied to the training device and batches are indices into them
    (the JAX loop keeps its own device copy)."""
    import keras

    from fashiongan.model.gan import GAN, WarmupEMAAdam
    from fashiongan.model.variants import make_discriminator, make_generator

    variant = get_variant(config.variant)
    with quiet_stderr():  # seeds TensorFlow too where it is installed, whose import writes to fd 2
        keras.utils.set_random_seed(config.seed)
    policy = runtime.mixed_precision if runtime and runtime.mixed_precision else "float32"
    scope = runtime.strategy.scope() if runtime and runtime.strategy is not None else contextlib.nullcontext()
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    device_images = device_labels = None
    if split is not None and keras.backend.backend() == "tensorflow":
        device_images, device_labels = _tf_device_copies(split, runtime)
    try:
        with scope:
            d_optimizer = keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta_1)
            g_optimizer = (WarmupEMAAdam if config.ema_warmup else keras.optimizers.Adam)(
                config.g_learning_rate,
                beta_1=config.beta_1,
                use_ema=bool(config.ema_momentum),
                ema_momentum=config.ema_momentum or 0.99,
            )
            if policy == "mixed_float16":
                d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
                g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer)
            synchronized = runtime is not None and runtime.backend == "tensorflow" and runtime.replicas > 1
            gan = GAN(
                generator=make_generator(variant, synchronized=synchronized),
                discriminator=make_discriminator(variant),
                latent_dim=variant.latent_dim,
                loss=config.loss or variant.loss,
                label_noise=variant.label_noise,
                seed=config.seed,
                images=device_images,
                labels=device_labels,
                num_classes=variant.num_classes,
                value_range=variant.output_range,
                augment=spec.parse_augment(config.augment or ""),
            )
            gan.compile(
                d_optimizer=d_optimizer,
                g_optimizer=g_optimizer,
                jit_compile=runtime.jit_compile if runtime else False,
                steps_per_execution=runtime.steps_per_execution if runtime else 1,
            )
            gan.build_optimizers()
    finally:
        keras.config.set_dtype_policy(previous_policy)
    return gan


def _tf_device_copies(split: data.Split, runtime):
    """The split as tf.Variables: a mirrored copy per device; under MultiWorkerMirroredStrategy
    a local copy per worker, as collectives cannot broadcast uint8 and every worker holds the
    data already."""
    import tensorflow as tf

    strategy = runtime.strategy if runtime else tf.distribute.get_strategy()
    local = runtime is not None and runtime.strategy_name == "multiworker"
    with contextlib.nullcontext() if local else strategy.scope():
        images = tf.Variable(split.images, trainable=False, name="train_images")
        labels = tf.Variable(split.labels.astype("int32"), trainable=False, name="train_labels")
    return images, labels


def sampling_generator(gan, variant_name: str, target=None):
    """The generator to sample and export: float32 layers holding the moving average of the
    generator's weights (the raw weights where the average is off), with the raw generator's
    batch-norm statistics. Writes into `target` (a generator of the same variant) if given."""
    from fashiongan.model.variants import make_generator

    target = target or make_generator(variant_name)
    target.set_weights(gan.generator.get_weights())
    optimizer = getattr(gan.g_optimizer, "inner_optimizer", gan.g_optimizer)
    if optimizer.use_ema:
        for variable, average in zip(target.trainable_variables, optimizer._model_variables_moving_average):
            variable.assign(np.asarray(average.value))
    return target


def _check_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> None:
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


def train(
    config: TrainConfig, resume: bool = False, verbose: int | str = "auto", extra_callbacks: list | None = None
) -> Path:
    """Train (or resume) a run and write its final generator; returns the run directory.
    `extra_callbacks` are Keras callbacks, run after the project's own. Under
    MultiWorkerMirroredStrategy the chief writes the run directory and each other worker its
    own copy in <out>/.worker-N."""
    from fashiongan.model.runtime import resolve_runtime

    config = config.resolved()
    runtime = resolve_runtime(
        config.strategy, config.xla, config.steps_per_execution, config.mixed_precision, config.device_data
    )
    if config.time_budget and runtime.strategy_name == "multiworker":
        # each process would read its own clock and could stop a step before the others, which
        # then wait for it in the all-reduce for ever
        raise FashionGANError("--time-budget is for one process; with several workers use --max-steps")
    run_dir = Path(config.out)
    if not runtime.is_chief:
        run_dir = run_dir / f".worker-{runtime.worker_index}"
    _check_run_dir(run_dir, config, resume)
    split = data.load_dataset(config.dataset, "train", config.data_dir)
    assert config.batch_size is not None  # resolved() sets every field
    batches_per_epoch = len(split.images) // config.batch_size
    if batches_per_epoch == 0:
        raise FashionGANError(f"batch size {config.batch_size} is larger than the {len(split.images)} training images")
    if config.batch_size % runtime.replicas:
        raise FashionGANError(f"batch size {config.batch_size} does not split evenly over {runtime.replicas} replicas")
    steps_per_epoch = min(batches_per_epoch, config.steps_per_epoch or batches_per_epoch)
    with run_lock(run_dir):
        fresh = not (run_dir / CONFIG_FILE).exists()
        try:
            return _train_locked(config, runtime, run_dir, split, steps_per_epoch, resume, verbose, extra_callbacks)
        except TrainingError:
            if fresh and latest_checkpoint(run_dir) is None:  # nothing to resume: a corrected rerun starts anew
                (run_dir / CONFIG_FILE).unlink(missing_ok=True)
            raise


def _train_locked(config, runtime, run_dir, split, steps_per_epoch, resume, verbose, extra_callbacks) -> Path:
    """Build, restore and fit; config.json is written only once the networks are built and
    the checkpoint restored, so a start that fails leaves the folder as it found it."""
    variant = get_variant(config.variant)
    print(f"training {config.variant} on {config.dataset}: {runtime.describe()}")
    gan = build_gan(config, runtime, split if runtime.device_data else None)
    epoch, step_in_epoch = 0, 0
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        state = restore_checkpoint(gan, checkpoint, steps_per_epoch)
        epoch, step_in_epoch = state["epoch"], state["step_in_epoch"]
        where = f"epoch {epoch}" + (f" and {step_in_epoch} steps into the next" if step_in_epoch else "")
        print(f"resuming {run_dir} after {where} from {checkpoint}")
    config.save(run_dir / CONFIG_FILE)

    from fashiongan.model import callbacks as kinds
    from fashiongan.model.variants import generator_feed

    grid_count = config.grid_size**2
    grid_noise = np.random.default_rng(config.seed).standard_normal((grid_count, variant.latent_dim)).astype(np.float32)
    grid_labels = np.arange(grid_count, dtype=np.int32) % variant.num_classes if variant.conditional else None
    grid_inputs = generator_feed(grid_noise, grid_labels)
    grids = kinds.SampleGrid(config.variant, grid_inputs, variant.output_range, run_dir / SAMPLES_DIR, config.grid_size)
    nan_guard = kinds.StopOnNonFinite()
    callbacks = [
        nan_guard,
        grids,
        kinds.Checkpoint(run_dir, steps_per_epoch),
        kinds.HistoryCSV(run_dir / HISTORY_FILE, config.batch_size),
    ]
    if tensorboard_available():
        callbacks.append(kinds.FiniteTensorBoard(str(run_dir / "logs"), write_graph=False))
    else:
        print("TensorBoard logs skipped: no summary writer here (pip install tensorboard tensorflow to get them)")
    if config.max_steps:
        callbacks.append(kinds.StopAtStep(config.max_steps))
    budget = kinds.StopAtDeadline(config.time_budget * 60) if config.time_budget else None
    if budget:
        callbacks.append(budget)
    last_step = min(config.epochs * steps_per_epoch, config.max_steps or config.epochs * steps_per_epoch)
    if verbose == 2:  # a log or a pipe: Keras prints one line an epoch
        callbacks.append(kinds.ProgressLines(last_step, config.batch_size, budget))
    callbacks += extra_callbacks or []

    # A run stopped inside an epoch first finishes that epoch from where it stopped, then goes on
    # with whole epochs: the same batches, in the same order, as an uninterrupted run.
    segments = []
    if config.max_steps and trained_steps(gan) >= config.max_steps:
        epoch = config.epochs  # the cap is reached already: no step past it
    if step_in_epoch and epoch < config.epochs:
        segments.append((epoch, step_in_epoch))
        epoch += 1
    if epoch < config.epochs:
        segments.append((epoch, 0))
    for first_epoch, skip in segments:
        if gan.stop_training:
            break
        last_epoch = first_epoch + 1 if skip else config.epochs
        if runtime.backend == "jax":
            from fashiongan.model import jax_loop

            jax_loop.fit(gan, split, runtime, config.batch_size, steps_per_epoch, config.seed, first_epoch,
                         last_epoch, skip, callbacks, verbose, config.max_steps)  # fmt: skip
            continue
        dataset = data.make_train_dataset(
            split,
            config.batch_size,
            variant.output_range,
            steps_per_epoch,
            config.seed,
            first_epoch,
            with_labels=variant.conditional,
            indices_only=runtime.device_data,
            initial_step=skip,
        )
        gan.fit(
            dataset,
            epochs=last_epoch,
            initial_epoch=first_epoch,
            steps_per_epoch=steps_per_epoch - skip,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # each epoch's order is drawn in make_train_dataset
        )
    if nan_guard.failure:
        last = latest_checkpoint(run_dir)
        kept = f"the last good checkpoint is {last}" if last else "no epoch finished, so no checkpoint was kept"
        raise TrainingError(f"training stopped: {nan_guard.failure}; {kept}")

    save_generator(sampling_generator(gan, config.variant), run_dir / GENERATOR_FILE)
    step = trained_steps(gan)
    if budget and budget.reached and step < last_step:
        print(f"time budget of {config.time_budget:g} min reached at step {step} (epoch {step // steps_per_epoch + 1}, "
              f"{step % steps_per_epoch} steps in); --resume goes on from there")  # fmt: skip
    if grids.last_path:
        print(f"sample grids: {run_dir / SAMPLES_DIR}/ (last: {grids.last_path})")
    print(f"generator: {run_dir / GENERATOR_FILE}")
    return run_dir


def save_generator(generator, path: Path) -> Path:
    check_finite_weights(generator, "the end of training")
    temporary = path.with_name(f".{path.stem}.tmp.keras")
    try:
        ensure_free_space(path.parent, _variable_bytes(generator.variables))
        generator.save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
