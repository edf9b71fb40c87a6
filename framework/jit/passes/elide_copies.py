"""Copy elision: a ``clone`` that is the last reader of a dead intermediate buffer takes that buffer instead.

Autograd clones a gradient before it becomes ``.grad`` (the buffer could be shared with other tensors in
eager mode). In a graph we know every reader: when the clone reads a fresh intermediate (a node's own buffer
or a view of one) that nothing reads after it, that no node writes in place and that is no graph output,
nobody can observe the sharing. The clone becomes ``take_buffer``, which returns its input itself when it is
row-major contiguous (what ``clone`` would produce) and copies otherwise, so results are bit-identical.

For the other passes a ``take_buffer`` output may alias its input (``analysis.is_view`` says so), which
keeps the memory planner from donating the buffer while the output lives.
"""
from .analysis import mutated_roots, roots

__all__ = ["elide_copies", "TAKE_BUFFER"]

TAKE_BUFFER = "take_buffer"


def elide_copies(graph):
    """Turn every clone that is the last reader of a dead, never-written intermediate into ``take_buffer``.

    Returns ``{"copies_elided": n}``.
    """
    root = roots(graph)
    written = mutated_roots(graph, root)
    output_roots = {root[v] for v in graph.outputs}
    last_reader = {}  # root -> index of the last node reading any alias of it
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            last_reader[root[v]] = i
    elided = 0
    for i, node in enumerate(graph.nodes):
        if node.kernel != "clone" or len(node.inputs) != 1 or node.attrs or node.mutates:
            continue
        source, out = node.inputs[0], node.outputs[0]
        owner = root[source]
        if owner.kind != "node" or owner in written or owner in output_roots or last_reader[owner] != i:
            continue
        if source.dtype is not out.dtype or source.shape != out.shape:
            continue
        node.op = node.kernel = TAKE_BUFFER
        elided += 1
        # the output now belongs to the source's buffer: later clones of it see that
        root[out] = owner
        output_roots.add(owner)
    return {"copies_elided": elided}
