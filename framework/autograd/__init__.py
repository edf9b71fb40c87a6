"""Autograd: ``backward``, ``grad``, grad modes, custom ``Function``, ``gradcheck``, anomaly detection."""
from .engine import leaf_edge, run_backward
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "Function", "gradcheck", "gradgradcheck", "detect_anomaly", "set_detect_anomaly", "Variable"]


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(outputs, grad_outputs, create_graph):
    from .. import _creation
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            g = _creation.ones_like(out)
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] has a "
                               f"shape of {out.shape}.")
        grads.append(g)
    return grads


def _check_outputs(outputs):
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (``torch.autograd.backward``)."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors if grad_tensors is not None else grad_variables)
    if grad_tensors is not None and len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(grad_tensors)} tensors and {len(tensors)} gradients")
    _check_outputs(tensors)
    retain_graph = create_graph if retain_graph is None else retain_graph
    grads = _root_grads(tensors, grad_tensors, create_graph)
    roots = [leaf_edge(t) for t in tensors]
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        capture = {(id(leaf_edge(t)[0]), leaf_edge(t)[1]): None for t in inputs}
        run_backward(roots, grads, retain_graph, create_graph, capture=capture, accumulate=False)
        from .engine import _accumulate
        for t in inputs:
            node, index = leaf_edge(t)
            g = capture[(id(node), index)]
            if g is not None:
                _accumulate(t, g, create_graph)
        return
    run_backward(roots, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated."""
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported")
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs)
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
                         "allow_unused=False.")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    _check_outputs(outputs)
    retain_graph = create_graph if retain_graph is None else retain_graph
    grads = _root_grads(outputs, grad_outputs, create_graph)
    roots = [leaf_edge(t) for t in outputs]
    edges = [leaf_edge(t) for t in inputs]
    capture = {(id(node), index): None for node, index in edges}
    run_backward(roots, grads, retain_graph, create_graph, capture=capture, accumulate=False)
    result = []
    for t, (node, index) in zip(inputs, edges):
        g = capture[(id(node), index)]
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                from .. import _creation
                g = _creation.zeros_like(t)
        result.append(g)
    return tuple(result)


def Variable(data, requires_grad=False):
    """Deprecated wrapper kept for old scripts: returns ``data`` with ``requires_grad`` set."""
    return data.detach().requires_grad_(requires_grad) if requires_grad else data


from .function import Function  # noqa: E402
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402
from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: E402
