"""The generator an export starts from: a run folder or a lone `.keras` file, loaded as the
variant's own generator and checked before any writer runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashiongan import spec
from fashiongan.errors import describe_error
from fashiongan.export.serving import ExportError
from fashiongan.spec import LABEL_INPUT, NOISE_INPUT, DatasetSpec, VariantSpec, get_dataset, get_variant, variant_for


@dataclass(frozen=True)
class Source:
    """A generator to export, with what is known of the run it came from."""

    generator: Any  # keras.Model
    variant: VariantSpec
    dataset: DatasetSpec
    training: dict


def load_source(path: str | os.PathLike, variant: str | None = None, dataset: str | None = None) -> Source:
    """A run directory (generator.keras + config.json) or a .keras generator file."""
    from fashiongan.model import data
    from fashiongan.model.config import TrainConfig
    from fashiongan.model.run_folder import CONFIG_FILE, GENERATOR_FILE, dataset_of_run, latest_checkpoint, read_state

    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path}: no such run directory or .keras file")
    run_dir = path if path.is_dir() else path.parent
    model_path = path / GENERATOR_FILE if path.is_dir() else path
    if not model_path.is_file():
        raise ExportError(f"{path}: no {GENERATOR_FILE} in it (has the run finished?)")
    training: dict = {}
    dataset_row = data.dataset_spec(dataset) if dataset else None
    config_path = run_dir / CONFIG_FILE
    if config_path.is_file():
        config = TrainConfig.load(config_path)
        checkpoint = latest_checkpoint(run_dir)
        state = read_state(checkpoint) if checkpoint else {}
        training = {
            "run": str(run_dir),
            "epochs": state.get("epoch"),
            "steps": state.get("step"),
            "seed": config.seed,
            "batch_size": config.batch_size,
        }
        if variant and variant != config.variant:
            raise ExportError(f"{path} is a {config.variant} run, not {variant}")
        variant = config.variant
        dataset_row = dataset_row or dataset_of_run(run_dir, config.dataset)
    if variant is None:
        raise ExportError(f"{path}: no {CONFIG_FILE} beside it to tell its variant; pass --variant")
    loaded = _load_keras(model_path)
    dataset_row = dataset_row or get_dataset(spec.DEFAULT_DATASET)
    spec_row = variant_for(get_variant(variant), dataset_row)
    _check_generator(loaded, spec_row, model_path)
    _check_finite(loaded, model_path)
    return Source(_rebuilt(loaded, spec_row), spec_row, dataset_row, training)


def _rebuilt(loaded, variant: VariantSpec):
    """The variant's own generator holding the loaded weights: the export carries the project's
    layers and nothing a file brought along (synchronized batch norm from an older run, which
    Keras refuses on JAX and PyTorch, included)."""
    from fashiongan.model.variants import make_generator

    generator = make_generator(variant)
    try:
        generator.set_weights(loaded.get_weights())
    except ValueError as error:
        raise ExportError(f"the weights do not fit a {variant.name} generator ({describe_error(error)})") from None
    return generator


def _load_keras(path: Path):
    from fashiongan.inference.backends import load_keras

    return load_keras(path, ExportError)


def _check_generator(model, variant: VariantSpec, path: Path) -> None:
    inputs = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    expected_inputs: dict[str, tuple[int | None, ...]] = {NOISE_INPUT: (None, variant.latent_dim)}
    if variant.conditional:
        expected_inputs[LABEL_INPUT] = (None,)
    output = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    if inputs != expected_inputs or output != (None, *variant.image_shape):
        raise ExportError(
            f"{path}: not a {variant.name} generator (inputs {inputs}, outputs "
            f"{[tuple(t.shape) for t in model.outputs]}; expected {expected_inputs} -> {(None, *variant.image_shape)})"
        )


def _check_finite(model, path: Path) -> None:
    """Refuse a generator whose weights hold NaN or infinities: every format would serve images
    outside [0, 1] or none at all."""
    import numpy as np

    if not all(np.isfinite(weights).all() for weights in model.get_weights()):
        raise ExportError(f"{path}: the generator's weights hold NaN or infinite values (training diverged)")
