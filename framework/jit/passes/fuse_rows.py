"""Row fusion: elementwise ops and last-dim reductions over one shape become one row-kernel node.

Autograd and the functional layer write LayerNorm, softmax's gradient and their kin as chains of
elementwise ops around sums and means over the last dim (``keepdim=True``) whose results broadcast back:
the elementwise fusion pass must stop at every such reduction, so a LayerNorm takes four kernels forward
and five backward, each a pass over memory. Here a *group* holds values of one shape ``(..., n)`` ("full")
and of its row shape ``(..., 1)`` ("per row"): elementwise nodes (``fuse.py``'s vocabulary), ``sum``,
``mean``, ``amax`` and ``all`` over the last dim, ``softmax`` and ``log_softmax`` over it, and ``expand``
from the row shape.
It becomes one ``fused_rows`` node (``kernels/cpu/fused_rows.py``) that walks the rows once, keeping each
row in cache.

The grouping, placement and exactness rules are the elementwise pass's (``fuse._Context``). Only groups
holding a reduction are rewritten (the elementwise pass fuses the rest), on CPU graphs, with ``n >= 2``.
"""
from .fuse import _Context

__all__ = ["fuse_rows"]

_REDUCTIONS = {"sum": "row_sum", "mean": "row_mean", "amax": "row_max", "all": "row_all"}
_SOFTMAXES = {"softmax": "row_softmax", "log_softmax": "row_log_softmax"}
_FLOATS = frozenset({"float32", "float64"})


def fuse_rows(graph):
    """Fuse row groups of ``graph`` in place; return stats (groups, fused ops, node counts)."""
    from kernels.cpu.fused import SCALAR_OPS
    before = len(graph.nodes)
    ctx = _Rows(graph, SCALAR_OPS)
    groups = [g for g in ctx.form_groups() if ctx.worth(g)]
    ctx.rewrite(groups)
    graph.verify()
    return {"groups": len(groups), "ops_fused": sum(len(g.members) for g in groups), "nodes_before": before,
            "nodes_after": len(graph.nodes)}


class _Rows(_Context):
    """The elementwise pass's context with per-row values, last-dim reductions and row expands."""

    KERNEL = "fused_rows"

    def scalar_op(self, node):
        out = node.outputs[0] if len(node.outputs) == 1 else None
        if out is None or node.mutates or len(out.shape) < 2 or out.device is None or out.device.type != "cpu":
            return None
        reduction = _REDUCTIONS.get(node.kernel)
        if reduction is not None or node.kernel in _SOFTMAXES:
            (x,) = node.inputs if len(node.inputs) == 1 else (None,)
            kinds = {"bool"} if node.kernel == "all" else _FLOATS
            if (x is None or out.dtype is not x.dtype or out.dtype.name not in kinds or len(x.shape) != len(out.shape)
                    or x.shape[-1] < 2):
                return None
            last = len(x.shape) - 1
            if node.kernel in _SOFTMAXES:
                dim_ok = set(node.attrs) == {"dim"} and node.attrs["dim"] in (last, -1)
                return (_SOFTMAXES[node.kernel], ()) if dim_ok else None
            if node.attrs.get("dims") not in ((last,), (-1,)) or node.attrs.get("keepdim") is not True:
                return None
            return (reduction, ()) if set(node.attrs) == {"dims", "keepdim"} else None
        if node.kernel == "expand":
            (x,) = node.inputs
            if x.shape != out.shape[:-1] + (1,) or x.dtype is not out.dtype or set(node.attrs) != {"shape"}:
                return None
            return "clone", ()
        return super().scalar_op(node)

    def group_key(self, node):
        """("full", shape) for values of the group's shape, ("row", leading dims) for per-row ones."""
        if node.kernel in _REDUCTIONS:
            return "full", node.inputs[0].shape
        shape = node.outputs[0].shape
        return ("row", shape[:-1]) if shape[-1] == 1 else ("full", shape)

    def merge_keys(self, a, b):
        if a == b:
            return a
        (kind_a, dims_a), (kind_b, dims_b) = a, b
        if kind_a == kind_b:
            return None
        full, row = (dims_a, dims_b) if kind_a == "full" else (dims_b, dims_a)
        return ("full", full) if full[:-1] == row else None

    def worth(self, group):
        """Rows of two or more, and two or more nodes with a reduction or a softmax, or a lone log-softmax (whose
        kernel makes three passes over memory where this one makes one)."""
        kind, shape = group.shape
        if kind != "full" or shape[-1] < 2:
            return False
        if len(group.members) == 1:
            return group.members[0].kernel == "log_softmax"
        return any(m.kernel in _REDUCTIONS or m.kernel in _SOFTMAXES for m in group.members)

    def attributes(self, group, program, results):
        shape = group.shape[1]
        return {"program": program, "shape": shape,
                "row_outputs": tuple(v.shape != shape for v in results)}

