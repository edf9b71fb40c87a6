"""Guards: what a trace assumed about the call, checked before each replay, explained in words when they fail.

A trace assumes the shapes, dtypes, devices and ``requires_grad`` of every tensor it reads, the Python values
of non-tensor arguments, the grad mode, each reachable module's ``training`` flag, which parameters hold a
``.grad``, which optimizer state exists and the optimizer options that steer Python branches (``nesterov``,
``amsgrad``, whether ``momentum`` or ``weight_decay`` is zero). Float options such as ``lr`` and ``momentum``
are not guarded: the graph reads them at each call.
"""
from ..autograd.grad_mode import state as _grad_state
from .capture import describe_path, flatten

__all__ = ["GuardWarning", "Guards"]


class GuardWarning(UserWarning):
    """A compiled function re-traced more often than ``cache_size_limit`` allows."""


def _tensor_facts(t):
    return (tuple(t._data.shape), t.dtype, t._device, t._requires_grad)


def _fmt_facts(facts):
    shape, dtype, device, requires_grad = facts
    return f"shape {shape}, {dtype}, {device}, requires_grad={requires_grad}"


# numeric optimizer options whose being zero or not picks a branch (SGD allocates a momentum buffer, ...)
_BRANCHING_NUMBERS = ("momentum", "weight_decay", "dampening")


def _option_fact(key, value):
    """The part of an optimizer option a trace depends on: flags exactly, some numbers by being zero."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if key in _BRANCHING_NUMBERS and isinstance(value, (int, float)):
        return value == 0
    return None


class Guards:
    """The checks of one cache entry. ``check(call)`` returns None when they hold, else the first failure."""

    def __init__(self, call, found, tracer_grad_guards=()):
        from .._tensor import Tensor
        from ..nn.modules.module import Module
        self.args = []
        for path, leaf in flatten(call):
            if isinstance(leaf, Tensor):
                self.args.append((path, "tensor", _tensor_facts(leaf)))
            else:
                self.args.append((path, "python", (type(leaf), _hashable(leaf))))
        self.structure = [path for path, _ in flatten(call)]
        self.grad_enabled = _grad_state.enabled
        self.modules, self.optimizers = [], []
        for name, obj in found:
            if isinstance(obj, Module):
                self.modules.append((name, obj, _training_flags(obj)))
            else:
                self.optimizers.append((name, obj, _optimizer_facts(obj)))
        self.grads = []
        self.set_grad_guards(tracer_grad_guards)

    def set_grad_guards(self, grad_guards):
        """Which parameters held a ``.grad`` when the trace first looked."""
        self.grads = list(grad_guards)

    def check(self, call):
        """None when every guard holds; else a sentence naming the first one that failed."""
        from .._tensor import Tensor
        leaves = flatten(call)
        if [path for path, _ in leaves] != self.structure:
            return f"the arguments' structure changed ({len(leaves)} leaves, traced {len(self.structure)})"
        for (path, kind, facts), (_, leaf) in zip(self.args, leaves):
            if kind == "tensor":
                if not isinstance(leaf, Tensor):
                    return f"{describe_path(path)} is a {type(leaf).__name__}, traced a Tensor"
                now = _tensor_facts(leaf)
                if now != facts:
                    return _explain_tensor(describe_path(path), now, facts)
            elif (type(leaf), _hashable(leaf)) != facts:
                return f"{describe_path(path)} == {leaf!r} != traced {facts[1]!r}"
        if _grad_state.enabled != self.grad_enabled:
            return f"grad mode is {_grad_state.enabled}, traced {self.grad_enabled}"
        # the cheap checks first: a training step's first trace (no .grad, no optimizer state yet) fails here
        for param, label, had in self.grads:
            if (param._grad is not None) != had:
                return f"{label}.grad is {'set' if param._grad is not None else 'None'}, traced " \
                       f"{'set' if had else 'None'}"
        for name, opt, facts in self.optimizers:
            if _optimizer_facts(opt) != facts:
                return f"optimizer {name}'s state or options changed since the trace"
        for name, module, flags in self.modules:
            if _training_flags(module) != flags:
                return f"{name}.training changed (traced with training={flags[0]} on the top module)"
        return None


def _training_flags(module):
    """``training`` of ``module`` and each descendant (once each, depth first, as ``modules()``): a module added
    or removed changes the tuple too."""
    flags, seen, stack = [], set(), [module]
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        flags.append(m.training)
        stack.extend(c for c in reversed(m._modules.values()) if c is not None)
    return tuple(flags)


def _explain_tensor(where, now, facts):
    names = ("shape", "dtype", "device", "requires_grad")
    for name, a, b in zip(names, now, facts):
        if a != b:
            return f"{where} {name} {a} != traced {b}"
    return f"{where} {_fmt_facts(now)} != traced {_fmt_facts(facts)}"


def _hashable(value):
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _optimizer_facts(opt):
    # insertion order, not sorted: the same code fills a group and a parameter's state in the same order
    skip = ("params", "param_names")
    groups = tuple(tuple((k, _option_fact(k, v)) for k, v in g.items() if k not in skip) for g in opt.param_groups)
    state = opt.state
    return groups, tuple(tuple(state[p]) if p in state else () for g in opt.param_groups for p in g["params"])
