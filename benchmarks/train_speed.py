"""Training speed: this project on TensorFlow and on JAX, against TensorFlow's tutorial loop and
a plain PyTorch DCGAN (eager and torch.compile), on the same device in one run.

    python benchmarks/train_speed.py [--sides tf-tutorial,tensorflow,jax,torch-eager,torch-compile]
                                     [--variants dense,fashiongan,dcgan] [--batch-size 256] [--steps N]
                                     [--xla auto|on|off] [--steps-per-execution K] [--mixed-precision M]
                                     [--device-data auto|on|off] [--peak-tflops T] [--data-dir DIR]

Every side trains the same architecture with the same batch size and optimizer on the same real
Fashion-MNIST, each in a process of its own (Keras' backend is chosen per process); a side
whose framework is not installed is reported as missing, so the script runs as it is on a GPU
machine without TensorFlow.
- tf-tutorial: TensorFlow's DCGAN tutorial, a GradientTape step in a tf.function over a
  tf.data pipeline (from_tensor_slices, shuffle, batch) of images scaled in numpy.
- tensorflow: `fit()` on the GAN with the runtime `fashiongan train` picks for the device.
- jax: the JAX loop's jitted steps with the runtime `fashiongan train --backend jax` picks (the
  dataset on the device, several steps per call on a GPU); also its XLA FLOP count per image and
  the fraction of `--peak-tflops` reached.
- torch-eager, torch-compile: `torch_dcgan.py` (dcgan only), autocast bfloat16 where the device
  has it.
Each side runs a few warm-up steps, then `--steps` timed steps; images per second and the ratios
to the PyTorch and tutorial references are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, add_docs_option, comma_names, existing_folder, run_script, script_parser

from fashiongan import spec
from fashiongan.cli import positive_float, positive_int

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DEFAULT_STEPS = {"dense": 100, "fashiongan": 6, "dcgan": 30}
SIDES = ("tf-tutorial", "tensorflow", "jax", "torch-eager", "torch-compile")
SIDE_NEEDS = {"tf-tutorial": "tensorflow", "tensorflow": "tensorflow", "jax": "jax", "torch-eager": "torch",
              "torch-compile": "torch"}  # fmt: skip
# bfloat16 matrix rates in TFLOP/s by device name: the H100/H200 figure is the rate the device
# tool's notes give for these machines (the data sheet's dense peak is about 989), A100 its data sheet
PEAK_TFLOPS = {"H100": 790.0, "H200": 790.0, "A100": 312.0}


def tutorial_images_per_second(variant, images, batch_size: int, steps: int, warmup: int) -> float:
    """TensorFlow's DCGAN tutorial loop, written out as the tutorial has it."""
    import keras
    import numpy as np
    import tensorflow as tf

    low, high = variant.output_range
    train_images = (images.reshape(-1, 28, 28, 1).astype("float32") / 255.0) * (high - low) + low
    dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(60000).batch(batch_size, drop_remainder=True)
    from fashiongan.model.variants import make_discriminator, make_generator

    generator = make_generator(variant)
    discriminator = make_discriminator(variant)
    generator_optimizer = keras.optimizers.Adam(variant.g_learning_rate)
    discriminator_optimizer = keras.optimizers.Adam(variant.d_learning_rate)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(batch):
        noise = tf.random.normal([batch_size, variant.latent_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator({"images": batch}, training=True)
            fake_output = discriminator({"images": generated_images}, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
                tf.zeros_like(fake_output), fake_output
            )
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
        return gen_loss

    batches = iter(dataset.repeat())
    for _ in range(warmup):
        train_step(next(batches))
    started = time.perf_counter()
    for _ in range(steps):
        loss = train_step(next(batches))
    np.asarray(loss)  # wait for the last step
    return steps * batch_size / (time.perf_counter() - started)


def project_images_per_second(config, runtime, split, steps: int, warmup: int) -> float:
    from fashiongan.model import data
    from fashiongan.model.train import build_gan
    from fashiongan.spec import get_variant

    variant = get_variant(config.variant)
    gan = build_gan(config, runtime, split if runtime.device_data else None)
    total = warmup + steps
    dataset = data.make_train_dataset(
        split, config.batch_size, variant.output_range, total, 0, indices_only=runtime.device_data
    )
    gan.fit(dataset.take(warmup), epochs=1, verbose=0, shuffle=False)
    started = time.perf_counter()
    gan.fit(dataset.skip(warmup).take(steps), epochs=1, verbose=0, shuffle=False)
    return steps * config.batch_size / (time.perf_counter() - started)


def jax_images_per_second(config, runtime, split, steps: int, warmup: int) -> dict:
    """The JAX loop's jitted steps on the device dataset, timed; with XLA's FLOP count."""
    import jax
    import numpy as np

    from fashiongan.model import data, jax_loop
    from fashiongan.model.train import build_gan

    gan = build_gan(config, runtime)
    chunk = runtime.steps_per_execution
    calls_warmup, calls = max(1, warmup // chunk), max(1, steps // chunk)
    total = (calls_warmup + calls) * chunk
    placement = jax_loop.Placement(runtime.strategy)
    images = placement.put(split.images, placement.replicated)
    labels = placement.put(split.labels.astype(np.int32), placement.replicated)
    count = len(split.images)
    per_epoch = count // config.batch_size
    order = np.concatenate([data.epoch_batches(0, epoch, count, config.batch_size, per_epoch)
                            for epoch in range(total // per_epoch + 1)])[:total]  # fmt: skip
    batches = placement.put(order, placement.batches)
    run_steps = jax_loop.make_run_steps(gan, runtime.jit_compile, runtime.device == "GPU", runtime.device != "GPU")
    state = jax.device_put(jax_loop.read_state(gan), placement.replicated)
    sums = jax.device_put({name: np.float32(0) for name in jax_loop.METRICS}, placement.replicated)
    flops = None
    if runtime.jit_compile:  # one step's program: XLA counts a loop's body once, whatever its trip count
        arguments = (state, sums, batches, np.int32(0), np.int32(0), images, labels)
        cost = run_steps.lower(*arguments, count=1).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        flops = float(cost.get("flops", 0.0)) / config.batch_size if cost else None
    position = 0
    for _ in range(calls_warmup):
        state, sums = run_steps(state, sums, batches, np.int32(position), np.int32(position), images, labels,
                                count=chunk)  # fmt: skip
        position += chunk
    jax.block_until_ready(sums)
    started = time.perf_counter()
    for _ in range(calls):
        state, sums = run_steps(state, sums, batches, np.int32(position), np.int32(position), images, labels,
                                count=chunk)  # fmt: skip
        jax.device_get(sums)  # the one host read per call that `fashiongan train` makes for its logs
        position += chunk
    seconds = time.perf_counter() - started
    return {"images_per_second": calls * chunk * config.batch_size / seconds, "flops_per_image": flops,
            "finite": bool(np.isfinite(float(sums["d_loss"])))}  # fmt: skip


def run_side(args) -> dict:
    """One side in this process: {"images_per_second": ..., "describe": ..., ...}."""
    side, (name,) = args.side, args.variants
    if side.startswith("torch"):
        import torch
        from torch_dcgan import images_per_second

        from fashiongan.model import data

        split = data.load_dataset("fashion_mnist", "train", args.data_dir)
        device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
        speed = images_per_second(split.images, args.batch_size, args.steps, args.warmup, side == "torch-compile")
        return {"images_per_second": speed, "describe": f"PyTorch {torch.__version__} on {device}"}
    os.environ["KERAS_BACKEND"] = "jax" if side == "jax" else "tensorflow"
    import keras

    from fashiongan.model import data
    from fashiongan.model.config import TrainConfig
    from fashiongan.model.runtime import describe_hardware, resolve_runtime
    from fashiongan.spec import get_variant

    split = data.load_dataset("fashion_mnist", "train", args.data_dir)
    variant = get_variant(name)
    versions = f"Keras {keras.__version__} on {keras.backend.backend()}; {describe_hardware()}"
    if side == "tf-tutorial":
        speed = tutorial_images_per_second(variant, split.images, args.batch_size, args.steps, args.warmup)
        return {"images_per_second": speed, "describe": versions}
    runtime = resolve_runtime(args.strategy, args.xla, args.steps_per_execution, args.mixed_precision,
                              "auto" if side == "jax" else args.device_data)  # fmt: skip
    config = TrainConfig(variant=name, batch_size=args.batch_size, g_learning_rate=variant.g_learning_rate,
                         d_learning_rate=variant.d_learning_rate).resolved()  # fmt: skip
    describe = f"{versions}; {runtime.describe()}"
    if side == "jax":
        return {**jax_images_per_second(config, runtime, split, args.steps, args.warmup), "describe": describe}
    speed = project_images_per_second(config, runtime, split, args.steps, args.warmup)
    return {"images_per_second": speed, "describe": describe}


def measure(side: str, name: str, args, steps: int) -> dict:
    """Run one side in a child process; {"missing": ...} where its framework is absent."""
    needed = SIDE_NEEDS[side]
    if importlib.util.find_spec(needed) is None:
        return {"missing": f"no {needed}"}
    if side.startswith("torch") and name != "dcgan":
        return {"missing": "dcgan only"}
    command = [sys.executable, __file__, "--side", side, "--variants", name, "--steps", str(steps)]
    for flag in ("batch_size", "warmup", "strategy", "xla", "steps_per_execution", "mixed_precision",
                 "device_data", "data_dir"):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            command += [f"--{flag.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"missing": "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_tflops(args, results: dict) -> float | None:
    if args.peak_tflops is not None:
        return args.peak_tflops
    described = " ".join(result.get("describe", "") for result in results.values())
    return next((peak for name, peak in PEAK_TFLOPS.items() if name in described), None)


def format_speed(result: dict) -> str:
    return f"{result['images_per_second']:,.0f}" if "images_per_second" in result else result["missing"]


def speed_ratio(results: dict, side: str, reference: str) -> str:
    speed, base = (results.get(key, {}).get("images_per_second") for key in (side, reference))
    return f"{speed / base:.2f}" if speed and base else "–"


def peak_cells(jax_result: dict, peak: float | None) -> list[str]:
    """XLA's FLOPs per image, and the fraction of the device's peak they run at."""
    flops, speed = jax_result.get("flops_per_image"), jax_result.get("images_per_second")
    if not flops:
        return ["–", "–"]
    fraction = f"{100 * flops * speed / (peak * 1e12):.1f}" if peak and speed else "–"
    return [f"{flops / 1e9:.2f}", fraction]


def parse_arguments() -> argparse.Namespace:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--sides", type=comma_names(SIDES, "side"), default=",".join(SIDES))
    parser.add_argument("--variants", type=comma_names(spec.VARIANTS, "variant"), default="dense,fashiongan,dcgan")
    parser.add_argument("--batch-size", type=positive_int, default=256)
    parser.add_argument("--steps", type=positive_int, help="timed steps per side (default: per variant)")
    parser.add_argument("--warmup", type=positive_int, default=3, help="untimed steps first (the first compiles)")
    parser.add_argument("--strategy", choices=spec.STRATEGIES, default="auto")
    parser.add_argument("--xla", choices=spec.SWITCHES, default="auto")
    parser.add_argument("--steps-per-execution", type=positive_int)
    parser.add_argument("--mixed-precision", choices=spec.MIXED_PRECISION, default="auto")
    parser.add_argument("--device-data", choices=spec.SWITCHES, default="auto")
    parser.add_argument(
        "--peak-tflops", type=positive_float, help="the device's peak, for the JAX side's fraction of it"
    )
    parser.add_argument("--data-dir", type=existing_folder)
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # a child process's one side
    add_docs_option(parser, "train_speed")
    args = parser.parse_args()
    conditional = [name for name in args.variants if spec.VARIANTS[name].conditional]
    if conditional:
        parser.error(f"{', '.join(conditional)}: conditional; the reference loops compared against take no labels")
    return args


def main() -> None:
    args = parse_arguments()
    if args.side:
        print(json.dumps(run_side(args)))
        return
    report = Report("train_speed", args.docs)
    sides, ratios = args.sides, ("torch-eager", "torch-compile", "tf-tutorial")
    header = [f"{side} (images/s)" for side in sides] + [f"jax / {side}" for side in ratios]
    header += ["jax GFLOP/image", "jax % of peak"]
    report.print("| variant | batch | steps | " + " | ".join(header) + " |")
    report.print("| --- | ---: | ---: | " + " | ".join("---:" for _ in header) + " |")
    notes = set()
    for name in args.variants:
        steps = args.steps if args.steps is not None else DEFAULT_STEPS.get(name, 20)
        results = {side: measure(side, name, args, steps) for side in sides}
        notes.update(result["describe"] for result in results.values() if "describe" in result)
        cells = [format_speed(results[side]) for side in sides]
        cells += [speed_ratio(results, "jax", side) for side in ratios]
        cells += peak_cells(results.get("jax", {}), peak_tflops(args, results))
        report.print(f"| {name} | {args.batch_size} | {steps} | " + " | ".join(cells) + " |")
    for note in sorted(notes):
        report.print(f"- {note}")
    report.write()


if __name__ == "__main__":
    run_script(main, __file__)
