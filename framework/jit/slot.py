"""The switches eager code reads: the active tracer (None when nothing is being captured) and the context mode.

This module imports nothing, so the dispatcher and ``Tensor`` can test ``slot.tracer`` without a cost.
"""
tracer = None
mode = "graph"
