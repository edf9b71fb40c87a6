"""The inference graph both exporters start from: a model traced in eval mode under no_grad, optimised
without fusion, and made purely functional (in-place writes become new values).

Exporters (``framework.onnx``, ``framework.export``) then map each node to their target one at a time; they
see only primitive ops, never ``fused_elementwise`` nodes, because the fusion pass is left out here.
"""
import os

from .passes.analysis import roots

__all__ = ["InferenceGraph", "inference_graph", "check_destination", "state_name"]

# the passes that keep ops primitive: fusion and memory planning are for the executor, not for export
EXPORT_PASSES = ("constant_fold", "simplify", "cse", "dce")


class InferenceGraph:
    """A traced graph plus what exporters need: ``args`` (graph inputs bound to call arguments, in order),
    ``outputs`` (output values in the order the model returns its tensors) and a name per state input."""

    def __init__(self, graph, args, outputs, arrays):
        self.graph, self.args, self.outputs = graph, args, outputs
        self.arrays = arrays  # state input -> its current array

    @property
    def state(self):
        """Graph inputs that are not call arguments (parameters, buffers, captured tensors), in order."""
        bound = set(self.args)
        return [v for v in self.graph.inputs if v not in bound]


def check_destination(who, f):
    """Refuse early a path whose directory does not exist (before the model runs)."""
    if isinstance(f, (str, os.PathLike)):
        folder = os.path.dirname(os.path.abspath(os.fspath(f)))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{who}: cannot write {os.fspath(f)!r}: directory {folder!r} does not exist")
        return
    if not hasattr(f, "write"):
        raise TypeError(f"{who}: f must be a path or a writable binary file object, got {type(f).__name__}")


def state_name(value):
    """``fc1.weight`` for a parameter the trace named ``self.fc1.weight``; ``state_<id>`` when unnamed."""
    name = value.name or f"state_{value.id}"
    return name[len("self."):] if name.startswith("self.") else name


def inference_graph(who, model, args, kwargs=None, optimize=True):
    """Trace ``model(*args, **kwargs)`` in eval mode under no_grad and return an :class:`InferenceGraph`.

    ``optimize`` runs constant folding, simplification, CSE and DCE (never fusion). The model's training flag is
    restored afterwards.
    """
    import framework
    from .._tensor import Tensor
    from .capture import flatten
    from .compile import trace
    from .passes import optimize as run_passes

    if isinstance(args, Tensor) or not isinstance(args, (tuple, list)):
        args = (args,)
    kwargs = dict(kwargs or {})
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with framework.no_grad():
            call = model if not kwargs else _with_kwargs(model, kwargs)
            traced = trace(call, tuple(args), optimize=False)
    finally:
        if was_training:
            model.train()
    entry = traced._latest()
    graph = entry.graph
    if optimize:
        run_passes(graph, passes=EXPORT_PASSES)
    current = functionalize(who, graph)
    outputs = [current.get(graph.outputs[x], graph.outputs[x]) for _, kind, x in entry.spec if kind == "value"]
    graph.outputs = [current.get(v, v) for v in graph.outputs]
    paths = {id(v): b.path for v, b in zip(graph.inputs, entry.bindings) if hasattr(b, "path")}
    # arguments in the order the caller passed them (flatten order of (args, kwargs))
    order = {path: i for i, (path, _) in enumerate(flatten((tuple(args), kwargs)))}
    arg_values = sorted((v for v in graph.inputs if id(v) in paths), key=lambda v: order.get(paths[id(v)], 0))
    arrays = {v: b.tensor(None)._data for v, b in zip(graph.inputs, entry.bindings) if id(v) not in paths}
    return InferenceGraph(graph, arg_values, outputs, arrays)


def _with_kwargs(model, kwargs):
    def call(*args):
        return model(*args, **kwargs)
    call.__wrapped__ = model.__call__ if hasattr(model, "named_parameters") else model
    return call


def functionalize(who, graph):
    """Remove in-place copies (``relu_``, ``ReLU(inplace=True)``): later readers of the written value read the
    written data instead. Returns the old value -> new value map (for the outputs).

    Writes into a view, into a value that has views, or of another shape or dtype cannot be expressed this way and
    raise NotImplementedError naming the user's line.
    """
    root = roots(graph)
    position = {v: i for i, node in enumerate(graph.nodes) for v in node.outputs}
    last_read = {}
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            last_read[v] = i
    for v in graph.outputs:
        last_read[v] = len(graph.nodes)
    current, kept = {}, []
    for i, node in enumerate(graph.nodes):
        node.inputs = [current.get(v, v) for v in node.inputs]
        if not node.mutates:
            kept.append(node)
            continue
        if node.kernel != "copy_into":
            raise NotImplementedError(f"{who}: op '{node.op}' writes memory in place (at {node.location}); "
                                      "an exported inference graph cannot hold that")
        dst, src = node.inputs
        # a view taken before the write and read after it would see the write: not expressible as a new value
        stale_view = any(root[v] is dst and v is not dst and position.get(v, -1) < i and last_read.get(v, -1) > i
                         for v in root)
        if root[dst] is not dst or stale_view:
            raise NotImplementedError(f"{who}: an in-place write into a view or a viewed tensor (at "
                                      f"{node.location}) cannot be exported; use the out-of-place op")
        if src.shape != dst.shape or src.dtype is not dst.dtype:
            raise NotImplementedError(f"{who}: an in-place write of a {src.type_str} value into a {dst.type_str} "
                                      f"tensor (at {node.location}) cannot be exported")
        for old, new in list(current.items()):
            if new is dst:
                current[old] = src
        current[dst] = src
    graph.nodes = kept
    return current
