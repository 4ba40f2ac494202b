"""`fit` for the JAX backend: `GAN.stateless_train_step` jitted whole, several steps per host
call, the dataset on the device, the project's Keras callbacks driven as `keras.Model.fit`
drives them.

Keras' own JAX `fit` keeps one optimizer's state; a GAN has two, so this loop holds the state
itself: the values of both networks' and both optimizers' variables. After each host call they
are written back into the Keras variables (a reference swap, no copy), so callbacks, checkpoints
and `sampling_generator` read the model as they do under TensorFlow.

The uint8 images stay on the device for the whole run; an epoch's batches (int32 indices from
`data.epoch_batches`) are copied there once per epoch and gathered and scaled inside the step.
Device calls run a power of two of steps, up to the runtime's steps per execution (see
`chunk_size`). Under `keras.distribution.DataParallel` the batch axis is split over the devices (and over
processes after `keras.distribution.initialize`); the variables are replicated and the step
sees the global batch, so the same seed gives the same run on one device or several.
"""

from __future__ import annotations

import weakref

import numpy as np

from fashiongan.model import data

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # gan -> {settings: run_steps}
STATE_KEYS = ("g_trainable", "g_non_trainable", "d_trainable", "d_non_trainable", "g_optimizer", "d_optimizer")
METRICS = ("d_loss", "g_loss", "d_real", "d_fake")


def _state_variables(gan) -> dict:
    """The Keras variables behind each part of the loop's state, in a fixed order."""
    return {
        "g_trainable": gan.generator.trainable_variables,
        "g_non_trainable": gan.generator.non_trainable_variables,
        "d_trainable": gan.discriminator.trainable_variables,
        "d_non_trainable": gan.discriminator.non_trainable_variables,
        "g_optimizer": gan.g_optimizer.variables,
        "d_optimizer": gan.d_optimizer.variables,
    }


def read_state(gan) -> dict:
    return {key: [variable.value for variable in variables] for key, variables in _state_variables(gan).items()}


def write_state(gan, state: dict) -> None:
    for key, variables in _state_variables(gan).items():
        for variable, value in zip(variables, state[key]):
            variable.assign(value)


def make_run_steps(gan, jit: bool = True, donate: bool = False, unroll: bool = False):
    """run_steps(state, sums, batches, start, first_step, images, labels, count) -> (state,
    sums): steps start .. start+count-1 of an epoch's `batches` in one device call, the global
    step counter starting at `first_step`; `sums` accumulate each metric over the epoch (a
    non-finite step leaves them non-finite). `count` is static: a loop of known trip count,
    which `unroll` writes out in full (XLA:CPU runs convolutions inside a loop about 8x slower
    than outside one)."""
    import jax
    import jax.numpy as jnp

    def run_steps(state, sums, batches, start, first_step, images, labels, count):
        def body(carry, offset):
            state, sums = carry
            batch = jax.lax.dynamic_index_in_dim(batches, start + offset, keepdims=False)
            state, logs = gan.stateless_train_step(state, batch, first_step + offset, images, labels)
            return (state, {name: sums[name] + logs[name].astype(jnp.float32) for name in METRICS}), None

        if count == 1:
            return body((state, sums), 0)[0]
        return jax.lax.scan(body, (state, sums), jnp.arange(count, dtype=jnp.int32), unroll=unroll)[0]

    if not jit:
        return run_steps
    return jax.jit(run_steps, static_argnames="count", donate_argnums=(0, 1) if donate else ())


def compiled_run_steps(gan, jit: bool, donate: bool, unroll: bool):
    """make_run_steps, once per GAN and settings: a resume that trains in two segments (the rest
    of an epoch, then whole epochs) reuses the compiled programs."""
    programs = _COMPILED.setdefault(gan, {})
    if (jit, donate, unroll) not in programs:
        programs[(jit, donate, unroll)] = make_run_steps(gan, jit, donate, unroll)
    return programs[(jit, donate, unroll)]


def chunk_size(step: int, remaining: int, chunk: int) -> int:
    """Steps in the next device call: the largest power of two up to `chunk` and `remaining`
    that divides the global `step`. Calls start at multiples of their length, so an epoch's
    ragged end, a short epoch or a `--max-steps` stop costs a few smaller programs (one per
    power of two, six at most for 32) instead of single steps."""
    count = 1
    while count * 2 <= min(chunk, remaining) and step % (count * 2) == 0:
        count *= 2
    return count


class Placement:
    """Where arrays go: one device, or split along the batch axis by a DataParallel layout."""

    def __init__(self, distribution):
        import jax
        from jax.sharding import NamedSharding, PartitionSpec, Sharding, SingleDeviceSharding

        self.batches: Sharding
        self.replicated: Sharding

        if distribution is None:
            self.batches = self.replicated = SingleDeviceSharding(jax.devices()[0])
        else:
            mesh = distribution.device_mesh.backend_mesh
            self.batches = NamedSharding(mesh, PartitionSpec(None, distribution.batch_dim_name))
            self.replicated = NamedSharding(mesh, PartitionSpec())

    def put(self, array: np.ndarray, sharding):
        """A global array from the same host array in every process (each provides its shards)."""
        import jax

        return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def fit(
    gan,
    split: data.Split,
    runtime,
    *,
    batch_size: int,
    steps_per_epoch: int,
    seed: int,
    initial_epoch: int,
    epochs: int,
    initial_step: int = 0,
    callbacks: list | None = None,
    verbose: int | str = "auto",
    max_steps: int | None = None,
) -> None:
    """Train epochs `initial_epoch` .. `epochs - 1` (the first from `initial_step`, a run that
    stopped inside it), calling `callbacks` as keras.Model.fit does. Stops at `max_steps` steps
    in all, or when a callback sets `gan.stop_training`."""
    import jax
    import keras

    placement = Placement(runtime.strategy)
    images = placement.put(np.ascontiguousarray(split.images), placement.replicated)
    labels = placement.put(split.labels.astype(np.int32), placement.replicated)
    on_gpu = runtime.device == "GPU"
    run_steps = compiled_run_steps(gan, jit=runtime.jit_compile, donate=on_gpu, unroll=not on_gpu)
    chunk = runtime.steps_per_execution
    if verbose == "auto":
        verbose = 1
    callback_list = keras.callbacks.CallbackList(
        callbacks,
        add_history=False,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch - initial_step if epochs == initial_epoch + 1 else steps_per_epoch,
        model=gan,
    )
    gan.stop_training = False
    step = int(gan.g_optimizer.iterations.numpy())
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        skip = initial_step if epoch == initial_epoch else 0
        batches = placement.put(data.epoch_batches(seed, epoch, len(split.images), batch_size, steps_per_epoch),
                                placement.batches)  # fmt: skip
        callback_list.on_epoch_begin(epoch)
        # read after the callbacks, which may set weights; committed arrays: one compilation
        state = jax.device_put(read_state(gan), placement.replicated)
        sums = jax.device_put({name: np.float32(0) for name in METRICS}, placement.replicated)
        logs: dict = {}
        position = skip
        while position < steps_per_epoch and not gan.stop_training:
            remaining = steps_per_epoch - position
            if max_steps is not None:
                remaining = min(remaining, max_steps - step)
            if remaining <= 0:
                gan.stop_training = True
                break
            count = chunk_size(step, remaining, chunk)
            at = np.int32(position), np.int32(step)
            state, sums = run_steps(state, sums, batches, *at, images, labels, count=count)
            write_state(gan, state)
            position, step = position + count, step + count
            logs = {name: float(value) / (position - skip) for name, value in jax.device_get(sums).items()}
            callback_list.on_train_batch_end(position - skip - 1, logs)
            if max_steps is not None and step >= max_steps:
                gan.stop_training = True
        callback_list.on_epoch_end(epoch, logs)
        if gan.stop_training:
            break
    callback_list.on_train_end()
