"""The backward engine: walk the tape from the outputs, sum gradients per node, call derivatives."""
import weakref

from ..jit import slot as _jit
from .grad_mode import state
from .node import AccumulateGrad


def _topological_order(roots):
    """Nodes reachable from ``roots``, each after every node that feeds it a gradient."""
    order, seen = [], set()
    for root in roots:
        if root is None or id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.next_edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if edge is not None and id(edge[0]) not in seen:
                    seen.add(id(edge[0]))
                    stack.append((edge[0], iter(edge[0].next_edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _sum_to_shape(grad, shape):
    """Reduce a broadcast gradient back to an input's shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1]
    if dims:
        grad = grad.sum(dims, keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


def _run_hooks(hooks, grad):
    for hook in list(hooks.values()):
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None, accumulate=True):
    """Propagate ``root_grads`` from the ``roots`` edges ``(node, index)`` down the tape.

    With ``capture`` (a dict keyed by edge), the gradients reaching those edges are stored there
    instead of (or besides, when ``accumulate``) being accumulated into leaves' ``.grad``.
    """
    from .._tensor import Tensor
    pending = {}  # id(node) -> list of gradient per output
    nodes = {}
    for (node, index), grad in zip(roots, root_grads):
        slots = pending.setdefault(id(node), [None] * node.n_outputs)
        slots[index] = grad if slots[index] is None else slots[index] + grad
        nodes[id(node)] = node
    order = _topological_order(list(nodes.values()))

    prev_enabled = state.enabled
    state.enabled = create_graph
    try:
        for node in order:
            grads = pending.pop(id(node), None)
            if grads is None:
                continue
            if node.pre_hooks:
                for i, hooks in node.pre_hooks.items():
                    if grads[i] is not None:
                        grads[i] = _run_hooks(hooks, grads[i])
            if capture is not None:
                for i in range(node.n_outputs):
                    if (id(node), i) in capture and grads[i] is not None:
                        capture[(id(node), i)] = grads[i]
            if isinstance(node, AccumulateGrad):
                if accumulate:
                    _accumulate(node.variable, grads[0], create_graph)
                continue
            if getattr(node, "retained", None):
                for i, ref in node.retained.items():
                    t = ref()
                    if t is not None and grads[i] is not None:
                        g = grads[i] if create_graph else grads[i].detach()
                        t.grad = g if t.grad is None else t.grad + g
            if all(g is None for g in grads):
                continue
            if node.n_outputs > 1:
                device = next(g for g in grads if g is not None)._device
                grads = [g if g is not None else _zeros_for(node, i, device) for i, g in enumerate(grads)]
            if state.anomaly:
                input_grads = _call_with_anomaly(node, grads)
            else:
                input_grads = node.derivative(node, *grads)
            if not isinstance(input_grads, (tuple, list)):
                input_grads = (input_grads,)
            if node.post_hooks:
                for hook in list(node.post_hooks.values()):
                    result = hook(tuple(input_grads), tuple(grads))
                    if result is not None:
                        input_grads = result
            if not retain_graph:
                node.free()
            for edge, meta, g in zip(node.next_edges, node.input_meta, input_grads):
                if edge is None or g is None:
                    continue
                if not isinstance(g, Tensor):
                    raise TypeError(f"{node.name()} returned a gradient of type {type(g).__name__}, expected a Tensor")
                shape, dtype = meta
                if g._data.shape != shape:
                    try:
                        g = _sum_to_shape(g, shape)
                    except Exception:
                        raise RuntimeError(
                            f"Function {node.name()} returned an invalid gradient - got {list(g.shape)} but "
                            f"expected shape compatible with {list(shape)}") from None
                if g.dtype is not dtype:
                    g = g.to(dtype)
                target, index = edge
                slots = pending.get(id(target))
                if slots is None:
                    slots = pending[id(target)] = [None] * target.n_outputs
                slots[index] = g if slots[index] is None else slots[index] + g
    finally:
        state.enabled = prev_enabled


def _zeros_for(node, index, device):
    from .. import _creation
    shape, dtype = node.attrs["_out_meta"][index]
    return _creation.zeros(shape, dtype=dtype, device=device)


def _accumulate(variable, grad, create_graph):
    """Add ``grad`` into ``variable.grad``; in place when not building a graph, as PyTorch does."""
    tracer = _jit.tracer
    if tracer is not None:
        tracer.grad_read(variable)
    if create_graph:
        variable.grad = grad if variable.grad is None else variable.grad + grad
    elif variable.grad is None:
        # gradients can alias each other (a + a) or the user's tensors: own a private copy
        variable.grad = grad.detach().clone()
    else:
        from .grad_mode import no_grad
        with no_grad():
            variable.grad.add_(grad)
    if tracer is not None:
        tracer.grad_written(variable)
    if variable._accumulator is not None and variable._accumulator.post_hooks:
        for hook in list(variable._accumulator.post_hooks.values()):
            hook(variable)


def _call_with_anomaly(node, grads):
    import warnings
    try:
        out = node.derivative(node, *grads)
    except Exception as exc:
        if node.anomaly_trace:
            warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                          + node.anomaly_trace)
        raise
    if state.anomaly_check_nan:
        for g in (out if isinstance(out, (tuple, list)) else (out,)):
            if g is not None and g.dtype.is_floating_point and bool(g.isnan().any()):
                where = f" (recorded at {node.where[0]}:{node.where[1]})"
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its 0th output.{where}")
    return out


def leaf_edge(tensor):
    """The (node, index) edge a gradient for ``tensor`` flows into."""
    if tensor.grad_fn is not None:
        return (tensor.grad_fn, tensor._out_index)
    acc = tensor._accumulator
    if acc is None:
        acc = tensor._accumulator = AccumulateGrad(tensor)
    return (acc, 0)


def retain(tensor):
    node = tensor.grad_fn
    if node.retained is None:
        node.retained = {}
    node.retained[tensor._out_index] = weakref.ref(tensor)
