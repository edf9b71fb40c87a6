"""Row fusion: elementwise ops and last-dim reductions over one shape become one row-kernel node.

Autograd and the functional layer write LayerNorm, softmax's gradient and their kin as chains of
elementwise ops around sums and means over the last dim (``keepdim=True``) whose results broadcast back:
the elementwise fusion pass must stop at every such reduction, so a LayerNorm takes four kernels forward
and five backward, each a pass over memory. Here a *group* holds values of one shape ``(..., n)`` ("full")
and of its row shape ``(..., 1)`` ("per row"): elementwise nodes (``fuse.py``'s vocabulary), ``sum``,
``mean``, ``amax`` and ``all`` over the last dim, ``softmax`` and ``log_softmax`` over it, ``expand`` from
the row shape, and ``sum`` over every dim but the last (a bias's or a norm weight's gradient, added up as
the rows go by; nothing in the group may read it).
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
    _sink_sum_readers(graph)
    ctx = _Rows(graph, SCALAR_OPS)
    groups = [g for g in ctx.merge_siblings(ctx.form_groups()) if ctx.worth(g)]
    ctx.rewrite(groups)
    graph.verify()
    return {"groups": len(groups), "ops_fused": sum(len(g.members) for g in groups), "nodes_before": before,
            "nodes_after": len(graph.nodes)}


class _Rows(_Context):
    """The elementwise pass's context with per-row values, last-dim reductions and row expands."""

    KERNEL = "fused_rows"

    def scalar_op(self, node):
        if _column_sum(node):
            return "col_sum", ()
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
        if node.kernel in _REDUCTIONS:  # a row or a column reduction
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

    def merge_siblings(self, groups):
        """Merge groups of one shape that read a common value (a LayerNorm's gradient, its weight's and its
        bias's): one pass over the rows then reads it once."""
        def reads(group):
            inside = {id(m) for m in group.members}
            return {v for m in group.members for v in m.inputs if v.kind != "node" or id(v.node) not in inside}

        merged = True
        while merged:
            merged = False
            for i, first in enumerate(groups):
                for second in groups[i + 1:]:
                    key = self.merge_keys(first.shape, second.shape)
                    if key is None or not reads(first) & reads(second) - set(self.graph.constants):
                        continue
                    members = sorted(first.members + second.members, key=lambda n: self.pos[id(n)])
                    if self.valid(members):
                        first.members, first.shape = members, key
                        groups.remove(second)
                        merged = True
                        break
                if merged:
                    break
        return groups

    def valid(self, members):
        """The elementwise pass's rule, and no member reading a column sum: that is complete only after the
        last row."""
        sums = {m.outputs[0] for m in members if _column_sum(m)}
        return not any(v in sums for m in members for v in m.inputs) and super().valid(members)

    def attributes(self, group, program, results):
        return {"program": program, "shape": group.shape[1], "out_shapes": tuple(v.shape for v in results)}


_SINKABLE = frozenset({"reshape", "view", "clone"})


def _sink_sum_readers(graph):
    """Move the reshapes and copies autograd puts right after a gradient's column sum down to their first
    reader: read early, they would pin the sum before a sibling row group that it could otherwise join.

    Only pure nodes move, never past a node writing their input's memory.
    """
    from .analysis import is_pure, roots
    chain = set()
    for node in graph.nodes:
        source = node.inputs[0].node if len(node.inputs) == 1 and node.inputs[0].kind == "node" else None
        if node.kernel in _SINKABLE and is_pure(node) and source is not None and (
                id(source) in chain or _column_sum(source)):
            chain.add(id(node))
    if not chain:
        return
    root = roots(graph)
    nodes = list(graph.nodes)
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        if id(node) not in chain:
            continue
        later = nodes[i + 1:]
        readers = [k for k, n in enumerate(later) if any(v in node.outputs for v in n.inputs)]
        stop = readers[0] if readers else len(later)
        base = root[node.inputs[0]]
        if stop and not any(root.get(n.inputs[k]) is base for n in later[:stop] for k in n.mutates):
            nodes = nodes[:i] + later[:stop] + [node] + later[stop:]
    graph.nodes = nodes


def _column_sum(node):
    """True for a float ``sum`` over every dim but the last (keepdim or not) of a value of two or more dims."""
    if (node.kernel != "sum" or len(node.inputs) != 1 or len(node.outputs) != 1 or node.mutates
            or set(node.attrs) != {"dims", "keepdim"}):
        return False
    (x,), out = node.inputs, node.outputs[0]
    rank = len(x.shape)
    dims = node.attrs["dims"]
    if rank < 2 or x.shape[-1] < 2 or out.dtype is not x.dtype or x.dtype.name not in _FLOATS or dims is None:
        return False
    if out.device is None or out.device.type != "cpu":
        return False
    return sorted(d % rank for d in dims) == list(range(rank - 1)) and len(set(dims)) == len(dims)

