"""Sharing a term between an activation and its backward: exact GELU's Phi(x) is computed once, in the forward.

Eager autograd saves GELU's input and its backward computes Phi(x) = (1 + erf(x / sqrt 2)) / 2 again: erf is
the most expensive scalar function in a transformer's step. In a training-step graph the forward ``gelu(x)``
and the backward ``gelu_backward(g, x)`` read the same value ``x``, so this pass rewrites the pair into

    c = gelu_cdf(x);  y = x * c;  dx = gelu_backward_from_cdf(g, x, c)

and fusion puts ``gelu_cdf`` into the forward's kernel, which writes ``c`` for the backward. The results are
bit-identical: each of the three rounds exactly what the fused ``gelu`` / ``gelu_backward`` programs round (the
forward's factor 0.5 is applied to 1 + erf instead of to x, an exact scaling), at the cost of one buffer of
x's size kept from the forward to the backward. CPU float32/float64 values only (the fused-kernel vocabulary
that has these ops).
"""
__all__ = ["share_forward_terms"]

_FLOATS = frozenset({"float32", "float64"})


def share_forward_terms(graph):
    """Rewrite each exact-GELU forward/backward pair on one input to share Phi(x). Returns ``{"gelu_shared": n}``."""
    forward = {}  # input value -> the first pure exact gelu node reading it
    pairs = []
    for node in graph.nodes:
        if not _exact_gelu(node):
            continue
        if node.kernel == "gelu" and len(node.inputs) == 1:
            forward.setdefault(node.inputs[0], node)
        elif node.kernel == "gelu_backward" and len(node.inputs) == 2 and node.inputs[1] in forward:
            pairs.append((forward[node.inputs[1]], node))
    cdf_of = {}  # gelu node -> its Phi(x) value
    for gelu, backward in pairs:
        x = gelu.inputs[0]
        if gelu not in cdf_of:
            cdf_of[gelu] = _insert_cdf(graph, gelu, x)
            gelu.op = gelu.kernel = "mul"
            gelu.inputs, gelu.attrs = [x, cdf_of[gelu]], {}
        backward.op = backward.kernel = "gelu_backward_from_cdf"
        backward.inputs, backward.attrs = [backward.inputs[0], x, cdf_of[gelu]], {}
    return {"gelu_shared": len(pairs)}


def _exact_gelu(node):
    if node.kernel not in ("gelu", "gelu_backward") or node.mutates or node.dynamic or len(node.outputs) != 1:
        return False
    out = node.outputs[0]
    return (node.attrs == {"approximate": "none"} and out.dtype.name in _FLOATS and out.device is not None
            and out.device.type == "cpu" and all(v.dtype is out.dtype for v in node.inputs))


def _insert_cdf(graph, gelu, x):
    """A ``gelu_cdf(x)`` node placed just before ``gelu``; its output value."""
    node = graph.add_node("gelu_cdf", [x], {}, [(x.shape, x.dtype, x.device)], location=gelu.location)
    graph.nodes.pop()
    graph.nodes.insert(graph.nodes.index(gelu), node)
    return node.outputs[0]
