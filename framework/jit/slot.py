"""The switches eager code reads: the active tracer (None when nothing is being captured) and the context mode.

This module imports nothing, so the dispatcher and ``Tensor`` can test ``slot.tracer`` without a cost.
"""
tracer = None
mode = "graph"


def host_read(what):
    """Eager code computes ``what`` on the host from tensor values: while tracing, a graph break naming it."""
    if tracer is not None:
        tracer.graph_break(what)


def note_index(t):
    """An indexing key is about to hold ``t``'s storage array: ``t._data``, noted by the tracer if one runs."""
    if tracer is not None:
        tracer.note_index(t)
    return t._data
