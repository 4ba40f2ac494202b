"""Rewrites of tf2onnx's graph so that consumers beyond onnxruntime import it, each keeping the
same images (the export's parity tests hold them to onnxruntime's output).

- A Keras "same" Conv2DTranspose of stride 2 becomes ConvTranspose with asymmetric pads
  ([1, 1, 2, 2]); OpenCV 4's DNN module and ONNX-to-PyTorch converters refuse those. It is
  written with the smaller pad on both sides and a Slice that crops the rest.
- Keras' Embedding wraps negative labels with int32 Less/Cast/Mul/Add arithmetic before its
  Gather; ONNX's Gather wraps negative indices itself, so the lookup takes `label` directly.
- OpenCV 4's DNN module holds a 1-D input as an N x 1 matrix, so its Gather of the embedding
  table gives N x 1 x E, and the Concat with the N x latent noise fails (`curShape.size() ==
  outputs[0].size()`). A Flatten(axis=1) after the lookup gives N x E in every runtime.
"""

from __future__ import annotations

import numpy as np

from fashiongan.spec import LABEL_INPUT


def prune(graph) -> None:
    """Drop the nodes and initializers that no graph output depends on."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    initializers = [tensor for tensor in graph.initializer if tensor.name in needed]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _sources(graph, name: str) -> set[str]:
    """The graph inputs and initializers a tensor is computed from."""
    producers = {output: node for node in graph.node for output in node.output}
    found, stack, seen = set(), [name], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in producers:
            stack.extend(producers[current].input)
        else:
            found.add(current)
    return found


def direct_label_lookup(graph) -> None:
    """Gathers whose indices are computed from `label` alone take `label` itself."""
    inputs = {value.name for value in graph.input}
    if LABEL_INPUT not in inputs:
        return
    for node in (node for node in graph.node if node.op_type == "Gather" and node.input[1] != LABEL_INPUT):
        if _sources(graph, node.input[1]) & inputs == {LABEL_INPUT}:
            node.input[1] = LABEL_INPUT
    prune(graph)


def flat_label_lookup(graph) -> None:
    """Each Gather on `label` is followed by a Flatten(axis=1): N x E whatever rank the
    runtime gives the label."""
    from onnx import helper

    rewritten = []
    for node in graph.node:
        rewritten.append(node)
        if node.op_type == "Gather" and node.input[1] == LABEL_INPUT:
            output = node.output[0]
            node.output[0] = f"{output}/unflattened"
            rewritten.append(helper.make_node("Flatten", [node.output[0]], [output], axis=1, name=f"{node.name}/flat"))
    del graph.node[:]
    graph.node.extend(rewritten)


def symmetric_transposed_convolutions(graph) -> None:
    """ConvTranspose with pads (begin, end) unequal: pads min(begin, end) on both sides, then
    a Slice that crops begin - min at the start and end - min at the end of each spatial axis."""
    from onnx import helper, numpy_helper

    rewritten = []
    for node in graph.node:
        rewritten.append(node)
        pads = next((attribute for attribute in node.attribute if attribute.name == "pads"), None)
        if node.op_type != "ConvTranspose" or pads is None:
            continue
        half = len(pads.ints) // 2
        begin, end = list(pads.ints[:half]), list(pads.ints[half:])
        if begin == end:
            continue
        both = [min(first, last) for first, last in zip(begin, end)]
        del pads.ints[:]
        pads.ints.extend(both + both)
        output = node.output[0]
        node.output[0] = f"{output}/uncropped"
        bounds = {
            "starts": [first - common for first, common in zip(begin, both)],
            "ends": [common - last if last > common else np.iinfo(np.int64).max for last, common in zip(end, both)],
            "axes": list(range(2, 2 + half)),
        }
        names = []
        for key, values in bounds.items():
            names.append(f"{output}/crop_{key}")
            graph.initializer.append(numpy_helper.from_array(np.array(values, np.int64), names[-1]))
        rewritten.append(helper.make_node("Slice", [node.output[0], *names], [output], name=f"{node.name}/crop"))
    del graph.node[:]
    graph.node.extend(rewritten)


def for_every_consumer(proto) -> None:
    """All of the rewrites above, in place."""
    direct_label_lookup(proto.graph)
    flat_label_lookup(proto.graph)
    symmetric_transposed_convolutions(proto.graph)


FLOAT16_MIN_ELEMENTS = 4096  # smaller tensors (biases, norm scales) stay float32: they save nothing


def float16_weights(graph, min_elements: int = FLOAT16_MIN_ELEMENTS) -> list[str]:
    """Store each float32 initializer of at least `min_elements` values as float16, cast back to
    float32 once by a Cast node at the graph's start: the file shrinks by about half and every
    op still computes in float32 (the weights carry float16's rounding, ~5e-4 relative). Returns
    the names of the initializers it stored so."""
    from onnx import TensorProto, helper, numpy_helper

    stored, casts = [], []
    for index, tensor in enumerate(graph.initializer):
        values = numpy_helper.to_array(tensor)
        if values.dtype != np.float32 or values.size < min_elements:
            continue
        if np.abs(values).max() > np.finfo(np.float16).max:
            continue  # a weight past float16's range keeps its float32 values
        name = tensor.name
        half = numpy_helper.from_array(values.astype(np.float16), f"{name}/float16")
        graph.initializer[index].CopyFrom(half)  # `tensor` is this entry: it now holds the half
        casts.append(helper.make_node("Cast", [half.name], [name], to=TensorProto.FLOAT, name=f"{half.name}/cast"))
        stored.append(name)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return stored
