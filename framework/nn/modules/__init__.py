"""Layer classes: every module in this package contributes its ``__all__`` (module.py first, the base class)."""
import importlib
import pkgutil

__all__ = []

for _name in ["module"] + sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "module"):
    if _name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_name}")
    for _export in getattr(_module, "__all__", ()):
        globals()[_export] = getattr(_module, _export)
        __all__.append(_export)
