"""Entry points of graph mode: ``framework.compile``, ``framework.jit.trace``, ``@framework.jit``, ``set_context``.

A compiled function keeps a cache of entries, one per signature. A call whose guards hold replays that entry's
graph; a miss runs the function once eagerly under capture (that call's result is the eager one) and caches a
new entry. Past ``cache_size_limit`` entries it warns, naming the guard that failed, and runs eagerly.

Graph breaks: a tracing JIT cannot resume in the middle of a Python function, so a signature whose trace met
a break (``.item()``, ``if tensor``, printing, an uncaptured random op, ...) runs eagerly from then on, every
call, correct by construction; the break and its file:line are warned once and kept in ``.breaks``.
``fullgraph=True`` raises ``GraphBreakError`` at the breaking line instead (the function has run up to there).

Worth: after the pass pipeline, ``framework.jit.explain.worth_compiling`` predicts whether replaying the graph
beats running the function eagerly; a graph too small to win keeps its graph for inspection but runs eagerly,
and the reason is in ``.decisions`` (``options={"worth_check": False}`` compiles regardless; ``trace`` always
compiles).
"""
import warnings

from .._tensor import Tensor
from ..autograd.grad_mode import state as _grad_state
from . import slot
from .capture import EngineBinding, GraphBreakError, Tracer, discover, flatten
from .executor import Executor
from .guards import GuardWarning, Guards

__all__ = ["compile", "trace", "jit", "set_context", "get_context", "CompiledFunction", "CompiledModule",
           "GraphBreakWarning"]

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = ("inductor", "eager", "aot_eager")
_OPTIONS = {"cache_size_limit": int, "optimize": bool, "worth_check": bool}


class GraphBreakWarning(UserWarning):
    """A compiled function met a graph break and runs eagerly for that signature."""


# ----- entries -------------------------------------------------------------------------------------
class Entry:
    """One cached signature: its guards and either a graph with its executor, or the reason it runs eagerly.

    ``decision`` says why: a graph break, the cost model's verdict, or None when no verdict was asked for.
    A graph the cost model keeps eager still has its graph and report (``eager`` is then True).
    """

    def __init__(self, guards, tracer=None, spec=None, skeleton=None, breaks=(), optimize=True, worth_check=False):
        self.guards, self.breaks = guards, list(breaks)
        self.graph = self.report = self.executor = None
        self.decision, self.worth = None, tracer is not None
        if tracer is None:
            if self.breaks:
                what, where = self.breaks[0]
                self.decision = f"stays eager: graph break at {where[0]}:{where[1]}: {what}"
            return
        self.graph, self.bindings, self.spec, self.skeleton = tracer.graph, tracer.bindings, spec, skeleton
        self.writebacks = tracer.writebacks
        if optimize:
            self.report = _optimize(self.graph)
        self.graph.verify()
        if worth_check and self.report is not None:
            from .explain import worth_compiling
            self.worth, self.decision = worth_compiling(self.graph, self.report)
        self.executor = Executor(self.graph)
        mutated = {v for node in self.graph.nodes for i, v in enumerate(node.inputs) if i in node.mutates}
        self._bump = [b for v, b in zip(self.graph.inputs, self.bindings)
                      if v in mutated and not isinstance(b, EngineBinding)]

    @property
    def eager(self):
        """Whether calls matching this signature run the function eagerly (a break, or a graph too small)."""
        return not self.worth

    def gather(self, call):
        """Input arrays for ``call``, or a sentence saying which bound tensor no longer matches the trace."""
        arrays = []
        for value, binding in zip(self.graph.inputs, self.bindings):
            if isinstance(binding, EngineBinding):
                arrays.append(binding.array())
                continue
            t = binding.tensor(call)
            if t is None:
                return None, f"{binding.describe()} is None, traced a tensor"
            array = t._data
            if array.shape != value.shape or t.dtype is not value.dtype:
                return None, f"{binding.describe()} is {t.dtype} {tuple(array.shape)}, traced {value.dtype} " \
                             f"{value.shape}"
            arrays.append(array)
        return arrays, None

    def replay(self, arrays, call):
        """Run the graph, apply ``.grad`` write-backs, return the function's result."""
        outs = self.executor.run(arrays)
        for binding in self._bump:
            binding.tensor(call)._vc.value += 1
        for param, position in self.writebacks:
            param._grad = None if position is None else _wrap(outs[position], self.graph.outputs[position])
        leaves = [_wrap(outs[x], self.graph.outputs[x]) if kind == "value" else x for _, kind, x in self.spec]
        return _unflatten(self.skeleton, iter(leaves))


def _wrap(array, value):
    return Tensor._wrap(array, value.dtype, value.device)


def _optimize(graph):
    try:
        from .passes import optimize
    except ImportError:
        return None
    return optimize(graph)


def _parameter_names(fn):
    import inspect
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def _skeleton(obj):
    if isinstance(obj, (list, tuple)):
        return (type(obj), [_skeleton(x) for x in obj])
    if isinstance(obj, dict):
        keys = sorted(obj, key=repr)
        return (dict, keys, [_skeleton(obj[k]) for k in keys])
    return None


def _unflatten(skeleton, leaves):
    if skeleton is None:
        return next(leaves)
    if skeleton[0] is dict:
        return {k: _unflatten(s, leaves) for k, s in zip(skeleton[1], skeleton[2])}
    kind, children = skeleton
    items = [_unflatten(s, leaves) for s in children]
    if kind is list:
        return items
    return kind(*items) if hasattr(kind, "_fields") else kind(items)


# ----- compiled functions --------------------------------------------------------------------------
class CompiledFunction:
    """``fn`` compiled lazily per signature (see the module docstring for guards, re-tracing and breaks)."""

    def __init__(self, fn, fullgraph=False, optimize=True, cache_size_limit=8, name=None, worth_check=False):
        self.fn, self.fullgraph, self.optimize, self.cache_size_limit = fn, fullgraph, optimize, cache_size_limit
        self.worth_check = worth_check
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        self.entries = []
        self._hit = 0  # index of the entry that replayed last
        self.retrace_reasons = []
        self._warned_limit = False
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        if slot.mode == "eager" or slot.tracer is not None:
            # eager context, or called inside another capture: the outer tracer records these ops
            return self.fn(*args, **kwargs)
        call = (args, kwargs)
        reason = None
        # the entry that matched last first: a training step's first trace (before any optimizer state) never
        # matches again. Any entry whose guards hold is a valid graph for the call, so the order is free.
        hit = self._hit
        for i in (hit, *range(hit), *range(hit + 1, len(self.entries))) if self.entries else ():
            entry = self.entries[i]
            reason = entry.guards.check(call)
            if reason is None:
                self._hit = i
                if entry.eager:
                    return self.fn(*args, **kwargs)
                arrays, reason = entry.gather(call)
                if reason is None:
                    return entry.replay(arrays, call)
        if len(self.entries) >= self.cache_size_limit:
            if not self._warned_limit:
                self._warned_limit = True
                warnings.warn(f"{self.name} re-traced {len(self.entries)} times (cache_size_limit="
                              f"{self.cache_size_limit}); last guard failure: {reason}. New signatures run eagerly; "
                              f"raise the limit with options={{'cache_size_limit': N}}", GuardWarning, stacklevel=2)
            return self.fn(*args, **kwargs)
        if reason is not None:
            self.retrace_reasons.append(reason)
        return self._trace(call)

    def _trace(self, call):
        args, kwargs = call
        tracer = Tracer(self.name, self.fullgraph)
        found = discover(self.fn, call)
        guards = Guards(call, found)
        for name, obj in found:
            if hasattr(obj, "named_parameters"):
                tracer.name_module(name, obj)
        names = _parameter_names(self.fn)
        for path, leaf in flatten(call):
            if isinstance(leaf, Tensor):
                where = names[path[1]] if path[0] == 0 and path[1] < len(names) else str(path[1])
                tracer.add_arg(path, leaf, where + "".join(f"[{k!r}]" for k in path[2:]))
        slot.tracer = tracer
        try:
            result = self.fn(*args, **kwargs)
        finally:
            slot.tracer = None
        guards.set_grad_guards(tracer.grad_guards)
        if _grad_state.enabled and not tracer._grad_writes and any(
                isinstance(leaf, Tensor) and leaf._requires_grad for _, leaf in flatten(result)):
            tracer.breaks.append(("an output requires grad but the function does not call backward(): a replayed "
                                  "graph keeps no autograd history (compile the whole training step, or run under "
                                  "no_grad)", ("<outputs>", 0)))
        if tracer.breaks:
            what, where = tracer.breaks[0]
            if self.fullgraph:
                raise GraphBreakError(f"graph break at {where[0]}:{where[1]}: {what}")
            warnings.warn(f"{self.name}: graph break at {where[0]}:{where[1]}: {what}; this signature runs eagerly",
                          GraphBreakWarning, stacklevel=3)
            self.entries.append(Entry(guards, breaks=tracer.breaks))
            return result
        spec = tracer.finish(result)
        self.entries.append(Entry(guards, tracer, spec, _skeleton(result), optimize=self.optimize,
                                  worth_check=self.worth_check))
        return result

    # ----- inspection ------------------------------------------------------------------------------
    def _latest(self):
        for entry in reversed(self.entries):
            if entry.graph is not None:
                return entry
        raise RuntimeError(f"{self.name} has no compiled graph yet: call it first"
                           + (f" (its signatures run eagerly: {self.breaks[0][0]})" if self.breaks else ""))

    @property
    def graph(self):
        """The graph of the most recently compiled signature (an ``ir.Graph``)."""
        return self._latest().graph

    @property
    def code(self):
        """The graph as text."""
        return str(self.graph)

    @property
    def decisions(self):
        """Per cached signature, why it is compiled or runs eagerly (None when compiled without a verdict)."""
        return [entry.decision for entry in self.entries]

    @property
    def breaks(self):
        """(what, (file, line)) of every graph break met so far."""
        return [b for entry in self.entries for b in entry.breaks]

    def to_dot(self):
        """The graph in Graphviz dot syntax."""
        return self.graph.to_dot()

    def save(self, path):
        """Write the latest graph, its constants and the tensors it reads to ``path`` (see ``framework.jit.load``)."""
        from .serialize import save
        entry = self._latest()
        save(entry, path)

    def __repr__(self):
        return f"<compiled {self.name}: {len(self.entries)} signature(s)>"


class _Traced(CompiledFunction):
    """What ``framework.jit.trace`` returns: a compiled function already traced on the example inputs."""


def _compiled_module_class():
    from ..nn.modules.module import Module

    class CompiledModule(Module):
        """A module whose calls are compiled; parameters and state dict pass through under ``_orig_mod.``,
        as ``torch.compile`` lays them out."""

        def __init__(self, module, **options):
            super().__init__()
            self._orig_mod = module
            object.__setattr__(self, "_compiled", CompiledFunction(module.__call__, name=type(module).__name__,
                                                                   **options))

        def forward(self, *args, **kwargs):
            return self._compiled(*args, **kwargs)

        def __getattr__(self, name):
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self._modules["_orig_mod"], name)

        @property
        def graph(self):
            return self._compiled.graph

        @property
        def decisions(self):
            return self._compiled.decisions

        def save(self, path):
            self._compiled.save(path)

    return CompiledModule


_CompiledModule = None


def CompiledModule(module, **options):
    """Wrap ``module`` so its calls are compiled (an ``nn.Module``; see ``framework.compile``)."""
    global _CompiledModule
    if _CompiledModule is None:
        _CompiledModule = _compiled_module_class()
    return _CompiledModule(module, **options)


# ----- entry points --------------------------------------------------------------------------------
def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """Compile a function or module for graph mode, with ``torch.compile``'s call shape.

    Works as ``compile(fn)``, ``@compile`` and ``@compile(fullgraph=True)``; a module comes back as a module whose
    calls are compiled. ``backend``: "inductor" (capture, the pass pipeline, the executor), "eager" and
    "aot_eager" (capture and the executor, no passes). ``mode`` is a tuning hint torch accepts; every value it
    accepts is taken and changes nothing here. ``dynamic=True`` is refused: graphs are specialised to shapes
    (a new shape re-traces). ``options``: ``cache_size_limit`` (int, default 8), ``optimize`` (bool),
    ``worth_check`` (bool, default True with "inductor": a graph the cost model predicts too small to win runs
    eagerly, its reason in ``.decisions``).
    ``disable=True`` returns ``model`` unchanged.

    Example::

        >>> step = framework.compile(train_step)
        >>> loss = step(x, y)          # the first call traces, later calls replay the graph
    """
    if dynamic:
        raise NotImplementedError("framework.compile: dynamic=True is not supported: graphs are specialised to the "
                                  "traced shapes and a new shape re-traces (use dynamic=None or False)")
    if backend not in _BACKENDS:
        if callable(backend):
            raise NotImplementedError("framework.compile: custom backend callables are not supported "
                                      f"(backend={backend!r}); use one of {list(_BACKENDS)}")
        raise ValueError(f"framework.compile: unknown backend {backend!r}; available: {list(_BACKENDS)}")
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(m for m in _MODES if m is not None)}")
    settings = {"fullgraph": bool(fullgraph), "optimize": backend == "inductor", "worth_check": backend == "inductor"}
    for key, value in (options or {}).items():
        if key not in _OPTIONS:
            raise NotImplementedError(f"framework.compile: option {key!r} is not supported; known options: "
                                      f"{sorted(_OPTIONS)}")
        if not isinstance(value, _OPTIONS[key]):
            raise TypeError(f"framework.compile: option {key!r} must be {_OPTIONS[key].__name__}, got "
                            f"{type(value).__name__}")
        settings[key] = value
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                  options=options, disable=disable)
    if disable:
        return model
    from ..nn.modules.module import Module
    if isinstance(model, Module):
        return CompiledModule(model, **settings)
    if not callable(model):
        raise TypeError(f"framework.compile: expected a callable or an nn.Module, got {type(model).__name__}")
    return CompiledFunction(model, **settings)


def trace(fn, example_inputs=(), *, optimize=True, cache_size_limit=8):
    """Run ``fn(*example_inputs)`` once under capture and return the traced function (``.graph``, ``.code``,
    ``.to_dot()``, ``.save(path)``; callable, re-tracing on new shapes).

    Tracing is strict: a graph break raises ``GraphBreakError`` naming the line. The example call runs ``fn``
    for real (its side effects happen once).

    Example::

        >>> traced = framework.jit.trace(lambda x: (x * 2).relu(), (framework.randn(3),))
        >>> print(traced.graph)
    """
    if isinstance(example_inputs, Tensor) or not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    from ..nn.modules.module import Module
    target = fn.__call__ if isinstance(fn, Module) else fn
    name = type(fn).__name__ if isinstance(fn, Module) else None
    traced = _Traced(target, fullgraph=True, optimize=optimize, cache_size_limit=cache_size_limit, name=name)
    if slot.mode == "eager":
        raise RuntimeError("framework.jit.trace: the context mode is 'eager'; set_context(mode='graph') first")
    traced(*example_inputs)
    return traced


def jit(fn=None, *, fullgraph=False, cache_size_limit=8):
    """Decorator ``@framework.jit``: compile ``fn`` (as ``framework.compile``, but always replaying its graph: the
    mark asks for graph mode, so the cost model is not consulted); it runs eagerly while
    ``framework.set_context(mode="eager")`` is set."""
    if fn is None:
        return lambda f: jit(f, fullgraph=fullgraph, cache_size_limit=cache_size_limit)
    return compile(fn, fullgraph=fullgraph, options={"cache_size_limit": cache_size_limit, "worth_check": False})


def set_context(mode="graph"):
    """Switch graph mode on ("graph", the default) or off ("eager"): in "eager" every compiled function,
    ``@framework.jit`` function and compiled module runs as plain Python (for debugging); nothing else changes."""
    if mode not in ("graph", "eager"):
        raise ValueError(f"set_context: mode must be 'graph' or 'eager', got {mode!r}")
    slot.mode = mode


def get_context(key="mode"):
    """The context value ``key`` (only "mode" exists)."""
    if key != "mode":
        raise ValueError(f"get_context: unknown key {key!r} (only 'mode')")
    return slot.mode
