"""The CPU kernels, re-bound to another array module: one statement of each kernel serves numpy and CuPy.

Most CPU kernels are plain numpy code. ``rebind(xp, loops)`` makes a twin of every function in
``kernels.cpu`` whose global ``np`` is ``xp`` instead (helpers, closures and cross-module imports are
twinned too, so a twin only ever calls twins). The CPU kernels' Numba loops cannot run on device arrays:
``loops`` replaces them by name with equivalents of the same signature, and ``reaches_numba`` finds the
kernels that still reach one, which the CUDA table then runs on the host (see ``kernels.cuda``).
This module imports no CuPy: tests re-bind to numpy and check the twins against the CPU kernels.
"""
import importlib
import pkgutil
import types

import numpy

import kernels.cpu as _cpu
from kernels.cpu._numba import _LazyJit


def cpu_modules():
    """Every public module of ``kernels.cpu``, by full name."""
    names = sorted(m.name for m in pkgutil.iter_modules(_cpu.__path__) if not m.name.startswith("_"))
    return {f"kernels.cpu.{n}": importlib.import_module(f"kernels.cpu.{n}") for n in names}


class Namespace:
    """``xp`` seen through the CPU kernels' eyes: ``np.prod`` of a shape tuple stays host arithmetic."""

    def __init__(self, xp):
        self.xp = xp
        self.__name__ = xp.__name__

    def __getattr__(self, name):
        return getattr(self.xp, name)

    def prod(self, a, *args, **kwargs):
        """Product of a shape (host ints) or of an array (on ``xp``)."""
        if isinstance(a, (tuple, list)):
            return numpy.prod(a, *args, **kwargs)
        return self.xp.prod(a, *args, **kwargs)


def merge_loops(into, more, where):
    """Add ``more`` ({CPU module: {loop name: replacement}}) to ``into``; a loop replaced twice is an error."""
    for module, names in more.items():
        clash = set(names) & set(into.setdefault(module, {}))
        if clash:
            raise RuntimeError(f"Numba loops replaced twice: {sorted(clash)} (in {where})")
        into[module].update(names)
    return into


def rebind(xp, loops):
    """Twins of the CPU kernel tables with ``np`` bound to ``xp``; ``loops`` = {module: {global name: replacement}}.

    Returns ({kernel name: twin kernel} over all CPU modules, {module: its re-bound globals}).
    """
    modules = cpu_modules()
    ns = Namespace(xp)
    spaces = {name: dict(vars(mod), np=ns) for name, mod in modules.items()}
    swap = {}
    for module, names in loops.items():
        for name, replacement in names.items():
            swap[id(spaces[module][name])] = replacement
            spaces[module][name] = replacement
    twins = {}

    def twin(obj):
        if id(obj) in swap:
            return swap[id(obj)]
        if not isinstance(obj, types.FunctionType) or obj.__module__ not in spaces:
            return obj
        made = twins.get(obj)
        if made is not None:
            return made
        cells = tuple(types.CellType() for _ in obj.__closure__ or ())
        made = types.FunctionType(obj.__code__, spaces[obj.__module__], obj.__name__, obj.__defaults__,
                                  cells or None)
        made.__kwdefaults__, made.__qualname__, made.__doc__ = obj.__kwdefaults__, obj.__qualname__, obj.__doc__
        twins[obj] = made
        for cell, old in zip(cells, obj.__closure__ or ()):
            cell.cell_contents = twin(old.cell_contents)
        return made

    for space in spaces.values():
        for key, value in list(space.items()):
            space[key] = twin(value)
    table = {}
    for space in spaces.values():
        table.update({name: twin(kernel) for name, kernel in space.get("KERNELS", {}).items()})
    return table, spaces


def reaches_numba(fn, _seen=None):
    """Whether ``fn`` may call a Numba loop: any global or closure value it names, followed through functions.

    Conservative (a loop named in a branch never taken still counts), so a kernel it clears is device-safe.
    """
    seen = set() if _seen is None else _seen
    if isinstance(fn, _LazyJit):
        return True
    if not isinstance(fn, types.FunctionType) or id(fn) in seen:
        return False
    seen.add(id(fn))
    values = [c.cell_contents for c in fn.__closure__ or ()]
    codes = [fn.__code__]
    while codes:
        code = codes.pop()
        values += [fn.__globals__[n] for n in code.co_names if n in fn.__globals__]
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return any(reaches_numba(v, seen) for v in values)
