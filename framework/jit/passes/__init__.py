"""The optimisation pipeline of graph mode: ``optimize(graph)`` rewrites a captured graph in place.

Default order: constant folding, simplification, concatenating views instead of reshaped copies
(``cat_views.py``), CSE, DCE, cross-entropy's backward in one pass, then its mean loss and backward in one node,
sharing GELU's Phi(x) between forward and backward, row fusion (elementwise ops around last-dim reductions,
``fuse_rows.py``), elementwise fusion (``fuse.py``, when present), DCE again, copy elision, moving optimizer
updates up to their gradients, then memory planning. Each pass is a
function ``pass(graph) -> stats dict`` that keeps the graph valid, never drops a node with effects and never
swaps two that touch the same memory; the pipeline checks both after every pass.

>>> report = optimize(graph)          # doctest: +SKIP
>>> print(report)                     # op counts per pass, fusion groups, the memory plan
"""
import importlib
import time

from .cat_views import concatenate_views
from .class_grad import fuse_class_backward, fuse_cross_entropy
from .constant_fold import fold_constants
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .elide_copies import elide_copies
from .fuse_rows import fuse_rows
from .share_terms import share_forward_terms
from .memory_plan import eager_peak_bytes, plan_memory
from .schedule_updates import schedule_updates
from .simplify import simplify

__all__ = ["optimize", "OptimizeReport", "PassRecord", "PASSES", "DEFAULT_PIPELINE"]

PASSES = {
    "constant_fold": fold_constants,
    "simplify": simplify,
    "cat_views": concatenate_views,
    "cse": eliminate_common_subexpressions,
    "dce": eliminate_dead_code,
    "share_terms": share_forward_terms,
    "class_backward": fuse_class_backward,
    "cross_entropy": fuse_cross_entropy,
    "schedule_updates": schedule_updates,
    "elide_copies": elide_copies,
    "fuse_rows": fuse_rows,
    "memory_plan": plan_memory,
}
DEFAULT_PIPELINE = ("constant_fold", "simplify", "cat_views", "cse", "dce", "class_backward", "cross_entropy",
                    "share_terms", "fuse_rows", "fuse", "dce", "elide_copies", "schedule_updates", "memory_plan")


def _fusion_pass():
    """``fuse.fuse_elementwise``, or None while that module does not exist."""
    try:
        module = importlib.import_module(f"{__name__}.fuse")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.fuse":
            raise
        return None
    return module.fuse_elementwise


class PassRecord:
    """What one pass did: node counts and materialised bytes before and after, its stats, its time."""

    __slots__ = ("name", "nodes_before", "nodes_after", "bytes_before", "bytes_after", "stats", "seconds")

    def __init__(self, name, nodes_before, nodes_after, bytes_before, bytes_after, stats, seconds):
        self.name, self.nodes_before, self.nodes_after = name, nodes_before, nodes_after
        self.bytes_before, self.bytes_after, self.stats, self.seconds = bytes_before, bytes_after, stats, seconds

    def __repr__(self):
        return f"PassRecord({self.name}: {self.nodes_before} -> {self.nodes_after} ops)"


class OptimizeReport:
    """The pipeline's record: ``passes`` (PassRecords), ``fusion_groups``, ``memory_plan``, totals."""

    def __init__(self, graph_name, nodes_before, bytes_before, eager_peak):
        self.graph_name = graph_name
        self.passes = []
        self.nodes_before = self.nodes_after = nodes_before
        self.bytes_before = self.bytes_after = bytes_before
        self.eager_peak_bytes = eager_peak
        self.fusion_groups = []  # (kernel names fused, output types) per fused node
        self.memory_plan = None
        self.skipped = []  # passes of the pipeline that are not available

    @property
    def bytes_saved(self):
        """Bytes of intermediates no longer written to memory (one write and one read each in eager)."""
        return self.bytes_before - self.bytes_after

    def __str__(self):
        lines = [f"optimize({self.graph_name}): {self.nodes_before} -> {self.nodes_after} ops"]
        for record in self.passes:
            shown = {k: v for k, v in record.stats.items() if not isinstance(v, (list, tuple, dict)) and v}
            detail = ", ".join(f"{k}={v}" for k, v in shown.items())
            lines.append(f"  {record.name:<14} {record.nodes_before:>5} -> {record.nodes_after:<5} ops"
                         f"{'  ' + detail if detail else ''}")
        for name in self.skipped:
            lines.append(f"  {name:<14} skipped (not available)")
        if self.fusion_groups:
            lines.append(f"  fusion groups ({len(self.fusion_groups)}):")
            for ops, type_str in self.fusion_groups:
                lines.append(f"    {len(ops)} ops -> {type_str}: {' '.join(ops)}")
        if self.memory_plan is not None:
            lines.append(f"  {self.memory_plan}")
        return "\n".join(lines)


def materialised_bytes(graph):
    """Bytes of the buffers nodes write (views excluded): the intermediates a run puts in memory."""
    from .analysis import roots
    root = roots(graph)
    return sum(v.nbytes for node in graph.nodes for v in node.outputs if root[v] is v)


def optimize(graph, passes=None):
    """Run ``passes`` (names from ``PASSES``, "fuse", or pass functions; default ``DEFAULT_PIPELINE``) on ``graph``.

    Rewrites ``graph`` in place, attaches ``graph.memory_plan`` when memory planning runs, and returns an
    :class:`OptimizeReport`.
    """
    report = OptimizeReport(graph.name, len(graph.nodes), materialised_bytes(graph), eager_peak_bytes(graph))
    inputs = list(graph.inputs)
    effects = [node for node in graph.nodes if node.mutates]
    for entry in (DEFAULT_PIPELINE if passes is None else passes):
        name, fn = _resolve(entry, required=passes is not None)
        if fn is None:
            report.skipped.append(name)
            continue
        before, bytes_before = len(graph.nodes), materialised_bytes(graph)
        start = time.perf_counter()
        stats = fn(graph) or {}
        seconds = time.perf_counter() - start
        _check(graph, name, inputs, effects)
        report.passes.append(PassRecord(name, before, len(graph.nodes), bytes_before, materialised_bytes(graph),
                                        stats, seconds))
    report.nodes_after, report.bytes_after = len(graph.nodes), materialised_bytes(graph)
    report.fusion_groups = [(_fused_ops(node), ", ".join(v.type_str for v in node.outputs))
                            for node in graph.nodes if node.kernel in ("fused_elementwise", "fused_rows")]
    plan = getattr(graph, "memory_plan", None)
    if plan is not None and any(r.name == "memory_plan" for r in report.passes):
        # eager runs the graph as captured, not as optimised
        plan.eager_peak_bytes, plan.eager_alloc_bytes = report.eager_peak_bytes, report.bytes_before
        report.memory_plan = plan
    return report


def _resolve(entry, required):
    if callable(entry):
        return getattr(entry, "__name__", "pass"), entry
    if entry == "fuse":
        fn = _fusion_pass()
        if fn is None and required:
            raise ValueError("optimize(): pass 'fuse' is not available (framework/jit/passes/fuse.py is missing)")
        return entry, fn
    if entry not in PASSES:
        raise ValueError(f"optimize(): unknown pass {entry!r}; expected one of {sorted(PASSES) + ['fuse']}")
    return entry, PASSES[entry]


def _fused_ops(node):
    from .fuse import fused_ops
    return list(fused_ops(node))


def _check(graph, name, inputs, effects):
    graph.verify()
    if list(graph.inputs) != inputs:
        raise RuntimeError(f"optimize(): pass {name!r} changed the graph's inputs")
    remaining = [node for node in graph.nodes if node.mutates]
    if set(remaining) != set(effects) or len(remaining) != len(effects):
        raise RuntimeError(f"optimize(): pass {name!r} dropped a node with effects")
    position = {node: i for i, node in enumerate(remaining)}
    footprint = _effect_footprints(graph, effects)
    for a, first in enumerate(effects):
        for second in effects[a + 1:]:
            if position[second] < position[first] and _conflict(footprint[first], footprint[second]):
                raise RuntimeError(f"optimize(): pass {name!r} reordered two nodes with effects on the same memory")


def _effect_footprints(graph, effects):
    """node -> (roots it writes, roots it reads, draws random numbers) for the nodes with effects."""
    from .analysis import is_random, roots
    root = roots(graph)
    return {node: ({root[node.inputs[k]] for k in node.mutates}, {root[v] for v in node.inputs}, is_random(node))
            for node in effects}


def _conflict(one, other):
    """True when two effects may not swap: either writes what the other touches, or both draw random numbers."""
    (w1, r1, rand1), (w2, r2, rand2) = one, other
    return bool(w1 & (w2 | r2) or w2 & r1) or (rand1 and rand2)
