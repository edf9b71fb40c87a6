"""Algebraic simplification, limited to rewrites that are exact in IEEE arithmetic.

Rewrites: ``x * 1``, ``1 * x``, ``x / 1``, ``x - (+0)``, ``x + (-0)`` and ``(-0) + x`` (for integers and
bools any zero), ``-(-x)``, a cast or ``clone`` of a fresh buffer to the same dtype, ``view``/``reshape``
to the same shape, ``expand`` to the same shape, an identity ``permute``, and a permute of a permute
(composed into one, or removed when the composition is the identity).

Deliberately not rewritten: ``x + (+0.0)`` (it turns -0.0 into +0.0), ``x * 0`` and ``x - x`` (NaN and
infinity give NaN, not 0). A constant operand must broadcast to ``x``'s exact shape and the result must
have ``x``'s dtype, else the node stays. Forwarding a fresh result to ``x`` obeys
:func:`analysis.can_forward` (no in-place writes involved, no new aliasing of graph outputs).
"""
import numpy as np

from .analysis import can_forward, is_pure, mutated_roots, replace_all_uses, roots

__all__ = ["simplify", "CAST_OPS"]

# Ops capture may record for a dtype conversion (a fresh copy in the target dtype).
CAST_OPS = frozenset({"_to_copy", "to", "cast", "type_as"})


def simplify(graph):
    """Apply the exact algebraic rewrites until none applies. Returns ``{"rewrites": n, rule: count...}``."""
    stats = {"rewrites": 0}
    changed = True
    while changed:
        changed = False
        root = roots(graph)
        written = mutated_roots(graph, root)
        users = graph.users()
        for node in graph.nodes:
            if not is_pure(node) or len(node.outputs) != 1:
                continue
            found = _rewrite(graph, node, root, written)
            if found is None:
                continue
            rule, new, how = found
            old = node.outputs[0]
            if new is None:  # the node was rewritten in place
                pass
            elif can_forward(graph, old, new, root=root, written=written, users=users, how=how):
                replace_all_uses(graph, old, new)
                graph.nodes.remove(node)  # pure and now unread
            else:
                continue
            stats["rewrites"] += 1
            stats[rule] = stats.get(rule, 0) + 1
            changed = True
            break  # aliasing facts changed: recompute them
    if stats["rewrites"]:
        from .dce import eliminate_dead_code
        eliminate_dead_code(graph)
    return stats


def _rewrite(graph, node, root, written):
    """(rule, replacement value or None when ``node`` itself was rewritten, how it relates) or None.

    "how" is what :func:`analysis.can_forward` needs: "view", "same_layout" or "new_layout".
    """
    kernel, inputs, out = node.kernel, node.inputs, node.outputs[0]
    if kernel in ("mul", "div", "add", "sub") and len(inputs) == 2 and not node.attrs:
        return _arithmetic_identity(graph, kernel, inputs, out, root, written)
    if kernel == "neg" and len(inputs) == 1:
        inner = inputs[0].node if inputs[0].kind == "node" else None
        if inner is not None and inner.kernel == "neg" and is_pure(inner):
            return "double_negation", inner.inputs[0], "same_layout"
        return None
    if node.op in CAST_OPS and len(inputs) == 1 and _is_fresh(inputs[0], root):
        return "same_dtype_cast", inputs[0], "same_layout"
    if kernel == "clone" and len(inputs) == 1 and _is_fresh(inputs[0], root):
        # capture only sees clone() or a contiguous() that copied: the input's layout may not be row-major
        return "clone_of_fresh", inputs[0], "new_layout"
    if kernel in ("view", "reshape", "expand") and len(inputs) == 1 and out.shape == inputs[0].shape:
        return f"same_shape_{kernel}", inputs[0], "view"
    if kernel == "permute" and len(inputs) == 1:
        return _permute(node)
    return None


def _is_fresh(value, root):
    # a node's own buffer (not a view, not an input the caller may hold): copying it again adds nothing
    return value.kind == "node" and root[value] is value


def _arithmetic_identity(graph, kernel, inputs, out, root, written):
    a, b = inputs
    orders = [(a, b), (b, a)] if kernel in ("mul", "add") else [(a, b)]
    for x, c in orders:
        if c.kind != "const" or root[c] in written or x.shape != out.shape or x.dtype is not out.dtype:
            continue
        if np.broadcast_shapes(x.shape, c.shape) != x.shape:
            continue
        if _is_identity_constant(graph.constants[c], c, kernel, out):
            return f"{kernel}_identity", x, "same_layout"
    return None


def _is_identity_constant(array, value, kernel, out):
    if array.size == 0:
        return False
    if value.dtype.name == "bfloat16":
        from kernels.cpu.bfloat16 import bfloat16_bits_to_float32
        array = bfloat16_bits_to_float32(array)
    floating = out.dtype.is_floating_point or array.dtype.kind in "fc"
    if kernel in ("mul", "div"):
        return bool(np.all(array == 1))
    if not np.all(array == 0):
        return False
    if not floating:
        return True
    negative = np.signbit(np.real(array))
    # x + (-0.0) and x - (+0.0) keep x's sign of zero; the other two flip -0.0 to +0.0
    return bool(np.all(negative)) if kernel == "add" else not bool(np.any(negative))


def _permute(node):
    dims = tuple(node.attrs.get("dims", ()))
    x = node.inputs[0]
    if dims == tuple(range(len(dims))):
        return "identity_permute", x, "view"
    inner = x.node if x.kind == "node" else None
    if inner is None or inner.kernel != "permute" or not is_pure(inner):
        return None
    inner_dims = tuple(inner.attrs.get("dims", ()))
    composed = tuple(inner_dims[d] for d in dims)
    if composed == tuple(range(len(composed))):
        return "permute_of_permute", inner.inputs[0], "view"
    node.inputs = [inner.inputs[0]]
    node.attrs = dict(node.attrs, dims=composed)
    return "permute_of_permute", None, "view"
