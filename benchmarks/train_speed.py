"""Training speed: this project's training against a plain implementation of the tutorial loop.

    python benchmarks/train_speed.py [--variants dense,fashiongan,dcgan] [--batch-size 256] [--steps N]
                                     [--xla auto|on|off] [--steps-per-execution K] [--mixed-precision M]
                                     [--device-data auto|on|off] [--data-dir DIR]

Both sides train the same architecture with the same batch size and optimizer on the same real
Fashion-MNIST, on the same device, in one run. The tutorial loop is TensorFlow's DCGAN tutorial:
a GradientTape step in a tf.function over a tf.data pipeline (from_tensor_slices, shuffle,
batch) of images scaled in numpy. The project side is `fit()` on the GAN with the runtime
settings `fashiongan train` would pick for this device (override them with the flags). Each side
runs a few warm-up steps, then `--steps` timed steps; images per second and the ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DEFAULT_STEPS = {"dense": 100, "fashiongan": 6, "dcgan": 30}


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
            generated_images = generator({"noise": noise}, training=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="dense,fashiongan,dcgan")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, help="timed steps per side (default: per variant)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--xla", default="auto")
    parser.add_argument("--steps-per-execution", type=int)
    parser.add_argument("--mixed-precision", default="auto")
    parser.add_argument("--device-data", default="auto")
    parser.add_argument("--data-dir")
    args = parser.parse_args()

    from fashiongan.model import data
    from fashiongan.model.runtime import describe_hardware, resolve_runtime
    from fashiongan.model.train import TrainConfig
    from fashiongan.spec import get_variant

    conditional = [name for name in args.variants.split(",") if get_variant(name).conditional]
    if conditional:
        parser.error(f"{', '.join(conditional)}: conditional; the tutorial loop compared against takes no labels")
    runtime = resolve_runtime(args.strategy, args.xla, args.steps_per_execution, args.mixed_precision, args.device_data)
    import tensorflow as tf

    split = data.load_dataset("fashion_mnist", "train", args.data_dir)
    print(f"TensorFlow {tf.__version__}; {describe_hardware()}")
    print(f"project runtime: {runtime.describe()}")
    print("| variant | batch | steps | tutorial loop (images/s) | fashiongan (images/s) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in args.variants.split(","):
        variant = get_variant(name)
        steps = args.steps or DEFAULT_STEPS.get(name, 20)
        config = TrainConfig(
            variant=name,
            batch_size=args.batch_size,
            g_learning_rate=variant.g_learning_rate,
            d_learning_rate=variant.d_learning_rate,
        ).resolved()
        tutorial = tutorial_images_per_second(variant, split.images, args.batch_size, steps, args.warmup)
        project = project_images_per_second(config, runtime, split, steps, args.warmup)
        print(f"| {name} | {args.batch_size} | {steps} | {tutorial:,.0f} | {project:,.0f} | {project / tutorial:.2f} |")


if __name__ == "__main__":
    main()
