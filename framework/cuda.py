"""``framework.cuda``: the CUDA device API over CuPy (an optional extra: ``pip install framework[cuda]``).

Without CuPy, or without a GPU, ``is_available()`` is False and nothing else changes. CuPy is imported on the
first call that needs it, never by ``import framework``. Device memory comes from CuPy's default memory pool;
``max_memory_allocated`` is tracked by an allocator installed on first use that records the pool's peak.
"""
import functools

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize", "manual_seed",
           "manual_seed_all", "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats",
           "memory_reserved", "empty_cache", "get_device_name"]


@functools.lru_cache(maxsize=None)
def _probe():
    """(cupy or None, number of GPUs, why not usable): probed once, never raising."""
    try:
        import cupy
    except ImportError:
        return None, 0, "Torch not compiled with CUDA enabled (framework: the cuda backend needs the optional " \
                        "'cupy' package: pip install 'framework[cuda]')"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy raises its own error types for a missing driver or device
        return cupy, 0, f"Found no NVIDIA driver on your system or no usable CUDA device ({error})"
    if count == 0:
        return cupy, 0, "No CUDA GPUs are available"
    return cupy, count, None


def is_available():
    """Whether a CUDA device can be used: CuPy imports and a GPU is present (never raises)."""
    return _probe()[1] > 0


def device_count():
    """Number of usable CUDA devices (0 without CuPy or a GPU)."""
    return _probe()[1]


_peak = {}


def _lazy_init():
    """CuPy, with the peak-tracking allocator installed; raises PyTorch's errors when CUDA is unusable."""
    cupy, count, why = _probe()
    if count == 0:
        if cupy is None:
            raise AssertionError(why)
        raise RuntimeError(why)
    if not _peak:
        pool = cupy.get_default_memory_pool()

        def malloc(size):
            memory = pool.malloc(size)
            device = cupy.cuda.runtime.getDevice()
            used = pool.used_bytes()
            if used > _peak.get(device, 0):
                _peak[device] = used
            return memory

        cupy.cuda.set_allocator(malloc)
        _peak[cupy.cuda.runtime.getDevice()] = pool.used_bytes()
    return cupy


def _index(device):
    """The device index of ``device`` (None: the current one)."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from ._device import device as _device_cls
    dev = _device_cls(device)
    if dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {dev}")
    return current_device() if dev.index is None else dev.index


def current_device():
    """Index of the current CUDA device."""
    return _lazy_init().cuda.runtime.getDevice()


def set_device(device):
    """Make ``device`` the current CUDA device (a negative index is a no-op, as in PyTorch)."""
    index = device if isinstance(device, int) else _index(device)
    if index >= 0:
        _lazy_init().cuda.Device(index).use()


def synchronize(device=None):
    """Wait for all kernels queued on ``device`` (default: the current one) to finish."""
    cupy = _lazy_init()
    cupy.cuda.Device(_index(device)).synchronize()


def manual_seed(seed):
    """Seed CuPy's generator on the current device; a no-op without CUDA, as in PyTorch.

    The framework's random ops draw from the host generator (``framework.manual_seed``) and copy to the
    device, so they match the CPU streams bit for bit; this seeds CuPy's generator for device-side sampling.
    """
    if is_available():
        _lazy_init().random.seed(int(seed) & 0xFFFF_FFFF)


def manual_seed_all(seed):
    """Seed CuPy's generator on every device; a no-op without CUDA."""
    if is_available():
        cupy = _lazy_init()
        for index in range(device_count()):
            with cupy.cuda.Device(index):
                cupy.random.seed(int(seed) & 0xFFFF_FFFF)


def memory_allocated(device=None):
    """Bytes of device memory held by live arrays (CuPy's pool); 0 without CUDA."""
    if not is_available():
        return 0
    cupy = _lazy_init()
    with cupy.cuda.Device(_index(device)):
        return cupy.get_default_memory_pool().used_bytes()


def max_memory_allocated(device=None):
    """Peak of ``memory_allocated`` since start or the last ``reset_peak_memory_stats``; 0 without CUDA."""
    if not is_available():
        return 0
    _lazy_init()
    index = _index(device)
    return max(_peak.get(index, 0), memory_allocated(index))


def reset_peak_memory_stats(device=None):
    """Restart the peak tracked by ``max_memory_allocated`` from the current usage."""
    if is_available():
        _lazy_init()
        index = _index(device)
        _peak[index] = memory_allocated(index)


def memory_reserved(device=None):
    """Bytes held by CuPy's pool, cached blocks included; 0 without CUDA."""
    if not is_available():
        return 0
    cupy = _lazy_init()
    with cupy.cuda.Device(_index(device)):
        return cupy.get_default_memory_pool().total_bytes()


def empty_cache():
    """Return the pool's cached, unused blocks to the driver; a no-op without CUDA."""
    if is_available():
        _lazy_init().get_default_memory_pool().free_all_blocks()


def get_device_name(device=None):
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    cupy = _lazy_init()
    name = cupy.cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else name
