"""ONNX generators whose weights are stored in float16 and cast to float32 once at load: half
the file, float32 compute, images within spec.ONNX_FLOAT16_TOLERANCE of the float32 file."""

import json

import numpy as np
import onnx
import onnxruntime
import pytest

from fashiongan import pretrained, spec
from fashiongan.export import onnx_graph


def _dense_model(rng) -> onnx.ModelProto:
    """images = tanh(noise @ W + b): a float32 generator-shaped graph with one large weight."""
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(rng.standard_normal((100, 784)).astype(np.float32) * 0.1, "weight")
    bias = numpy_helper.from_array(rng.standard_normal(784).astype(np.float32), "bias")
    nodes = [
        helper.make_node("MatMul", ["noise", "weight"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["sum"]),
        helper.make_node("Tanh", ["sum"], ["images"]),
    ]
    noise = helper.make_tensor_value_info("noise", onnx.TensorProto.FLOAT, ["batch", 100])
    images = helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, ["batch", 784])
    graph = helper.make_graph(nodes, "generator", [noise], [images], initializer=[weight, bias])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", spec.ONNX_OPSET)])


def _images(model: onnx.ModelProto, noise):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"noise": noise})[0]


def test_float16_weights_halve_the_file_and_keep_the_images():
    rng = np.random.default_rng(3)
    original = _dense_model(rng)
    stored = onnx.ModelProto()
    stored.CopyFrom(original)
    assert onnx_graph.float16_weights(stored.graph) == ["weight"]  # the 784 biases stay float32
    onnx.checker.check_model(stored, full_check=True)
    assert stored.ByteSize() < 0.55 * original.ByteSize()
    (cast,) = [node for node in stored.graph.node if node.op_type == "Cast"]
    assert cast.output[0] == "weight" and stored.graph.node[0].op_type == "Cast"
    noise = rng.standard_normal((64, 100)).astype(np.float32)
    expected, images = _images(original, noise), _images(stored, noise)
    assert images.dtype == np.float32 and images.shape == (64, 784)
    assert 0 < np.abs(images - expected).max() <= spec.ONNX_FLOAT16_TOLERANCE


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_the_pretrained_onnx_generators_store_float16_weights(name):
    folder = pretrained.generator_dir(name)
    assert json.loads((folder / spec.MANIFEST_FILE).read_text())["artifacts"]["onnx"]["weights"] == "float16"
    model = onnx.load(folder / "generator.onnx")
    halves = [tensor for tensor in model.graph.initializer if tensor.data_type == onnx.TensorProto.FLOAT16]
    casts = {node.input[0] for node in model.graph.node if node.op_type == "Cast"}
    assert len(halves) >= 3 and {tensor.name for tensor in halves} <= casts  # each is cast to float32 once
    images = onnxruntime.InferenceSession(str(folder / "generator.onnx")).run(
        None, {"noise": np.zeros((2, 100), np.float32), "label": np.arange(2, dtype=np.int32)}
    )[0]
    assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1


def test_weights_past_float16_range_stay_float32():
    from onnx import helper, numpy_helper

    big = numpy_helper.from_array(np.full((64, 64), 1e6, np.float32), "big")
    small = numpy_helper.from_array(np.ones((64, 64), np.float32), "small")
    node = helper.make_node("Add", ["big", "small"], ["out"])
    output = helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [64, 64])
    graph = helper.make_graph([node], "g", [], [output], initializer=[big, small])
    assert onnx_graph.float16_weights(graph) == ["small"]
    assert [t.data_type for t in graph.initializer] == [onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16]
