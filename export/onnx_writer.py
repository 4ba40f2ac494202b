"""The ONNX writer: tf2onnx from the traced serving function, rewritten for every consumer
(`onnx_graph`), weights stored as float32 or float16, and the file's own description inside."""

from __future__ import annotations

from pathlib import Path

import fashiongan
from fashiongan import spec
from fashiongan.errors import describe_error
from fashiongan.export import onnx_graph
from fashiongan.export.serving import ExportError, Target, input_specs, quiet, serving_function
from fashiongan.inference.manifest import file_description, summary_line
from fashiongan.spec import DatasetSpec, VariantSpec


def with_resize_upsampling(model):
    """The model with each nearest UpSampling2D computed as a nearest-neighbour resize (the same
    pixels): tf2onnx writes Keras' repeat as 5-D Reshape and Tile, which OpenCV 4.11 and older
    compute wrongly, and a resize as one ONNX Resize. For conversion only; never saved."""
    import keras
    import tensorflow as tf

    class NearestResize(keras.layers.Layer):
        def __init__(self, size: tuple[int, int], **kwargs):
            super().__init__(**kwargs)
            self.size = size

        def call(self, images):
            height, width = images.shape[1] * self.size[0], images.shape[2] * self.size[1]
            return tf.raw_ops.ResizeNearestNeighbor(
                images=images, size=[height, width], align_corners=False, half_pixel_centers=False
            )

    def clone(layer):
        if isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest":
            if layer.data_format != "channels_last":
                raise ExportError(f"ONNX export: {layer.name} is channels_first, only channels_last is handled")
            return NearestResize(tuple(layer.size), name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    if not any(isinstance(layer, keras.layers.UpSampling2D) for layer in model.layers):
        return model
    cloned = keras.models.clone_model(model, clone_function=clone)
    cloned.set_weights(model.get_weights())
    return cloned


def write_onnx(target: Target) -> tuple[str, ...]:
    """ONNX through tf2onnx from the traced tf.function, with a dynamic `batch` axis."""
    import onnx
    import tf2onnx

    function = serving_function(with_resize_upsampling(target.model), target.variant)
    try:
        with quiet():
            proto, _ = tf2onnx.convert.from_function(
                function, input_signature=input_specs(target.variant), opset=spec.ONNX_OPSET
            )
    except Exception as error:
        raise ExportError(f"ONNX conversion failed: {describe_error(error)}") from None
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx_graph.for_every_consumer(proto)
    if target.onnx_weights == "float16":
        onnx_graph.float16_weights(proto.graph)
    describe_onnx(proto, target.variant, target.dataset)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, target.path("onnx"))
    return ("onnx",)


def describe_onnx(proto, variant: VariantSpec, dataset: DatasetSpec) -> None:
    """The ONNX file's own description: metadata props, doc string, producer and graph name,
    and only the opset imports its nodes use (tf2onnx adds ai.onnx.ml unused)."""
    description = file_description(variant, dataset)
    del proto.metadata_props[:]
    for key, value in description.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name, proto.producer_version = "fashiongan", fashiongan.__version__
    proto.graph.name = "generator"
    proto.doc_string = summary_line(variant, dataset)
    used = {node.domain for node in proto.graph.node} | {""}
    kept = [opset for opset in proto.opset_import if opset.domain in used]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)


def onnx_weight_dtype(path: Path) -> str:
    """float16 where the file stores any weight as float16 (cast to float32 at load), else float32."""
    import onnx

    proto = onnx.load(path)
    stored = {tensor.data_type for tensor in proto.graph.initializer}
    return "float16" if onnx.TensorProto.FLOAT16 in stored else "float32"
