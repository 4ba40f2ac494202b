"""Train a GAN variant: one plain `train(config)` function, on Keras' TensorFlow backend (`fit()`)
or its JAX backend (`jax_loop.fit`), whichever Keras was loaded on. The settings are in
`config.py`, the run folder's files and checkpoints in `run_folder.py`, the callbacks in
`callbacks.py`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from fashiongan import spec
from fashiongan.errors import FashionGANError
from fashiongan.extras import quiet_stderr
from fashiongan.model import callbacks as kinds
from fashiongan.model import data
from fashiongan.model.config import TrainConfig
from fashiongan.model.run_folder import (
    CONFIG_FILE,
    DATASET_FILE,
    GENERATOR_FILE,
    HISTORY_FILE,
    SAMPLES_DIR,
    TrainingError,
    check_run_dir,
    latest_checkpoint,
    restore_checkpoint,
    run_lock,
    save_generator,
    trained_steps,
    write_dataset_record,
)
from fashiongan.model.variants import generator_feed, sampling_generator


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

    variant = config.variant_spec()
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
    check_run_dir(run_dir, config, resume)
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
            return _train_locked(
                config,
                runtime,
                run_dir,
                split=split,
                steps_per_epoch=steps_per_epoch,
                resume=resume,
                verbose=verbose,
                extra_callbacks=extra_callbacks,
            )
        except TrainingError:
            if fresh and latest_checkpoint(run_dir) is None:  # nothing to resume: a corrected rerun starts anew
                (run_dir / CONFIG_FILE).unlink(missing_ok=True)
                (run_dir / DATASET_FILE).unlink(missing_ok=True)
            raise


def _train_locked(
    config: TrainConfig,
    runtime,
    run_dir: Path,
    *,
    split: data.Split,
    steps_per_epoch: int,
    resume: bool,
    verbose,
    extra_callbacks: list | None,
) -> Path:
    """Build, restore and fit; config.json is written only once the networks are built and
    the checkpoint restored, so a start that fails leaves the folder as it found it."""
    variant = config.variant_spec()
    batch_size = config.batch_size
    assert batch_size is not None, "train() resolves the config before it gets here"
    print(f"training {config.variant} on {config.dataset}: {runtime.describe()}")
    gan = build_gan(config, runtime, split if runtime.device_data else None)
    epoch, step_in_epoch = 0, 0
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        state = restore_checkpoint(gan, checkpoint, steps_per_epoch)
        epoch, step_in_epoch = state["epoch"], state["step_in_epoch"]
        where = f"epoch {epoch}" + (f" and {step_in_epoch} steps into the next" if step_in_epoch else "")
        print(f"resuming {run_dir} after {where} from {checkpoint}")
    write_dataset_record(run_dir, config.dataset, config.data_dir)
    config.save(run_dir / CONFIG_FILE)

    grid_count = config.grid_size**2
    grid_noise = np.random.default_rng(config.seed).standard_normal((grid_count, variant.latent_dim)).astype(np.float32)
    grid_labels = np.arange(grid_count, dtype=np.int32) % variant.num_classes if variant.conditional else None
    grid_inputs = generator_feed(grid_noise, grid_labels)
    grids = kinds.SampleGrid(variant, grid_inputs, variant.output_range, run_dir / SAMPLES_DIR, config.grid_size)
    nan_guard = kinds.StopOnNonFinite()
    callbacks = [
        nan_guard,
        grids,
        kinds.Checkpoint(run_dir, steps_per_epoch),
        kinds.HistoryCSV(run_dir / HISTORY_FILE, batch_size),
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
        callbacks.append(kinds.ProgressLines(last_step, batch_size, budget))
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

            jax_loop.fit(
                gan,
                split,
                runtime,
                batch_size=batch_size,
                steps_per_epoch=steps_per_epoch,
                seed=config.seed,
                initial_epoch=first_epoch,
                epochs=last_epoch,
                initial_step=skip,
                callbacks=callbacks,
                verbose=verbose,
                max_steps=config.max_steps,
            )
            continue
        dataset = data.make_train_dataset(
            split,
            batch_size,
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

    save_generator(sampling_generator(gan, variant), run_dir / GENERATOR_FILE)
    step = trained_steps(gan)
    if budget and budget.reached and step < last_step:
        print(f"time budget of {config.time_budget:g} min reached at step {step} (epoch {step // steps_per_epoch + 1}, "
              f"{step % steps_per_epoch} steps in); --resume goes on from there")  # fmt: skip
    if grids.last_path:
        print(f"sample grids: {run_dir / SAMPLES_DIR}/ (last: {grids.last_path})")
    print(f"generator: {run_dir / GENERATOR_FILE}")
    return run_dir
