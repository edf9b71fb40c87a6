"""Zero-edit mode: after :func:`install`, ``import torch`` (and ``torch.X.Y``) gives the framework.

Every ``torch.X.Y`` module is an alias object that forwards attribute reads to ``framework.X.Y``,
created on first import by a meta-path finder, so modules the framework adds later need no change
here. A few modules scripts commonly touch (``torch.version``, ``torch.backends.cudnn``, ...) are
small stubs when the framework has no module of that name. :func:`uninstall` restores ``sys.modules``.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

__all__ = ["install", "uninstall", "is_installed", "TORCH_VERSION"]

TORCH_VERSION = "2.13.0+framework"


def _unsupported(module, name):
    return AttributeError(f"module '{module}' has no attribute '{name}': {module}.{name} is not supported yet "
                          "by framework")


class _Alias(types.ModuleType):
    """``torch.X`` standing for ``framework.X``: attribute reads go to the framework module."""

    def __init__(self, name, target, extras=None):
        super().__init__(name)
        self.__path__ = []  # a package, so that ``import torch.X.Y`` looks for children
        object.__setattr__(self, "_target", target)
        self.__dict__.update(extras or {})
        if target is not None and target.__doc__:
            self.__doc__ = target.__doc__

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        target = self.__dict__["_target"]
        if target is not None and hasattr(target, name):
            value = getattr(target, name)
            return _alias_of(value) or value
        child = f"{self.__name__}.{name}"
        if _exists(_framework_name(child)):
            return importlib.import_module(child)
        raise _unsupported(self.__name__, name)

    def __dir__(self):
        names = set(self.__dict__)
        if self.__dict__["_target"] is not None:
            names.update(dir(self.__dict__["_target"]))
        return sorted(names)

    def __repr__(self):
        return f"<module '{self.__name__}' (alias of framework)>"


def _framework_name(torch_name):
    return "framework" + torch_name[len("torch"):]


def _exists(module_name):
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):  # a parent that is not a package
        return False


def _alias_of(value):
    """The alias of a framework module (so ``torch.nn.functional`` is one object), else None."""
    if isinstance(value, types.ModuleType) and value.__name__.startswith("framework") and _exists(value.__name__):
        return importlib.import_module("torch" + value.__name__[len("framework"):])
    return None


def _stub_extras():
    """Modules that scripts touch for version and accelerator checks, where the framework has none."""
    false = lambda *args, **kwargs: False  # noqa: E731
    return {
        "torch.version": {"__version__": TORCH_VERSION, "cuda": None, "hip": None, "debug": False,
                          "git_version": "framework"},
        "torch.backends": {},
        "torch.backends.cudnn": {"is_available": false, "enabled": True, "benchmark": False,
                                 "deterministic": False, "allow_tf32": True, "version": lambda: None},
        "torch.backends.mps": {"is_available": false, "is_built": false},
        "torch.backends.cuda": {"is_built": false, "matmul": types.SimpleNamespace(allow_tf32=False)},
        "torch.backends.mkldnn": {"is_available": false, "enabled": False},
        "torch.backends.openmp": {"is_available": false},
    }


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch`` and ``torch.*`` and loads each as an alias of the matching framework module."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        if fullname not in _stub_extras() and not _exists(_framework_name(fullname)):
            raise ModuleNotFoundError(f"No module named '{fullname}' ({fullname} is not supported yet by "
                                      "framework)", name=fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        name = spec.name
        extras = dict(_stub_extras().get(name, {}))
        if name == "torch":
            extras["__version__"] = TORCH_VERSION
        target = importlib.import_module(_framework_name(name)) if _exists(_framework_name(name)) else None
        if target is not None and getattr(target, "__file__", None):
            extras["__file__"] = target.__file__
        return _Alias(name, target, extras)

    def exec_module(self, module):
        if module.__name__ == "torch":
            # Attributes that are submodules in PyTorch, available after a bare ``import torch``.
            for sub in ("version", "backends", "backends.cudnn", "backends.mps", "backends.cuda"):
                importlib.import_module(f"torch.{sub}")


_state = {"finder": None, "stashed": {}}


def is_installed():
    """Whether :func:`install` is in effect."""
    return _state["finder"] is not None


def _torch_keys():
    return [k for k in sys.modules if k == "torch" or k.startswith("torch.")]


def install():
    """Make ``import torch`` (and every ``torch.X.Y``) resolve to the framework in this process."""
    if is_installed():
        return
    _state["stashed"] = {k: sys.modules.pop(k) for k in _torch_keys()}
    finder = _Finder()
    sys.meta_path.insert(0, finder)
    _state["finder"] = finder


def uninstall():
    """Undo :func:`install`: drop the aliases and restore any real ``torch`` modules that were loaded."""
    if not is_installed():
        return
    sys.meta_path.remove(_state["finder"])
    _state["finder"] = None
    for k in _torch_keys():
        del sys.modules[k]
    sys.modules.update(_state["stashed"])
    _state["stashed"] = {}
