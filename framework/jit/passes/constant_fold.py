"""Constant folding: a pure node whose inputs are all constants runs once, at compile time.

The node runs through the reference interpreter's ``call_node``, so a folded constant is bit-identical
to what the node would have produced at run time. A node is left alone when it has effects or draws
random numbers, when its inputs or outputs are written in place (a constant must never change), when its
outputs are graph outputs (the caller could write them), when it fails (the error belongs to run time,
as in eager), and when folding would materialise a large array from small inputs (``expand`` or
``zeros`` of a big shape: cheaper to compute each call than to store).
"""
import numpy as np

from ..interpreter import call_node
from .analysis import is_pure, mutated_roots, replace_all_uses, roots

__all__ = ["fold_constants", "MAX_FOLDED_ELEMENTS"]

MAX_FOLDED_ELEMENTS = 1 << 20


def fold_constants(graph, max_elements=MAX_FOLDED_ELEMENTS):
    """Replace nodes computable from constants alone by constants. Returns ``{"nodes_folded": n}``."""
    root = roots(graph)
    written = mutated_roots(graph, root)
    outputs = set(graph.outputs)
    kept, folded = [], 0
    for node in graph.nodes:
        arrays = _folded_outputs(graph, node, root, written, outputs, max_elements)
        if arrays is None:
            kept.append(node)
            continue
        for value, array in zip(node.outputs, arrays):
            constant = graph.add_constant(array, value.dtype, value.device, name=value.name)
            replace_all_uses(graph, value, constant)
        folded += 1
    graph.nodes = kept
    return {"nodes_folded": folded}


def _folded_outputs(graph, node, root, written, outputs, max_elements):
    if not node.outputs or not is_pure(node) or any(v.kind != "const" for v in node.inputs):
        return None
    # a constant must never change, and one handed back to the caller could be changed by them; a
    # constant written in place at run time does not hold its compile-time values when the node runs
    if any(root[v] in written or v in outputs for v in node.outputs):
        return None
    if any(root.get(v, v) in written for v in node.inputs):
        return None
    in_elements = sum(graph.constants[v].size for v in node.inputs)
    out_elements = sum(int(np.prod(v.shape, dtype=np.int64)) for v in node.outputs)
    if out_elements > max_elements and out_elements > in_elements:
        return None
    try:
        arrays = call_node(node, [graph.constants[v] for v in node.inputs])
    except Exception:  # noqa: BLE001 - the same error will be raised when the graph runs, where eager raised it
        return None
    if len(arrays) != len(node.outputs):
        return None
    owned = []
    for value, array in zip(node.outputs, arrays):
        array = np.array(array, copy=True, order="C")  # views of other constants, read-only broadcasts
        if array.shape != value.shape or array.dtype != _storage_dtype(value):
            return None
        owned.append(array)
    return owned


def _storage_dtype(value):
    return np.dtype(np.uint16) if value.dtype.name == "bfloat16" else value.dtype.np
