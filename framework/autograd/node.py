"""Tape nodes: what an op recorded for its backward pass."""
import os
import sys

_FRAMEWORK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OUR_DIRS = (_FRAMEWORK_DIR, os.path.join(os.path.dirname(_FRAMEWORK_DIR), "kernels"))


def user_frame():
    """(filename, lineno) of the innermost caller outside the framework: where the user wrote the op."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_OUR_DIRS):
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else ("<unknown>", 0)


class SavedTensor:
    """A tensor saved for backward, with the version it had when saved."""

    __slots__ = ("tensor", "version")

    def __init__(self, tensor):
        self.tensor = tensor
        self.version = tensor._vc.value

    def unpack(self, node, index):
        t = self.tensor
        if t._vc.value != self.version:
            origin = f", which is output {t._out_index} of {t.grad_fn.name()}," if t.grad_fn else ""
            where = f"{node.name()} recorded at {node.where[0]}:{node.where[1]}" if node is not None else \
                "a custom Function"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace operation: "
                f"[{t.type()} {list(t.shape)}]{origin} is at version {t._vc.value}; expected version {self.version} "
                f"instead. Hint: the op was {where}; enable anomaly detection with "
                "torch.autograd.set_detect_anomaly(True) to see its forward traceback.")
        return t


class _Hooks:
    """Hook registration shared by tape nodes and leaf accumulators: hooks live in dicts keyed by their handle's id,
    so ``handle.remove()`` drops exactly that registration."""

    __slots__ = ()

    def register_hook(self, hook):
        """Register ``hook(grad_inputs, grad_outputs)`` to run after this node's backward."""
        if self.post_hooks is None:
            self.post_hooks = {}
        return _register(self.post_hooks, hook)

    def add_pre_hook(self, index, hook):
        """Register ``hook(grad)`` on the gradient of output ``index`` before this node runs."""
        if self.pre_hooks is None:
            self.pre_hooks = {}
        return _register(self.pre_hooks.setdefault(index, {}), hook)


def _register(hooks, hook):
    from ..utils.hooks import RemovableHandle
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class Node(_Hooks):
    """A recorded op: its derivative, saved tensors, attributes and edges to its inputs' nodes.

    ``next_edges[i]`` is ``(node, output_index)`` for the i-th input, or None when that input does
    not require grad. ``input_meta[i]`` is the input's (shape, dtype), used to reduce broadcast
    gradients and cast them back.
    """

    __slots__ = ("op", "derivative", "attrs", "next_edges", "input_meta", "n_outputs", "_saved", "_freed",
                 "where", "pre_hooks", "post_hooks", "retained", "anomaly_trace", "__weakref__")

    def __init__(self, op_name, derivative, attrs, next_edges, input_meta, n_outputs=1, saved=()):
        self.op = op_name
        self.derivative = derivative
        self.attrs = attrs
        self.next_edges = next_edges
        self.input_meta = input_meta
        self.n_outputs = n_outputs
        self._saved = saved
        self._freed = False
        self.where = user_frame()
        self.pre_hooks = None   # {output_index: [hook(grad) -> grad|None]} from Tensor.register_hook
        self.post_hooks = None  # [hook(grad_inputs, grad_outputs)] from Node.register_hook
        self.retained = None    # {output_index: weakref(tensor)} from retain_grad()
        self.anomaly_trace = None

    def name(self):
        return _backward_name(self.op)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.next_edges)

    @property
    def needs_input_grad(self):
        """Per input, whether a gradient for it is wanted (derivatives may skip the others)."""
        return tuple(e is not None for e in self.next_edges)

    @property
    def saved(self):
        """The saved tensors, checked against in-place modification since they were saved."""
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after they "
                "have already been freed). Saved intermediate values of the graph are freed when you call "
                ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                f"graph a second time or if you need to access saved tensors after calling backward. (node "
                f"{self.name()} recorded at {self.where[0]}:{self.where[1]})")
        return tuple(s.unpack(self, i) if s is not None else None for i, s in enumerate(self._saved))

    def free(self):
        if self._saved:
            self._saved = ()
            self._freed = True


class AccumulateGrad(_Hooks):
    """The sink node of a leaf tensor: accumulates incoming gradient into ``.grad``."""

    __slots__ = ("variable", "pre_hooks", "post_hooks", "__weakref__")
    next_edges = ()
    n_outputs = 1
    where = ("<leaf>", 0)

    def __init__(self, variable):
        self.variable = variable
        self.pre_hooks = None
        self.post_hooks = None

    def name(self):
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


_FIXED_NAMES = {"copy_slices": "CopySlices"}


def _backward_name(op):
    if op in _FIXED_NAMES:
        return _FIXED_NAMES[op]
    return "".join(part[:1].upper() + part[1:] for part in op.split("_")) + "Backward0"
