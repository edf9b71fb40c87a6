"""Dynamic axes for exported inference graphs: which dims of which values follow the inputs' dynamic sizes.

A trace is specialised to the example's shapes. To export a graph whose batch (or any other) axes are free, the
model is traced a second time with those axes at another size (2n + 1), and the two graphs are compared: they
must have the same nodes wired the same way, the same constants, and differ only in the sizes of values and in
the target shape of reshapes and expands. The dims that differ are the dynamic ones. A model whose graph depends on the
size in any other way (a Python branch on it, a constant computed from it, a slice bound taken from it) is
refused with the op and the user's line.
"""
import numpy as np

__all__ = ["DynamicDims", "trace_dynamic", "tiled", "other_size"]

# ops whose shape attribute may follow a dynamic size: the exporter writes it with 0 / -1 / 1 entries
SHAPE_ATTR_OPS = frozenset({"reshape", "view", "expand"})


class DynamicDims:
    """Per value of the first trace: its dynamic dims, and its shape in the second trace."""

    def __init__(self, dims, second_shapes):
        self.dims, self.second_shapes = dims, second_shapes

    def of(self, value):
        """The set of ``value``'s dims that follow a dynamic input size (empty when none)."""
        return self.dims.get(value, frozenset())

    def same_in_both(self, a, i, b, j):
        """True when dim ``i`` of ``a`` equals dim ``j`` of ``b`` in both traces."""
        return (a.shape[i] == b.shape[j]
                and self.second_shapes[a][i] == self.second_shapes[b][j])


def other_size(n):
    """The second size a dynamic axis of size ``n`` is traced at: 2n + 1, so that sizes the model derives (n // 2,
    n - 1, ...) change too and a graph that kept one as a constant is caught."""
    return 2 * n + 1


def tiled(array, axes, size=other_size):
    """``array`` resized along each of ``axes`` to ``size(n)``, its values repeated cyclically (indices stay valid)."""
    for axis in axes:
        n = array.shape[axis]
        if n == 0:
            raise ValueError("dynamic_axes: a dynamic axis of an example input has size 0")
        array = np.take(array, np.arange(size(n)) % n, axis=axis)
    return array


def trace_dynamic(who, trace, first, second):
    """Compare ``first`` and ``second`` (``InferenceGraph``s of the same model at two sizes); a ``DynamicDims``.

    ``trace`` describes the two traces for error messages. Raises NotImplementedError where the graphs differ in
    anything but sizes and shape attributes.
    """
    g1, g2 = first.graph, second.graph

    def refuse(what, node=None):
        where = f" (at {node.location})" if node is not None and node.location else ""
        raise NotImplementedError(f"{who}: dynamic_axes: {what}{where}; the graph depends on the dynamic size in a "
                                  f"way ONNX shapes cannot express ({trace})")

    if len(g1.nodes) != len(g2.nodes) or len(g1.inputs) != len(g2.inputs) or len(g1.constants) != len(g2.constants):
        refuse(f"the model traces to different graphs ({len(g1.nodes)} and {len(g2.nodes)} ops)")
    twin = dict(zip(g1.inputs, g2.inputs))
    for (c1, a1), (c2, a2) in zip(g1.constants.items(), g2.constants.items()):
        if a1.shape != a2.shape or a1.dtype != a2.dtype or not np.array_equal(a1, a2, equal_nan=True):
            reader = next((n for n in g1.nodes if c1 in n.inputs), None)
            refuse(f"a constant is computed from the dynamic size (shape {a1.shape} against {a2.shape})", reader)
        twin[c1] = c2
    for n1, n2 in zip(g1.nodes, g2.nodes):
        if n1.op != n2.op or n1.kernel != n2.kernel or len(n1.inputs) != len(n2.inputs) or \
                len(n1.outputs) != len(n2.outputs):
            refuse(f"op '{n1.op}' traces as '{n2.op}' at the other size", n1)
        if any(twin.get(v) is not w for v, w in zip(n1.inputs, n2.inputs)):
            refuse(f"op '{n1.op}' reads other values at the other size", n1)
        for name in set(n1.attrs) | set(n2.attrs):
            a, b = n1.attrs.get(name), n2.attrs.get(name)
            if _same(a, b) or (n1.op in SHAPE_ATTR_OPS and name == "shape"):
                continue
            refuse(f"op '{n1.op}' has {name}={a!r} at one size and {b!r} at the other", n1)
        twin.update(zip(n1.outputs, n2.outputs))
    dims, second = {}, {}
    for v1, v2 in twin.items():
        if len(v1.shape) != len(v2.shape):
            refuse(f"a value has rank {len(v1.shape)} at one size and {len(v2.shape)} at the other",
                   v1.node if v1.kind == "node" else None)
        second[v1] = v2.shape
        changed = frozenset(i for i, (a, b) in enumerate(zip(v1.shape, v2.shape)) if a != b)
        if changed:
            dims[v1] = changed
    return DynamicDims(dims, second)


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and \
            np.array_equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b
