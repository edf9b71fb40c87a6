"""What the passes need to know about a graph beyond its data flow: aliasing, effects, randomness.

A value's *root* is the value that owns its memory: a view op's outputs share their first input's root,
every other node output, input and constant is its own root. A node that writes an input in place
(``node.mutates``) writes that input's root, so every alias of it sees the write. Passes use these facts
to stay exact: they never merge, fold or forward across a write to the memory involved.
"""
from ...ops import registry as _registry

__all__ = ["RANDOM_OPS", "STRIDE_SENSITIVE", "is_view", "is_random", "is_pure", "roots", "mutated_roots",
           "replace_all_uses", "can_forward"]

# Ops that draw from a generator. Dropping, merging or folding one would change the random stream, so
# passes treat them as effects even when capture records no write to the generator's state.
RANDOM_OPS = frozenset({
    "mt_draw", "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm", "normal", "bernoulli",
    "multinomial", "uniform", "exponential", "cauchy", "geometric", "log_normal", "random", "dropout",
    "alpha_dropout", "feature_alpha_dropout", "rrelu", "poisson",
})

# Kernels whose result depends on the input's strides (not only its values): forwarding a value of another
# layout into them could fail (``view``) or read different elements (``as_strided``).
STRIDE_SENSITIVE = frozenset({"view", "as_strided"})


def is_view(node):
    """True when ``node``'s outputs may share memory with its first input (an op registered ``is_view``, or
    ``take_buffer``, which hands its input's buffer on)."""
    if node.kernel == "take_buffer":
        return True
    op = _registry.REGISTRY.get(node.op)
    return op is not None and op.is_view


def is_random(node):
    """True when ``node`` draws random numbers (by op or kernel name, or a ``generator`` attribute)."""
    return (node.op in RANDOM_OPS or node.kernel in RANDOM_OPS or node.op.rstrip("_") in RANDOM_OPS
            or "generator" in node.attrs)


def is_pure(node):
    """True when ``node`` only computes its outputs from its inputs and its fixed attributes.

    Not pure: nodes that write (``mutates``), draw random numbers, or re-read attributes at each call
    (``node.dynamic``: an optimizer's learning rate).
    """
    return not node.mutates and not is_random(node) and not getattr(node, "dynamic", None)


def roots(graph):
    """Value -> the value owning its memory (itself unless it is a view op's output)."""
    root = {}
    for value in graph.inputs:
        root[value] = value
    for value in graph.constants:
        root[value] = value
    for node in graph.nodes:
        base = root.get(node.inputs[0], node.inputs[0]) if node.inputs and is_view(node) else None
        for out in node.outputs:
            root[out] = base if base is not None else out
    return root


def mutated_roots(graph, root=None):
    """The roots of every value some node writes in place."""
    root = root if root is not None else roots(graph)
    return {root[node.inputs[i]] for node in graph.nodes for i in node.mutates}


def replace_all_uses(graph, old, new):
    """Make every node input and graph output reading ``old`` read ``new`` instead."""
    for node in graph.nodes:
        if old in node.inputs:
            node.inputs = [new if v is old else v for v in node.inputs]
    graph.outputs = [new if v is old else v for v in graph.outputs]


def _same_type(a, b):
    return a.shape == b.shape and a.dtype is b.dtype and a.device == b.device


def _known_dense(graph, value, root):
    if value.kind == "const":
        return graph.constants[value].flags.c_contiguous
    return value.kind == "node" and root[value] is value


def _reaches_stride_sensitive(graph, value, users):
    pending, seen = [value], set()
    while pending:
        v = pending.pop()
        if v in seen:
            continue
        seen.add(v)
        for node in users.get(v, ()):
            if node.kernel in STRIDE_SENSITIVE:
                return True
            if is_view(node):
                pending.extend(node.outputs)
    return False


def can_forward(graph, old, new, *, root=None, written=None, users=None, how="same_layout"):
    """True when every reader of ``old`` may read ``new`` instead without any observable change.

    ``how="view"``: ``old`` is a view of ``new``'s memory with ``new``'s exact layout (a same-shape
    reshape, an identity permute): aliasing is unchanged, so only the type must match. Otherwise ``old``
    is a fresh buffer holding ``new``'s values, laid out as ``new`` is (``"same_layout"``: ``x * 1``) or
    row-major whatever ``new``'s layout (``"new_layout"``: ``clone``). Forwarding a fresh buffer is exact
    only when neither memory is ever written in place (readers would see the write, or miss it), when no
    graph output would start aliasing an input, a constant or another output, and when no reader cares
    about a layout that may differ from row-major.
    """
    if not _same_type(old, new):
        return False
    if how == "view":
        return True
    root = root if root is not None else roots(graph)
    written = written if written is not None else mutated_roots(graph, root)
    if root[old] is not old or old in written or root[new] in written:
        return False
    contiguous = how == "same_layout" and _known_dense(graph, new, root)
    if old in graph.outputs:
        if not contiguous or root[new].kind != "node":
            return False
        if any(root[v] is root[new] for v in graph.outputs if v is not old):
            return False
    if not contiguous:
        users = users if users is not None else graph.users()
        if _reaches_stride_sensitive(graph, old, users):
            return False
    return True
