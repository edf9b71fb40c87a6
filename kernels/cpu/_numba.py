"""Lazy Numba compilation: kernels compile on first call (``cache=True``), never at import time."""


class _LazyJit:
    __slots__ = ("fn", "options", "compiled")

    def __init__(self, fn, options):
        self.fn, self.options, self.compiled = fn, options, None

    def __call__(self, *args):
        compiled = self.compiled
        if compiled is None:
            import numba
            compiled = self.compiled = numba.njit(cache=True, **self.options)(self.fn)
        return compiled(*args)

    @property
    def _numba_type_(self):
        """Lets other jitted loops call this kernel: Numba asks for its type while compiling the caller."""
        import numba
        if self.compiled is None:
            self.compiled = numba.njit(cache=True, **self.options)(self.fn)
        return numba.types.Dispatcher(self.compiled)


def jit(fn=None, **options):
    """Like ``numba.njit(cache=True, **options)`` but compiled only when first called."""
    if fn is None:
        return lambda f: _LazyJit(f, options)
    return _LazyJit(fn, options)


def num_threads():
    """Numba's thread count (``NUMBA_NUM_THREADS``): a parallel loop on one thread only adds the pool's overhead."""
    import numba
    return numba.get_num_threads()
