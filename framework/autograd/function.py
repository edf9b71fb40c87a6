"""Custom autograd functions: subclass ``Function`` with static ``forward(ctx, ...)`` and ``backward(ctx, ...)``."""
from .grad_mode import no_grad, state
from .node import Node, SavedTensor


class FunctionCtx:
    """The ``ctx`` passed to a custom Function's forward and backward."""

    def __init__(self):
        self._saved = ()
        self._node = None
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()
        self._dirty = set()

    def save_for_backward(self, *tensors):
        """Save tensors for backward; they are checked against in-place changes when read."""
        self._saved = tuple(SavedTensor(t) if t is not None else None for t in tensors)

    @property
    def saved_tensors(self):
        if self._node is not None and self._node._freed:
            return self._node.saved  # raises the freed-graph error
        return tuple(s.unpack(self._node, i) if s is not None else None for i, s in enumerate(self._saved))

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class _FunctionNode(Node):
    """The tape node of a custom Function: named after the class, as PyTorch does (``MyFnBackward``)."""

    __slots__ = ("backward_name",)

    def name(self):
        return self.backward_name


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_name = name + "Backward"


class Function(metaclass=_FunctionMeta):
    """Base class for custom differentiable operations (``torch.autograd.Function``)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor
        from .engine import leaf_edge
        ctx = FunctionCtx()
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        needs = state.enabled and any(t.requires_grad for t in tensor_args)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if not needs:
            return output
        outputs = output if isinstance(output, tuple) else (output,)
        outputs = tuple(o.detach() if isinstance(o, Tensor) and any(o is a for a in tensor_args) and
                        id(o) not in ctx._dirty else o for o in outputs)
        edges = tuple(leaf_edge(a) if isinstance(a, Tensor) and a.requires_grad else None for a in args)
        meta = tuple((a.shape, a.dtype) if isinstance(a, Tensor) else ((), None) for a in args)

        def derivative(node, *grads):
            result = cls.backward(ctx, *grads)
            result = result if isinstance(result, tuple) else (result,)
            if len(result) < len(args):
                raise RuntimeError(f"function {cls._backward_name} returned an incorrect number of gradients "
                                   f"(expected {len(args)}, got {len(result)})")
            return tuple(g if isinstance(args[i], Tensor) else None for i, g in enumerate(result[:len(args)]))

        out_meta = tuple((o.shape, o.dtype) if isinstance(o, Tensor) else ((), None) for o in outputs)
        node = _FunctionNode(cls.__name__, derivative, {"_out_meta": out_meta}, edges, meta, len(outputs), ())
        node.backward_name = cls._backward_name
        ctx._node = node
        for i, o in enumerate(outputs):
            if isinstance(o, Tensor) and o.dtype.is_floating_point and id(o) not in ctx._non_differentiable:
                o._requires_grad = True
                o.grad_fn = node
                o._out_index = i
        return outputs if isinstance(output, tuple) else outputs[0]


class once_differentiable:
    """Decorator kept for compatibility: the wrapped backward runs without recording."""

    def __new__(cls, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(ctx, *args):
            with no_grad():
                return fn(ctx, *args)
        return wrapper
