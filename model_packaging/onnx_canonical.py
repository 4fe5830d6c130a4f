"""Make tf2onnx's output byte-identical across runs: it numbers the names it invents (`Relu6_min__52`)
and orders nodes in an order that varies between runs; rename and sort deterministically."""

from __future__ import annotations

import hashlib
import heapq
import re

import onnx

_COUNTER = re.compile(r"__\d+")


def _content_name(tensor: onnx.TensorProto) -> str:
    anonymous = onnx.TensorProto()
    anonymous.CopyFrom(tensor)
    anonymous.name = ""
    digest = hashlib.sha256(anonymous.SerializeToString(deterministic=True)).hexdigest()[:12]
    # Content only: tf2onnx shares such constants (Clip bounds) and names them after whichever user came first.
    return f"const__{digest}"


def _rename_map(model: onnx.ModelProto) -> dict[str, str]:
    graph = model.graph
    renames = {init.name: _content_name(init) for init in graph.initializer if _COUNTER.search(init.name)}
    produced = [name for node in graph.node for name in [*node.output, node.name]]
    invented = sorted(name for name in produced if _COUNTER.search(name))
    taken = {name for name in produced if not _COUNTER.search(name)} | set(renames.values())
    for name in invented:
        base = _COUNTER.sub("__t", name)
        candidate, index = base, 1
        while candidate in taken:
            index += 1
            candidate = f"{base}{index}"
        taken.add(candidate)
        renames[name] = candidate
    return renames


def _topological(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    producer = {output: index for index, node in enumerate(nodes) for output in node.output}
    waiting = [sum(1 for name in set(node.input) if name in producer) for node in nodes]
    consumers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        for name in set(node.input):
            if name in producer:
                consumers.setdefault(producer[name], []).append(index)
    ready = [(nodes[i].name, i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, index = heapq.heappop(ready)
        ordered.append(nodes[index])
        for consumer in consumers.get(index, []):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, (nodes[consumer].name, consumer))
    if len(ordered) != len(nodes):
        raise ValueError("the ONNX graph has a cycle")
    return ordered


def canonicalize(model: onnx.ModelProto) -> None:
    graph = model.graph
    renames = _rename_map(model)
    unique = {}
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
        unique.setdefault(init.name, init)  # identical content -> identical name: keep one
    for node in graph.node:
        node.name = renames.get(node.name, node.name)
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in [*graph.value_info, *graph.output]:
        value.name = renames.get(value.name, value.name)
    ordered = _topological(list(graph.node))
    del graph.node[:]
    graph.node.extend(ordered)
    initializers = [unique[name] for name in sorted(unique)]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    value_info = sorted(graph.value_info, key=lambda value: value.name)
    del graph.value_info[:]
    graph.value_info.extend(value_info)
