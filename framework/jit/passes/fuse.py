"""Elementwise fusion: DAGs of elementwise nodes of one shape become one generated-kernel node.

A *group* is a set of elementwise nodes (kernels of the fusion vocabulary, ``kernels.cpu.fused.SCALAR_OPS``,
with float results, or bool ones for comparisons) whose outputs all have the group's shape. It becomes one
node with kernel ``"fused_elementwise"`` whose attrs hold the program (see ``kernels/cpu/fused.py``): the
ops in graph order, size-1 constants baked in as literals, outputs for the member values read outside the
group. The fused node reuses those ``Value`` objects, so readers and ``graph.outputs`` need no rewiring.
A group may also absorb the GEMM or reduction producing one of its inputs (an *epilogue*: the kernel
node calls the GEMM, then runs the program in place on its result) when nothing else reads that result.

Exactness: a group reads all its inputs at one point of the program, where the fused node is placed:
after every value it reads is defined and before the first outside reader of a value it produces.
A node that writes memory in place (``node.mutates``) inside the group's span must not write any memory
the group reads or produces (aliases included: a view's root is its base). Distinct graph inputs are
assumed not to alias each other, as capture binds each parameter, gradient and state tensor separately.

Threads: OpenBLAS's workers keep spinning for about 0.1 s after each GEMM, and a graph's GEMMs are
milliseconds apart, so a Numba thread pool only competes with them for the cores (GEMM, GELU epilogue, GEMM:
8.8 ms with the epilogue on two Numba threads, 3.1 ms on one). Large fused loops are therefore handed to
OpenBLAS's own threads (``kernels/cpu/openblas_threads.py``: 2.6 ms). Where that is unavailable, the fused
kernels of a CPU graph that also calls BLAS (GEMMs, convolutions) run on the calling thread (``parallel=False``).
"""
from .analysis import roots

__all__ = ["fuse_elementwise", "fused_ops", "EPILOGUE_KERNELS", "BLAS_KERNELS"]

# kernels whose freshly allocated result an elementwise program may finish in place
EPILOGUE_KERNELS = frozenset({"linear", "matmul", "addmatmul", "sum", "mean", "amax", "amin"})
# CPU kernels that call BLAS (OpenBLAS's thread pool): see "Threads" above
BLAS_KERNELS = frozenset({"linear", "matmul", "addmatmul", "einsum", "conv", "conv_transpose", "conv_weight",
                          "lstm_cell", "lstm_cell_backward", "gru_cell", "gru_cell_backward", "rnn_layer",
                          "rnn_layer_backward"})
_FLOATS = frozenset({"float32", "float64"})
_READABLE = _FLOATS | {"bool"}
_DEVICES = frozenset({"cpu", "cuda"})


def fused_ops(node):
    """The kernel names a fused node computes, in order (its epilogue's GEMM or reduction first)."""
    names = [name for name, _, _, _ in node.attrs["program"][1] if name != "const"]
    prologue = node.attrs.get("prologue")
    return ([prologue[0]] if prologue else []) + names


def fuse_elementwise(graph):
    """Fuse elementwise groups of ``graph`` in place; return stats (groups, fused ops, epilogues, node counts)."""
    from kernels.cpu.fused import SCALAR_OPS
    before = len(graph.nodes)
    ctx = _Context(graph, SCALAR_OPS)
    groups = ctx.form_groups()
    for group in groups:
        ctx.attach_epilogue(group)
    # a lone copy after a GEMM computes nothing worth a pass over memory: leave it to simplification
    fused = [group for group in groups if len(group.members) + (group.anchor is not None) >= 2
             and any(m.kernel != "clone" for m in group.members)]
    ctx.rewrite(fused)
    _serial_beside_blas(graph)
    graph.verify()
    return {"groups": len(fused), "ops_fused": sum(len(g.members) + (g.anchor is not None) for g in fused),
            "epilogues": sum(g.anchor is not None for g in fused), "nodes_before": before,
            "nodes_after": len(graph.nodes),
            "fusion_groups": [fused_ops(node) for node in graph.nodes if node.kernel == "fused_elementwise"]}


def _serial_beside_blas(graph):
    """Mark the CPU fused nodes ``parallel=False`` when the graph calls BLAS and OpenBLAS's threads cannot take
    their loops (module docstring, "Threads")."""
    def calls_blas(node):
        prologue = node.attrs.get("prologue") if node.kernel == "fused_elementwise" else None
        return node.kernel in BLAS_KERNELS or (prologue is not None and prologue[0] in BLAS_KERNELS)

    from kernels.cpu import openblas_threads
    if openblas_threads.threads() > 1 or not any(calls_blas(node) for node in graph.nodes):
        return
    for node in graph.nodes:
        if node.kernel == "fused_elementwise":
            device = node.outputs[0].device
            if device is None or device.type == "cpu":
                node.attrs["parallel"] = False


class _Group:
    __slots__ = ("members", "shape", "anchor")

    def __init__(self, members, shape):
        self.members, self.shape, self.anchor = members, shape, None


class _Context:
    KERNEL = "fused_elementwise"

    def __init__(self, graph, vocabulary):
        self.graph, self.vocabulary = graph, vocabulary
        self.pos = {id(node): i for i, node in enumerate(graph.nodes)}
        self.users = graph.users()
        self.outputs = set(graph.outputs)
        self.root = roots(graph)
        self.effects = [(i, {self.root[node.inputs[k]] for k in node.mutates})
                        for i, node in enumerate(graph.nodes) if node.mutates]

    # ----- which nodes can be fused -----------------------------------------------------------------
    def scalar_op(self, node):
        """``node`` as (vocabulary op name, params), or None when it cannot join a group."""
        if node.mutates or len(node.outputs) != 1:
            return None
        out = node.outputs[0]
        if node.kernel == "cast_to":  # graph mode's dtype conversion: the program's own cast
            name, params, kinds = "cast", (), _READABLE
            if set(node.attrs) != {"dtype"} or node.attrs["dtype"] != out.dtype.name:
                return None
        else:
            spec = self.vocabulary.get(node.kernel)
            if spec is None or node.kernel in ("cast", "const") or set(node.attrs) != set(spec.params):
                return None
            name, params = node.kernel, tuple(_scalar(node.attrs[p]) for p in spec.params)
            kinds = _FLOATS if spec.kind == "float" else {"bool"}
        if len(node.inputs) != self.vocabulary[name].arity or out.dtype.name not in kinds:
            return None
        if out.device is None or out.device.type not in _DEVICES:
            return None
        if any(v.dtype.name not in _READABLE or v.device != out.device for v in node.inputs):
            return None
        if name == "where" and node.inputs[0].dtype.name != "bool":
            return None
        try:
            return (name, params) if _broadcast([v.shape for v in node.inputs]) == out.shape else None
        except ValueError:
            return None

    def anchor_ok(self, node, shape):
        if node.kernel not in EPILOGUE_KERNELS or node.mutates or len(node.outputs) != 1:
            return False
        out = node.outputs[0]
        return (out.shape == shape and out.dtype.name in _FLOATS and out not in self.outputs
                and out.device is not None and out.device.type == "cpu"
                and all(v.dtype is out.dtype for v in node.inputs))

    # ----- grouping ---------------------------------------------------------------------------------
    def group_key(self, node):
        """What a group holding ``node`` must agree on: here its output shape."""
        return node.outputs[0].shape

    def merge_keys(self, a, b):
        """The key of a group holding members of keys ``a`` and ``b``, or None when they cannot share one."""
        return a if a == b else None

    def form_groups(self):
        group_of = {}  # id(node) -> group
        groups = []
        for node in self.graph.nodes:
            if self.scalar_op(node) is None:
                continue
            key = self.group_key(node)
            candidates = []
            for v in node.inputs:
                g = group_of.get(id(v.node)) if v.kind == "node" else None
                if g is not None and self.merge_keys(g.shape, key) is not None and g not in candidates:
                    candidates.append(g)
            chosen = None
            options = ([candidates] if len(candidates) > 1 else []) + [[g] for g in reversed(candidates)]
            for option in options:
                merged = key
                for g in option:
                    merged = self.merge_keys(g.shape, merged) if merged is not None else None
                members = sorted([m for g in option for m in g.members] + [node], key=lambda n: self.pos[id(n)])
                if merged is not None and self.valid(members):
                    chosen = option
                    break
            if chosen is None:
                group = _Group([node], key)
                groups.append(group)
            else:
                group = chosen[0]
                group.members, group.shape = members, merged
                for other in chosen[1:]:
                    groups.remove(other)
            for m in group.members:
                group_of[id(m)] = group
        return groups

    def attach_epilogue(self, group):
        """Absorb the GEMM or reduction feeding ``group`` when only the group reads its result."""
        inside = {id(m) for m in group.members}
        for member in group.members:
            for v in member.inputs:
                if v.kind != "node" or id(v.node) in inside or not self.anchor_ok(v.node, group.shape):
                    continue
                if any(id(u) not in inside for u in self.users.get(v, ())):
                    continue
                members = sorted(group.members + [v.node], key=lambda n: self.pos[id(n)])
                if self.valid(members):
                    group.anchor = v.node
                    return True
        return False

    def valid(self, members):
        """True when ``members`` can run as one node (see the module docstring)."""
        inside = {id(m) for m in members}
        last_def, first_use = -1, len(self.graph.nodes)
        touched = set()
        for m in members:
            for v in m.inputs:
                touched.add(self.root.get(v, v))
                if v.kind == "node" and id(v.node) not in inside:
                    last_def = max(last_def, self.pos[id(v.node)])
            for v in m.outputs:
                touched.add(self.root.get(v, v))
                for u in self.users.get(v, ()):
                    if id(u) not in inside:
                        first_use = min(first_use, self.pos[id(u)])
        if last_def >= first_use:
            return False
        lo, hi = self.pos[id(members[0])], self.pos[id(members[-1])]
        return not any(lo < i < hi and written & touched for i, written in self.effects)

    # ----- rewriting --------------------------------------------------------------------------------
    def attributes(self, group, program, results):
        """The fused node's attributes for ``program``, which computes ``results``."""
        return {"program": program}

    def rewrite(self, groups):
        placed = {}  # position the fused node goes before -> fused nodes
        removed = set()
        for group in groups:
            node, at = self.build(group)
            placed.setdefault(at, []).append(node)
            removed.update(id(m) for m in group.members)
            if group.anchor is not None:
                removed.add(id(group.anchor))
        nodes = []
        for i, node in enumerate(self.graph.nodes + [None]):
            nodes += _dependency_order(placed.get(i, []))
            if node is not None and id(node) not in removed:
                nodes.append(node)
        self.graph.nodes = nodes

    def build(self, group):
        """The fused node for ``group`` and the position it goes before."""
        from ..ir import Node
        members = group.members
        inside = {id(m) for m in members}
        slot, in_values, in_dtypes = {}, [], []
        if group.anchor is not None:
            head = group.anchor.outputs[0]
            slot[head] = 0
            in_values += group.anchor.inputs
            in_dtypes.append(head.dtype.name)
        constants = self.graph.constants
        for m in members:
            for v in m.inputs:
                if v in slot or (v.kind == "node" and id(v.node) in inside) or _literal(v, constants) is not None:
                    continue
                slot[v] = len(in_dtypes)
                in_values.append(v)
                in_dtypes.append(v.dtype.name)
        ops = []

        def ref(v):
            if v not in slot:  # a size-1 constant, emitted once as a literal
                ops.append(("const", (), (_literal(v, constants),), v.dtype.name))
                slot[v] = len(in_dtypes) + len(ops) - 1
            return slot[v]

        for m in members:
            args = tuple(ref(v) for v in m.inputs)
            name, params = self.scalar_op(m)
            ops.append((name, args, params, m.outputs[0].dtype.name))
            slot[m.outputs[0]] = len(in_dtypes) + len(ops) - 1
        results = [v for v in (m.outputs[0] for m in members)
                   if v in self.outputs or any(id(u) not in inside for u in self.users.get(v, ()))]
        attrs = self.attributes(group, (tuple(in_dtypes), tuple(ops), tuple(slot[v] for v in results)), results)
        if group.anchor is not None:
            anchor = group.anchor
            attrs["prologue"] = (anchor.kernel, tuple(sorted((k, _scalar(a)) for k, a in anchor.attrs.items())),
                                 len(anchor.inputs))
        first = group.anchor or members[0]
        node = Node(self.KERNEL, self.KERNEL, in_values, attrs, location=first.location)
        node.outputs = results
        for j, v in enumerate(results):
            v.node, v.index = node, j
        end = max(self.pos[id(m)] for m in members) + 1
        first_use = min([self.pos[id(u)] for v in results for u in self.users.get(v, ()) if id(u) not in inside]
                        + [end])
        return node, first_use


def _dependency_order(nodes):
    """Fused nodes inserted at one position, producers before their readers."""
    if len(nodes) < 2:
        return nodes
    ordered, done = [], set()

    def visit(node):
        if id(node) in done:
            return
        done.add(id(node))
        for v in node.inputs:
            if v.kind == "node" and any(v.node is n for n in nodes):
                visit(v.node)
        ordered.append(node)

    for node in nodes:
        visit(node)
    return ordered


def _literal(value, constants):
    """The Python scalar of a one-element constant (baked into the program), else None."""
    if value.kind != "const":
        return None
    array = constants[value]
    if array.size != 1 or value.dtype.name not in ("float32", "float64", "bool", "int32", "int64"):
        return None
    return array.reshape(-1)[0].item()


def _scalar(a):
    """An attribute as a plain hashable Python value (numpy scalars become Python numbers)."""
    if hasattr(a, "item") and getattr(a, "ndim", 1) == 0:
        return a.item()
    if isinstance(a, list):
        return tuple(_scalar(x) for x in a)
    return a


def _broadcast(shapes):
    import numpy as np
    return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
