"""Common-subexpression elimination: one node per distinct (kernel, inputs, attributes) computation.

Equal constants (same dtype, shape and bytes) are merged first, so ``x * 2`` written twice becomes one
node even though each use froze its own scalar. Attribute equality is strict: ``1`` and ``1.0`` and
``True`` differ (kernels may treat them differently), ``-0.0`` differs from ``0.0``, arrays compare by
dtype, shape and bytes, and an attribute with no exact notion of equality makes the node unique.
"""
import math
import struct

import numpy as np

from .analysis import is_pure, is_view, mutated_roots, replace_all_uses, roots

__all__ = ["eliminate_common_subexpressions", "attr_key"]


class _Unkeyable(Exception):
    pass


def attr_key(value):
    """A hashable key equal for two attribute values exactly when a kernel cannot tell them apart."""
    if value is None or value is Ellipsis or isinstance(value, (str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", struct.pack("<d", value) if not math.isnan(value) else "nan")
    if isinstance(value, complex):
        return ("complex", attr_key(value.real), attr_key(value.imag))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.tobytes())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(attr_key(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((attr_key(k), attr_key(v)) for k, v in value.items()))
    if isinstance(value, slice):
        return ("slice", attr_key(value.start), attr_key(value.stop), attr_key(value.step))
    try:
        hash(value)
    except TypeError:
        raise _Unkeyable(type(value).__name__) from None
    # dtypes, devices, enums: immutable objects whose equality is exact
    return ("object", type(value).__module__, type(value).__qualname__, value)


def _merge_constants(graph, root, written):
    seen, merged = {}, 0
    for value, array in list(graph.constants.items()):
        if root[value] in written:
            continue
        key = (value.dtype, value.device, attr_key(np.asarray(array)))
        kept = seen.setdefault(key, value)
        if kept is not value:
            replace_all_uses(graph, value, kept)
            del graph.constants[value]
            merged += 1
    return merged


def eliminate_common_subexpressions(graph):
    """Replace each node computing what an earlier node already computed by that node's outputs.

    Never merges effect or random nodes, never merges a node whose fresh outputs are written in place
    later, and never merges two reads of memory with a write to it in between (the key carries the number
    of writes each input's memory has seen so far). Returns ``{"nodes_merged": n, "constants_merged": m}``.
    """
    root = roots(graph)
    written = mutated_roots(graph, root)
    constants_merged = _merge_constants(graph, root, written)
    writes = {}  # root -> writes so far
    seen, kept, merged = {}, [], 0
    for node in graph.nodes:
        key = _node_key(node, root, writes, written)
        if key is not None:
            first = seen.get(key)
            if first is not None and _outputs_may_merge(graph, node, first):
                for old, new in zip(node.outputs, first.outputs):
                    replace_all_uses(graph, old, new)
                merged += 1
                continue
            seen[key] = node
        kept.append(node)
        for i in node.mutates:
            r = root[node.inputs[i]]
            writes[r] = writes.get(r, 0) + 1
    graph.nodes = kept
    return {"nodes_merged": merged, "constants_merged": constants_merged}


def _node_key(node, root, writes, written):
    if not is_pure(node) or not node.outputs:
        return None
    if not is_view(node) and any(v in written for v in node.outputs):
        return None
    try:
        attrs = attr_key(node.attrs)
    except _Unkeyable:
        return None
    inputs = tuple((v, writes.get(root[v], 0)) for v in node.inputs)
    types = tuple((v.shape, v.dtype) for v in node.outputs)
    return node.kernel, inputs, attrs, types


def _outputs_may_merge(graph, node, first):
    # two graph outputs becoming one buffer would alias what eager returns as independent tensors
    outputs = set(graph.outputs)
    return not (any(v in outputs for v in node.outputs) and any(v in outputs for v in first.outputs))
