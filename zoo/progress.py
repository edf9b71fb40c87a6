"""One progress bar for every long loop in the zoo (train, evaluate, predict, generate, simulate).

``progress(loader, desc="train")`` is a tqdm bar on a terminal and a plain pass-through everywhere else:
when stdout is not a terminal (pipes, CI, notebooks' captured output), when ``enabled=False`` (what
``verbose=0`` passes) or when the environment sets ``ZOO_PROGRESS=0``. tqdm is imported only when a bar
is actually drawn.
"""
import os
import sys


def progress_enabled(enabled=None):
    """Whether a bar would be drawn: ``enabled`` if given, else off under ``ZOO_PROGRESS=0`` or a non-terminal."""
    if enabled is not None:
        return bool(enabled)
    if os.environ.get("ZOO_PROGRESS", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def progress(iterable=None, total=None, desc=None, enabled=None, unit="it", leave=False):
    """A progress bar over ``iterable`` (or driven by ``update(n)``); silent unless :func:`progress_enabled`.

    The returned object iterates like ``iterable`` and has ``update(n)``, ``set_postfix(**values)`` and
    ``close()``; it is also a context manager. Example::

        bar = progress(total=len(dataset), desc="train", unit="sample")
        for x, y in loader:
            ...
            bar.update(len(x)); bar.set_postfix(loss=f"{loss:.4f}")
        bar.close()
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if not progress_enabled(enabled):
        return _Silent(iterable)
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=sys.stdout, dynamic_ncols=True)


class _Silent:
    """The bar's interface doing nothing: what :func:`progress` returns when no bar is shown."""

    def __init__(self, iterable):
        self.iterable = iterable

    def __iter__(self):
        if self.iterable is None:
            raise TypeError("progress: this bar was created without an iterable; drive it with update(n)")
        return iter(self.iterable)

    def update(self, n=1):
        """Advance the (absent) bar by ``n``."""

    def set_postfix(self, *args, **kwargs):
        """Show values after the (absent) bar."""

    def close(self):
        """Close the (absent) bar."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
