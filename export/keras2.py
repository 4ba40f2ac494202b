"""Rebuild a Keras 3 functional model in tf_keras (Keras 2), for the legacy .h5 format.

Keras 3's own .h5 files do not load in tf_keras (their configs differ), so the graph is replayed
layer by layer with tf_keras classes and the weights are copied over by layer name."""

from __future__ import annotations

import inspect

_BASE_LAYER_KEYS = {"name", "trainable", "dtype"}
_RENAMED_KEYS = {"negative_slope": "alpha"}  # Keras 3 name -> Keras 2 name (LeakyReLU)


def _clean_config(layer_class, config: dict) -> dict:
    """The Keras 3 config in tf_keras terms. Initializers, regularizers and constraints are left
    at their defaults (the weights are copied and the model is for inference); Keras 3 dtype
    policies become names; an option tf_keras lacks is dropped only while it is off."""
    accepted = _BASE_LAYER_KEYS.union(
        *(inspect.signature(cls.__init__).parameters for cls in layer_class.__mro__ if "__init__" in vars(cls))
    )
    cleaned = {}
    for key, value in config.items():
        key = _RENAMED_KEYS.get(key, key)
        if key.endswith(("_initializer", "_regularizer", "_constraint")):
            continue
        if key in accepted:
            cleaned[key] = value
        elif value:
            raise ValueError(f"{layer_class.__name__} option {key}={value!r} has no Keras 2 equivalent")
    if "dtype" in cleaned:
        cleaned["dtype"] = _dtype_name(cleaned["dtype"])
    return cleaned


def _dtype_name(dtype) -> str:
    """Keras 3 writes a DTypePolicy config where Keras 2 takes a name."""
    return dtype.get("config", {}).get("name", "float32") if isinstance(dtype, dict) else dtype


def _resolve(argument, tensors: dict):
    """Replace Keras 3 '__keras_tensor__' references in a node's arguments by tf_keras tensors."""
    if isinstance(argument, dict) and argument.get("class_name") == "__keras_tensor__":
        layer_name, node_index, tensor_index = argument["config"]["keras_history"]
        return tensors[(layer_name, node_index, tensor_index)]
    if isinstance(argument, (list, tuple)):
        return [_resolve(item, tensors) for item in argument]
    if isinstance(argument, dict):
        return {key: _resolve(value, tensors) for key, value in argument.items()}
    return argument


def _references(layers: list | dict) -> list[tuple]:
    """Keras 3 writes one reference ["name", 0, 0] for a single tensor, a list of them for
    several, and a dict of them for named inputs (kept in their order: Keras 2 takes a list)."""
    if isinstance(layers, dict):
        return [tuple(ref) for ref in layers.values()]
    return [tuple(layers)] if isinstance(layers[0], str) else [tuple(ref) for ref in layers]


def to_tf_keras(model):
    """A tf_keras.Model with the same graph and weights as the flat Keras 3 functional `model`."""
    import tf_keras

    config = model.get_config()
    tensors: dict = {}
    for layer_config in config["layers"]:
        class_name, layer_settings = layer_config["class_name"], layer_config["config"]
        if class_name == "InputLayer":
            tensors[(layer_config["name"], 0, 0)] = tf_keras.Input(
                shape=tuple(layer_settings["batch_shape"][1:]),
                dtype=_dtype_name(layer_settings.get("dtype", "float32")),
                name=layer_settings["name"],
            )
            continue
        layer_class = getattr(tf_keras.layers, class_name)
        layer = layer_class(**_clean_config(layer_class, layer_settings))
        for node_index, node in enumerate(layer_config["inbound_nodes"]):
            outputs = layer(*_resolve(node["args"], tensors), **_resolve(node["kwargs"], tensors))
            for tensor_index, tensor in enumerate(outputs if isinstance(outputs, list) else [outputs]):
                tensors[(layer_config["name"], node_index, tensor_index)] = tensor
    rebuilt = tf_keras.Model(
        inputs=[tensors[ref] for ref in _references(config["input_layers"])],
        outputs=[tensors[ref] for ref in _references(config["output_layers"])],
        name=config["name"],
    )
    for layer in model.layers:
        if layer.weights:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    return rebuilt
