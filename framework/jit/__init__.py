"""Graph mode: capture a function once from the dispatcher, guard what it assumed, replay it as one graph.

``framework.jit.trace(fn, example_inputs)`` returns a traced function with its ``.graph``;
``framework.compile(fn_or_module)`` compiles lazily per input signature (as ``torch.compile``);
``@framework.jit`` marks a function to run compiled while ``framework.set_context(mode="graph")`` is on;
``framework.jit.load(path)`` runs a graph saved with ``.save(path)``. Submodules load on first use, so
``import framework`` stays fast.
"""
import sys
import types

__all__ = ["trace", "load", "compile", "set_context", "get_context", "GraphBreakError", "GuardWarning", "ir",
           "interpreter"]

_LAZY = {"trace": "compile", "compile": "compile", "load": "serialize", "set_context": "compile",
         "get_context": "compile", "GraphBreakError": "capture", "GuardWarning": "guards"}


class _JitModule(types.ModuleType):
    """``framework.jit`` is also the ``@framework.jit`` decorator."""

    def __call__(self, fn=None, **options):
        from .compile import jit
        return jit(fn, **options)

    def __getattr__(self, name):
        if name in _LAZY:
            import importlib
            return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        if name in ("ir", "interpreter", "passes"):
            import importlib
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _JitModule
