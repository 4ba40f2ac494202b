"""Datasets from the user's own files (`fashiongan.model.sources`): image folders, .npz files,
IDX folders and TensorFlow Datasets folders made here from real Fashion-MNIST and MNIST images,
read back pixel for pixel; the cache; a conditional run on a source through export and sampling
by class name; and every bad source as one line and exit status 2."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashiongan.model import data, sources

FASHION_CLASSES = {"bag": 8, "coat": 4, "sandal": 5}  # three Fashion-MNIST classes, by folder name
PER_CLASS = 30


@pytest.fixture(scope="module")
def fashion() -> data.Split:
    return data.load_dataset("fashion_mnist", "train")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.CACHE_DIR_ENV, str(tmp_path / "cache"))
    sources._read_cached.cache_clear()
    yield
    sources._read_cached.cache_clear()


def class_images(split: data.Split, label: int, count: int = PER_CLASS) -> np.ndarray:
    return split.images[np.flatnonzero(split.labels == label)[:count]]


def png_folder(root: Path, classes: dict[str, np.ndarray]) -> Path:
    for name, images in classes.items():
        (root / name).mkdir(parents=True)
        for index, image in enumerate(images):
            Image.fromarray(image).save(root / name / f"{index:03d}.png")
    return root


def as_set(images: np.ndarray) -> list[bytes]:
    return sorted(image.tobytes() for image in images)


def read_back(source: sources.Source) -> dict[str, list[bytes]]:
    """Every image of a source by class name, train and test together."""
    found: dict[str, list[bytes]] = {}
    for split in ("train", "test"):
        for image, label in zip(source.images[split], source.labels[split]):
            found.setdefault(source.spec.class_names[label], []).append(image.tobytes())
    return {name: sorted(images) for name, images in found.items()}


def test_a_png_folder_reads_back_its_pixels_with_sorted_class_names_and_a_held_out_split(tmp_path, fashion):
    classes = {name: class_images(fashion, label) for name, label in FASHION_CLASSES.items()}
    source = sources.read_source(str(png_folder(tmp_path / "clothes", classes)))
    assert source.kind == "images" and source.spec.class_names == ("bag", "coat", "sandal")
    assert read_back(source) == {name: as_set(images) for name, images in classes.items()}
    assert np.bincount(source.labels["test"]).tolist() == [3, 3, 3]  # a tenth of each class
    assert len(source.images["train"]) == 81 and source.images["train"].dtype == np.uint8
    again = sources._read_cached.__wrapped__(source.location, None)
    assert np.array_equal(again.images["test"], source.images["test"])  # the same held-out images each time


def test_an_unconditional_folder_and_a_train_test_pair_of_folders(tmp_path, fashion):
    loose = tmp_path / "sandals"
    loose.mkdir()
    for index, image in enumerate(class_images(fashion, 5, 12)):
        Image.fromarray(image).save(loose / f"{index}.png")
    single = sources.read_source(str(loose))
    assert single.spec.class_names == ("sandals",) and set(single.labels["train"]) == {0}
    paired = tmp_path / "paired"
    png_folder(paired / "train", {"bag": class_images(fashion, 8, 10), "coat": class_images(fashion, 4, 10)})
    png_folder(paired / "test", {"coat": class_images(fashion, 4, 14)[10:]})
    source = sources.read_source(str(paired))
    assert source.spec.class_names == ("bag", "coat")
    assert len(source.images["train"]) == 20 and source.labels["test"].tolist() == [1] * 4
    assert as_set(source.images["test"]) == as_set(class_images(fashion, 4, 14)[10:])


def test_colour_and_odd_sizes_are_converted_as_stated(tmp_path, fashion):
    grey = class_images(fashion, 8, 1)[0]
    folder = tmp_path / "mixed" / "bag"
    folder.mkdir(parents=True)
    Image.fromarray(grey).convert("RGB").save(folder / "rgb.jpg", quality=100)
    Image.fromarray(grey).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(grey).convert("P").save(folder / "palette.bmp")
    Image.fromarray(np.repeat(np.repeat(grey, 2, 0), 2, 1)).save(folder / "double.webp", lossless=True)
    Image.fromarray(np.full((10, 40), 200, np.uint8)).save(folder / "wide.png")
    source = sources.read_source(str(tmp_path / "mixed"))
    images = np.concatenate([source.images["train"], source.images["test"]])
    assert images.shape == (5, 28, 28) and images.dtype == np.uint8
    box = np.asarray(Image.fromarray(np.repeat(np.repeat(grey, 2, 0), 2, 1)).resize((28, 28), Image.Resampling.BOX))
    assert np.array_equal(sources.to_grey_28(Image.open(folder / "double.webp")), box)
    wide = sources.to_grey_28(Image.open(folder / "wide.png"))
    assert wide[0].max() == 0 and wide[14].min() > 150  # centred on black, the long side kept
    assert np.abs(sources.to_grey_28(Image.open(folder / "rgb.jpg")).astype(int) - grey).max() <= 3


def test_keras_and_medmnist_npz_files_with_their_class_names(tmp_path, fashion):
    test = data.load_dataset("fashion_mnist", "test")
    keras_style = tmp_path / "keras.npz"
    np.savez(keras_style, x_train=fashion.images[:50], y_train=fashion.labels[:50], x_test=test.images[:20],
             y_test=test.labels[:20], class_names=np.asarray([f"c{i}" for i in range(10)]))  # fmt: skip
    source = sources.read_source(str(keras_style))
    assert source.spec.class_names == tuple(f"c{i}" for i in range(10))
    assert np.array_equal(source.images["train"], fashion.images[:50])
    assert np.array_equal(source.labels["test"], test.labels[:20])
    medmnist = tmp_path / "organ.npz"
    np.savez(medmnist, train_images=fashion.images[:40], train_labels=(fashion.labels[:40] % 4)[:, None],
             val_images=fashion.images[40:45], val_labels=np.zeros((5, 1), np.uint8), test_images=test.images[:12],
             test_labels=(test.labels[:12] % 4)[:, None])  # fmt: skip
    (tmp_path / "organ.json").write_text(json.dumps(["liver", "kidney", "lung", "heart"]))
    source = sources.read_source(str(medmnist))
    assert source.spec.class_names == ("liver", "kidney", "lung", "heart")
    assert np.array_equal(source.labels["train"], fashion.labels[:40] % 4)
    assert np.array_equal(source.images["test"], test.images[:12])


def test_an_idx_folder_and_a_named_set_among_several(tmp_path, real_mnist_dir):
    mnist = data.read_idx_split(real_mnist_dir, "test")
    folder = tmp_path / "emnist"
    for prefix in ("emnist-digits-", "emnist-other-"):
        for (split, kind), stem in sources.FILE_STEMS.items():
            array = mnist.images[:30] if kind == "images" else mnist.labels[:30]
            data.write_idx(folder / f"{prefix}{stem}.gz", array[:20] if split == "train" else array[20:], compress=True)
    (folder / "class_names.json").write_text(json.dumps([f"digit {d}" for d in range(10)]))
    with pytest.raises(sources.SourceError, match="holds 2 IDX sets; name one"):
        sources.read_source(str(folder))
    source = sources.read_source(str(folder / "emnist-digits"))
    assert source.kind == "idx" and source.spec.class_names[3] == "digit 3"
    assert np.array_equal(source.images["train"], mnist.images[:20])
    assert np.array_equal(source.labels["test"], mnist.labels[20:30])


def prepare_tfds(
    data_dir: Path, split: data.Split, *, with_image: bool = True, name: str | None = None, classes: int = 3
) -> None:
    """A TFDS dataset `tiny_fashion` (or `no_images`, or `name`) prepared by a builder of its own,
    offline: 24 train and 6 test images of `split`, labels cycling through `classes` names."""
    import tensorflow_datasets as tfds

    names = ["top", "trouser", "pullover"] if classes == 3 else [f"class {index}" for index in range(classes)]
    features = {"label": tfds.features.ClassLabel(names=names)}
    if with_image:
        features["image"] = tfds.features.Image(shape=(28, 28, 1))
    else:
        features["value"] = tfds.features.Tensor(shape=(2,), dtype=np.float32)

    builder_name = name or ("tiny_fashion" if with_image else "no_images")

    def info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 24), "test": self._generate_examples(24, 30)}

    def generate_examples(self, start, stop):
        for index in range(start, stop):
            row = {"label": int(split.labels[index]) if classes == 10 else index % classes}
            row |= {"image": split.images[index][..., None]} if with_image else {"value": np.zeros(2, np.float32)}
            yield index, row

    methods = {"_info": info, "_split_generators": split_generators, "_generate_examples": generate_examples}
    with tfds.core.registered.skip_registration():
        builder = type("TinyBuilder", (tfds.core.GeneratorBasedBuilder,),
                       {"name": builder_name, "VERSION": tfds.core.Version("1.0.0"), **methods})  # fmt: skip
        builder(data_dir=str(data_dir)).download_and_prepare()


@pytest.mark.slow
def test_a_prepared_tfds_dataset_reads_offline_with_its_class_label_names(tmp_path, fashion):
    prepare_tfds(tmp_path / "tfds", fashion)
    source = sources.read_source("tfds:tiny_fashion", tmp_path / "tfds")
    assert source.spec.class_names == ("top", "trouser", "pullover")
    assert as_set(source.images["test"]) == as_set(fashion.images[24:30])
    assert sorted(source.labels["train"].tolist()) == sorted(index % 3 for index in range(24))


@pytest.mark.slow
def test_the_built_in_fashion_mnist_reads_from_a_tfds_data_folder(tmp_path, fashion, no_data_sources):
    prepare_tfds(tmp_path / "tfds", fashion, name="fashion_mnist", classes=10)
    test = data.load_dataset("fashion_mnist", "test", tmp_path / "tfds")
    assert as_set(test.images) == as_set(fashion.images[24:30]) and test.labels.dtype == np.uint8
    assert sorted(test.labels.tolist()) == sorted(fashion.labels[24:30].tolist())


def test_the_cache_is_reused_and_a_changed_folder_is_read_again(tmp_path, fashion):
    folder = png_folder(
        tmp_path / "clothes", {"bag": class_images(fashion, 8, 10), "coat": class_images(fashion, 4, 10)}
    )
    first = sources.read_source(str(folder))
    cache_files = list((tmp_path / "cache" / "datasets").glob("*.npz"))
    assert not first.cached and [path.stem for path in cache_files] == [first.identity]
    sources._read_cached.cache_clear()
    second = sources.read_source(str(folder))
    assert second.cached and second.identity == first.identity
    assert all(np.array_equal(second.images[split], first.images[split]) for split in ("train", "test"))
    Image.fromarray(class_images(fashion, 4, 11)[10]).save(folder / "coat" / "new.png")
    sources._read_cached.cache_clear()
    third = sources.read_source(str(folder))
    assert not third.cached and third.identity != first.identity and len(third.images["train"]) == 19
    cache_files[0].write_bytes(b"damaged")  # a damaged cache is read again from the source, not trusted
    (folder / "coat" / "new.png").unlink()
    sources._read_cached.cache_clear()
    fourth = sources.read_source(str(folder))
    assert not fourth.cached and np.array_equal(fourth.images["train"], first.images["train"])


@pytest.mark.slow
def test_a_conditional_run_on_a_source_exports_its_class_names_and_samples_by_name(tmp_path, fashion):
    from fashiongan import inference, spec
    from fashiongan.export import exporter
    from fashiongan.inference.backends import open_artifact
    from fashiongan.model.train import TrainConfig, train

    classes = {name: class_images(fashion, label) for name, label in FASHION_CLASSES.items()}
    folder = png_folder(tmp_path / "clothes", classes)
    run = train(TrainConfig(variant="csngan", dataset=str(folder), out=str(tmp_path / "run"), max_steps=3,
                            batch_size=16, grid_size=3), verbose=0)  # fmt: skip
    assert json.loads((run / "dataset.json").read_text())["class_names"] == ["bag", "coat", "sandal"]
    out = exporter.export(run, tmp_path / "export", ("onnx", "tflite"))
    manifest = json.loads((out / spec.MANIFEST_FILE).read_text())
    assert manifest["class_names"] == ["bag", "coat", "sandal"] and manifest["dataset"].startswith("clothes-")
    for artifact in ("onnx", "tflite"):
        described = open_artifact(artifact, out / spec.ARTIFACT_FORMATS[artifact].path).description
        assert json.loads(described["class_names"]) == ["bag", "coat", "sandal"]
    sampler = inference.load(out, "onnx")
    noise = np.random.default_rng(0).standard_normal((4, sampler.latent_dim)).astype(np.float32)
    by_name = sampler.generate(noise, labels="sandal")
    assert np.array_equal(by_name, sampler.generate(noise, labels=np.full(4, 2, np.int32)))
    assert not np.array_equal(by_name, sampler.generate(noise, labels=np.zeros(4, np.int32)))
    with pytest.raises(inference.sampler.SamplerError, match="bag, coat, sandal"):
        sampler.generate(noise, labels="shirt")


def one_line(source: str, env: dict, *extra: str) -> str:
    result = subprocess.run([sys.executable, "-m", "fashiongan", "data", source, *extra], capture_output=True,
                            text=True, env=env, timeout=300)  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


def png_bomb(path: Path, side: int = 100_000) -> None:
    """A PNG of a few hundred bytes whose header declares side × side grey pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip


def bad_sources(root: Path, fashion: data.Split) -> dict[str, tuple[str, str]]:
    """name -> (the --dataset value, what its one line must say)."""
    image = class_images(fashion, 8, 1)[0]
    made: dict[str, tuple[str, str]] = {}

    def folder(name: str) -> Path:
        path = root / name
        path.mkdir(parents=True)
        return path

    folder("empty")
    made["empty folder"] = ("empty", "no images (.png, .jpg, .jpeg, .bmp, .webp) and no class folders")
    (folder("notes") / "readme.txt").write_text("no pictures here")
    made["non-images"] = ("notes", "no images")
    Image.fromarray(image).save(folder("truncated") / "cut.png")
    (root / "truncated" / "cut.png").write_bytes((root / "truncated" / "cut.png").read_bytes()[:60])
    made["truncated image"] = ("truncated", "cut.png: not a readable PNG, JPEG, BMP or WebP image")
    (folder("fake") / "a.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n")  # not decoded by any other plugin
    made["not an image"] = ("fake", "a.png: not a readable PNG, JPEG, BMP or WebP image")
    png_bomb(folder("bomb") / "huge.png")
    made["decompression bomb"] = ("bomb", "huge.png: ")
    many = folder("many")
    for index in range(sources.MAX_CLASSES + 1):
        (many / f"c{index:04d}").mkdir()
        Image.fromarray(image).save(many / f"c{index:04d}" / "x.png")
    made["too many classes"] = ("many", f"1001 class folders; a dataset has at most {sources.MAX_CLASSES}")
    png_folder(root / "hollow", {"bag": image[None]})
    folder("hollow/coat")
    made["empty class folder"] = ("hollow", "class folder coat holds no images")
    np.savez(root / "keys.npz", images=fashion.images[:5], labels=fashion.labels[:5])
    made["npz with other keys"] = ("keys.npz", "holds images, labels; expected x_train, y_train")
    np.savez(root / "lengths.npz", x_train=fashion.images[:5], y_train=fashion.labels[:4])
    made["npz mismatched lengths"] = ("lengths.npz", "5 images but 4 labels")
    np.savez(root / "objects.npz", x_train=np.array([image, "x"], dtype=object), y_train=np.zeros(2, np.uint8))
    made["npz object arrays"] = ("objects.npz", "holds object arrays, which would need unpickling; not read")
    np.savez(root / "range.npz", x_train=fashion.images[:5], y_train=np.array([0, 1, 2, 3, 4]),
             class_names=np.array(["a", "b"]))  # fmt: skip
    made["labels out of range"] = ("range.npz", "label 4 is out of range 0-1 (2 classes)")
    Image.new("L", (sources.MAX_SIDE * sources.MAX_SIDE, 1), 255).save(folder("thin") / "line.png")
    made["a 16-megapixel line"] = ("thin", "line.png: 16777216×1 pixels; each side must be at most 4096")
    header = {"descr": "|u1", "fortran_order": False, "shape": (1 << 40, 28, 28)}
    with zipfile.ZipFile(root / "declared.npz", "w") as archive:  # a tiny file whose header asks for 784 TiB
        with archive.open("x_train.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
        with archive.open("y_train.npy", "w") as member:
            np.save(member, np.zeros(1, np.uint8))
    made["npz declaring a huge array"] = ("declared.npz", "bytes unpacked, over 4,294,967,296; not read")
    png_folder(root / "linked", {"bag": image[None]})
    (root / "linked" / "everything").symlink_to("/")
    made["class folder linked to /"] = (
        "linked",
        "linked/everything: a linked folder; links to folders are not followed",
    )
    partial = folder("partial")
    data.write_idx(partial / "train-images-idx3-ubyte", fashion.images[:4])
    made["incomplete IDX set"] = ("partial", "an incomplete IDX set (train-images-idx3-ubyte); it needs all four files")
    made["tfds not prepared"] = ("tfds:nosuch", "not prepared under the TFDS data folder")
    made["tfds name as a path"] = ("tfds:../../etc", "a TFDS name is lower-case letters, digits and _")
    return {name: (str(root / value) if not value.startswith("tfds:") else value, message)
            for name, (value, message) in made.items()}  # fmt: skip


@pytest.mark.slow
def test_every_bad_source_is_one_line_and_exit_2_and_writes_nothing(tmp_path, fashion):
    cases = bad_sources(tmp_path / "bad", fashion)
    env = {**os.environ, sources.CACHE_DIR_ENV: str(tmp_path / "cache"), "TFDS_DATA_DIR": str(tmp_path / "tfds")}
    prepare_tfds(tmp_path / "tfds", fashion, with_image=False)
    cases["tfds without images"] = ("tfds:no_images", "no image feature among label, value")
    crafted = tmp_path / "tfds" / "crafted" / "1.0.0"  # TFDS would import the module a features.json names
    crafted.mkdir(parents=True)
    (crafted / "dataset_info.json").write_text(json.dumps({"name": "crafted", "version": "1.0.0"}))
    (crafted / "features.json").write_text(json.dumps({"pythonClassName": "this.Anything", "featuresDict": {}}))
    cases["tfds features naming a module"] = ("tfds:crafted", "names this.Anything feature class; only TFDS's own")
    for name, (value, expected) in cases.items():
        line = one_line(value, env)
        assert line.startswith("fashiongan: error: ") and expected in line, (name, line)
    assert "nothing is downloaded" in one_line("tfds:nosuch", env)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.npz"))


def test_mixed_colour_modes_are_converted_not_refused(tmp_path, fashion):
    image = class_images(fashion, 8, 1)[0]
    folder = tmp_path / "modes" / "bag"
    folder.mkdir(parents=True)
    for mode in ("L", "RGB", "RGBA", "P", "1", "I;16"):
        Image.fromarray(image).convert(mode).save(folder / f"{mode.replace(';', '')}.png")
    source = sources.read_source(str(tmp_path / "modes"))
    assert len(source.images["train"]) + len(source.images["test"]) == 6


def test_a_conditional_variant_refuses_a_one_class_dataset(tmp_path, fashion):
    from fashiongan.errors import FashionGANError
    from fashiongan.model.config import TrainConfig

    loose = tmp_path / "sandals"
    loose.mkdir()
    Image.fromarray(class_images(fashion, 5, 1)[0]).save(loose / "one.png")
    with pytest.raises(FashionGANError, match=r"has one class .* choose one of dense"):
        TrainConfig(variant="csngan", dataset=str(loose)).resolved()
    assert TrainConfig(variant="dcgan", dataset=str(loose)).resolved().dataset == str(loose.resolve())
