"""Keras on JAX in a process of its own, with TensorFlow made unimportable (as in a
`pip install 'fashiongan[jax]'` environment without it).

    python tests/workers/jax_worker.py cli ARGS...      run `fashiongan ARGS...`
    python tests/workers/jax_worker.py steps DATA_DIR VARIANT...
                                                 one JAX train step per variant on DATA_DIR
    python tests/workers/jax_worker.py draws DATA_DIR     the random draws of two JAX steps in one device call
    python tests/workers/jax_worker.py runtime            the runtime `train` would pick here
    python tests/workers/jax_worker.py train CONFIG_JSON [POISON_EPOCH]
                                                 train(TrainConfig(**config)), resuming if
                                                 the run exists; POISON_EPOCH sets the
                                                 discriminator's weights to NaN when it begins

Last line of output: a JSON object with the result and `tensorflow_imported`.
"""

import json
import os
import sys

BLOCKED = ("tensorflow", "tf_keras", "tf2onnx")
for name in BLOCKED:
    sys.modules[name] = None  # type: ignore[assignment]  # import fails, find_spec finds nothing
os.environ["KERAS_BACKEND"] = "jax"


def one_step_per_variant(data_dir: str, names: list[str]) -> dict:
    """For each variant: losses after one step, and whether each network's weights moved."""
    import jax
    import numpy as np

    from fashiongan.model import data, jax_loop
    from fashiongan.model.runtime import resolve_runtime
    from fashiongan.model.train import TrainConfig, build_gan

    split = data.load_dataset("fashion_mnist", "train", data_dir)
    runtime = resolve_runtime()
    results = {}
    for name in names:  # a variant, or VARIANT:OPTION=VALUE (true/false for a switch)
        variant, _, option = name.partition(":")
        key, _, value = option.partition("=")
        overrides = {key: {"true": True, "false": False}.get(value, value)} if key else {}
        gan = build_gan(TrainConfig(variant=variant, batch_size=8, **overrides).resolved(), runtime)
        before = {part: trainable_weights(getattr(gan, part)) for part in ("generator", "discriminator")}
        batches = jax.device_put(data.epoch_batches(0, 0, len(split.images), 8, 1))
        sums = {metric: np.float32(0) for metric in jax_loop.METRICS}
        run_steps = jax_loop.make_run_steps(gan)
        state, sums = run_steps(jax_loop.read_state(gan), sums, batches, np.int32(0), np.int32(0),
                                split.images, split.labels.astype(np.int32), count=1)  # fmt: skip
        jax_loop.write_state(gan, state)
        moved = {
            part: max(float(np.abs(a - b).max()) for a, b in zip(trainable_weights(getattr(gan, part)), weights))
            for part, weights in before.items()
        }
        averages = [np.asarray(v.value) for v in gan.g_optimizer._model_variables_moving_average]
        moved["generator_average"] = max(float(np.abs(a - b).max()) for a, b in zip(averages, before["generator"]))
        results[name] = {
            "losses": {metric: float(value) for metric, value in sums.items()},
            "moved": moved,
            "iterations": int(gan.g_optimizer.iterations.numpy()),
        }
    return results


def draws_of_two_steps(data_dir: str) -> list[dict]:
    """Every random draw of two steps run in one device call (the dense variant under
    translation, given label noise as the fashiongan variant has): the step it was made at, its
    kind, and a fingerprint of the stream it came from (a uniform draw of the same seed, step and
    offset), recorded as it runs."""
    import jax
    import numpy as np

    from fashiongan.model import data, gan, jax_loop
    from fashiongan.model.runtime import resolve_runtime
    from fashiongan.model.train import TrainConfig, build_gan

    records: list[dict] = []
    draw = gan.stateless_draw

    def recording_draw(kind, shape, seed_base, step, offset=0):
        def record(at, fingerprint):
            records.append({"kind": kind, "step": int(at), "fingerprint": np.asarray(fingerprint).tolist()})

        jax.debug.callback(record, step, draw("uniform", (4,), seed_base, step, offset), ordered=True)
        return draw(kind, shape, seed_base, step, offset)

    gan.stateless_draw = recording_draw
    split = data.load_dataset("fashion_mnist", "train", data_dir)
    model = build_gan(TrainConfig(variant="dense", batch_size=8, augment="translation").resolved(), resolve_runtime())
    model.label_noise = 0.15  # the dense networks compile in seconds
    batches = jax.device_put(data.epoch_batches(0, 0, len(split.images), 8, 2))
    sums = {metric: np.float32(0) for metric in jax_loop.METRICS}
    jax_loop.make_run_steps(model)(jax_loop.read_state(model), sums, batches, np.int32(0), np.int32(0),
                                   split.images, split.labels.astype(np.int32), count=2)  # fmt: skip
    jax.effects_barrier()
    return records


def trainable_weights(model) -> list:
    import numpy as np

    return [np.array(variable.numpy()) for variable in model.trainable_variables]


def train_run(config: dict, poison_epoch: int | None) -> dict:
    """train() on JAX; returns the error message if training stopped with one."""
    from pathlib import Path

    import keras
    import numpy as np

    from fashiongan.errors import FashionGANError
    from fashiongan.model.train import TrainConfig, train

    class PoisonDiscriminator(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == poison_epoch:
                weights = self.model.discriminator.get_weights()
                weights[-2][...] = np.nan
                self.model.discriminator.set_weights(weights)

    resume = (Path(config["out"]) / "config.json").is_file()
    try:
        train(TrainConfig(**config), resume=resume, verbose=0, extra_callbacks=[PoisonDiscriminator()])
    except FashionGANError as error:
        return {"error": str(error)}
    return {"error": None}


def main() -> None:
    mode, *args = sys.argv[1:]
    result: object
    if mode == "cli":
        from fashiongan.cli import main as cli_main

        result = cli_main(args)
    elif mode == "runtime":
        import dataclasses

        from fashiongan.model.runtime import resolve_runtime

        runtime = dataclasses.asdict(resolve_runtime())
        result = {key: value for key, value in runtime.items() if key != "strategy"}
    elif mode == "draws":
        result = draws_of_two_steps(args[0])
    elif mode == "train":
        result = train_run(json.loads(args[0]), int(args[1]) if len(args) > 1 else None)
    else:
        result = one_step_per_variant(args[0], args[1:])
    imported = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED and sys.modules[name] is not None)
    print(json.dumps({"result": result, "tensorflow_imported": imported}))


if __name__ == "__main__":
    main()
