"""Cross-entropy's backward in one pass: log-softmax's gradient under a class pick.

Autograd differentiates ``class_pick(log_softmax(z), target)`` (the core of ``cross_entropy`` and
``nll_loss(log_softmax(...))``) op by op: ``G = class_place(g, target)`` scatters each row's gradient into an
(N, C) buffer of zeros, and log-softmax's backward then computes ``G - exp(logp) * G.sum(-1)``: four passes
over (N, C) values and two (N, C) temporaries. Since ``G`` holds one value per row, its row sum is that value,
and the whole chain is one pass writing ``G - exp(logp) * g`` (kernel ``log_softmax_class_backward``).

Matched on CPU graphs only: the kernel's device form is an array expression, no better than the four launches
it would replace. The nodes the fused one replaces must feed nothing else.
"""

__all__ = ["fuse_class_backward", "fuse_cross_entropy", "FUSED_KERNEL", "MEAN_KERNEL"]

FUSED_KERNEL = "log_softmax_class_backward"


def fuse_class_backward(graph):
    """Replace each matched ``class_place -> log-softmax backward`` chain by one fused node.

    Returns ``{"class_backward_fused": n}``.
    """
    users = graph.users()
    outputs = set(graph.outputs)
    fused = 0
    for node in graph.nodes:
        match = _match(node, users, outputs)
        if match is None:
            continue
        logp, g, target = match
        node.op = node.kernel = FUSED_KERNEL
        node.inputs, node.attrs = [logp, g, target], {}
        fused += 1
    if fused:
        from .dce import eliminate_dead_code
        eliminate_dead_code(graph)
    return {"class_backward_fused": fused}


def _producer(value, kernel):
    node = value.node if value.kind == "node" else None
    return node if node is not None and node.kernel == kernel and not node.mutates else None


def _only_feeds(value, readers, users, outputs):
    return value not in outputs and all(u in readers for u in users.get(value, ()))


def _match(node, users, outputs):
    """(logp, g, target) when ``node`` is ``sub(G, mul(exp(logp), sum(G, last dim)))`` with
    ``G = class_place(g, target)`` and ``logp = log_softmax(z, last dim)``; None otherwise."""
    if node.kernel != "sub" or node.attrs or len(node.inputs) != 2:
        return None
    placed, product = node.inputs
    place, mul = _producer(placed, "class_place"), _producer(product, "mul")
    if place is None or mul is None or len(mul.inputs) != 2 or mul.attrs:
        return None
    exp_value, sum_value = mul.inputs
    if _producer(exp_value, "exp") is None:
        exp_value, sum_value = sum_value, exp_value
    exp, total = _producer(exp_value, "exp"), _producer(sum_value, "sum")
    if exp is None or total is None or exp.attrs or total.inputs != [placed]:
        return None
    logp = exp.inputs[0]
    soft = _producer(logp, "log_softmax")
    last = len(placed.shape) - 1
    if soft is None or len(placed.shape) != 2 or soft.attrs.get("dim") not in (last, -1):
        return None
    if total.attrs.get("dims") not in ((last,), (-1,)) or total.attrs.get("keepdim") is not True:
        return None
    if placed.shape != logp.shape or placed.dtype is not logp.dtype or product.shape != placed.shape:
        return None
    device = node.outputs[0].device
    if device is not None and device.type != "cpu":
        return None  # see the module docstring
    if not (_only_feeds(placed, {total, node}, users, outputs) and _only_feeds(product, {node}, users, outputs)
            and _only_feeds(exp_value, {mul}, users, outputs) and _only_feeds(sum_value, {mul}, users, outputs)):
        return None
    g, target = place.inputs
    return logp, g, target


# ----- mean cross-entropy, forward and backward --------------------------------------------------------

MEAN_KERNEL = "cross_entropy_mean"


def fuse_cross_entropy(graph):
    """Replace each matched mean cross-entropy (its loss and the backward into log-softmax, as
    ``fuse_class_backward`` leaves it) by one ``cross_entropy_mean`` node.

    Autograd records ``nll_loss``'s mean over non-ignored rows as eleven nodes on (N,) vectors (the ignore
    test, safe targets, the pick, the weights, two sums, divisions, the expanded seed and its masking), each a
    kernel call that costs more than its arithmetic. Returns ``{"cross_entropy_fused": n}``.
    """
    from ..ir import Node
    from .analysis import roots
    fused = 0
    for anchor in [n for n in graph.nodes if n.kernel == FUSED_KERNEL]:
        users, outputs = graph.users(), set(graph.outputs)
        match = _match_mean(graph, anchor, users, outputs)
        if match is None:
            continue
        nodes, (logp, target, seed, ignore), loss = match
        position = {id(n): i for i, n in enumerate(graph.nodes)}
        first, last = min(position[id(n)] for n in nodes), position[id(anchor)]
        inside = {id(n) for n in nodes}
        if any(position[id(u)] < last for u in users.get(loss, ()) if id(u) not in inside):
            continue  # something reads the loss before the backward ends
        root = roots(graph)
        read = {root[v] for v in (logp, target, seed)}
        if any(root[n.inputs[k]] in read for n in graph.nodes[first:last] for k in n.mutates):
            continue
        node = Node(MEAN_KERNEL, MEAN_KERNEL, [logp, target, seed], {"ignore_index": ignore}, location=anchor.location)
        node.outputs = [loss, anchor.outputs[0]]
        for index, value in enumerate(node.outputs):
            value.node, value.index = node, index
        graph.nodes = [node if n is anchor else n for n in graph.nodes if id(n) not in inside or n is anchor]
        fused += 1
    return {"cross_entropy_fused": fused}


def _scalar_const(graph, value):
    if value.kind != "const" or value.shape != ():
        return None
    return graph.constants[value].item()


def _one(users, outputs, value, kernel):
    """The single node reading ``value`` when it is a ``kernel`` node and ``value`` is no graph output."""
    readers = users.get(value, ())
    if value in outputs or len(readers) != 1 or readers[0].kernel != kernel or readers[0].mutates:
        return None
    return readers[0]


def _match_mean(graph, anchor, users, outputs):
    """(nodes, (logp, target, seed, ignore_index), loss) for the chain ending in ``anchor``, or None."""
    logp, g, safe = anchor.inputs
    neg = _producer(g, "neg")
    product = _producer(neg.inputs[0], "mul") if neg else None
    if product is None or len(logp.shape) != 2 or logp.dtype.name not in ("float32", "float64"):
        return None
    picked_safe = _producer(safe, "where")
    if picked_safe is None:
        return None
    ignored, zero_int, target = picked_safe.inputs
    equal = _producer(ignored, "eq")
    if equal is None or equal.inputs[0] is not target or _scalar_const(graph, zero_int) != 0:
        return None
    ignore = _scalar_const(graph, equal.inputs[1])
    guard, weight = product.inputs
    if _producer(guard, "where") is None:
        guard, weight = weight, guard
    guarded, cast = _producer(guard, "where"), _producer(weight, "cast_to")
    if guarded is None or cast is None or ignore is None or cast.attrs.get("dtype") != logp.dtype.name:
        return None
    negate = _producer(cast.inputs[0], "logical_not")
    if negate is None or negate.inputs[0] is not ignored or guarded.inputs[0] is not ignored:
        return None
    zero, spread = guarded.inputs[1], guarded.inputs[2]
    expand = _producer(spread, "expand")
    scaled = _producer(expand.inputs[0], "div") if expand else None
    if _scalar_const(graph, zero) != 0 or scaled is None or scaled.inputs[0].shape != ():
        return None
    seed, count_value = scaled.inputs
    count = _producer(count_value, "sum")
    if count is None or count.inputs != [weight] or count.attrs.get("dims") is not None:
        return None
    forward = _forward_mean(graph, users, outputs, logp, safe, ignored, weight, count_value)
    if forward is None:
        return None
    loss, forward_nodes = forward
    nodes = forward_nodes + [equal, picked_safe, negate, cast, count, scaled, expand, guarded, product, neg, anchor]
    chain = {id(n) for n in nodes}
    for n in nodes:
        for v in n.outputs:
            if n is anchor or v is loss:
                continue
            if v in outputs or any(id(u) not in chain for u in users.get(v, ())):
                return None
    return nodes, (logp, target, seed, ignore), loss


def _forward_mean(graph, users, outputs, logp, safe, ignored, weight, count_value):
    """(loss, nodes) of ``sum(where(ignored, 0, -class_pick(logp, safe) * weight)) / count``, or None."""
    pick = next((n for n in users.get(logp, ()) if n.kernel == "class_pick" and n.inputs == [logp, safe]), None)
    neg = _one(users, outputs, pick.outputs[0], "neg") if pick else None
    product = _one(users, outputs, neg.outputs[0], "mul") if neg else None
    if product is None or weight not in product.inputs:
        return None
    guarded = _one(users, outputs, product.outputs[0], "where")
    if guarded is None or guarded.inputs[0] is not ignored or _scalar_const(graph, guarded.inputs[1]) != 0:
        return None
    total = _one(users, outputs, guarded.outputs[0], "sum")
    if total is None or total.attrs.get("dims") is not None:
        return None
    mean = _one(users, outputs, total.outputs[0], "div")
    if mean is None or mean.inputs != [total.outputs[0], count_value]:
        return None
    return mean.outputs[0], [pick, neg, product, guarded, total, mean]
