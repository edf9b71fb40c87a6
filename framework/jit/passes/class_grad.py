"""Cross-entropy's backward in one pass: log-softmax's gradient under a class pick.

Autograd differentiates ``class_pick(log_softmax(z), target)`` (the core of ``cross_entropy`` and
``nll_loss(log_softmax(...))``) op by op: ``G = class_place(g, target)`` scatters each row's gradient into an
(N, C) buffer of zeros, and log-softmax's backward then computes ``G - exp(logp) * G.sum(-1)``: four passes
over (N, C) values and two (N, C) temporaries. Since ``G`` holds one value per row, its row sum is that value,
and the whole chain is one pass writing ``G - exp(logp) * g`` (kernel ``log_softmax_class_backward``).

Matched on CPU graphs only: the kernel's device form is an array expression, no better than the four launches
it would replace. The nodes the fused one replaces must feed nothing else.
"""

__all__ = ["fuse_class_backward", "FUSED_KERNEL"]

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
