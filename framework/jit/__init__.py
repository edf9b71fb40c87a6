"""Graph mode: capture a function once from the dispatcher, guard what it assumed, replay it as one graph.

``framework.jit.trace(fn, example_inputs)`` returns a traced function with its ``.graph``;
``framework.compile(fn_or_module)`` compiles lazily per input signature (as ``torch.compile``);
``@framework.jit`` marks a function to run compiled while ``framework.set_context(mode="graph")`` is on;
``framework.jit.load(path)`` runs a graph saved with ``.save(path)``; ``framework.jit.explain(fn, *args)`` reports
what graph mode makes of ``fn`` (the ``explain`` submodule is callable, so ``framework.jit.explain.worth_compiling``
is reachable too). Submodules load on first use, so ``import framework`` stays fast.
"""
import sys
import types

__all__ = ["trace", "load", "compile", "set_context", "get_context", "GraphBreakError", "GuardWarning", "ir",
           "interpreter", "explain"]

_LAZY = {"trace": "compile", "compile": "compile", "load": "serialize", "set_context": "compile",
         "get_context": "compile", "GraphBreakError": "capture", "GuardWarning": "guards"}


class _ExplainModule(types.ModuleType):
    """``framework.jit.explain``: the submodule, callable as its ``explain`` function."""

    def __call__(self, fn, *args, **kwargs):
        return self.explain(fn, *args, **kwargs)


class _JitModule(types.ModuleType):
    """``framework.jit`` is also the ``@framework.jit`` decorator."""

    def __call__(self, fn=None, **options):
        from .compile import jit
        return jit(fn, **options)

    def __getattr__(self, name):
        if name in _LAZY:
            import importlib
            return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        if name in ("ir", "interpreter", "passes", "explain"):
            import importlib
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __setattr__(self, name, value):
        # importing the submodule binds it here as ``explain``, where users expect the function
        if name == "explain" and type(value) is types.ModuleType:
            value.__class__ = _ExplainModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _JitModule
