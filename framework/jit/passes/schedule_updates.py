"""Update scheduling: an in-place write (an optimizer's parameter update) runs as soon as what it needs is ready.

A captured training step runs the whole backward and then every optimizer update, so by the time a parameter
is updated its gradient, written by the backward long before, has left the cache and the update (a pure
memory stream over gradient, parameter and state) reads all of it back from memory. Moved up to just after
the last node it depends on, the update reads the gradient the backward has just written (and, for most
layers, the weight the backward has just read) while they are still in cache.

A write moves up past a node only when the two touch no common memory, aliases included: it must follow
every producer of its inputs, every earlier node reading or writing memory it writes, and every earlier
write to memory it reads. Random draws (which advance a generator) keep their place, and so does every node
that is not a write. The results are bit-identical: each kernel sees exactly the values it saw before.
"""
from .analysis import is_random, roots

__all__ = ["schedule_updates"]


def schedule_updates(graph):
    """Move each in-place write to just after the last node it depends on. Returns ``{"updates_moved": n}``."""
    root = roots(graph)
    nodes = list(graph.nodes)
    moved = 0
    for i in range(len(nodes)):
        node = nodes[i]
        if not node.mutates or is_random(node):
            continue
        earliest = _earliest_position(nodes, i, root)
        if earliest < i:
            nodes.insert(earliest, nodes.pop(i))
            moved += 1
    graph.nodes = nodes
    return {"updates_moved": moved}


def _earliest_position(nodes, i, root):
    """The lowest index node ``i`` can run at, given the nodes before it."""
    node = nodes[i]
    written = {root[node.inputs[k]] for k in node.mutates}
    read = {root[v] for v in node.inputs}
    producers = {v.node for v in node.inputs if v.kind == "node"}
    for j in range(i - 1, -1, -1):
        other = nodes[j]
        if other in producers or is_random(other):
            return j + 1
        touched = {root[v] for v in other.inputs} | {root[v] for v in other.outputs}
        if touched & written:
            return j + 1
        if other.mutates and {root[other.inputs[k]] for k in other.mutates} & read:
            return j + 1
    return 0
