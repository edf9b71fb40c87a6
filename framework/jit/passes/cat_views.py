"""Concatenate views, not copies: ``cat`` of reshapes that merge dims at the cat dim reads the reshapes' inputs.

Attention's backward builds the gradient of the fused q, k, v projection as ``cat([reshape(permute(dq)), ...],
dim=2)``: each reshape of a permuted view copies (the merged dims are not contiguous), then ``cat`` copies
again. When every reshape only merges the dims starting at the cat dim into that dim, concatenating the
reshapes' inputs along that dim holds the same values in the same order, and reshaping the result back is a
view of its fresh buffer: ``reshape(cat([permute(dq), ...], dim=2))``, one copy per piece instead of two.

Exact (values are only moved). Applied when each piece's input is never written in place (so reading it at
the cat, not at the reshape, sees the same values) and all pieces share the cat's dtype.
"""
import math

from .analysis import mutated_roots, roots

__all__ = ["concatenate_views"]


def concatenate_views(graph):
    """Rewrite each matching ``cat`` as above. Returns ``{"cats_of_views": n}``."""
    root = roots(graph)
    written = mutated_roots(graph, root)
    rewritten = 0
    for cat in [node for node in graph.nodes if node.kernel == "cat"]:
        dim = cat.attrs["dim"] % len(cat.outputs[0].shape)
        pieces = _merged_pieces(cat, dim, root, written)
        if pieces is None:
            continue
        first = pieces[0].shape
        joined = first[:dim] + (sum(p.shape[dim] for p in pieces),) + first[dim + 1:]
        out = cat.outputs[0]
        join = graph.add_node("cat", pieces, {"dim": dim, "sizes": tuple(p.shape[dim] for p in pieces)},
                              [(joined, out.dtype, out.device)], location=cat.location)
        back = graph.add_node("reshape", join.outputs, {"shape": out.shape}, [], location=cat.location)
        del graph.nodes[-2:]  # they take the cat's place; the reshape produces the cat's value for its readers
        back.outputs, out.node, out.index = [out], back, 0
        at = graph.nodes.index(cat)
        graph.nodes[at:at + 1] = [join, back]
        rewritten += 1
    if rewritten:
        from .dce import eliminate_dead_code
        eliminate_dead_code(graph)
    return {"cats_of_views": rewritten}


def _merged_pieces(cat, dim, root, written):
    """The reshapes' inputs when every input of ``cat`` is a reshape merging dims at ``dim``, else None."""
    out = cat.outputs[0]
    pieces, inner = [], None
    for value in cat.inputs:
        node = value.node
        if value.kind != "node" or node.kernel != "reshape" or value.dtype is not out.dtype:
            return None
        source = node.inputs[0]
        if root[source] in written:
            return None
        shape, merged = source.shape, value.shape
        width = len(shape) - len(merged) + 1  # how many source dims merge into the cat dim
        if (width < 2 or shape[:dim] != merged[:dim] or shape[dim + width:] != merged[dim + 1:]
                or math.prod(shape[dim:dim + width]) != merged[dim]):
            return None
        if inner is not None and shape[dim + 1:dim + width] != inner:
            return None
        inner = shape[dim + 1:dim + width]
        pieces.append(source)
    return pieces
