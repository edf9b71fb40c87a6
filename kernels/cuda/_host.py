"""The visible fallback: a CPU kernel run on host copies of device arrays, its results copied back."""
import warnings

_warned = set()


def on_host(name, kernel):
    """``kernel`` (a CPU kernel that must not write into its arguments) wrapped to take and return CuPy arrays.

    Warns once per kernel name, so a slow host round trip is never silent.
    """
    def run(*args, **kwargs):
        import cupy
        if name not in _warned:
            _warned.add(name)
            warnings.warn(f"cuda: '{name}' has no CuPy kernel; it runs on the CPU and its result is copied back "
                          "to the GPU", RuntimeWarning, stacklevel=2)

        def host(v):
            if isinstance(v, cupy.ndarray):
                return v.get()
            return type(v)(host(u) for u in v) if isinstance(v, (tuple, list)) else v

        def device(v):
            if isinstance(v, tuple):
                return tuple(device(u) for u in v)
            return v if v is None else cupy.asarray(v)

        return device(kernel(*host(args), **{k: host(v) for k, v in kwargs.items()}))
    run.__name__ = run.__qualname__ = f"on_host_{name}"
    return run
