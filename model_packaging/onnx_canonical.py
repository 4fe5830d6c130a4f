"""Make tf2onnx's output byte-identical across runs.

tf2onnx numbers the names it invents (`Relu6_min__52`, `Conv2D__20`), merges duplicate nodes keeping an
arbitrary one, and emits nodes in an order that varies between runs. Here invented names are replaced
by names derived from content (constants) or structure (op, attributes, inputs), and nodes are sorted
topologically with ties broken by name.
"""

from __future__ import annotations

import hashlib
import heapq
import re

import onnx

_COUNTER = re.compile(r"__\d+")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _constant_name(tensor: onnx.TensorProto) -> str:
    anonymous = onnx.TensorProto()
    anonymous.CopyFrom(tensor)
    anonymous.name = ""
    return f"const__{_digest(anonymous.SerializeToString(deterministic=True))}"


def _is_invented(node: onnx.NodeProto) -> bool:
    return bool(_COUNTER.search(node.name)) or any(_COUNTER.search(name) for name in node.output)


def _structural_name(node: onnx.NodeProto, inputs: list[str], taken: set[str]) -> str:
    signature = onnx.NodeProto()
    signature.CopyFrom(node)
    signature.name = ""
    signature.input[:] = inputs
    del signature.output[:]
    base = f"{node.op_type}__{_digest(signature.SerializeToString(deterministic=True))}"
    name, index = base, 1
    while name in taken:
        index += 1
        name = f"{base}_{index}"
    taken.add(name)
    return name


def canonicalize(model: onnx.ModelProto) -> None:
    graph = model.graph
    renames = {init.name: _constant_name(init) for init in graph.initializer if _COUNTER.search(init.name)}
    nodes = list(graph.node)
    producer = {output: index for index, node in enumerate(nodes) for output in node.output}
    waiting = [len({name for name in node.input if name in producer}) for node in nodes]
    consumers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        for name in {name for name in node.input if name in producer}:
            consumers.setdefault(producer[name], []).append(index)
    taken = {node.name for node in nodes if not _is_invented(node)}

    def make_ready(index: int, ready: list[tuple[str, int]]) -> None:
        node = nodes[index]
        node.input[:] = [renames.get(name, name) for name in node.input]
        if _is_invented(node):
            name = _structural_name(node, list(node.input), taken)
            for position, output in enumerate(node.output):
                renames[output] = f"{name}:{position}"
            node.name = name
            node.output[:] = [renames[output] for output in node.output]
        heapq.heappush(ready, (node.name, index))

    ready: list[tuple[str, int]] = []
    for index, count in enumerate(waiting):
        if count == 0:
            make_ready(index, ready)
    ordered = []
    while ready:
        _, index = heapq.heappop(ready)
        ordered.append(nodes[index])
        for consumer in consumers.get(index, []):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                make_ready(consumer, ready)
    if len(ordered) != len(nodes):
        raise ValueError("the ONNX graph has a cycle")
    del graph.node[:]
    graph.node.extend(ordered)

    unique = {}
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
        unique.setdefault(init.name, init)  # identical content -> identical name: keep one
    del graph.initializer[:]
    graph.initializer.extend(unique[name] for name in sorted(unique))
    for value in [*graph.value_info, *graph.output]:
        value.name = renames.get(value.name, value.name)
    value_info = sorted(graph.value_info, key=lambda value: value.name)
    del graph.value_info[:]
    graph.value_info.extend(value_info)
