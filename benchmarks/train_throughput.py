"""Training images per second for each variant on this machine, on real data.

    python benchmarks/train_throughput.py [--variants dense,fashiongan,dcgan] [--steps 30] [--batch-size N]

Each variant runs a few warm-up steps, then `--steps` timed steps of the project's training
(GAN.train_step driven by fit over the tf.data pipeline), at the variant's own batch size unless
--batch-size is given.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="dense,fashiongan,dcgan")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--data-dir")
    args = parser.parse_args()

    import tensorflow as tf

    from model import data
    from model.train import TrainConfig, build_gan
    from model.variants import get_variant

    split = data.load_dataset("fashion_mnist", "train", args.data_dir)
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, devices: "
          f"{[d.device_type for d in tf.config.list_physical_devices()]}")
    print(f"{'variant':<12} {'batch':>6} {'steps':>6} {'images/s':>10} {'s/epoch (60k)':>14}")
    for name in args.variants.split(","):
        variant = get_variant(name)
        config = TrainConfig(variant=name, batch_size=args.batch_size).resolved()
        gan = build_gan(config)
        steps = args.warmup + args.steps
        dataset = data.make_train_dataset(split, config.batch_size, variant.output_range, steps, 0)
        gan.fit(dataset.take(args.warmup), epochs=1, verbose=0, shuffle=False)
        started = time.perf_counter()
        gan.fit(dataset.skip(args.warmup).take(args.steps), epochs=1, verbose=0, shuffle=False)
        seconds = time.perf_counter() - started
        rate = args.steps * config.batch_size / seconds
        print(f"{name:<12} {config.batch_size:>6} {args.steps:>6} {rate:>10.0f} {60000 / rate:>14.0f}")


if __name__ == "__main__":
    main()
