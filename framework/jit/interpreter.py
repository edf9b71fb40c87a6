"""The reference interpreter: runs a ``Graph`` node by node on raw arrays, as eager dispatch would.

It is the definition of what a graph computes; the executor and every pass are tested against it.
"""
import numpy as np

from .. import _dtype
from .._backends import array_module, bfloat16_to_float32, float32_to_bfloat16, kernel_for

__all__ = ["interpret", "call_node"]


def call_node(node, arrays):
    """Run ``node``'s kernel on ``arrays`` (its inputs' raw arrays) and return its outputs' arrays as a list."""
    values = [_compute_view(v, a) for v, a in zip(node.inputs, arrays)]
    device = node.outputs[0].device if node.outputs else node.inputs[0].device
    kernel = kernel_for(device, node.kernel)
    result = kernel(*values, **node.attrs) if node.attrs else kernel(*values)
    results = list(result) if type(result) is tuple else ([] if result is None else [result])
    return [_storage_view(v, r) for v, r in zip(node.outputs, results)]


def interpret(graph, input_arrays):
    """Run ``graph`` on ``input_arrays`` (one per graph input, in order); return the output arrays."""
    if len(input_arrays) != len(graph.inputs):
        raise ValueError(f"{graph.name} takes {len(graph.inputs)} inputs, got {len(input_arrays)}")
    env = dict(zip(graph.inputs, input_arrays))
    env.update(graph.constants)
    for node in graph.nodes:
        env.update(zip(node.outputs, call_node(node, [env[v] for v in node.inputs])))
    return [env[v] for v in graph.outputs]


def _compute_view(value, array):
    # kernels compute bfloat16 in float32, as dispatch feeds them
    if value.dtype is _dtype.bfloat16:
        return bfloat16_to_float32(array)
    return array


def _storage_view(value, array):
    # a kernel's float result is stored in the value's dtype, as dispatch's out_dtype does
    array = array_module(array).asarray(array)  # numpy or CuPy: a cuda graph's arrays stay on the device
    if value.dtype is _dtype.bfloat16 and array.dtype != np.uint16:
        return float32_to_bfloat16(array.astype(np.float32, copy=False))
    if array.dtype.kind == "f" and array.dtype != value.dtype.np and value.dtype.is_floating_point:
        return array.astype(value.dtype.np)
    return array
