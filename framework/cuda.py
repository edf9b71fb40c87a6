"""``framework.cuda``: the CUDA device API over CuPy (an optional extra: ``pip install framework[cuda]``).

Without CuPy, or without a GPU, ``is_available()`` is False and nothing else changes. CuPy is imported on the
first call that needs it, never by ``import framework``. Device memory comes from CuPy's default memory pool;
``max_memory_allocated`` is tracked by an allocator installed on first use that records the pool's peak.

Each device has a default generator (``default_generators``), a Philox ``(seed, offset)`` pair the random ops
draw from on the GPU. Generators are plain Python objects made on first use, so seeding needs no GPU (as in
PyTorch, where seeding before CUDA is initialised is queued); reading or setting a state does.
"""
import functools

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize", "manual_seed",
           "manual_seed_all", "seed", "seed_all", "initial_seed", "get_rng_state", "set_rng_state",
           "get_rng_state_all", "set_rng_state_all", "default_generators", "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats",
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


_generators = {}  # device index -> its default Generator, made on first use
_seed_all = []  # the last manual_seed_all seed, given to generators made after it


def _generator(index):
    """The default generator of device ``index``."""
    generator = _generators.get(index)
    if generator is None:
        from .random import Generator
        generator = _generators[index] = Generator(f"cuda:{index}")
        if _seed_all:
            generator.manual_seed(_seed_all[0])
    return generator


def _rng_index(device=None):
    """The device index a seeding call addresses (device 0 while CUDA is unusable: seeding is deferred)."""
    if device is None and not is_available():
        return 0
    return _index(device)


def manual_seed(seed):
    """Seed the current device's generator (no GPU needed: the seed is used once draws run)."""
    _generator(_rng_index()).manual_seed(seed)


def manual_seed_all(seed):
    """Seed every device's generator, those made later included."""
    from .random import _seed_value
    _seed_all[:] = [_seed_value(seed)]
    for generator in _generators.values():
        generator.manual_seed(seed)


def seed():
    """Seed the current device's generator non-deterministically."""
    _generator(_rng_index()).seed()


def seed_all():
    """Seed every device's generator with one non-deterministic seed."""
    from .random import _nondeterministic_seed
    manual_seed_all(_nondeterministic_seed())


def initial_seed():
    """The current device's generator's seed."""
    return _generator(_rng_index()).initial_seed()


def get_rng_state(device="cuda"):
    """The generator state of ``device`` as a uint8 CPU tensor (16 bytes: seed, offset)."""
    _lazy_init()
    return _generator(_index(device)).get_state()


def set_rng_state(new_state, device="cuda"):
    """Restore ``device``'s generator from :func:`get_rng_state`."""
    _lazy_init()
    _generator(_index(device)).set_state(new_state)


def get_rng_state_all():
    """The generator states of every device, in index order."""
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states):
    """Restore every device's generator from :func:`get_rng_state_all`."""
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


def __getattr__(name):
    # a tuple with one generator per device, as torch.cuda.default_generators (empty without CUDA)
    if name == "default_generators":
        return tuple(_generator(i) for i in range(device_count()))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
