"""Dead-code elimination: drop nodes none of whose outputs is used, and constants nobody reads."""
from .analysis import is_pure

__all__ = ["eliminate_dead_code"]


def eliminate_dead_code(graph):
    """Remove nodes whose outputs reach no graph output or effect; nodes that write or draw random numbers stay.

    Returns ``{"nodes_removed": n, "constants_removed": m}``.
    """
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if not is_pure(node) or any(v in live for v in node.outputs):
            kept.append(node)
            live.update(node.inputs)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    unused = [v for v in graph.constants if v not in live]
    for value in unused:
        del graph.constants[value]
    return {"nodes_removed": removed, "constants_removed": len(unused)}
